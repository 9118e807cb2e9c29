"""Resource accounting for one node: CPUs, GPUs (with device ids), memory and custom resources.

Requests are dicts such as {"CPU": 1, "GPU": 0.5, "widget": 2}. Fractions are allowed below 1 (as
in Ray); GPU ids are handed out so `num_gpus` can set CUDA_VISIBLE_DEVICES in the worker.
"""

from __future__ import annotations

import os
import shutil
import subprocess

_EPS = 1e-9


def detect_gpus() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([v for v in visible.split(",") if v.strip() not in ("", "-1")])
    proc_dir = "/proc/driver/nvidia/gpus"
    if os.path.isdir(proc_dir):
        return len(os.listdir(proc_dir))
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
            return sum(1 for line in out.splitlines() if line.startswith("GPU "))
        except (OSError, subprocess.TimeoutExpired):
            return 0
    return 0


def gpu_device_names(count: int) -> list[str]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        names = [v.strip() for v in visible.split(",") if v.strip() not in ("", "-1")]
        return names[:count]
    return [str(i) for i in range(count)]


def total_memory() -> int:
    """This machine's physical memory in bytes (the `memory` resource), 0 if unknown."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def format_request(req: dict[str, float]) -> str:
    return "{" + ", ".join(f"{k!r}: {v:g}" for k, v in sorted(req.items())) + "}"


class NodeResources:
    def __init__(self, total: dict[str, float], gpu_names: list[str]) -> None:
        self.total = {k: float(v) for k, v in total.items()}
        self.available = dict(self.total)
        # Per GPU, the fraction still free, so 0.5-GPU tasks can share a device.
        self._gpu_free = {name: 1.0 for name in gpu_names}

    def feasible(self, req: dict[str, float]) -> bool:
        return all(self.total.get(k, 0.0) + _EPS >= v for k, v in req.items() if v > 0)

    def missing_for(self, req: dict[str, float]) -> dict[str, float]:
        return {k: v for k, v in req.items() if v > 0 and self.total.get(k, 0.0) + _EPS < v}

    def fits(self, req: dict[str, float]) -> bool:
        avail = self.available
        for k, v in req.items():
            if v > 0 and avail.get(k, 0.0) + _EPS < v:
                return False
        gpus = req.get("GPU", 0.0)
        return not (0 < gpus < 1) or any(f + _EPS >= gpus for f in self._gpu_free.values())

    def acquire(self, req: dict[str, float]) -> list[str]:
        for k, v in req.items():
            if v:
                self.available[k] = self.available.get(k, 0.0) - v
        return self._take_gpus(req.get("GPU", 0.0))

    def release(self, req: dict[str, float], gpu_ids: list[str]) -> None:
        for k, v in req.items():
            if v and k in self.total:  # (a removed placement group's resources are gone)
                self.available[k] = min(self.available.get(k, 0.0) + v, self.total[k])
        gpus = req.get("GPU", 0.0)
        if gpu_ids:
            share = gpus if gpus < 1 else 1.0
            for name in gpu_ids:
                self._gpu_free[name] = min(1.0, self._gpu_free.get(name, 0.0) + share)

    def _take_gpus(self, amount: float) -> list[str]:
        if amount <= 0:
            return []
        if amount < 1:
            # Pack fractional requests onto the fullest device that still has room.
            candidates = [n for n, f in self._gpu_free.items() if f + _EPS >= amount]
            name = min(candidates, key=lambda n: self._gpu_free[n]) if candidates else None
            if name is None:
                return []
            self._gpu_free[name] -= amount
            return [name]
        whole = [n for n, f in self._gpu_free.items() if f >= 1 - _EPS][: int(amount)]
        for name in whole:
            self._gpu_free[name] = 0.0
        return whole

    def snapshot_available(self) -> dict[str, float]:
        return {k: max(v, 0.0) for k, v in self.available.items()}
