//! The `serve` processes running now, each with a heartbeat (table `processes`, migration 0093):
//! what `bellhop telegram move` checks before it moves the bots (any running process keeps
//! calling the old server).
use super::now_ms;
use sqlx::{Any, Executor};
use std::time::Duration;

/// How often a running process records that it is alive.
pub const BEAT_EVERY: Duration = Duration::from_secs(10);
/// A process not seen for this long has stopped (or was killed): three beats missed.
pub const ALIVE_WITHIN: Duration = Duration::from_secs(30);

/// Records process `id` (its role: `web`, `worker` or `all`) as alive now.
pub async fn beat<'c>(e: impl Executor<'c, Database = Any>, id: &str, role: &str, host: &str) -> sqlx::Result<()> {
    let now = now_ms();
    sqlx::query(
        "insert into processes (id, role, host, started_at, seen_at) values ($1, $2, $3, $4, $4)
         on conflict (id) do update set seen_at = excluded.seen_at",
    )
    .bind(id)
    .bind(role)
    .bind(host)
    .bind(now)
    .execute(e)
    .await?;
    Ok(())
}

/// Process `id` stopped; rows of processes long gone (killed) go with it.
pub async fn gone<'c>(e: impl Executor<'c, Database = Any>, id: &str) -> sqlx::Result<()> {
    let long_ago = now_ms() - 86_400_000;
    sqlx::query("delete from processes where id = $1 or seen_at < $2").bind(id).bind(long_ago).execute(e).await?;
    Ok(())
}

/// The processes seen within [`ALIVE_WITHIN`], by role: (role, how many), by role's name.
pub async fn alive<'c>(e: impl Executor<'c, Database = Any>) -> sqlx::Result<Vec<(String, i64)>> {
    let since = now_ms() - ALIVE_WITHIN.as_millis() as i64;
    sqlx::query_as("select role, count(*) from processes where seen_at >= $1 group by role order by role").bind(since).fetch_all(e).await
}

/// "1 web process and 2 worker processes" (`all`: a process that is both).
pub fn describe(alive: &[(String, i64)]) -> String {
    let parts: Vec<String> = alive
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(role, n)| {
            let what = match role.as_str() {
                "all" => "web-and-worker",
                other => other,
            };
            format!("{n} {what} process{}", if *n == 1 { "" } else { "es" })
        })
        .collect();
    match parts.as_slice() {
        [] => "no process".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn the_running_processes_are_counted_in_words() {
        let r = |v: &[(&str, i64)]| describe(&v.iter().map(|(a, n)| (a.to_string(), *n)).collect::<Vec<_>>());
        assert_eq!(r(&[("web", 1), ("worker", 2)]), "1 web process and 2 worker processes");
        assert_eq!(r(&[("all", 1)]), "1 web-and-worker process");
        assert_eq!(r(&[("all", 1), ("web", 2), ("worker", 1)]), "1 web-and-worker process, 2 web processes and 1 worker process");
    }
}
