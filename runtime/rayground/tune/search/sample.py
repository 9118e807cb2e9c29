"""Search-space domains with Ray Tune's names: `uniform`, `loguniform`, `choice`, `randint`, ...

A domain is a value that is not a value yet: the variant generator (`variant_generator.py`) finds
the domains in a param space and draws each one, per trial, with `Domain.sample(config, rng)`.
`Categorical` doubles as the grid domain (`grid_search`), which is expanded, never sampled.

Bounds follow Ray: `randint(lower, upper)` excludes `upper`; the quantised integer forms
(`qrandint`, `qlograndint`) include it; quantised floats are rounded to a multiple of `q`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from inspect import signature
from typing import Any

import numpy as np

__all__ = [
    "Categorical",
    "Domain",
    "Float",
    "Function",
    "Integer",
    "choice",
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
    "sample_from",
    "uniform",
]


class Domain:
    """A parameter's set of values and how to draw one (`sampler`)."""

    sampler: str = "uniform"
    q: float | int | None = None

    def sample(self, config: Any = None, random_state: np.random.Generator | None = None) -> Any:
        raise NotImplementedError

    def is_grid(self) -> bool:
        return False

    def is_function(self) -> bool:
        return False

    def is_valid(self, value: Any) -> bool:
        raise NotImplementedError

    @property
    def domain_str(self) -> str:
        return "(unknown)"

    def _quantize(self, value: float) -> float:
        if self.q is None:
            return value
        return float(np.round(value / self.q) * self.q)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.sampler} {self.domain_str}>"


def _rng(random_state: Any) -> Any:
    if random_state is None:
        return np.random
    if isinstance(random_state, int):
        return np.random.default_rng(random_state)
    return random_state


