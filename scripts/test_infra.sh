#!/usr/bin/env bash
# Test infrastructure the suite runs against, installed from Debian and the Go module proxy:
# a PostgreSQL server (indexer tests run on SQLite and PostgreSQL), kubo (IPFS daemon, built
# from source at a pinned version; the document-store tests compare CIDs with it) and geth (the
# consortium profile's Clique client, built from source at a pinned version: ~5 min the first
# time) and Debian's chromium (the dashboard's browser tests drive it through Playwright; Playwright's
# own browser download is not used). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "test_infra: installing PostgreSQL from Debian"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "test_infra: installing chromium from Debian (browser tests)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

scripts/build_kubo.sh >/dev/null
scripts/build_geth.sh >/dev/null
