"""Trial schedulers, as `ray.tune.schedulers`: FIFO (default), ASHA, HyperBand, the median
stopping rule and population-based training."""

from .async_hyperband import ASHAScheduler, AsyncHyperBandScheduler
from .trial_scheduler import FIFOScheduler, TrialScheduler

__all__ = ["ASHAScheduler", "AsyncHyperBandScheduler", "FIFOScheduler", "TrialScheduler"]
