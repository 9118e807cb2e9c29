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
        # Placed bundles' devices, per (group id, bundle index): work in a bundle gets its GPU
        # ids from these (the node's own were taken when the bundle was reserved), as in Ray.
        self._bundle_gpus: dict[tuple[str, int], dict[str, float]] = {}

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
        in_bundle = _bundle_gpu_request(req)
        if in_bundle is not None:
            group_id, index, amount = in_bundle
            for key in self._bundles_of(group_id, index):
                names = _take_gpus(self._bundle_gpus[key], amount)
                if names:
                    return names
            return []
        return _take_gpus(self._gpu_free, req.get("GPU", 0.0))

    def release(self, req: dict[str, float], gpu_ids: list[str]) -> None:
        for k, v in req.items():
            if v and k in self.total:  # (a removed placement group's resources are gone)
                self.available[k] = min(self.available.get(k, 0.0) + v, self.total[k])
        in_bundle = _bundle_gpu_request(req)
        if in_bundle is not None:
            group_id, index, gpus = in_bundle
            free = next(
                (
                    self._bundle_gpus[key]
                    for key in self._bundles_of(group_id, index)
                    if all(name in self._bundle_gpus[key] for name in gpu_ids)
                ),
                None,
            )
            if free is None:
                return  # its bundle was removed meanwhile: the devices went back with it
        else:
            free, gpus = self._gpu_free, req.get("GPU", 0.0)
        if gpu_ids:
            share = gpus if gpus < 1 else 1.0
            for name in gpu_ids:
                free[name] = min(1.0, free.get(name, 0.0) + share)

    def add_bundle_gpus(self, group_id: str, index: int, names: list[str], amount: float) -> None:
        """A bundle of `amount` GPUs was placed here on the devices `names`."""
        share = min(amount, 1.0)
        self._bundle_gpus[(group_id, index)] = {name: share for name in names}

    def remove_bundle_gpus(self, group_id: str, index: int) -> None:
        self._bundle_gpus.pop((group_id, index), None)

    def _bundles_of(self, group_id: str, index: int) -> list[tuple[str, int]]:
        """The placed bundles a request may use: bundle `index`, or any of the group's (-1)."""
        if index >= 0:
            key = (group_id, index)
            return [key] if key in self._bundle_gpus else []
        return sorted(k for k in self._bundle_gpus if k[0] == group_id)

    def snapshot_available(self) -> dict[str, float]:
        return {k: max(v, 0.0) for k, v in self.available.items()}


def _bundle_gpu_request(req: dict[str, float]) -> tuple[str, int, float] | None:
    """(group id, bundle index or -1, GPUs) when `req` asks for GPUs inside a placement group
    (placement.task_request's keys: GPU_group_<index>_<group> or GPU_group_<group>)."""
    for key, value in req.items():
        if value > 0 and key.startswith("GPU_group_"):
            rest = key[len("GPU_group_") :]
            index, _, group_id = rest.partition("_")
            if group_id and index.isdigit():
                return group_id, int(index), value
            return rest, -1, value
    return None


def _take_gpus(free: dict[str, float], amount: float) -> list[str]:
    """Take `amount` GPUs from `free` (device -> fraction still free); [] when none fit."""
    if amount <= 0:
        return []
    if amount < 1:
        # Pack fractional requests onto the fullest device that still has room.
        candidates = [n for n, f in free.items() if f + _EPS >= amount]
        name = min(candidates, key=lambda n: free[n]) if candidates else None
        if name is None:
            return []
        free[name] -= amount
        return [name]
    whole = [n for n, f in free.items() if f >= 1 - _EPS][: int(amount)]
    for name in whole:
        free[name] = 0.0
    return whole
