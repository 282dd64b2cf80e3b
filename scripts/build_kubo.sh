#!/usr/bin/env bash
# Build a pinned kubo (go-ipfs) binary from source with the local Go toolchain.
#
#   GOBIN=${TRADENET_GOBIN:-$HOME/.cache/tradenet/gobin}   where `ipfs` is installed
#   TRADENET_KUBO_VERSION                                    override the pinned version
#
# Idempotent: if $GOBIN/ipfs already reports the pinned version, nothing is built.
# Prints the path of the binary on stdout (logs go to stderr).
set -euo pipefail
source "$(dirname "$0")/go_build.sh"

KUBO_VERSION="${TRADENET_KUBO_VERSION:-v0.43.0}"   # needs go >= 1.26.5
GOBIN="${TRADENET_GOBIN:-$HOME/.cache/tradenet/gobin}"
IPFS="$GOBIN/ipfs"

log() { echo "build_kubo: $*" >&2; }

want="ipfs version ${KUBO_VERSION#v}"
if [[ -x "$IPFS" ]] && [[ "$("$IPFS" version 2>/dev/null)" == "$want" ]]; then
    log "$want already built at $IPFS"
    echo "$IPFS"
    exit 0
fi

start=$(date +%s)
go_install_pinned github.com/ipfs/kubo cmd/ipfs "$KUBO_VERSION" "$IPFS"
log "built $("$IPFS" version) in $(( $(date +%s) - start ))s"
echo "$IPFS"
