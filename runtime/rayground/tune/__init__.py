"""rayground.tune: Ray Tune's API (search spaces, Tuner, schedulers, results) on rayground's
actors. `from rayground import tune` then write Ray Tune code:

    tuner = tune.Tuner(train_fn, param_space={"lr": tune.loguniform(1e-4, 1e-1)},
                       tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=8))
    best = tuner.fit().get_best_result()

Trials are actors (one per running trial, reused between trials), results come back through
the object store, and the experiment lives in `<storage_path>/<name>` so it can be restored.
Built only on rayground's public API.
"""

from . import schedulers, search
from .analysis import ExperimentAnalysis, run
from .callback import Callback
from .checkpoint import Checkpoint
from .config import CheckpointConfig, FailureConfig, ResumeConfig, RunConfig, TuneConfig
from .controller import TuneError
from .factories import create_scheduler, create_searcher
from .placement_groups import PlacementGroupFactory
from .result import Result, ResultGrid
from .search.sample import (
    choice,
    grid_search,
    lograndint,
    loguniform,
    qlograndint,
    qloguniform,
    qrandint,
    qrandn,
    quniform,
    randint,
    randn,
    sample_from,
    uniform,
)
from .session import TuneContext, get_checkpoint, get_context, report
from .stopper import Stopper
from .trainable import Trainable, with_parameters, with_resources
from .tuner import Tuner

__all__ = [
    "Callback",
    "Checkpoint",
    "CheckpointConfig",
    "ExperimentAnalysis",
    "FailureConfig",
    "PlacementGroupFactory",
    "Result",
    "ResultGrid",
    "ResumeConfig",
    "RunConfig",
    "Stopper",
    "Trainable",
    "TuneConfig",
    "TuneContext",
    "TuneError",
    "Tuner",
    "choice",
    "create_scheduler",
    "create_searcher",
    "get_checkpoint",
    "get_context",
    "grid_search",
    "lograndint",
    "loguniform",
    "qlograndint",
    "qloguniform",
    "qrandint",
    "qrandn",
    "quniform",
    "randint",
    "randn",
    "report",
    "run",
    "sample_from",
    "schedulers",
    "search",
    "uniform",
    "with_parameters",
    "with_resources",
]
