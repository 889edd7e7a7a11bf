# shellcheck shell=bash
# Source me (do not run): puts berth's Pulumi engine first on PATH, then the provider stand-ins
# for the providers with no real plugin (scripts/standins.sh says which).
#
#   source scripts/engine-env.sh
#
# Runs `scripts/engine.sh ensure` (builds into the cache once; instant when
# warm), then exports PATH (engine bin dir first) and PULUMI_SKIP_UPDATE_CHECK=true,
# plus PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true when the offline build
# is in use. It sets no backend URL and no passphrase: callers do.
# It leaves the caller's shell options alone (ensure runs in its own bash with
# set -euo pipefail) and returns non-zero if ensure fails.

berth_engine_env() {
  local here bin plugins cache
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || return 1
  bin=$(bash "$here/engine.sh" ensure) || return 1
  [[ -n $bin && -x $bin/pulumi ]] || return 1
  plugins=$(bash "$here/standins.sh" ensure) || return 1
  # Drop earlier copies of the dirs so re-sourcing does not grow PATH.
  local rest=":$PATH:"
  rest=${rest//":$bin:"/:}
  rest=${rest//":$plugins:"/:}
  rest=${rest#:}
  rest=${rest%:}
  export PATH="$bin:$plugins${rest:+:$rest}"
  export PULUMI_SKIP_UPDATE_CHECK=true
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/berth/engine
  if [[ $bin == "$cache"/* ]]; then
    export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  fi
}

berth_engine_env
berth_engine_env_rc=$?
unset -f berth_engine_env
if ((berth_engine_env_rc != 0)); then
  unset berth_engine_env_rc
  echo "engine-env: scripts/engine.sh ensure failed" >&2
  return 1
fi
unset berth_engine_env_rc
