#!/usr/bin/env bash
# Idempotent set-up of everything the project needs on a fresh machine, from the project's own
# files: npm packages (anvil, solcjs, OpenZeppelin, Hardhat) and a Python venv with tradenet.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/anvil ] || [ ! -d node_modules/solc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (pinned in package-lock.json)"
  # not `npm ci`: @foundry-rs/anvil lists per-platform packages as optional dependencies and the
  # registry here has only linux-amd64, so the lock cannot list the others and `npm ci` refuses it.
  # `npm install --no-save` installs exactly the locked versions and leaves the lock untouched.
  npm install --no-audit --no-fund --no-save --loglevel=error
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.tradenet-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages (pinned in pyproject.toml)"
  .venv/bin/pip install --quiet --disable-pip-version-check -e .
  touch "$stamp"
fi
