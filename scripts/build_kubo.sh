#!/usr/bin/env bash
# Build a pinned kubo (go-ipfs) binary from source with the local Go toolchain.
#
#   GOBIN=${TRADENET_GOBIN:-$HOME/.cache/tradenet/gobin}   where `ipfs` is installed
#   TRADENET_KUBO_VERSION                                    override the pinned version
#
# Idempotent: if $GOBIN/ipfs already reports the pinned version, nothing is built.
# Prints the path of the binary on stdout (logs go to stderr).
set -euo pipefail

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

command -v go >/dev/null || { log "go toolchain not found"; exit 1; }
mkdir -p "$GOBIN"
log "building kubo $KUBO_VERSION with $(go version) into $GOBIN"
start=$(date +%s)
export GOFLAGS=-buildvcs=false   # do not inherit e.g. -mod=vendor from the caller
if ! GOBIN="$GOBIN" go install "github.com/ipfs/kubo/cmd/ipfs@${KUBO_VERSION}"; then
    # `go install pkg@version` also looks up the module's deprecation notice, which needs the
    # proxy's @v/list; some restricted proxies/mirrors refuse that (403) although they serve the
    # pinned version itself. Fall back to downloading that exact (checksum-verified) module and
    # building it as the main module, with its own go.mod/go.sum.
    log "go install failed; building from the downloaded module instead"
    dir="$(go mod download -json "github.com/ipfs/kubo@${KUBO_VERSION}" \
           | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [[ -n "$dir" ]] || { log "could not download kubo $KUBO_VERSION"; exit 1; }
    (cd "$dir" && go build -trimpath -o "$IPFS" ./cmd/ipfs)
fi
log "built $("$IPFS" version) in $(( $(date +%s) - start ))s"
echo "$IPFS"
