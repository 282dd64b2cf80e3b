#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests, listening on 127.0.0.1 only.
#
#   scripts/pg_test_server.sh start DIR PORT   # initdb DIR/data (if needed) and start; prints the URL
#   scripts/pg_test_server.sh stop DIR         # fast shutdown, then removes DIR
#   scripts/pg_test_server.sh status DIR
#
# Binaries: $PG_BIN, else the newest /usr/lib/postgresql/*/bin, else pg_ctl on PATH
# (Debian: apt-get install -y postgresql). PostgreSQL refuses to run as root, so as root the
# cluster is created and run as the 'postgres' system user (runuser); DIR is chowned to it.
# Durability is switched off (fsync, synchronous_commit, full_page_writes): tests only.
set -euo pipefail

usage() { echo "usage: $0 start DIR PORT | stop DIR | status DIR" >&2; exit 2; }

find_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$d" && -x "$d/pg_ctl" ]]; then echo "$d"; return; fi
  if command -v pg_ctl >/dev/null 2>&1; then dirname "$(command -v pg_ctl)"; return; fi
  echo "pg_test_server: PostgreSQL binaries not found (apt-get install -y postgresql)" >&2
  exit 3
}

as_pg() {
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || { echo "pg_test_server: running as root but no 'postgres' user" >&2; exit 3; }
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cmd=${1:-}; dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || usage
BIN=$(find_bin)

case "$cmd" in
  start)
    port=${3:-}; [[ -n "$port" ]] || usage
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    cd /  # the postgres user may not be allowed into the caller's working directory
    if [[ "$(id -u)" == 0 ]]; then chown postgres: "$dir"; fi
    chmod 700 "$dir"
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      as_pg "$BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    [[ -d "$dir" ]] || exit 0
    dir=$(cd "$dir" && pwd); cd /
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      as_pg "$BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  status)
    as_pg "$BIN/pg_ctl" -D "$dir/data" status
    ;;
  *) usage ;;
esac
