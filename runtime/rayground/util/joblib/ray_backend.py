"""joblib's `"ray"` backend: joblib's batches run on a `rayground.util.multiprocessing.Pool`.

joblib drives a backend through `configure` (make the pool, say how many workers), `submit`
(run one batch, call back when done) and `terminate`. The multiprocessing backend's
`PoolManagerMixin` already does `submit`/`terminate` through a pool's `apply_async`, so this
backend only builds our Pool instead of joblib's process pool, and sizes `n_jobs=-1` by the
cluster's CPUs rather than this machine's. A large argument that many batches share (the `X`
of a scikit-learn search) is `put` once per pool and each batch carries its ObjectRef, as Ray's
backend does. (Ray's backend gets the same by rebinding the base
class of joblib's `PicklingPool` for the whole process; here joblib's own classes are untouched.)
"""

from __future__ import annotations

from typing import Any

from joblib import parallel_config
from joblib._parallel_backends import (
    AutoBatchingMixin,
    FallbackToBackend,
    ParallelBackendBase,
    PoolManagerMixin,
    SequentialBackend,
)
from joblib.parallel import BatchedCalls

import rayground

from .._size import SHARE_ONCE_BYTES, approx_nbytes
from ..multiprocessing import Pool


class RayBackend(PoolManagerMixin, AutoBatchingMixin, ParallelBackendBase):
    """Runs joblib's batches on the cluster's actors; `ray_remote_args` configures them."""

    supports_retrieve_callback = True
    supports_return_generator = False
    supports_timeout = True

    def __init__(
        self,
        nesting_level: int | None = None,
        inner_max_num_threads: int | None = None,
        ray_remote_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.ray_remote_args = ray_remote_args
        super().__init__(
            nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads, **kwargs
        )

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        """`n_jobs` as joblib counts it, with negative values counted from the cluster's CPUs
        (-1: all of them); starts a local cluster if none is connected."""
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None:
            return 1
        if n_jobs < 0:
            if not rayground.is_initialized():
                rayground.init()
            cpus = int(rayground.cluster_resources().get("CPU", 1))
            return max(cpus + 1 + n_jobs, 1)
        return n_jobs

    def configure(
        self,
        n_jobs: int = 1,
        parallel: Any = None,
        prefer: str | None = None,
        require: str | None = None,
        ray_remote_args: dict[str, Any] | None = None,
        **pool_kwargs: Any,
    ) -> int:
        """Start the pool for one `Parallel` call; returns how many workers it has."""
        n_jobs = self.effective_n_jobs(n_jobs)
        if n_jobs == 1:
            # As joblib's process backends: one worker is run in this process.
            raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
        unknown = set(pool_kwargs) - _PROCESS_POOL_KWARGS
        if unknown:
            raise TypeError(
                f"The ray backend got unexpected argument(s) {sorted(unknown)}; it takes "
                "ray_remote_args (options of the pool's actors)."
            )
        remote_args = ray_remote_args if ray_remote_args is not None else self.ray_remote_args
        self._pool = Pool(n_jobs, ray_remote_args=remote_args)
        # id(argument) -> (argument, its ObjectRef); the argument is held so its id stays its own.
        self._stored: dict[int, tuple[Any, Any]] = {}
        self.parallel = parallel
        return n_jobs

    def submit(self, func: Any, callback: Any = None) -> Any:
        if isinstance(func, BatchedCalls):
            func = _StoredArgsCalls(func, self._store)
        return super().submit(func, callback)

    def _store(self, value: Any) -> Any:
        if isinstance(value, rayground.ObjectRef) or approx_nbytes(value) < SHARE_ONCE_BYTES:
            return value
        entry = self._stored.get(id(value))
        if entry is None or entry[0] is not value:
            entry = self._stored[id(value)] = (value, rayground.put(value))
        return entry[1]

    def terminate(self) -> None:
        super().terminate()
        self._stored = {}
        self.reset_batch_stats()


class _StoredArgsCalls:
    """A joblib batch whose large arguments travel as ObjectRefs and are fetched on the worker
    (refs nested in a callable arrive as refs, not values)."""

    def __init__(self, batch: BatchedCalls, store: Any) -> None:
        self.items = [
            (fn, [store(a) for a in args], {k: store(v) for k, v in kwargs.items()})
            for fn, args, kwargs in batch.items
        ]
        self._backend_and_jobs = (batch._backend, batch._n_jobs)

    def __call__(self) -> list[Any]:
        backend, n_jobs = self._backend_and_jobs
        # As joblib's BatchedCalls: nested Parallel calls default to this backend.
        with parallel_config(backend=backend, n_jobs=n_jobs):
            return [
                fn(*[_fetch(a) for a in args], **{k: _fetch(v) for k, v in kwargs.items()})
                for fn, args, kwargs in self.items
            ]


def _fetch(value: Any) -> Any:
    return rayground.get(value) if isinstance(value, rayground.ObjectRef) else value


# What joblib passes every process backend for its own process pool: memory-mapping settings
# (large arrays travel through the object store here instead), the multiprocessing context and
# its verbosity. They do not apply to a pool of actors.
_PROCESS_POOL_KWARGS = {"max_nbytes", "mmap_mode", "temp_folder", "context", "verbose"}
