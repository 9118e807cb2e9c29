"""The one line a workload process prints for bench/run.py: BENCH_RESULT and a JSON object."""

from __future__ import annotations

import json
import sys

# --------------------------------------------------------------------------------------------------
# Plumbing

MARK = "BENCH_RESULT "


def tail(text: str | None) -> str:
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def parse_result(stdout: str) -> dict | None:
    for line in reversed((stdout or "").splitlines()):
        if line.startswith(MARK):
            try:
                return json.loads(line[len(MARK) :])
            except ValueError:
                return None
    return None


def emit(result: dict) -> None:
    sys.stdout.flush()
    print(MARK + json.dumps(result, default=str), flush=True)
