"""joblib's `"ray"` backend: joblib's batches run on a `rayground.util.multiprocessing.Pool`.

joblib drives a backend through `configure` (make the pool, say how many workers), `submit`
(run one batch, call back when done) and `terminate`. The multiprocessing backend's
`PoolManagerMixin` already does `submit`/`terminate` through a pool's `apply_async`, so this
backend only builds our Pool instead of joblib's process pool, and sizes `n_jobs=-1` by the
cluster's CPUs rather than this machine's. (Ray's backend gets the same by rebinding the base
class of joblib's `PicklingPool` for the whole process; here joblib's own classes are untouched.)
"""

from __future__ import annotations

from typing import Any

from joblib._parallel_backends import (
    AutoBatchingMixin,
    FallbackToBackend,
    ParallelBackendBase,
    PoolManagerMixin,
    SequentialBackend,
)

import rayground

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
        self.parallel = parallel
        return n_jobs

    def terminate(self) -> None:
        super().terminate()
        self.reset_batch_stats()


# What joblib passes every process backend for its own process pool: memory-mapping settings
# (large arrays travel through the object store here instead), the multiprocessing context and
# its verbosity. They do not apply to a pool of actors.
_PROCESS_POOL_KWARGS = {"max_nbytes", "mmap_mode", "temp_folder", "context", "verbose"}
