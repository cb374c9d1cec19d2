#!/usr/bin/env bash
# Ingest throughput of `POST /hooks/events` on a running `idp serve` (SQLite), driven by wrk with
# distinct signed deploy events: the issue-5 target is 5,000 events/s with 32 connections.
#
#   scripts/bench-events-http.sh                      # from the repo root: 5 rounds of 10 s, 32 connections
#   ROUNDS=1 SECONDS_PER_RUN=3 scripts/bench-events-http.sh   # smoke run
#
# Each round: a fresh SQLite database and `idp serve` on 127.0.0.1:$IDP_PORT with one event source
# (`ci`, HMAC); EVENTS distinct `deploy.succeeded` events (64 services x 3 environments, each its
# own deploy) generated and signed just before the run (the 5-minute window bounds a round);
# wrk (scripts/events_post.lua) sends warm-up events for WARMUP seconds, then the measured ones for
# SECONDS_PER_RUN seconds; idp is stopped by its PID; the script checks every answer was 200 and
# that the database holds one event and one deployment row per event answered (no loss, no
# duplicate). Prints one line per round and the medians.
#
# Env: ROUNDS (5), SECONDS_PER_RUN (10), WARMUP (2), CONNECTIONS (32), WRK_THREADS (2),
#      EVENTS (250000), IDP_PORT (3400), KEEP_TMP=1 (keep the work dir with DBs and logs).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

ROUNDS="${ROUNDS:-5}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
WARMUP="${WARMUP:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
WRK_THREADS="${WRK_THREADS:-2}"
EVENTS="${EVENTS:-250000}"
IDP_PORT="${IDP_PORT:-3400}"
SECRET="bench-events-secret-0123456789"
URL="http://127.0.0.1:${IDP_PORT}/hooks/events"

log() { echo "== $*" >&2; }
die() { echo "bench-events-http.sh: $*" >&2; exit 1; }
for tool in cargo curl python3 wrk; do
  command -v "$tool" >/dev/null || die "$tool is required (wrk: apt-get install wrk)"
done
(( SECONDS_PER_RUN + WARMUP <= 240 )) || die "SECONDS_PER_RUN+WARMUP must stay <= 240 (5-minute signature window)"

