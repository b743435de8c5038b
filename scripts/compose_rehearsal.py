"""Rehearses docker-compose.yml on one machine without a Docker engine (scripts/compose-rehearsal.sh).

Reads docker-compose.yml, the Dockerfile's runtime stage and .env.example, and starts every
service as a local process with the environment compose would give its container: PostgreSQL
(initialised as the postgres image does from POSTGRES_*), the Qdrant server (the version of the
image tag), Caddy with compose's own command, one bellhop web and the compose file's number of
bellhop workers (the built binary, compose's command, the image's ENV + .env + the service's
environment). The image's models stage is run too: scripts/fetch-models.sh into a fresh folder,
which the processes then use as the image's /opt/bellhop/models.

What differs from Docker, and why (printed at the end as well):
- one host instead of one network namespace per container: service host names in the settings
  (postgres, qdrant, bellhop-web) are rewritten to 127.0.0.1 and a free port, and each bellhop
  process gets its own 127.0.0.1 ports for 8080 and 9090 and its own data folder;
- Telegram is the bellhop sandbox (BELLHOP_TELEGRAM_API_URL, the one setting added), which trusts
  Caddy's private CA for webhooks (`--trust-ca`) as Telegram trusts Let's Encrypt; DOMAIN is
  localhost:PORT, for which Caddy issues a certificate from that private CA instead of asking
  Let's Encrypt (no public DNS here). Caddy runs in a private mount namespace so that installing
  its CA into the system trust store, which it does for localhost, leaves the machine's alone;
- the image itself is not built (no Docker engine): tests/api/deploy.rs checks statically that
  every path the Dockerfile copies exists.

Then it checks, through Caddy over HTTPS where a user's traffic would go: each service's
compose health check; /healthz and /readyz answered, /metrics not served on the public port but
on each process's internal one; a business onboarded with a creation link (the manager's update
reaching bellhop-web through Caddy, a worker provisioning the bot's webhook at https://DOMAIN);
the owner signing in with the link /login sends and uploading a document, read by a worker into
the Qdrant server; a customer's question answered from it; after `kill -9` of a worker, the next
question answered by the one left; no bot token in any process's output.
"""

import argparse
import base64
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time

import requests
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVICE_HOSTS = ("postgres", "qdrant", "bellhop-web", "caddy")
failures = []


def say(msg):
    print(f"==> {msg}", flush=True)


def check(ok, what, detail=""):
    print(f"  {'ok  ' if ok else 'FAIL'} {what}{(': ' + detail) if detail and not ok else ''}", flush=True)
    if not ok:
        failures.append(what)
    return ok


given = set()


def free_port():
    """A loopback port free now and not handed out before (a released port can come back at once)."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in given:
            given.add(port)
            return port


def wait_for(what, probe, seconds=120, proc=None, log=None):
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        try:
            if probe():
                return True
        except Exception as e:
            last = e
        if proc is not None and proc.poll() is not None:
            tail = open(log).read()[-3000:] if log else ""
            sys.exit(f"{what}: the process exited ({proc.returncode}):\n{tail}")
        time.sleep(0.3)
    tail = open(log).read()[-3000:] if log else ""
    sys.exit(f"{what}: not ready after {seconds} s{f' (last: {last})' if last else ''}\n{tail}")


# --- Reading the deployment files -------------------------------------------------------------


def env_file(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def interpolate(value, env):
    """Compose's ${VAR}, ${VAR:?message}, ${VAR:-default} and $$."""

    def one(m):
        name, op, arg = m.group(1), m.group(2), m.group(3)
        v = env.get(name, "")
        if op == ":?" and not v:
            sys.exit(f"compose would refuse to start: {arg}")
        if op == ":-" and not v:
            return arg
        return v

    value = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:\?|:-)([^}]*))?\}", one, str(value))
    return value.replace("$$", "$")


def runtime_env(dockerfile):
    """The ENV of the Dockerfile's last stage (what every bellhop container starts with)."""
    text = re.sub(r"\\\n", " ", open(dockerfile).read())
    last = text.split("\nFROM ")[-1]
    env = {}
    for line in last.splitlines():
        if line.startswith("ENV "):
            for item in shlex.split(line[4:]):
                k, _, v = item.partition("=")
                env[k] = v
    return env


# --- Processes ----------------------------------------------------------------------------------

procs = []


