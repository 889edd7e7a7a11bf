#!/usr/bin/env bash
# standins.sh ensure|report
#   Decides, provider by provider, whether `pulumi up` runs on the real plugin or on berth's
#   stand-in (providers/<name>), and writes a `pulumi-resource-<name>` launcher for each stand-in.
#
#   ensure   stdout: ONLY the stand-ins' bin dir (put it on PATH after the engine's bin dir;
#            it holds launchers only for the providers with no real plugin). stderr: one line
#            saying which providers are stand-ins. Also writes that line to $REPORT.
#   report   prints that line again (for the end of a test run).
#
# A real plugin always wins: one on PATH that is not a berth launcher, or one installed with
# `pulumi plugin install resource <name> <version>` under $PULUMI_HOME (default ~/.pulumi).
# The engine uses a `pulumi-resource-<name>` it finds on PATH before installed plugins, so a
# launcher is written only where no real plugin exists, and removed once one does.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly BIN=$ROOT/.berth/standins/bin
readonly REPORT=$ROOT/.berth/standins/report
readonly MARK="# berth stand-in launcher"
# name|version the SDKs in package.json ask for
readonly PROVIDERS=(
  "docker|5.0.0"
  "command|1.2.1"
  "random|4.21.1"
  "cloudflare|6.17.0"
)

log() { printf 'standins: %s\n' "$*" >&2; }

is_launcher() { [[ -f $1 ]] && grep -qF "$MARK" "$1" 2>/dev/null; }

# real_plugin NAME VERSION: prints where the real plugin is, if there is one.
real_plugin() {
  local name=$1 version=$2 p home
  while IFS= read -r p; do
    [[ -n $p ]] || continue
    is_launcher "$p" || {
      printf '%s\n' "$p"
      return 0
    }
  done < <(type -ap "pulumi-resource-$name" 2>/dev/null || true)
  home=${PULUMI_HOME:-$HOME/.pulumi}
  p=$home/plugins/resource-$name-v$version/pulumi-resource-$name
  if [[ -x $p ]]; then
    printf '%s\n' "$p"
    return 0
  fi
  return 1
}

write_launcher() {
  local name=$1 version=$2 f=$BIN/pulumi-resource-$1 body
  [[ -f $ROOT/providers/$name/main.ts ]] || {
    log "error: providers/$name/main.ts is missing"
    exit 1
  }
  body="#!/bin/sh
$MARK: stands in for pulumi-resource-$name $version (see providers/$name and README, \"What is verified how\").
# Written by scripts/standins.sh; runs the TypeScript stand-in on the node first on PATH.
exec node --import \"file://$ROOT/node_modules/tsx/dist/loader.mjs\" \"$ROOT/providers/$name/main.ts\" \"\$@\""
  if [[ ! -x $f || "$(cat "$f")" != "$body" ]]; then
    printf '%s\n' "$body" >"$f.tmp"
    chmod 0755 "$f.tmp"
    mv -f "$f.tmp" "$f"
  fi
}

cmd_ensure() {
  mkdir -p "$BIN"
  [[ -f $ROOT/node_modules/tsx/dist/loader.mjs ]] || {
    log "error: node_modules/tsx is missing (run scripts/node-modules.sh first)"
    exit 1
  }
  local entry name version where stand=() real=()
  for entry in "${PROVIDERS[@]}"; do
    IFS='|' read -r name version <<<"$entry"
    if where=$(real_plugin "$name" "$version"); then
      rm -f "$BIN/pulumi-resource-$name"
      real+=("$name $version ($where)")
    else
      write_launcher "$name" "$version"
      stand+=("$name $version")
    fi
  done
  local line
  if ((${#stand[@]})); then
    line="providers: STAND-INS for $(join "${stand[@]}") (no real plugin installed)"
  else
    line="providers: no stand-ins"
  fi
  if ((${#real[@]})); then line+="; real plugins: $(join "${real[@]}")"; fi
  printf '%s\n' "$line" >"$REPORT"
  log "${line#providers: }"
  printf '%s\n' "$BIN"
}

join() {
  local out=$1
  shift
  local x
  for x in "$@"; do out+=", $x"; done
  printf '%s' "$out"
}

case ${1:-} in
  ensure) cmd_ensure ;;
  report) cat "$REPORT" 2>/dev/null || echo "providers: unknown (scripts/standins.sh ensure has not run)" ;;
  *)
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