def _uniform(rng: Any, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _integers(rng: Any, low: int, high: int) -> int:
    if hasattr(rng, "integers"):
        return int(rng.integers(low, high))
    return int(rng.randint(low, high))


class Float(Domain):
    def __init__(
        self,
        lower: float | None,
        upper: float | None,
        sampler: str = "uniform",
        q: float | None = None,
        mean: float = 0.0,
        sd: float = 1.0,
    ) -> None:
        self.lower = float("-inf") if lower is None else lower
        self.upper = float("inf") if upper is None else upper
        self.sampler = sampler
        self.q = q
        self.mean = mean
        self.sd = sd

    def sample(self, config: Any = None, random_state: Any = None) -> float:
        rng = _rng(random_state)
        if self.sampler == "normal":
            value = float(rng.normal(self.mean, self.sd))
        elif self.sampler == "loguniform":
            value = math.exp(_uniform(rng, math.log(self.lower), math.log(self.upper)))
        else:
            value = _uniform(rng, self.lower, self.upper)
        if self.q is not None:
            value = self._quantize(value)
            # Rounding may step past a bound that is not itself a multiple of q.
            if value > self.upper:
                value -= self.q
            if value < self.lower:
                value += self.q
        return float(value)

    def is_valid(self, value: Any) -> bool:
        return bool(self.lower <= value <= self.upper)

    @property
    def domain_str(self) -> str:
        return f"({self.lower}, {self.upper})"


class Integer(Domain):
    def __init__(
        self, lower: int, upper: int, sampler: str = "uniform", q: int | None = None
    ) -> None:
        self.lower = lower
        self.upper = upper
        self.sampler = sampler
        self.q = q

    def sample(self, config: Any = None, random_state: Any = None) -> int:
        rng = _rng(random_state)
        if self.q is not None:
            # Quantised integers include the upper bound (as Ray's qrandint does).
            low = math.ceil(self.lower / self.q)
            high = math.floor(self.upper / self.q)
            if self.sampler == "loguniform":
                value = math.exp(_uniform(rng, math.log(self.lower), math.log(self.upper)))
                return int(min(max(round(value / self.q), low), high) * self.q)
            return int(_integers(rng, low, high + 1) * self.q)
        if self.sampler == "loguniform":
            value = math.exp(_uniform(rng, math.log(self.lower), math.log(self.upper)))
            return int(min(math.floor(value), self.upper - 1))
        return _integers(rng, self.lower, self.upper)

    def is_valid(self, value: Any) -> bool:
        return bool(self.lower <= value <= self.upper)

    @property
    def domain_str(self) -> str:
        return f"({self.lower}, {self.upper})"


class Categorical(Domain):
    def __init__(self, categories: Sequence[Any], grid: bool = False) -> None:
        self.categories = list(categories)
        self.sampler = "grid" if grid else "uniform"

    def sample(self, config: Any = None, random_state: Any = None) -> Any:
        if self.is_grid():
            raise RuntimeError("A grid_search is expanded into trials, never sampled.")
        rng = _rng(random_state)
        return self.categories[_integers(rng, 0, len(self.categories))]

    def is_grid(self) -> bool:
        return self.sampler == "grid"

    def is_valid(self, value: Any) -> bool:
        return value in self.categories

    def __len__(self) -> int:
        return len(self.categories)

    def __getitem__(self, index: int) -> Any:
        return self.categories[index]

    @property
    def domain_str(self) -> str:
        return f"{self.categories}"


class Function(Domain):
    """`sample_from(fn)`: `fn(config)` (or `fn()`) draws the value, after the values it reads."""

    sampler = "function"

    def __init__(self, func: Callable[..., Any]) -> None:
        if not callable(func):
            raise TypeError(
                f"tune.sample_from expects a function, got {type(func).__name__}: pass e.g. "
                "tune.sample_from(lambda config: config['a'] * 2)."
            )
        try:
            sig = signature(func)
        except (TypeError, ValueError):
            self.pass_config = True
        else:
            try:
                sig.bind({})
                self.pass_config = True
            except TypeError:
                try:
                    sig.bind()
                except TypeError as exc:
                    raise ValueError(
                        "The function passed to tune.sample_from must take one argument (the "
                        "trial's config) or none."
                    ) from exc
                self.pass_config = False
        self.func = func

    def sample(self, config: Any = None, random_state: Any = None) -> Any:
        return self.func(config) if self.pass_config else self.func()

    def is_function(self) -> bool:
        return True

    def is_valid(self, value: Any) -> bool:
        return True

    @property
    def domain_str(self) -> str:
        return f"{self.func}()"


def _check_log_bounds(name: str, lower: float, upper: float) -> None:
    if not (lower > 0 and 0 < upper < float("inf")):
        raise ValueError(
            f"tune.{name} needs bounds greater than 0, got lower={lower}, upper={upper}. "
            "Did you pass a value that was already log-transformed? Pass the plain value."
        )


def _check_q(name: str, q: float) -> None:
    if not q or q <= 0:
        raise ValueError(f"tune.{name}: the quantisation step q must be positive, got {q!r}.")


def uniform(lower: float, upper: float) -> Float:
    """A float drawn uniformly from [lower, upper)."""
    return Float(lower, upper)


def quniform(lower: float, upper: float, q: float) -> Float:
    """A uniform float rounded to a multiple of `q`."""
    _check_q("quniform", q)
    return Float(lower, upper, q=q)


def loguniform(lower: float, upper: float, base: Any = None) -> Float:
    """A float whose logarithm is uniform in [log(lower), log(upper))."""
    _check_log_bounds("loguniform", lower, upper)
    return Float(lower, upper, sampler="loguniform")


def qloguniform(lower: float, upper: float, q: float, base: Any = None) -> Float:
    _check_log_bounds("qloguniform", lower, upper)
    _check_q("qloguniform", q)
    return Float(lower, upper, sampler="loguniform", q=q)


def randn(mean: float = 0.0, sd: float = 1.0) -> Float:
    """A float from the normal distribution N(mean, sd)."""
    if sd <= 0:
        raise ValueError(f"tune.randn: sd must be greater than 0, got {sd}.")
    return Float(None, None, sampler="normal", mean=mean, sd=sd)


def qrandn(mean: float, sd: float, q: float) -> Float:
    _check_q("qrandn", q)
    if sd <= 0:
        raise ValueError(f"tune.qrandn: sd must be greater than 0, got {sd}.")
    return Float(None, None, sampler="normal", mean=mean, sd=sd, q=q)


def randint(lower: int, upper: int) -> Integer:
    """An integer drawn uniformly from [lower, upper): `upper` is excluded, as in Ray."""
    return Integer(lower, upper)


def qrandint(lower: int, upper: int, q: int = 1) -> Integer:
    """A multiple of `q` in [lower, upper]: `upper` is included."""
    _check_q("qrandint", q)
    return Integer(lower, upper, q=q)


def lograndint(lower: int, upper: int, base: Any = None) -> Integer:
    _check_log_bounds("lograndint", lower, upper)
    return Integer(lower, upper, sampler="loguniform")


def qlograndint(lower: int, upper: int, q: int, base: Any = None) -> Integer:
    _check_log_bounds("qlograndint", lower, upper)
    _check_q("qlograndint", q)
    return Integer(lower, upper, sampler="loguniform", q=q)


def choice(categories: Sequence[Any]) -> Categorical:
    """One of `categories`, each equally likely."""
    if isinstance(categories, (str, bytes)) or not hasattr(categories, "__len__"):
        raise TypeError(
            f"tune.choice expects a list of options, got {type(categories).__name__}: pass e.g. "
            "tune.choice([32, 64, 128])."
        )
    if not len(categories):
        raise ValueError("tune.choice needs at least one option.")
    return Categorical(categories)


def sample_from(func: Callable[..., Any]) -> Function:
    """A value computed by `func(config)`, which may read other (already drawn) values."""
    return Function(func)


def grid_search(values: Any) -> dict[str, Any]:
    """Every value in `values` gets its own trial(s); several grids combine as a product."""
    return {"grid_search": values}
