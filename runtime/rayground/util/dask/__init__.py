"""Dask on rayground, as `ray.util.dask`: `dask.compute(x, scheduler=ray_dask_get)` runs every
task of a Dask graph as a cluster task. Needs Dask (`pip install 'rayground[dask]'`)."""

try:
    import dask  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "rayground.util.dask needs Dask: pip install 'rayground[dask]' (or pip install dask)."
    ) from exc

from .scheduler import disable_dask_on_ray, enable_dask_on_ray, ray_dask_get, ray_dask_get_sync

__all__ = ["disable_dask_on_ray", "enable_dask_on_ray", "ray_dask_get", "ray_dask_get_sync"]
