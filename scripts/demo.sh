#!/usr/bin/env bash
# Quickstart 1: set up, then run the whole mid-training demo (curate -> plan -> tokenize -> train
# -> eval -> report) on the embedded corpus. Extra arguments go to `midtrain demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
exec .venv/bin/midtrain demo --out "${MIDTRAIN_DEMO_OUT:-runs/demo}" "$@"
