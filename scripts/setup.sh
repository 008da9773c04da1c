#!/usr/bin/env bash
# Create .venv and install midtrain with its test extras, CPU torch pinned (no CUDA download).
# Idempotent: a second run only checks that the install is current.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
stamp=.venv/.midtrain-installed
want=$(cat pyproject.toml constraints/cpu.txt | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "midtrain: setting up .venv (first run takes a few minutes)" >&2
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, from the pinned CPU build, so no dependency resolves torch to a CUDA wheel.
.venv/bin/python -m pip install -q -c constraints/cpu.txt torch
.venv/bin/python -m pip install -q -c constraints/cpu.txt -e ".[test]"
echo "$want" > "$stamp"
