#!/usr/bin/env bash
# Set up the environment (with real Ray: the compatibility half compares with it), lint, and run
# the whole test suite. Extra arguments go to pytest, e.g.  bash scripts/test.sh -k actor -x
# CI runs this (.ci/run); under CI a test whose requirement is missing fails (tests/_needs.py).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh --with-ray

# Python tracebacks on segfaults/aborts, in pytest and in every worker it spawns.
export PYTHONFAULTHANDLER=1

lint_paths=()
for d in runtime tests bench scripts; do
    if [ -d "$d" ]; then lint_paths+=("$d"); fi
done
if [ "${#lint_paths[@]}" -gt 0 ]; then
    echo "[test] ruff check ${lint_paths[*]}"
    .venv/bin/ruff check "${lint_paths[@]}"
    echo "[test] ruff format --check ${lint_paths[*]}"
    .venv/bin/ruff format --check "${lint_paths[@]}"
fi
echo "[test] mypy runtime/rayground/_core"
.venv/bin/python -m mypy  # files and options: [tool.mypy] in pyproject.toml

echo "[test] pytest tests --durations=25 $*"
# exec: pytest's exit status is the script's (5 = no tests collected is a failure).
# --durations: the 25 slowest steps, so a test that grows slow shows in every CI log (the run's
# budget is 60 minutes on 2 cores).
exec .venv/bin/python -m pytest tests --durations=25 "$@"
