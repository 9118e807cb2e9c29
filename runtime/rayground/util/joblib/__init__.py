"""joblib on rayground, as `ray.util.joblib`: after `register_ray()`, joblib's `"ray"` backend
runs `Parallel` batches (and scikit-learn's `n_jobs` work) on the cluster's actors.

    from joblib import parallel_backend
    from rayground.util.joblib import register_ray

    register_ray()
    with parallel_backend("ray"):
        search.fit(X, y)                 # e.g. a GridSearchCV, its fits spread over the cluster

Needs joblib (`pip install 'rayground[joblib]'`)."""

from __future__ import annotations


def register_ray() -> None:
    """Register the backend so that `parallel_backend("ray")` / `Parallel(backend="ray")` work."""
    try:
        from joblib.parallel import register_parallel_backend
    except ImportError as exc:
        raise ImportError(
            "rayground.util.joblib needs joblib: pip install 'rayground[joblib]' (or pip "
            "install joblib)."
        ) from exc
    from .ray_backend import RayBackend

    register_parallel_backend("ray", RayBackend)


__all__ = ["register_ray"]
