#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (`npm test`): installs what the tests need (node
# modules, the Pulumi engine, Docker, the local images, the devhost), then runs the unit, render
# and end-to-end layers and prints one closing line of counts.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stamp() { echo "berth-test: $* (+$(( $(date +%s) - start ))s)" >&2; }

bash scripts/node-modules.sh
stamp "node modules ready"
bash scripts/engine.sh ensure >/dev/null
stamp "pulumi engine ready"
bash scripts/devhost.sh up
stamp "devhost ready"
npx tsc --noEmit
stamp "typecheck clean"

report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@" || status=$?
stamp "vitest finished (exit $status)"
node -e '
  const r = require(process.argv[1]);
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (skipped > 0) { console.error("berth-test: skipped tests are not allowed"); process.exit(1); }
' "$report" || status=1
exit "$status"
