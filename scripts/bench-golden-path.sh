#!/usr/bin/env bash
# The golden-path benchmarks of issue 4 (benches/golden_path.rs): `views.open` latency under 50
# concurrent `/idp new-service` commands, and the worker dispatching 1,000 queued runs to a webhook
# receiver, on SQLite and (when it is up) PostgreSQL. Everything runs in one process against fakes
# on 127.0.0.1.
#
#   scripts/bench-golden-path.sh                  # from the repo root: 3 repeats, medians printed
#   IDP_BENCH_REPEAT=1 IDP_BENCH_ROUNDS=4 scripts/bench-golden-path.sh   # smoke run
#   IDP_BENCH_STRICT=1 scripts/bench-golden-path.sh                      # exit 1 on a missed target
#
# PostgreSQL: IDP_BENCH_POSTGRES_URL, else IDP_TEST_POSTGRES_URL, else the machine's own server on
# 127.0.0.1:5432 (user postgres, database test), started here the way .ci/run starts it. Set
# NO_POSTGRES=1 to measure SQLite only. Each run uses a fresh schema and drops it afterwards.
#
# Other settings (read by the bench): IDP_BENCH_REPEAT (3), IDP_BENCH_CONCURRENCY (50),
# IDP_BENCH_ROUNDS (20), IDP_BENCH_RUNS (1000), IDP_BENCH_ONLY (views | worker), IDP_LOG.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

log() { echo "== $*" >&2; }

if [[ -z "${NO_POSTGRES:-}" && -z "${IDP_BENCH_POSTGRES_URL:-}" && -z "${IDP_TEST_POSTGRES_URL:-}" ]]; then
  if command -v pg_isready >/dev/null; then
    if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
      log "starting the local PostgreSQL cluster"
      for v in /etc/postgresql/*; do
        [ -d "$v" ] && pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
      done
      for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
    fi
    if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
      export IDP_BENCH_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test"
    else
      log "no PostgreSQL on 127.0.0.1:5432; measuring SQLite only"
    fi
  else
    log "pg_isready not found; measuring SQLite only"
  fi
fi
if [[ -n "${NO_POSTGRES:-}" ]]; then
  unset IDP_BENCH_POSTGRES_URL IDP_TEST_POSTGRES_URL
fi

log "building and running benches/golden_path.rs (release)"
log "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
exec cargo bench --locked --bench golden_path
