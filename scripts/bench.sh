#!/usr/bin/env bash
# The deploy benchmark (`npm run bench`): prints berth's and compose's failed requests and seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/node-modules.sh
npx tsx bench/deploy-downtime.ts
