"""`OptunaSearch`, as `ray.tune.search.optuna` (needs `optuna`: the `tune` extra)."""

from .optuna_search import OptunaSearch

__all__ = ["OptunaSearch"]
