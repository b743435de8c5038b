//! Plans and packs, as configured (`billing.plans`, `billing.packs`), and what a tenant is
//! entitled to. Parsed once at start-up by `config`; every problem names the entry. Billing
//! re-exports the types (`billing::Plan`, `billing::Pack`).

/// A monthly plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Short id used in invoices and forms (`a-z 0-9 _`, 1–16 characters).
    pub id: String,
    pub name: String,
    /// Price of a month in Telegram Stars; 0 for the default plan.
    pub stars: i64,
    /// Stripe price id (`price_…`) of the monthly card subscription; `None`: not sold by card.
    pub stripe_price: Option<String>,
    /// AI answers a month.
    pub answers: i64,
    pub bots: i64,
    pub sources: i64,
}

/// A one-off pack of answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pack {
    pub id: String,
    pub name: String,
    pub stars: i64,
    pub answers: i64,
}

fn valid_id(id: &str) -> bool {
    (1..=16).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn whole(v: &str, what: &str, entry: &str, min: i64, max: i64) -> Result<i64, String> {
    match v.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{entry}`: {what} must be a whole number from {min} to {max}, not `{v}`")),
    }
}

/// `id|Name|stars|stripe_price|answers|bots|sources`, comma-separated.
pub fn parse_plans(s: &str) -> Result<Vec<Plan>, String> {
    let mut plans: Vec<Plan> = Vec::new();
    for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let f: Vec<&str> = entry.split('|').map(str::trim).collect();
        let [id, name, stars, price, answers, bots, sources] = f[..] else {
            return Err(format!("`{entry}` should have 7 fields: id|Name|Stars a month|Stripe price id|answers|bots|sources"));
        };
        if !valid_id(id) {
            return Err(format!("`{entry}`: the id must be 1–16 of a-z, 0-9 and _"));
        }
        if name.is_empty() || name.chars().count() > 24 {
            return Err(format!("`{entry}`: the name must be 1–24 characters"));
        }
        // Telegram: a Star subscription costs at most 10,000 Stars.
        let stars = whole(stars, "the Stars price", entry, 0, 10_000)?;
        if !price.is_empty() && !price.starts_with("price_") {
            return Err(format!("`{entry}`: a Stripe price id starts with price_"));
        }
        if plans.iter().any(|p| p.id == id) {
            return Err(format!("the plan id `{id}` appears twice"));
        }
        plans.push(Plan {
            id: id.into(),
            name: name.into(),
            stars,
            stripe_price: (!price.is_empty()).then(|| price.to_owned()),
            answers: whole(answers, "answers", entry, 0, 100_000_000)?,
            bots: whole(bots, "bots", entry, 1, 100_000)?,
            sources: whole(sources, "sources", entry, 1, 1_000_000)?,
        });
    }
    match plans.first() {
        None => Err("at least one plan is needed (the first is every business's starting plan)".into()),
        Some(p) if p.stars != 0 || p.stripe_price.is_some() => Err(format!("the first plan (`{}`) is the free starting plan: its price must be 0 and it has no Stripe price", p.id)),
        Some(_) => Ok(plans),
    }
}

/// `id|Name|stars|answers`, comma-separated; may be empty.
pub fn parse_packs(s: &str) -> Result<Vec<Pack>, String> {
    let mut packs: Vec<Pack> = Vec::new();
    for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let f: Vec<&str> = entry.split('|').map(str::trim).collect();
        let [id, name, stars, answers] = f[..] else {
            return Err(format!("`{entry}` should have 4 fields: id|Name|Stars|answers"));
        };
        if !valid_id(id) {
            return Err(format!("`{entry}`: the id must be 1–16 of a-z, 0-9 and _"));
        }
        if name.is_empty() || name.chars().count() > 32 {
            return Err(format!("`{entry}`: the name must be 1–32 characters (Telegram's invoice title)"));
        }
        if packs.iter().any(|p| p.id == id) {
            return Err(format!("the pack id `{id}` appears twice"));
        }
        packs.push(Pack { id: id.into(), name: name.into(), stars: whole(stars, "the Stars price", entry, 1, 100_000)?, answers: whole(answers, "answers", entry, 1, 100_000_000)? });
    }
    Ok(packs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_settings_parse() {
        let plans = parse_plans("free|Free|0||100|1|5,starter|Starter|250|price_1|2000|3|50").unwrap();
        assert_eq!(plans[0].answers, 100);
        assert_eq!(plans[1].stripe_price.as_deref(), Some("price_1"));
        assert_eq!(parse_packs("pack500|500 answers|100|500").unwrap()[0].answers, 500);
    }

    #[test]
    fn bad_entries_are_refused_with_a_reason() {
        for (bad, needle) in [
            ("", "at least one plan"),
            ("free|Free|10||100|1|5", "price must be 0"),
            ("free|Free|0||100|1", "7 fields"),
            ("Free|Free|0||100|1|5", "the id"),
            ("free|Free|0||100|1|5,pro|Pro|20000||1|1|1", "Stars price"),
            ("free|Free|0||100|1|5,free|Again|1||1|1|1", "twice"),
            ("free|Free|0||100|1|5,pro|Pro|1|prod_x|1|1|1", "price_"),
        ] {
            let e = parse_plans(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
        assert!(parse_packs("p|P|0|10").unwrap_err().contains("Stars price"));
    }
}
