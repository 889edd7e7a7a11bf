#!/usr/bin/env bash
# Installs the project's node modules when package-lock.json changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
# npm ci on Node.js >= 22 (what @pulumi/pulumi declares; no EBADENGINE). A no-op on PATH when the
# caller (scripts/test.sh, scripts/local-up.sh) already sourced it.
# shellcheck source=scripts/node-env.sh
source scripts/node-env.sh
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.berth-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  # --ignore-scripts: the Pulumi packages' install scripts download plugins, which cannot work
  # offline; scripts/engine.sh provides the plugins instead.
  npm ci --ignore-scripts --no-audit --no-fund >&2
  echo "$lock_hash" > node_modules/.berth-lock-hash
fi
