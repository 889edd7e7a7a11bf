#!/usr/bin/env bash
# Build (once) and locate the Pulumi engine that berth runs, without the
# download hosts the Pulumi CLI normally uses: every binary is compiled from
# the Go module proxy and cached OUTSIDE the repo, keyed by version, so a warm
# machine never rebuilds.
#
#   bash scripts/engine.sh ensure   # stdout: ONLY the bin dir to put first on PATH
#   bash scripts/engine.sh status   # what is built, and the stamps
#   bash scripts/engine.sh smoke    # up + destroy a tiny program (scripts/engine/smoke)
#   source scripts/engine-env.sh    # ensure + export PATH and the PULUMI_* switches
#
# Cache layout (XDG_CACHE_HOME defaults to ~/.cache):
#   $XDG_CACHE_HOME/berth/engine/pulumi-<cli version>/
#     bin/<binary>            every binary, one dir: pulumi, pulumi-language-nodejs,
#                             pulumi-resource-<name> (a pulumi-resource-* on PATH is
#                             used by the engine with no version check)
#     stamps/<binary>.stamp   the recipe key the binary was built from; a binary whose
#                             stamp matches is never rebuilt (a partial build resumes)
#     versions.txt            one line per binary: name, version, module, seconds to build
#     build/<recipe>/         scratch copy of scripts/engine/<recipe> (go.mod/go.sum)
#     .lock                   flock, so concurrent `ensure`s build once
# Go's own module and build caches (go env GOMODCACHE / GOCACHE) are reused as usual.
#
# Knobs: BERTH_ENGINE_JOBS=1|2 (parallel builds, default 1 as the 2 cores are
# shared), BERTH_ENGINE_NO_SYSTEM=1 (ignore a pulumi already on PATH),
# GO=/path/to/go.
set -euo pipefail

readonly PULUMI_VERSION=v3.259.0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly ENGINE_SRC=$ROOT/scripts/engine
readonly CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/berth/engine
readonly SET_DIR=$CACHE_ROOT/pulumi-$PULUMI_VERSION
readonly BIN_DIR=$SET_DIR/bin
readonly STAMP_DIR=$SET_DIR/stamps
readonly BUILD_DIR=$SET_DIR/build
# Bump when the build command below changes (flags, CGO), to rebuild everything.
readonly BUILD_EPOCH=1

# The recipes. One line per binary, '|'-separated:
#   binary | recipe dir under scripts/engine | Go package | version | build tags | -X ldflags
# Every recipe dir is a small wrapper module (go.mod + go.sum committed, plus a
# tools.go that pins the package) so builds are reproducible.
RECIPES=(
  "pulumi|cli|github.com/pulumi/pulumi/pkg/v3/cmd/pulumi|v3.259.0|osusergo,grpcnotrace|github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v3.259.0"
  "pulumi-language-nodejs|langhost|github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs|v3.68.0|osusergo,grpcnotrace|github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v3.68.0"
)
# Resource plugins the smoke program uses: name|version the SDKs in package.json ask for. Where
# no real plugin is installed, scripts/standins.sh provides berth's stand-ins.
PROVIDERS=(
  "command|1.2.1"
  "random|4.21.1"
  "docker|5.0.0"
)

