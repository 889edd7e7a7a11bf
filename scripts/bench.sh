#!/usr/bin/env bash
# The deploy benchmark (`npm run bench`): every kind of change, berth against seed 003's Docker
# Compose recreate on the devhost, the steps of a berth deploy, and preview/no-op times; prints the
# tables (bench/deploy-downtime.ts). BENCH_QUICK=1 runs a reduced set, BENCH_ROWS=a,b picks rows.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node.js >= 22 first on PATH (scripts/node.sh), for the bench, the engine's language host and the
# provider plugins.
# shellcheck source=scripts/node-env.sh
source scripts/node-env.sh
bash scripts/node-modules.sh
# The images the bench runs (berth/postgres and the demo app's v1 and v2); the devhost and the
# engine are readied by the bench itself (tests/e2e/environment.ts).
bash scripts/images.sh ensure postgres demo >&2
# Seed 003's side runs on Docker Compose: Debian's docker-compose (v1, the `docker-compose`
# command) when the machine has no Compose yet.
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "bench: installing Debian's docker-compose" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
fi
# Run by vite-node (what vitest runs the tests with), not tsx: execa 9 is an ES module only, and
# tsx loads this repository's .ts files as CommonJS, whose require() of it fails.
exec npx vite-node bench/deploy-downtime.ts
