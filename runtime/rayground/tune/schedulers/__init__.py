"""Trial schedulers, as `ray.tune.schedulers`: FIFO (default), ASHA, HyperBand, the median
stopping rule, population-based training and HyperBand for BOHB."""

from .async_hyperband import ASHAScheduler, AsyncHyperBandScheduler
from .hb_bohb import HyperBandForBOHB
from .hyperband import HyperBandScheduler
from .median_stopping_rule import MedianStoppingRule
from .pbt import PopulationBasedTraining
from .trial_scheduler import FIFOScheduler, TrialScheduler

__all__ = [
    "ASHAScheduler",
    "AsyncHyperBandScheduler",
    "FIFOScheduler",
    "HyperBandForBOHB",
    "HyperBandScheduler",
    "MedianStoppingRule",
    "PopulationBasedTraining",
    "TrialScheduler",
]
