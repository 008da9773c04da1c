#!/usr/bin/env bash
# Quickstart 2: set up, then run the whole test suite offline on CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false MPLBACKEND=Agg
# One pytest worker per core (at most 4; MIDTRAIN_TEST_WORKERS overrides, 0 = no workers); a test
# file stays on one worker so its module fixtures (a demo run, a curated corpus) are built once.
workers=${MIDTRAIN_TEST_WORKERS:-$(n=$(nproc); echo $((n < 4 ? n : 4)))}
exec .venv/bin/python -m pytest -q --timeout 900 -n "$workers" --dist loadfile "$@"
