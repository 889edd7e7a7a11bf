#!/usr/bin/env bash
# Brings the `local` stack up on this machine (`npm run local:up`) and prints its URL; with
# `destroy`, takes it down again (`npm run local:down`; the database volume stays, by design).
# The devhost container stands in for the server; state lives in a file backend outside the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:-up}

# Node.js >= 22 first on PATH (scripts/node.sh), so npm ci, the engine's language host and the
# provider plugins run on it.
# shellcheck source=scripts/node-env.sh
source scripts/node-env.sh
bash scripts/node-modules.sh
# shellcheck source=scripts/engine-env.sh
source scripts/engine-env.sh
# The images the local stack runs (berth/postgres, berth-demo), built from tracked files only;
# devhost.sh ensures berth/devhost.
bash scripts/images.sh ensure postgres demo >&2
bash scripts/devhost.sh up >&2

state_dir=${XDG_STATE_HOME:-$HOME/.local/state}/berth/pulumi
mkdir -p "$state_dir"
export PULUMI_BACKEND_URL="file://$state_dir"
# The local stack holds only generated secrets for a throwaway devhost; a fixed passphrase keeps
# `npm run local:up` non-interactive. Real stacks use their own secrets provider.
export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE:-berth-local}

pulumi stack select local --create --secrets-provider passphrase --non-interactive >&2
case $action in
  up)
    pulumi up --yes --stack local --non-interactive
    url=$(pulumi stack output url --stack local)
    # Which providers ran as stand-ins, said before the URL (README, "What is verified how").
    bash scripts/standins.sh report
    echo "berth: local stack is up at $url (resolve it to 127.0.0.1, e.g. curl -k --resolve demo.berth.test:18443:127.0.0.1 ${url}api/health)"
    ;;
  destroy)
    pulumi destroy --yes --stack local --non-interactive
    ;;
  *)
    echo "usage: $0 [up|destroy]" >&2
    exit 2
    ;;
esac
