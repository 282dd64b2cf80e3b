#!/usr/bin/env bash
# Idempotent set-up of everything the project needs on a fresh machine, from the project's own
# files: npm packages (anvil, solcjs, OpenZeppelin, Solady, Hardhat, the dashboard's chart and API
# docs assets) and a Python venv with tradenet. Each step says what it does and how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

step_started=0
step() { step_started=$SECONDS; printf 'setup: %s ...\n' "$1"; }
done_step() { printf 'setup:   done in %ss\n' "$((SECONDS - step_started))"; }

if [ ! -x node_modules/.bin/anvil ] || [ ! -d node_modules/solc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm packages pinned in package-lock.json (anvil, solcjs, OpenZeppelin, Hardhat; about a minute)"
  # not `npm ci`: @foundry-rs/anvil lists per-platform packages as optional dependencies and the
  # registry here has only linux-amd64, so the lock cannot list the others and `npm ci` refuses it.
  # `npm install --no-save` installs exactly the locked versions and leaves the lock untouched.
  npm install --no-audit --no-fund --no-save --loglevel=error
  done_step
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  step "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
  done_step
fi
stamp=.venv/.tradenet-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  step "installing Python packages pinned in pyproject.toml (web3, FastAPI, pytest, ...; two to three minutes on a fresh venv)"
  # pip's own progress, one line per package it collects, so a long install is visibly moving
  .venv/bin/pip install --disable-pip-version-check --progress-bar off -e '.[test]' \
    | { grep --line-buffered -E '^(Collecting|Successfully installed)' || true; } \
    | sed -u -e 's/^Collecting /setup:   collecting /' -e 's/^Successfully installed .*/setup:   installed/'
  done_step
  touch "$stamp"
fi