def start(name, argv, env, work, cwd=None):
    log = os.path.join(work, f"{name}.log")
    p = subprocess.Popen(argv, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=cwd or work, start_new_session=True)
    procs.append((name, p))
    return p, log


def stop_all():
    for _, p in reversed(procs):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for _, p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def as_postgres(argv):
    return ["runuser", "-u", "postgres", "--"] + argv if os.geteuid() == 0 else argv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--pgbin", required=True)
    ap.add_argument("--qdrant-bin", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    work = args.work

    compose = yaml.safe_load(open(os.path.join(ROOT, "docker-compose.yml")))
    services = compose["services"]
    image_env = runtime_env(os.path.join(ROOT, "Dockerfile"))

    # Ports the containers would each have to themselves, here one free port each.
    port = {("postgres", 5432): free_port(), ("qdrant", 6333): free_port(), ("qdrant", 6334): free_port(), ("bellhop-web", 8080): free_port()}
    caddy_port = free_port()
    sandbox_port = free_port()
    domain = f"localhost:{caddy_port}"
    public = f"https://{domain}"

    # .env: .env.example with its required values filled in, as an operator would.
    manager_id = 7_100_000_000 + secrets.randbelow(1_000_000)
    manager_token = f"{manager_id}:" + secrets.token_urlsafe(26)[:35]
    fill = {
        "DOMAIN": domain,
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "BELLHOP_MANAGER_TOKEN": manager_token,
        "BELLHOP_MANAGER_WEBHOOK_SECRET": secrets.token_hex(24),
        "BELLHOP_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    dotenv = env_file(os.path.join(ROOT, ".env.example"))
    for k, v in dotenv.items():
        if not v:
            if k not in fill:
                sys.exit(f".env.example leaves {k} empty and this rehearsal does not know what to put there")
            dotenv[k] = fill[k]
    for k in ("DOMAIN", "POSTGRES_PASSWORD"):
        dotenv[k] = fill[k]
    # Compose reads ${…} from .env (and the shell).
    variables = dict(dotenv)

    def localise(value):
        value = value.replace("@postgres/", f"@127.0.0.1:{port[('postgres', 5432)]}/")
        for (host, p), local in port.items():
            value = value.replace(f"//{host}:{p}", f"//127.0.0.1:{local}")
            if value == f"{host}:{p}":
                value = f"127.0.0.1:{local}"
        for host in SERVICE_HOSTS:
            if re.search(rf"(//|@|^){re.escape(host)}(:\d+)?(/|$)", value):
                sys.exit(f"a setting names the service `{host}` in a way this rehearsal cannot map to loopback: {value}")
        return value

    # --- The image's models stage ---
    say("the image's models stage: scripts/fetch-models.sh into a fresh folder")
    models = os.path.join(work, "models")
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "fetch-models.sh"), models], capture_output=True, text=True)
    check(r.returncode == 0, "fetch-models.sh fills the image's models folder", r.stderr[-2000:])
    if r.returncode != 0:
        return

    # --- postgres ---
    pg = services["postgres"]
    pg_env = {k: interpolate(v, variables) for k, v in pg["environment"].items()}
    say(f"postgres ({pg['image']}): initialised from POSTGRES_USER/PASSWORD/DB as the image does")
    pgdir = os.path.join(work, "pg")
    os.makedirs(pgdir)
    if os.geteuid() == 0:
        subprocess.run(["chown", "postgres", pgdir], check=True)
    pwfile = os.path.join(pgdir, "pw")
    open(pwfile, "w").write(pg_env["POSTGRES_PASSWORD"])
    if os.geteuid() == 0:
        subprocess.run(["chown", "postgres", pwfile], check=True)
    subprocess.run(as_postgres([f"{args.pgbin}/initdb", "-D", f"{pgdir}/data", "-U", pg_env["POSTGRES_USER"], "--pwfile", pwfile, "-A", "scram-sha-256", "-E", "UTF8"]), check=True, capture_output=True)
    pgp = port[("postgres", 5432)]
    subprocess.run(as_postgres([f"{args.pgbin}/pg_ctl", "-D", f"{pgdir}/data", "-l", f"{pgdir}/log", "-w", "-o", f"-h 127.0.0.1 -p {pgp} -k {pgdir}", "start"]), check=True, capture_output=True)
    pg_env_run = dict(os.environ, PGPASSWORD=pg_env["POSTGRES_PASSWORD"])
    subprocess.run([f"{args.pgbin}/createdb", "-h", "127.0.0.1", "-p", str(pgp), "-U", pg_env["POSTGRES_USER"], pg_env["POSTGRES_DB"]], check=True, env=pg_env_run)
    health = pg["healthcheck"]["test"][1] + f" -h 127.0.0.1 -p {pgp}"
    check(subprocess.run(["sh", "-c", health], capture_output=True).returncode == 0, f"postgres health check ({pg['healthcheck']['test'][1]})")

    try:
        run_services(args, services, image_env, variables, dotenv, localise, port, domain, public, caddy_port, sandbox_port, manager_token, models, work)
    finally:
        stop_all()
        subprocess.run(as_postgres([f"{args.pgbin}/pg_ctl", "-D", f"{pgdir}/data", "-m", "immediate", "stop"]), capture_output=True)


