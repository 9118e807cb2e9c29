"""Search algorithms, as `ray.tune.search`: random/grid search (`BasicVariantGenerator`),
`Searcher`, `ConcurrencyLimiter`, `Repeater`; `rayground.tune.search.optuna.OptunaSearch` when
optuna is installed; `rayground.tune.search.hyperopt.HyperOptSearch` when hyperopt is."""

from .basic_variant import BasicVariantGenerator
from .repeater import Repeater
from .searcher import ConcurrencyLimiter, Searcher, SearchGenerator

__all__ = [
    "BasicVariantGenerator",
    "ConcurrencyLimiter",
    "Repeater",
    "SearchGenerator",
    "Searcher",
]
