#!/usr/bin/env bash
# Mutation testing over midtrain's core modules (mutmut 3), each with its own fast tests.
#   bash scripts/mutation.sh                 # every module (about an hour on two cores)
#   bash scripts/mutation.sh mixing decont   # some modules; --list shows the module map
#   bash scripts/mutation.sh --report        # re-print the table from the last runs
# Prints killed / survived / timeout / equivalent per module; writes bench/mutation_results.json.
# Not part of CI. Judged-equivalent survivors live in scripts/mutation_equivalent.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
MUTMUT_VERSION=${MUTMUT_VERSION:-3.8.1}
if ! "$PY" -c "import mutmut, sys; sys.exit(mutmut.__version__ != '$MUTMUT_VERSION')" 2>/dev/null; then
    echo "installing mutmut==$MUTMUT_VERSION into $PY's environment" >&2
    "$PY" -m pip install -q "mutmut==$MUTMUT_VERSION"
fi
exec nice -n 15 "$PY" scripts/mutation.py "$@"
