"""The experiment's folder under `storage_path`, laid out as Ray Tune's:

    <storage_path>/<name>/
        experiment_state-<date>.json    trials, statuses, last results (can_restore looks here)
        experiment_state.pkl            the same plus configs, searcher and scheduler state
        tuner.pkl                       param space and configs, for Tuner.restore
        <trial dir>/params.json, params.pkl, result.json (one JSON line per result),
                    checkpoint_000000/..., error.txt, error.pkl

Everything is written owner-only, and state files are replaced atomically so a driver killed
mid-write leaves the previous state readable.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from datetime import datetime
from typing import Any

import cloudpickle

STATE_PICKLE = "experiment_state.pkl"
TUNER_PICKLE = "tuner.pkl"


def _json_default(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:
        pass
    return repr(value)


def dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default)


def atomic_write(path: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def make_dir(path: str) -> str:
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def has_experiment_state(path: str) -> bool:
    return os.path.exists(os.path.join(os.path.expanduser(path), STATE_PICKLE))


def state_json_path(exp_dir: str) -> str:
    existing = sorted(glob.glob(os.path.join(exp_dir, "experiment_state-*.json")))
    if existing:
        return existing[-1]
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return os.path.join(exp_dir, f"experiment_state-{stamp}.json")


def write_trial_params(trial_dir: str, config: dict[str, Any]) -> None:
    make_dir(trial_dir)
    atomic_write(os.path.join(trial_dir, "params.json"), dumps(config).encode())
    atomic_write(os.path.join(trial_dir, "params.pkl"), cloudpickle.dumps(config))


def append_result(trial_dir: str, result: dict[str, Any]) -> None:
    fd = os.open(
        os.path.join(trial_dir, "result.json"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
    )
    with os.fdopen(fd, "a") as f:
        f.write(dumps(result) + "\n")


def read_results(trial_dir: str) -> list[dict[str, Any]]:
    rows = []
    try:
        with open(os.path.join(trial_dir, "result.json")) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:  # a line cut short by a killed driver
                        continue
    except FileNotFoundError:
        pass
    return rows


def write_error(trial_dir: str, event: dict[str, Any]) -> str:
    make_dir(trial_dir)
    path = os.path.join(trial_dir, "error.txt")
    atomic_write(path, (event.get("traceback") or event.get("message") or "").encode())
    if event.get("error") is not None:
        try:
            atomic_write(os.path.join(trial_dir, "error.pkl"), cloudpickle.dumps(event["error"]))
        except Exception:
            pass
    return path
