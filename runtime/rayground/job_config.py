"""`JobConfig`, as Ray's `ray.job_config.JobConfig`: a job's runtime_env, namespace and
metadata, given to `init(job_config=...)`. What `init` is given directly (`runtime_env=`,
`namespace=`) wins over the JobConfig's, as in Ray.

Java's options (`jvm_options`, `code_search_path`) and a job-wide `default_actor_lifetime` of
"detached" are Ray features rayground does not have: they are refused with the way to do
without, not dropped.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JobConfig"]

_LIFETIMES = ("detached", "non_detached")


class JobConfig:
    def __init__(
        self,
        jvm_options: list[str] | None = None,
        code_search_path: list[str] | None = None,
        runtime_env: dict[str, Any] | None = None,
        _client_job: bool = False,
        metadata: dict[str, str] | None = None,
        ray_namespace: str | None = None,
        default_actor_lifetime: str = "non_detached",
        _disable_job_level_lineage_reconstruction: bool = False,
        _py_driver_sys_path: list[str] | None = None,
    ) -> None:
        if jvm_options or code_search_path:
            raise ValueError(
                "jvm_options and code_search_path are for Ray's Java workers; rayground runs "
                "Python only. Use the Ray backend (`%ray_init --backend ray`) for Java."
            )
        self.jvm_options: list[str] = []
        self.code_search_path: list[str] = []
        self.runtime_env: dict[str, Any] = {}
        self.metadata: dict[str, str] = {}
        self.ray_namespace = ray_namespace
        self.default_actor_lifetime = "non_detached"
        self._py_driver_sys_path = list(_py_driver_sys_path or [])
        self.set_runtime_env(runtime_env)
        for key, value in (metadata or {}).items():
            self.set_metadata(key, value)
        self.set_default_actor_lifetime(default_actor_lifetime)

    def set_runtime_env(self, runtime_env: dict[str, Any] | None, validate: bool = False) -> None:
        if runtime_env is not None and not isinstance(runtime_env, dict):
            raise TypeError(f"runtime_env must be a dict, got {type(runtime_env).__name__}")
        self.runtime_env = dict(runtime_env or {})

    def set_ray_namespace(self, ray_namespace: str) -> None:
        self.ray_namespace = ray_namespace

    def set_metadata(self, key: str, value: str) -> None:
        self.metadata[key] = value

    def set_default_actor_lifetime(self, default_actor_lifetime: str) -> None:
        if default_actor_lifetime not in _LIFETIMES:
            raise ValueError(
                f"Default actor lifetime must be one of {list(_LIFETIMES)}, "
                f"got {default_actor_lifetime!r}"
            )
        if default_actor_lifetime == "detached":
            raise ValueError(
                "rayground has no job-wide default_actor_lifetime='detached': give each actor "
                "that must outlive the job .options(lifetime='detached', name=...)."
            )
        self.default_actor_lifetime = default_actor_lifetime

    def __repr__(self) -> str:
        return (
            f"JobConfig(runtime_env={self.runtime_env!r}, ray_namespace={self.ray_namespace!r}, "
            f"metadata={self.metadata!r})"
        )
