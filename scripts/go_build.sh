# Sourced by the build_*.sh scripts: build one command of a Go module at a pinned version into
# $GOBIN with the local Go toolchain.
#
#   go_install_pinned MODULE CMD VERSION BINARY [LDFLAGS]
#     e.g. go_install_pinned github.com/ipfs/kubo cmd/ipfs v0.43.0 "$GOBIN/ipfs"
#
# `go install MODULE/CMD@VERSION` first. That also looks up the module's deprecation notice, which
# needs the proxy's @v/list; some restricted proxies/mirrors refuse that (403) although they serve
# the pinned version itself: the fallback downloads that exact (checksum-verified) module and
# builds it as the main module, with its own go.mod/go.sum. Logs go to stderr.

go_install_pinned() {
    local module=$1 cmd=$2 version=$3 binary=$4 ldflags=${5:-}
    local name
    name=$(basename "$binary")
    command -v go >/dev/null || { echo "$name: go toolchain not found" >&2; return 1; }
    mkdir -p "$(dirname "$binary")"
    echo "$name: building $module $version with $(go version) into $(dirname "$binary")" >&2
    export GOFLAGS=-buildvcs=false   # do not inherit e.g. -mod=vendor from the caller
    if ! GOBIN="$(dirname "$binary")" go install -ldflags="$ldflags" "$module/$cmd@$version"; then
        echo "$name: go install failed; building from the downloaded module instead" >&2
        local dir
        dir="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
        [[ -n "$dir" ]] || { echo "$name: could not download $module $version" >&2; return 1; }
        (cd "$dir" && go build -trimpath -ldflags="$ldflags" -o "$binary" "./$cmd")
    fi
}