log() { printf 'engine: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

find_go() {
  if [[ -n ${GO:-} ]]; then
    printf '%s\n' "$GO"
  elif command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    printf '%s\n' /usr/local/go/bin/go
  else
    die "no Go toolchain (looked for \$GO, go on PATH, /usr/local/go/bin/go)"
  fi
}

# The key a binary's stamp must match: its recipe line, the recipe dir's files
# and the Go version. Any change rebuilds that binary only.
recipe_key() {
  local line=$1 dir=$2 gover=$3
  {
    printf '%s\n%s\nepoch=%s\n' "$line" "$gover" "$BUILD_EPOCH"
    find "$ENGINE_SRC/$dir" -maxdepth 1 -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sed "s|$ENGINE_SRC/||"
  } | sha256sum | cut -d' ' -f1
}

is_fresh() {
  local bin=$1 key=$2
  [[ -x $BIN_DIR/$bin && -f $STAMP_DIR/$bin.stamp && "$(cat "$STAMP_DIR/$bin.stamp")" == "$key" ]]
}

# build_one LINE: compile one recipe into $BIN_DIR, then write its stamp.
build_one() {
  local line=$1 go=$2 gover=$3
  local bin dir pkg version tags xflags
  IFS='|' read -r bin dir pkg version tags xflags <<<"$line"
  local key
  key=$(recipe_key "$line" "$dir" "$gover")
  if is_fresh "$bin" "$key"; then
    return 0
  fi
  local work=$BUILD_DIR/$dir
  rm -rf "$work"
  mkdir -p "$work"
  cp -R "$ENGINE_SRC/$dir/." "$work/"
  local ldflags="-s -w"
  local x
  for x in $xflags; do
    ldflags+=" -X $x"
  done
  log "building $bin $version ($pkg) ..."
  local start=$SECONDS
  if ! (cd "$work" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" \
    "$go" build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$BIN_DIR/.$bin.tmp" "$pkg") >&2; then
    rm -f "$BIN_DIR/.$bin.tmp"
    die "building $bin failed (recipe scripts/engine/$dir)"
  fi
  mv -f "$BIN_DIR/.$bin.tmp" "$BIN_DIR/$bin"
  printf '%s\n' "$key" >"$STAMP_DIR/$bin.stamp"
  local took=$((SECONDS - start))
  # versions.txt: replace this binary's line (locked: builds may run 2-way).
  local vf=$SET_DIR/versions.txt
  (
    flock 8
    touch "$vf"
    { grep -v "^$bin " "$vf" || true; } >"$vf.$bin.tmp"
    printf '%s %s %s built_in=%ss go=%s\n' "$bin" "$version" "$pkg" "$took" "$gover" >>"$vf.$bin.tmp"
    LC_ALL=C sort -o "$vf" "$vf.$bin.tmp"
    rm -f "$vf.$bin.tmp"
  ) 8>"$vf.lock"
  log "built $bin in ${took}s"
}

# A pulumi that a user installed normally: exactly $PULUMI_VERSION, with its language host next to
# it or on PATH. Its provider plugins are scripts/standins.sh's business. Prints its dir on success.
system_engine() {
  [[ -z ${BERTH_ENGINE_NO_SYSTEM:-} ]] || return 1
  local p dir v
  p=$(command -v pulumi 2>/dev/null) || return 1
  dir=$(cd "$(dirname "$p")" && pwd)
  [[ $dir != "$BIN_DIR" ]] || return 1
  v=$(PULUMI_SKIP_UPDATE_CHECK=true timeout 60 "$p" version 2>/dev/null) || return 1
  [[ $v == "$PULUMI_VERSION" ]] || return 1
  [[ -x $dir/pulumi-language-nodejs ]] || command -v pulumi-language-nodejs >/dev/null 2>&1 || return 1
  printf '%s\n' "$dir"
}

# The Pulumi release tarball also ships this script: the plugin that serves
# pulumi.dynamic.Resource providers, run by node from the program's node_modules.
write_dynamic_provider() {
  local f=$BIN_DIR/pulumi-resource-pulumi-nodejs
  local body='#!/bin/sh
# Written by berth scripts/engine.sh: serves pulumi.dynamic providers.
exec node ./node_modules/@pulumi/pulumi/cmd/dynamic-provider "$@"'
  if [[ ! -x $f || "$(cat "$f")" != "$body" ]]; then
    printf '%s\n' "$body" >"$f.tmp"
    chmod 0755 "$f.tmp"
    mv -f "$f.tmp" "$f"
  fi
}

cmd_ensure() {
  local dir
  if dir=$(system_engine); then
    log "using the installed pulumi $PULUMI_VERSION in $dir"
    printf '%s\n' "$dir"
    return 0
  fi
  mkdir -p "$BIN_DIR" "$STAMP_DIR" "$BUILD_DIR"
  local go gover
  go=$(find_go)
  gover=$("$go" env GOVERSION)
  # Fast path, no lock: everything already stamped.
  local line bin rdir todo=()
  for line in "${RECIPES[@]}"; do
    IFS='|' read -r bin rdir _ <<<"$line"
    is_fresh "$bin" "$(recipe_key "$line" "$rdir" "$gover")" || todo+=("$line")
  done
  if ((${#todo[@]})); then
    exec 9>"$SET_DIR/.lock"
    if ! flock -n 9; then
      log "another ensure is building; waiting for it ..."
      flock 9
    fi
    local jobs=${BERTH_ENGINE_JOBS:-1} pids=() pid failed=0
    [[ $jobs =~ ^[12]$ ]] || die "BERTH_ENGINE_JOBS must be 1 or 2"
    log "building ${#todo[@]} binaries into $BIN_DIR (once per machine; later runs are instant)"
    for line in "${todo[@]}"; do
      if ((jobs == 1)); then
        build_one "$line" "$go" "$gover"
      else
        build_one "$line" "$go" "$gover" &
        pids+=("$!")
        if ((${#pids[@]} >= jobs)); then
          wait "${pids[0]}" || failed=1
          pids=("${pids[@]:1}")
        fi
      fi
    done
    for pid in "${pids[@]}"; do
      wait "$pid" || failed=1
    done
    ((failed == 0)) || die "some builds failed (see above)"
    flock -u 9
    local v
    v=$("$BIN_DIR/pulumi" version 2>/dev/null) || die "$BIN_DIR/pulumi does not run"
    [[ $v == "$PULUMI_VERSION" ]] || die "$BIN_DIR/pulumi reports '$v', want $PULUMI_VERSION"
  fi
  write_dynamic_provider
  printf '%s\n' "$BIN_DIR"
}

cmd_status() {
  printf 'cache: %s\n' "$SET_DIR"
  if [[ -f $SET_DIR/versions.txt ]]; then
    cat "$SET_DIR/versions.txt"
  else
    printf '(nothing built yet)\n'
  fi
}

cmd_smoke() {
  local bin
  bin=$(cmd_ensure)
  local plugins_bin
  plugins_bin=$(bash "$ROOT/scripts/standins.sh" ensure)
  export PATH="$bin:$plugins_bin:$PATH" PULUMI_SKIP_UPDATE_CHECK=true
  [[ $bin != "$BIN_DIR" ]] || export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/berth-engine-smoke.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  cp -R "$ENGINE_SRC/smoke/." "$tmp/"
  ln -s "$ROOT/node_modules" "$tmp/node_modules"
  mkdir -p "$tmp/state" "$tmp/home"
  export PULUMI_BACKEND_URL="file://$tmp/state" PULUMI_CONFIG_PASSPHRASE=x PULUMI_HOME=$tmp/home
  local v
  v=$(pulumi version)
  [[ $v == "$PULUMI_VERSION" ]] || die "smoke: pulumi version is '$v', want $PULUMI_VERSION"
  log "smoke: pulumi version $v ($(command -v pulumi))"
  local entry name plugins=() skipped=()
  for entry in "${PROVIDERS[@]}"; do
    IFS='|' read -r name _ <<<"$entry"
    if command -v "pulumi-resource-$name" >/dev/null 2>&1 || [[ $bin != "$BIN_DIR" ]]; then
      plugins+=("$name")
    else
      skipped+=("$name")
    fi
  done
  local plist docker=none
  plist=$(IFS=,; printf '%s' "${plugins[*]}")
  if [[ ,$plist, == *,docker,* ]] && docker info >/dev/null 2>&1; then docker=up; fi
  cd "$tmp"
  pulumi stack init smoke --non-interactive >&2
  pulumi config set plugins "$plist" >&2
  pulumi config set docker "$docker" >&2
  log "smoke: pulumi up (plugins: ${plist:-none}; docker network: $docker)"
  pulumi up --yes --non-interactive --skip-preview >&2
  expect_output greeting "hello from berth"
  [[ ,$plist, != *,random,* ]] || expect_output passwordLength 24
  [[ ,$plist, != *,command,* ]] || expect_output echoed "hello from berth"
  [[ $docker != up ]] || expect_output networkName berth-smoke-smoke
  if [[ ,$plist, == *,docker,* && $docker == none ]]; then
    # No daemon: a docker.Network can still be previewed.
    pulumi config set docker preview >&2
    log "smoke: pulumi preview with a docker.Network (no docker daemon here)"
    pulumi preview --non-interactive >&2
    pulumi config set docker none >&2
  fi
  log "smoke: pulumi destroy"
  pulumi destroy --yes --non-interactive --skip-preview >&2
  pulumi stack rm --yes smoke >&2
  if ((${#skipped[@]})); then
    log "smoke: engine OK, but SKIPPED resources of: ${skipped[*]} (plugins missing)"
    [[ -n ${BERTH_ENGINE_ALLOW_MISSING:-} ]] || exit 1
  else
    log "smoke: OK"
  fi
}

expect_output() {
  local got
  got=$(pulumi stack output "$1")
  [[ $got == "$2" ]] || die "smoke: output $1 is '$got', want '$2'"
  log "smoke: output $1 = $got"
}

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

case ${1:-} in
  ensure) cmd_ensure ;;
  status) cmd_status ;;
  smoke) cmd_smoke ;;
  *) usage ;;
esac
