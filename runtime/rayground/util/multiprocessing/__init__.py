"""`multiprocessing.Pool` on the cluster, as `ray.util.multiprocessing`: import it explicitly,
`from rayground.util.multiprocessing import Pool`."""

from multiprocessing import JoinableQueue, TimeoutError

from .pool import Pool

__all__ = ["JoinableQueue", "Pool", "TimeoutError"]
