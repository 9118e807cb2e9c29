"""`rayground.runtime_env.RuntimeEnv`, as `ray.runtime_env.RuntimeEnv`: a runtime_env as a dict
(what `get_runtime_context().runtime_env` returns; may be passed wherever a runtime_env dict is).
Checking, packing and shipping live in `_core/runtime_env.py`."""

from __future__ import annotations

from typing import Any


class RuntimeEnv(dict):
    """Ray's `ray.runtime_env.RuntimeEnv`: a dict of the runtime_env's fields."""

    def __init__(self, **fields: Any) -> None:
        super().__init__(fields)

    def env_vars(self) -> dict[str, str]:
        return dict(self.get("env_vars") or {})

    def working_dir(self) -> str:
        return self.get("working_dir") or ""

    def py_modules(self) -> list[str]:
        return list(self.get("py_modules") or [])
