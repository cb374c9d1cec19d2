#!/usr/bin/env bash
# Catalog sync and memory at scale: a synthetic catalog of 100,000 components (release build).
#
#   scripts/bench-sync.sh                        # from the repo root
#   COMPONENTS=20000 scripts/bench-sync.sh       # smaller
#   SKIP_PG=1 scripts/bench-sync.sh              # SQLite only
#
# Measures, each as one wall-clock run of the idp binary:
#   1. `idp catalog sync` into a fresh SQLite DB, then the unchanged re-sync (same files);
#   2. the same into a fresh PostgreSQL database (created here with psql, dropped at the end);
#   3. `idp serve` on the SQLite DB: time to /healthz, and its peak RSS (VmHWM from /proc/PID/status)
#      after a few signed `/idp owner checkout-api` requests.
# Sync peak RSS comes from /usr/bin/time -v when it is installed.
#
# Env: COMPONENTS (100000), PG_URL_BASE (postgres://postgres@127.0.0.1:5432), PSQL_ARGS
#      ("-h 127.0.0.1 -U postgres"), SKIP_PG=1, IDP_PORT (3000), REQUESTS (20), KEEP_TMP=1,
#      IDP_LOG (passed to idp, e.g. debug for timing logs).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

SECRET="8f742231b10e8888abcd99yyyzzz85a5"
COMPONENTS="${COMPONENTS:-100000}"
PG_URL_BASE="${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}"
read -r -a PSQL <<<"psql ${PSQL_ARGS:--h 127.0.0.1 -U postgres} -v ON_ERROR_STOP=1 -q -X"
IDP_PORT="${IDP_PORT:-3000}"
REQUESTS="${REQUESTS:-20}"

log() { echo "== $*" >&2; }
die() { echo "bench-sync.sh: $*" >&2; exit 1; }
for tool in cargo curl openssl; do command -v "$tool" >/dev/null || die "$tool is required"; done

log "building idp (release)"
cargo build --release --locked --bin idp
IDP="${CARGO_TARGET_DIR:-$REPO/target}/release/idp"
[[ -x "$IDP" ]] || die "no binary at $IDP"

LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)" # other work on the box skews every figure
WORK="$(mktemp -d "${TMPDIR:-/tmp}/idp-bench-sync.XXXXXX")"
PG_DB=""
SERVE_PID=""
cleanup() {
  if [[ -n "$SERVE_PID" ]]; then kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
  if [[ -n "$PG_DB" ]]; then "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; fi
  if [[ -n "${KEEP_TMP:-}" ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# A config with no sources, so nothing but the named paths is synced and serve never re-syncs.
cat >"$WORK/idp.toml" <<'EOF'
[catalog]
sources = []
refresh_interval_secs = 0
poll_interval_secs = 60
EOF
export IDP_LOG="${IDP_LOG:-warn}"
unset IDP_CONFIG

TIME_V=""
[[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1 && TIME_V=/usr/bin/time
RESULTS=()
record() { RESULTS+=("$(printf '%-34s %s' "$1" "$2")"); echo "   $1: $2" >&2; }

# run_timed LABEL CMD... : runs CMD with DATABASE_URL already exported, records wall time (and max RSS).
run_timed() {
  local label="$1"; shift
  local out="$WORK/${label//[^A-Za-z0-9]/_}"
  local start end
  start=$(date +%s.%N)
  if [[ -n "$TIME_V" ]]; then
    "$TIME_V" -v -o "$out.time" "$@" >"$out.out" 2>"$out.err" || { cat "$out.out" "$out.err" >&2; die "$label failed"; }
  else
    "$@" >"$out.out" 2>"$out.err" || { cat "$out.out" "$out.err" >&2; die "$label failed"; }
  fi
  end=$(date +%s.%N)
  local secs rss=""
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  if [[ -n "$TIME_V" ]]; then
    rss=$(awk -F': ' '/Maximum resident set size/ { printf ", peak RSS %.0f MB", $2 / 1024 }' "$out.time")
  fi
  record "$label" "${secs} s${rss}"
  grep -E '^  stored:|^catalog:' "$out.out" | sed 's/^/     /' >&2 || true
}

log "generating $COMPONENTS components"
gen_start=$(date +%s.%N)
"$IDP" --config "$WORK/idp.toml" catalog generate --components "$COMPONENTS" --out "$WORK/catalog" >&2
record "generate" "$(awk -v a="$gen_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f s", b - a }'), $(du -sm "$WORK/catalog" | cut -f1) MB of YAML"

sync_pair() { # sync_pair BACKEND URL
  export DATABASE_URL="$2"
  log "$1: first sync (fresh database)"
  run_timed "$1 sync (fresh)" "$IDP" --config "$WORK/idp.toml" catalog sync "$WORK/catalog"
  log "$1: unchanged re-sync"
  run_timed "$1 re-sync (unchanged)" "$IDP" --config "$WORK/idp.toml" catalog sync "$WORK/catalog"
  unset DATABASE_URL
}

SQLITE_URL="sqlite://$WORK/bench.db"
sync_pair sqlite "$SQLITE_URL"
record "sqlite DB size" "$(du -cm "$WORK"/bench.db* | tail -1 | cut -f1) MB (db + wal)"

if [[ -z "${SKIP_PG:-}" ]]; then
  command -v psql >/dev/null || die "psql is required (or SKIP_PG=1)"
  PG_DB="idp_bench_sync_$$_$(date +%s)"
  log "creating PostgreSQL database $PG_DB"
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE $PG_DB"
  sync_pair postgres "$PG_URL_BASE/$PG_DB"
  record "postgres DB size" "$("${PSQL[@]}" -d "$PG_DB" -Atc "SELECT pg_size_pretty(pg_database_size(current_database()))")"
fi

# --- serve holding the catalog --------------------------------------------------------------------
if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:${IDP_PORT}/healthz"; then
  die "something already answers on 127.0.0.1:${IDP_PORT}; stop it or set IDP_PORT"
fi
log "idp serve on the SQLite DB"
serve_start=$(date +%s.%N)
SLACK_SIGNING_SECRET="$SECRET" DATABASE_URL="$SQLITE_URL" IDP_LISTEN="127.0.0.1:${IDP_PORT}" \
  "$IDP" --config "$WORK/idp.toml" serve >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
up=""
for _ in $(seq 600); do
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:${IDP_PORT}/healthz"; then up=1; break; fi
  kill -0 "$SERVE_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; die "idp serve died at start"; }
  sleep 0.1
done
[[ -n "$up" ]] || { cat "$WORK/serve.log" >&2; die "idp serve did not answer /healthz within 60 s"; }
record "serve start to /healthz" "$(awk -v a="$serve_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f s", b - a }')"
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SERVE_PID/status"; }
record "serve RSS idle (VmRSS / VmHWM)" "$(( $(status_kb VmRSS) / 1024 )) MB / $(( $(status_kb VmHWM) / 1024 )) MB"

BODY="token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&channel_id=C2147483705"
BODY+="&channel_name=platform&user_id=U2147483697&user_name=steve&command=%2Fidp&text=owner+checkout-api"
BODY+="&api_app_id=A0123456789&is_enterprise_install=false"
BODY+="&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0001%2F1234%2Fabcd"
BODY+="&trigger_id=13345224609.738474920.8088930838d88f008e0"
TS="$(date +%s)"
SIG="v0=$(printf 'v0:%s:%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | awk '{print $NF}')"
for i in $(seq "$REQUESTS"); do
  code=$(curl -sS --max-time 10 -o "$WORK/reply.json" -w '%{http_code}' -X POST \
    "http://127.0.0.1:${IDP_PORT}/slack/commands" \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    -H "X-Slack-Request-Timestamp: $TS" -H "X-Slack-Signature: $SIG" --data-binary "$BODY")
  [[ "$code" == 200 ]] || die "request $i got HTTP $code"
done
grep -q payments-platform "$WORK/reply.json" || { cat "$WORK/reply.json" >&2; die "reply lacks the owner team"; }
record "serve RSS after $REQUESTS requests" "VmRSS $(( $(status_kb VmRSS) / 1024 )) MB, VmHWM (peak) $(( $(status_kb VmHWM) / 1024 )) MB"

echo
echo "== bench-sync: $COMPONENTS components, release build, $(nproc) cores, load average at start: $LOAD_AT_START"
printf '%s\n' "${RESULTS[@]}"