log "building idp (release)"
cargo build --release --locked --bin idp
IDP="${CARGO_TARGET_DIR:-$REPO/target}/release/idp"
[[ -x "$IDP" ]] || die "no binary at $IDP"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/idp-bench-events.XXXXXX")"
IDP_PID=""
stop_idp() {
  if [[ -n "$IDP_PID" ]]; then
    kill "$IDP_PID" 2>/dev/null || true
    wait "$IDP_PID" 2>/dev/null || true
    IDP_PID=""
  fi
}
cleanup() {
  stop_idp
  if [[ -n "${KEEP_TMP:-}" ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

cat >"$WORK/idp.toml" <<'TOML'
[catalog]
sources = []
refresh_interval_secs = 0
poll_interval_secs = 60

[events.sources.ci]
secret_env = "IDP_EVENTS_SECRET_CI"
TOML

# generate PREFIX FILE COUNT: COUNT signed requests, "<ts>\t<signature>\t<body>" per line, ids
# and deployment ids prefixed with PREFIX.
generate() {
  python3 - "$1" "$2" "$3" "$SECRET" <<'PY'
import hashlib, hmac, json, sys, time
round_no, path, n, secret = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
ts = str(int(time.time()))
envs = ["production", "staging", "dev"]
with open(path, "w") as out:
    for i in range(n):
        body = json.dumps({
            "id": f"bench-{round_no}-{i}",
            "type": "deploy.succeeded",
            "source": "ci",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_764_000_000 + i)),
            "data": {
                "service": f"svc-{i % 64}",
                "environment": envs[i % 3],
                "version": f"1.{i}.0",
                "revision": f"{i:040x}",
                "deployed_by": "ci-bot",
                "url": f"https://ci.example.com/runs/{i}",
                "deployment_id": f"run-{round_no}-{i}",
            },
        }, separators=(",", ":"))
        mac = hmac.new(secret, f"v1:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        out.write(f"{ts}\tv1={mac}\t{body}\n")
PY
}

declare -a RPS P50 P99
for round in $(seq 1 "$ROUNDS"); do
  db="$WORK/events-$round.db"
  events="$WORK/events-$round.tsv"
  warm="$WORK/warm-$round.tsv"
  generate "$round" "$events" "$EVENTS"
  generate "w$round" "$warm" "$((WARMUP * 20000 + 1000))"
  IDP_CONFIG="$WORK/idp.toml" DATABASE_URL="sqlite://$db" IDP_LISTEN="127.0.0.1:$IDP_PORT" \
    SLACK_SIGNING_SECRET="unused-in-this-bench" IDP_EVENTS_SECRET_CI="$SECRET" RUST_LOG=warn \
    "$IDP" serve >"$WORK/serve-$round.log" 2>&1 &
  IDP_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$IDP_PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$IDP_PORT/healthz" >/dev/null || die "idp did not start (see $WORK/serve-$round.log)"
  warm_out="$(WRK_EVENTS="$warm" WRK_THREADS="$WRK_THREADS" wrk -t "$WRK_THREADS" -c "$CONNECTIONS" \
    -d "${WARMUP}s" -s scripts/events_post.lua "$URL")"
  out="$(WRK_EVENTS="$events" WRK_THREADS="$WRK_THREADS" wrk -t "$WRK_THREADS" -c "$CONNECTIONS" \
    -d "${SECONDS_PER_RUN}s" --latency -s scripts/events_post.lua "$URL")"
  stop_idp
  result="$(grep '^RESULT' <<<"$out")" || die "no result from wrk: $out"
  warm_requests="$(grep '^RESULT' <<<"$warm_out" | sed -E 's/.* requests=([0-9]+) .*/\1/')"
  # Every request answered 200 and each distinct event stored once: rows == requests answered.
  read -r requests non200 wrapped rps p50 p99 < <(python3 - "$result" <<'PY'
import sys
kv = dict(p.split("=") for p in sys.argv[1].split()[1:])
print(kv["requests"], kv["non200"], kv["wrapped"], kv["rps"], kv["p50_ms"], kv["p99_ms"])
PY
)
  rows="$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from deploy_events').fetchone()[0], c.execute('select count(*) from deployments').fetchone()[0])" "$db")"
  answered=$((requests + warm_requests))
  echo "round $round: $rps events/s, p50 ${p50} ms, p99 ${p99} ms, non-200 $non200, wrapped $wrapped; rows (events, deployments) $rows for $answered answered (incl. warm-up)"
  [[ "$non200" == 0 ]] || die "round $round: $non200 answers were not 200"
  [[ "$wrapped" == 0 ]] || die "round $round: wrk ran out of distinct events; raise EVENTS"
  read -r event_rows deploy_rows <<<"$rows"
  # wrk stops at its deadline with up to CONNECTIONS requests in flight, which idp still commits.
  (( event_rows >= answered && event_rows <= answered + 2 * CONNECTIONS && deploy_rows == event_rows )) \
    || die "round $round: $rows rows for $answered answered events"
  RPS+=("$rps"); P50+=("$p50"); P99+=("$p99")
  rm -f "$events" "$warm"
done
python3 - "${RPS[*]}" "${P50[*]}" "${P99[*]}" <<'PY'
import statistics, sys
rps, p50, p99 = ([float(x) for x in a.split()] for a in sys.argv[1:4])
print(f"median of {len(rps)} rounds: {statistics.median(rps):.0f} events/s, p50 {statistics.median(p50):.2f} ms, p99 {statistics.median(p99):.2f} ms (runs: {', '.join(f'{r:.0f}' for r in rps)})")
PY
