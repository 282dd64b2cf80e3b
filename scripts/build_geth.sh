#!/usr/bin/env bash
# Build a pinned geth (go-ethereum) binary from source with the local Go toolchain: the consortium
# profile's Clique proof-of-authority client (v1.13.15 is the last release that seals Clique blocks).
#
#   GOBIN=${TRADENET_GOBIN:-$HOME/.cache/tradenet/gobin}   where `geth` is installed
#   TRADENET_GETH_VERSION                                    override the pinned version
#
# Idempotent: if $GOBIN/geth already reports the pinned version, nothing is built.
# Prints the path of the binary on stdout (logs go to stderr). About 5 minutes on 2 cores.
set -euo pipefail
source "$(dirname "$0")/go_build.sh"

GETH_VERSION="${TRADENET_GETH_VERSION:-v1.13.15}"
GOBIN="${TRADENET_GOBIN:-$HOME/.cache/tradenet/gobin}"
GETH="$GOBIN/geth"

log() { echo "build_geth: $*" >&2; }

want="${GETH_VERSION#v}-stable"
if [[ -x "$GETH" ]] && [[ "$("$GETH" version 2>/dev/null)" == *$'\nVersion: '"$want"$'\n'* ]]; then
    log "geth $want already built at $GETH"
    echo "$GETH"
    exit 0
fi

start=$(date +%s)
# geth 1.13's dependency github.com/fjl/memsize links to runtime internals that Go >= 1.23
# refuses by default (`invalid reference to runtime.stopTheWorld`): -checklinkname=0 allows it.
go_install_pinned github.com/ethereum/go-ethereum cmd/geth "$GETH_VERSION" "$GETH" "-checklinkname=0"
log "built $("$GETH" version | sed -n 's/^Version: //p') in $(( $(date +%s) - start ))s"
echo "$GETH"
