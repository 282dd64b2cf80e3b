#!/usr/bin/env bash
# Test infrastructure the suite runs against, installed from Debian and the Go module proxy:
# a PostgreSQL server (indexer tests run on SQLite and PostgreSQL) and kubo (IPFS daemon, built
# from source at a pinned version; the document-store tests compare CIDs with it). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "test_infra: installing PostgreSQL from Debian"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

scripts/build_kubo.sh >/dev/null
