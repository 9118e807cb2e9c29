"""`HyperOptSearch`, as `ray.tune.search.hyperopt` (needs `hyperopt`: the `tune` extra)."""

from .hyperopt_search import HyperOptSearch

__all__ = ["HyperOptSearch"]
