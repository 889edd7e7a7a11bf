# shellcheck shell=bash
# Source me (do not run): makes `node` on PATH a Node.js >= 22 (what @pulumi/pulumi declares).
#
#   source scripts/node-env.sh
#
# Runs `scripts/node.sh ensure` (fetches node once into the cache; instant when warm) and, unless
# `node` on PATH already is that one, puts its bin dir first on PATH. That dir holds only `node`,
# so the machine's npm and npx stay in use and run on it (their `#!/usr/bin/env node`), as do the
# Pulumi engine's language host, the provider plugins and vitest started from this shell.
# It leaves the caller's shell options alone and returns non-zero if ensure fails.

berth_node_env() {
  local here bin
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || return 1
  bin=$(bash "$here/node.sh" ensure) || return 1
  [[ -n $bin && -x $bin/node ]] || return 1
  # Already the node on PATH (a system node >= 22, or sourced twice): leave PATH as it is.
  [[ "$(command -v node 2>/dev/null)" == "$bin/node" ]] && return 0
  local rest=":$PATH:"
  rest=${rest//":$bin:"/:}
  rest=${rest#:}
  rest=${rest%:}
  export PATH="$bin${rest:+:$rest}"
  hash -r
}

berth_node_env
berth_node_env_rc=$?
unset -f berth_node_env
if ((berth_node_env_rc != 0)); then
  unset berth_node_env_rc
  echo "node-env: scripts/node.sh ensure failed" >&2
  return 1
fi
unset berth_node_env_rc