def run_services(args, services, image_env, variables, dotenv, localise, port, domain, public, caddy_port, sandbox_port, manager_token, models, work):
    # --- qdrant ---
    q = services["qdrant"]
    tag = q["image"].rsplit(":v", 1)[-1]
    version = subprocess.run([args.qdrant_bin, "--version"], capture_output=True, text=True).stdout.strip()
    check(version.endswith(tag), f"the Qdrant server here is the image's version {tag}", version)
    say(f"qdrant ({q['image']})")
    qdir = os.path.join(work, "qdrant")
    os.makedirs(qdir)
    qenv = dict(os.environ, QDRANT__SERVICE__HOST="127.0.0.1", QDRANT__SERVICE__HTTP_PORT=str(port[("qdrant", 6333)]), QDRANT__SERVICE__GRPC_PORT=str(port[("qdrant", 6334)]),
                QDRANT__STORAGE__STORAGE_PATH=f"{qdir}/storage", QDRANT__STORAGE__SNAPSHOTS_PATH=f"{qdir}/snapshots", QDRANT__TELEMETRY_DISABLED="true")
    qp, qlog = start("qdrant", [args.qdrant_bin], qenv, work, cwd=qdir)
    qhealth = q["healthcheck"]["test"][1].replace("127.0.0.1/6333", f"127.0.0.1/{port[('qdrant', 6333)]}")
    wait_for("qdrant", lambda: subprocess.run(["bash", "-c", qhealth], capture_output=True).returncode == 0, proc=qp, log=qlog)
    check(True, "qdrant health check (its TCP port)")

    # --- caddy, with compose's command ---
    c = services["caddy"]
    argv = c["command"][:1] + [localise(interpolate(a, variables)) for a in c["command"][1:]]
    say(f"caddy: {' '.join(argv)}")
    caddy_data = os.path.join(work, "caddy-data")
    cenv = dict(os.environ, XDG_DATA_HOME=caddy_data, XDG_CONFIG_HOME=os.path.join(work, "caddy-config"), HOME=work)
    # A private mount namespace: Caddy installs its local CA into "the system's" trust store.
    shell = "mount -t tmpfs tmpfs /usr/local/share/ca-certificates && mount -t tmpfs tmpfs /etc/ssl/certs && exec " + " ".join(shlex.quote(a) for a in argv)
    cp, clog = start("caddy", ["unshare", "-m", "sh", "-c", shell], cenv, work)
    root_ca = os.path.join(caddy_data, "caddy", "pki", "authorities", "local", "root.crt")
    wait_for("caddy's private CA", lambda: os.path.exists(root_ca), proc=cp, log=clog)

    # --- Telegram: the sandbox ---
    say("Telegram: the bellhop sandbox (trusting Caddy's CA as Telegram trusts Let's Encrypt)")
    senv = dict(os.environ, BELLHOP_SANDBOX_MANAGER_TOKEN=manager_token, BELLHOP_LOG="warn")
    sp, slog = start("sandbox", [args.bin, "sandbox", "--listen", f"127.0.0.1:{sandbox_port}", "--trust-ca", root_ca], senv, work)
    tg = f"http://127.0.0.1:{sandbox_port}"
    wait_for("the sandbox", lambda: requests.get(f"{tg}/sandbox/api/state", timeout=2).ok, proc=sp, log=slog)
    api = f"{tg}/sandbox/api"

    # --- bellhop processes ---
    def bellhop_env(service, i):
        s = services[service]
        env = dict(image_env)
        env.update(dotenv)
        env.update({k: interpolate(v, variables) for k, v in (s.get("environment") or {}).items()})
        env = {k: localise(v) for k, v in env.items()}
        for k in env:
            assert k.startswith("BELLHOP_") or k in ("DOMAIN", "POSTGRES_PASSWORD"), k
        env["BELLHOP_MODELS_DIR"] = models
        env["BELLHOP_DATA_DIR"] = os.path.join(work, f"{service}-{i}", "data")
        env["BELLHOP_LISTEN"] = f"127.0.0.1:{port[('bellhop-web', 8080)] if service == 'bellhop-web' else free_port()}"
        metrics = free_port()
        env["BELLHOP_METRICS_LISTEN"] = f"127.0.0.1:{metrics}"
        env["BELLHOP_TELEGRAM_API_URL"] = tg
        env["PATH"] = os.environ["PATH"]
        return env, metrics

    for k, v in image_env.items():
        check(k.startswith("BELLHOP_"), f"the image's ENV {k} is a bellhop setting")
    web_env, web_metrics = bellhop_env("bellhop-web", 0)
    cmd = services["bellhop-web"]["command"]
    say(f"bellhop-web: bellhop {' '.join(cmd)}")
    os.makedirs(os.path.join(work, "bellhop-web-0"))
    wp, wlog = start("bellhop-web", [args.bin] + cmd, web_env, work, cwd=os.path.join(work, "bellhop-web-0"))
    whealth = services["bellhop-web"]["healthcheck"]["test"][1].replace("127.0.0.1/8080", f"127.0.0.1/{port[('bellhop-web', 8080)]}")
    wait_for("bellhop-web", lambda: subprocess.run(["bash", "-c", whealth], capture_output=True).returncode == 0, proc=wp, log=wlog)
    check(True, "bellhop-web health check (its TCP port)")
    replicas = services["bellhop-worker"].get("deploy", {}).get("replicas", 1)
    workers = []
    for i in range(replicas):
        env, metrics = bellhop_env("bellhop-worker", i)
        cmd = services["bellhop-worker"]["command"]
        os.makedirs(os.path.join(work, f"bellhop-worker-{i}"))
        p, log = start(f"bellhop-worker-{i}", [args.bin] + cmd, env, work, cwd=os.path.join(work, f"bellhop-worker-{i}"))
        workers.append((p, log, metrics))
    say(f"{replicas} × bellhop-worker: bellhop {' '.join(services['bellhop-worker']['command'])}")
    for i, (p, log, _) in enumerate(workers):
        wait_for(f"bellhop-worker-{i}", lambda log=log: "taking jobs" in open(log).read(), proc=p, log=log, seconds=180)
    check(True, f"every worker loaded the models from the image's folder and takes jobs ({replicas})")

    # --- Through Caddy ---
    https = requests.Session()
    https.verify = root_ca
    https.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would replace `verify`
    wait_for("caddy → bellhop-web", lambda: https.get(f"{public}/healthz", timeout=5).status_code == 200, seconds=60, proc=cp, log=clog)
    check(https.get(f"{public}/healthz").status_code == 200, f"GET {public}/healthz through Caddy (HTTPS)")
    check(https.get(f"{public}/readyz").status_code == 200, "GET /readyz through Caddy")
    r = https.get(f"{public}/metrics")
    check(r.status_code == 404, "/metrics is not served on the public port", f"status {r.status_code}")
    for name, m in [("bellhop-web", web_metrics)] + [(f"bellhop-worker-{i}", w[2]) for i, w in enumerate(workers)]:
        r = requests.get(f"http://127.0.0.1:{m}/metrics", timeout=5)
        check(r.status_code == 200 and "bellhop_" in r.text, f"{name} serves /metrics on its internal port")

    # --- A business, end to end ---
    manager_id = int(manager_token.split(":")[0])
    owner = requests.post(f"{api}/users", json={"first_name": "Rehearsal Owner"}).json()["result"]["id"]
    link = f"https://t.me/newbot/{requests.get(f'{api}/bots/{manager_id}').json()['result']['username']}/rehearsal_shop_bot?name=Rehearsal%20Shop"
    req = requests.post(f"{api}/users/{owner}/creation_links", json={"link": link}).json()
    bot = requests.post(f"{api}/creation_requests/{req['result']['id']}/confirm", json={}).json()["result"]["id"]

    def webhook():
        return (requests.get(f"{api}/bots/{bot}").json()["result"].get("webhook") or {}).get("url", "")

    wait_for("the new bot's webhook", lambda: webhook().startswith(public), seconds=120)
    check(webhook().startswith(f"{public}/"), f"a worker provisioned the new bot with its webhook at {public}/…", webhook())

    def bot_texts(chat, from_bot_id):
        msgs = requests.get(f"{api}/messages", params={"chat_id": chat, "from_bot": "true"}).json()["result"]
        return [json.dumps(m) for m in msgs if m.get("bot_id") == from_bot_id]

    requests.post(f"{api}/users/{owner}/messages", json={"bot_id": manager_id, "text": "/login"})
    found = {}

    def login_link():
        for t in bot_texts(owner, manager_id):
            m = re.search(re.escape(public) + r"/login/[A-Za-z0-9_\-]+", t)
            if m:
                found["link"] = m.group(0)
                return True
        return False

    wait_for("the sign-in link from the manager bot", login_link, seconds=60)
    page = https.get(found["link"])
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = https.post(found["link"], data={"csrf": csrf}, headers={"origin": public}, allow_redirects=False)
    check(r.status_code == 303, "the owner signs in through Caddy with the link /login sent", f"status {r.status_code}")
    home = https.get(f"{public}/app")
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)
    doc = b"# Rehearsal Shop\n\n## Opening hours\n\nRehearsal Shop opens at 7:45 every weekday and closes at 16:30.\n"
    r = https.post(f"{public}/app/sources/upload", data={"csrf": csrf}, files={"files": ("shop.md", doc)}, headers={"origin": public}, allow_redirects=False)
    check(r.status_code in (200, 303), "the owner uploads a document", f"status {r.status_code}")

    def ready():
        return any(s.get("status") == "ready" for s in https.get(f"{public}/app/sources/status").json())

    wait_for("the document read by a worker", ready, seconds=180)
    check(True, "a worker read the document")
    cols = requests.get(f"http://127.0.0.1:{port[('qdrant', 6333)]}/collections").json()["result"]["collections"]
    points = sum(requests.post(f"http://127.0.0.1:{port[('qdrant', 6333)]}/collections/{c['name']}/points/count", json={"exact": True}).json()["result"]["count"] for c in cols)
    check(points > 0, f"its passages are in the Qdrant server ({len(cols)} collection(s), {points} point(s))")

    customer = requests.post(f"{api}/users", json={"first_name": "Rehearsal Customer", "started_bots": [bot]}).json()["result"]["id"]

    def ask(text, seen):
        requests.post(f"{api}/users/{customer}/messages", json={"bot_id": bot, "text": text})
        got = {}

        def answered():
            new = [t for t in bot_texts(customer, bot) if t not in seen]
            hit = [t for t in new if "7:45" in t]
            if hit:
                got["text"] = hit[0]
            return bool(hit)

        wait_for(f"an answer to {text!r}", answered, seconds=90)
        return got["text"]

    first = ask("When do you open on weekdays?", [])
    check("7:45" in first, "a customer's question is answered from the document")
    p, log, _ = workers[0]
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    second = ask("What time do you open?", bot_texts(customer, bot))
    check("7:45" in second, "after kill -9 of a worker, the next question is answered by the one left")

    # --- No token in any output ---
    tokens = [manager_token]
    child = requests.get(f"{api}/bots/{bot}").json()["result"].get("token")
    check(bool(child), "the sandbox shows the new bot's token (to look for it in the logs)")
    if child:
        tokens.append(child)
    stop_all()
    leaked = [name for name, _ in procs if os.path.exists(os.path.join(work, f"{name}.log")) and name != "sandbox" and any(t in open(os.path.join(work, f"{name}.log")).read() for t in tokens)]
    check(not leaked, "no bot token in any bellhop process's or Caddy's output", ", ".join(leaked))


if __name__ == "__main__":
    # Stopped by a signal: still stop every service (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    try:
        main()
    finally:
        stop_all()
    print()
    print("Not rehearsed here: building the image (no Docker engine; tests/api/deploy.rs checks its paths),")
    print("container networking and DNS, Let's Encrypt, and the published ports 80/443.")
    if failures:
        print(f"FAILED: {len(failures)} check(s): " + "; ".join(failures))
        sys.exit(1)
    print("compose rehearsal: every check passed")
