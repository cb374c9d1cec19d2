#!/usr/bin/env bash
# HTTP comparison of `idp serve` with the peers of ../shared/bench (limit-axum, Bolt JS, Bolt Python):
# the signed `/idp owner checkout-api` slash command, driven by wrk through the peers' bench.sh.
#
#   scripts/bench-http.sh                       # from the repo root: 5 rounds of 10 s, 32 connections
#   ROUNDS=1 SECONDS_PER_RUN=3 scripts/bench-http.sh   # smoke run
#
# Steps: build idp (release); copy ../shared/bench to $BENCH_DIR (default ${TMPDIR:-/tmp}/idp-bench) and
# run its setup.sh unless already done; generate a 10,000-component catalog; sync it into a fresh SQLite
# DB; start `idp serve` on 127.0.0.1:$IDP_PORT with a config that has no sources (so nothing else is
# synced); wait for /healthz; run the peers' bench.sh with idp's URL among the peers; stop idp.
#
# Env: ROUNDS (5), SECONDS_PER_RUN (10), CONNECTIONS (32), PEERS ("limit-axum bolt-js bolt-py"; "" = idp only),
#      COMPONENTS (10000), IDP_PORT (3000), BENCH_DIR, SHARED_BENCH (../shared/bench relative to the
#      repo), KEEP_TMP=1 (keep the work dir with the catalog, DB and serve log).
# The peers' own ports are fixed by bench.sh: 3101 (bolt-py), 3102 (bolt-js), 3103 (limit-axum).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

SECRET="8f742231b10e8888abcd99yyyzzz85a5" # the shared test secret, also load.sh's default
ROUNDS="${ROUNDS:-5}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
read -r -a PEER_LIST <<<"${PEERS-limit-axum bolt-js bolt-py}"
COMPONENTS="${COMPONENTS:-10000}"
IDP_PORT="${IDP_PORT:-3000}"
SHARED_BENCH="${SHARED_BENCH:-$REPO/../shared/bench}"
BENCH_DIR="${BENCH_DIR:-${TMPDIR:-/tmp}/idp-bench}"
URL="http://127.0.0.1:${IDP_PORT}/slack/commands"

log() { echo "== $*" >&2; }
die() { echo "bench-http.sh: $*" >&2; exit 1; }

for tool in cargo curl openssl python3 node npm; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

# --- 1. idp, release build ------------------------------------------------------------------------
log "building idp (release)"
cargo build --release --locked --bin idp
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
IDP="$TARGET_DIR/release/idp"
[[ -x "$IDP" ]] || die "no binary at $IDP"

# --- 2. the peers ---------------------------------------------------------------------------------
if [[ ! -f "$BENCH_DIR/bench.sh" ]]; then
  [[ -f "$SHARED_BENCH/bench.sh" ]] || die "no peer bench at $SHARED_BENCH (set SHARED_BENCH)"
  log "copying $SHARED_BENCH to $BENCH_DIR"
  mkdir -p "$(dirname "$BENCH_DIR")"
  cp -r "$SHARED_BENCH" "$BENCH_DIR"
  chmod -R u+w "$BENCH_DIR" # the shared copy may be read-only; setup.sh writes .venv, node_modules, data/
fi
if ! command -v wrk >/dev/null || [[ ! -x "$BENCH_DIR/.venv/bin/gunicorn" ]] \
  || [[ ! -d "$BENCH_DIR/bolt-js/node_modules" ]] \
  || [[ ! -x "$BENCH_DIR/limit-axum/target/release/limit-axum" ]] \
  || [[ ! -f "$BENCH_DIR/data/services.db" ]]; then
  log "running $BENCH_DIR/setup.sh (wrk, Python venv, npm ci, limit-axum, seed)"
  (cd "$BENCH_DIR" && ./setup.sh)
fi

# --- 3. catalog and database ----------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/idp-bench-http.XXXXXX")"
IDP_PID=""
cleanup() {
  if [[ -n "$IDP_PID" ]]; then
    kill "$IDP_PID" 2>/dev/null || true
    wait "$IDP_PID" 2>/dev/null || true
  fi
  if [[ -n "${KEEP_TMP:-}" ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# No catalog sources: serve must use the DB as synced below, and never re-sync during a run.
cat >"$WORK/idp.toml" <<'EOF'
[catalog]
sources = []
refresh_interval_secs = 0
poll_interval_secs = 60
EOF

log "generating a $COMPONENTS-component catalog"
"$IDP" --config "$WORK/idp.toml" catalog generate --components "$COMPONENTS" --out "$WORK/catalog"
log "syncing it into $WORK/bench.db"
DATABASE_URL="sqlite://$WORK/bench.db" "$IDP" --config "$WORK/idp.toml" catalog sync "$WORK/catalog" \
  | tail -n 3

# --- 4. idp serve ---------------------------------------------------------------------------------
if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:${IDP_PORT}/healthz"; then
  die "something already answers on 127.0.0.1:${IDP_PORT}; stop it or set IDP_PORT"
fi
# PagerDuty stand-in, so `owner` shows a real on-call answer from idp's (warm) cache.
PD_PORT="${PD_PORT:-3998}"
python3 "$REPO/scripts/pagerduty-stub.py" 127.0.0.1 "$PD_PORT" &
PD_PID=$!
trap 'kill $PD_PID 2>/dev/null || true; cleanup' EXIT
log "starting idp serve on 127.0.0.1:${IDP_PORT}"
env -u IDP_CONFIG SLACK_SIGNING_SECRET="$SECRET" DATABASE_URL="sqlite://$WORK/bench.db" \
  PAGERDUTY_API_URL="http://127.0.0.1:${PD_PORT}" PAGERDUTY_TOKEN="bench-token" \
  IDP_LISTEN="127.0.0.1:${IDP_PORT}" IDP_LOG="${IDP_LOG:-info}" \
  "$IDP" --config "$WORK/idp.toml" serve >"$WORK/serve.log" 2>&1 &
IDP_PID=$!
for _ in $(seq 150); do
  curl -s -o /dev/null --max-time 1 "http://127.0.0.1:${IDP_PORT}/healthz" && break
  kill -0 "$IDP_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; die "idp serve died at start"; }
  sleep 0.2
done
curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:${IDP_PORT}/healthz" \
  || { cat "$WORK/serve.log" >&2; die "idp serve did not answer /healthz"; }

# --- 5. the comparison ----------------------------------------------------------------------------
# bench.sh starts and stops each named peer itself; a URL is only loaded (idp stays ours to stop).
# load.sh checks idp's reply first: 200 naming payments-platform, "ephemeral", "blocks"; 401s.
log "bench.sh: ROUNDS=$ROUNDS, ${SECONDS_PER_RUN}s, $CONNECTIONS connections: ${PEER_LIST[*]} idp"
(cd "$BENCH_DIR" && SLACK_SIGNING_SECRET="$SECRET" ROUNDS="$ROUNDS" \
  ./bench.sh "$SECONDS_PER_RUN" "$CONNECTIONS" "${PEER_LIST[@]}" "$URL")
echo "(the $URL row is idp serve, $COMPONENTS components, SQLite; per-run logs in $BENCH_DIR/.run/)"
