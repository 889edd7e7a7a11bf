#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (`npm test`): installs what the tests need (Node.js
# >= 22, node modules, the Pulumi engine, Docker, every local image, the devhost), then runs the
# unit, render, host, CLI, provider stand-in and end-to-end layers, and prints one closing line of
# counts, after the line that says which providers were stand-ins.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stamp() { echo "berth-test: $* (+$(( $(date +%s) - start ))s)" >&2; }

# Node.js >= 22 (what @pulumi/pulumi declares) first on PATH before anything runs on node: npm ci,
# the engine's language host, the provider plugins, tsc and vitest (scripts/node.sh).
# shellcheck source=scripts/node-env.sh
source scripts/node-env.sh
stamp "node $(node --version) ready"
bash scripts/node-modules.sh
stamp "node modules ready"
projects=(unit render host cli providers e2e)
# The engine: the Pulumi CLI and Node.js language host (an installed pulumi v3.259.0, or built from
# Go modules). The provider plugins: the real ones where installed, berth's stand-ins for the rest
# (scripts/standins.sh says which, and so does the end of this run).
bash scripts/engine.sh ensure >/dev/null
bash scripts/standins.sh ensure >/dev/null
stamp "pulumi engine ready"

# Every image a test layer uses (berth/debian, berth/postgres, berth/redis, berth-demo:v1|v2|v3,
# berth/devhost), built from tracked files only; seconds when they are up to date.
bash scripts/images.sh ensure
stamp "images ready"

bash scripts/devhost.sh up
stamp "devhost ready"
npx tsc --noEmit
stamp "typecheck clean"

report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
npx vitest run "${projects[@]/#/--project=}" --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
stamp "vitest finished (exit $status)"
bash scripts/standins.sh report
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (skipped > 0) { console.error("berth-test: skipped tests are not allowed"); process.exit(1); }
' "$report" || status=1
exit "$status"
