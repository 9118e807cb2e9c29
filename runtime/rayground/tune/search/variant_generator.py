"""Turn a param space into concrete trial configs, in Ray's BasicVariantGenerator order.

A param space is a nested dict (lists inside it are walked too) whose leaves are plain values,
`Domain`s (`tune.uniform(...)`), or grids (`tune.grid_search([...])`, i.e. `{"grid_search": v}`).
`generate_variants` yields every grid combination once, the first grid path (in sorted path
order) changing fastest, drawing the random domains afresh for each; `num_samples` repeats the
whole grid (BasicVariantGenerator's outer loop). `sample_from` functions see the config being
built and are retried in later passes while what they read is still undrawn.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from . import sample
from .sample import Categorical, Domain

Path = tuple[Any, ...]

_MAX_PASSES = 20
_FACTORIES = {getattr(sample, name): name for name in sample.__all__ if name[0].islower()}


class RecursiveDependencyError(Exception):
    """A `sample_from` function read a value that is not drawn yet."""


def _describe_path(path: Path) -> str:
    return "config" + "".join(f"[{p!r}]" for p in path)


def _unknown_space_error(path: Path, value: Any) -> TypeError | None:
    """A clear error for a leaf that looks like a search space but is not one of ours."""
    where = _describe_path(path)
    if callable(value) and value in _FACTORIES:
        name = _FACTORIES[value]
        return TypeError(
            f"{where} is tune.{name} itself, not a search space: call it with its bounds, "
            f"e.g. tune.{name}(...) (see help(tune.{name}))."
        )
    cls = type(value)
    module = cls.__module__ or ""
    foreign = module.startswith(("ray.tune", "hyperopt", "optuna.distributions", "skopt"))
    if isinstance(value, Domain) or not foreign:
        return None
    return TypeError(
        f"{where} is a {module}.{cls.__name__}, a search-space type rayground.tune does not "
        "know. Use rayground.tune's own (tune.uniform, tune.loguniform, tune.choice, "
        "tune.randint, tune.grid_search, tune.sample_from, ...), imported with "
        "`from rayground import tune`."
    )


def _try_resolve(path: Path, value: Any) -> tuple[bool, Any]:
    if isinstance(value, Domain):
        return False, value
    if isinstance(value, dict) and len(value) == 1 and "grid_search" in value:
        values = value["grid_search"]
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            raise TypeError(
                f"{_describe_path(path)}: tune.grid_search expects a list of values, got "
                f"{type(values).__name__}; write e.g. tune.grid_search([0.01, 0.1])."
            )
        return False, Categorical(list(values), grid=True)
    error = _unknown_space_error(path, value)
    if error is not None:
        raise error
    return True, value


def split_spec(spec: Any, prefix: Path = ()) -> tuple[dict[Path, Any], dict[Path, Domain]]:
    """(resolved leaves, unresolved domains), each keyed by the path into `spec`."""
    resolved: dict[Path, Any] = {}
    unresolved: dict[Path, Domain] = {}
    items: Any = spec.items() if isinstance(spec, dict) else enumerate(spec)
    for key, value in items:
        path = (*prefix, key)
        done, value = _try_resolve(path, value)
        if not done:
            unresolved[path] = value
        elif isinstance(value, (dict, list, tuple)):
            sub_resolved, sub_unresolved = split_spec(value, path)
            resolved.update(sub_resolved)
            unresolved.update(sub_unresolved)
            if not value:
                resolved[path] = value
        else:
            resolved[path] = value
    return resolved, unresolved


def count_variants(spec: dict[str, Any], num_samples: int) -> int:
    _, unresolved = split_spec(spec)
    grid = 1
    for domain in unresolved.values():
        if domain.is_grid():
            grid *= len(domain)  # type: ignore[arg-type]
    return grid * num_samples


def assign_value(spec: Any, path: Path, value: Any) -> None:
    parent = None
    parent_key = None
    for key in path[:-1]:
        parent, parent_key = spec, key
        spec = spec[key]
    key = path[-1]
    if isinstance(spec, tuple):
        assert parent is not None
        parent[parent_key] = (*spec[:key], value, *spec[key + 1 :])
    else:
        spec[key] = value


def get_value(spec: Any, path: Path) -> Any:
    for key in path:
        spec = spec[key]
    return spec


class _Guard(dict):
    """The config as a `sample_from` function sees it: reading an undrawn value raises, so the
    function is retried once that value is drawn. `spec.config.x` (Ray's old form) works too."""

    def __getitem__(self, key: Any) -> Any:
        if key == "config" and not dict.__contains__(self, "config"):
            return self
        value = dict.__getitem__(self, key)
        if isinstance(value, Domain) or (
            isinstance(value, dict) and len(value) == 1 and "grid_search" in value
        ):
            raise RecursiveDependencyError(f"{key!r} is not drawn yet")
        if isinstance(value, dict):
            return _Guard(value)
        return value

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(key) from exc

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


def _resolve_domains(
    spec: dict[str, Any], domains: list[tuple[Path, Domain]], rng: Any, allow_fail: bool = False
) -> dict[Path, Any]:
    """Draw `domains` into `spec`; with `allow_fail`, those that read a value not drawn yet
    (a grid's) are left out instead of being an error."""
    resolved: dict[Path, Any] = {}
    for _ in range(_MAX_PASSES):
        pending = False
        before = len(resolved)
        for path, domain in domains:
            if path in resolved:
                continue
            try:
                value = domain.sample(_Guard(spec), random_state=rng)
            except RecursiveDependencyError:
                pending = True
                continue
            assign_value(spec, path, value)
            resolved[path] = value
        if not pending or (allow_fail and len(resolved) == before):
            return resolved
    missing = [_describe_path(p) for p, _ in domains if p not in resolved]
    raise ValueError(
        f"Could not draw {', '.join(missing)}: its tune.sample_from function keeps reading a "
        "value that is never drawn (a cycle between sample_from functions?)."
    )


def _grid_combinations(grid_vars: list[tuple[Path, Categorical]]) -> Iterator[list[Any]]:
    """Every combination, the first grid variable changing fastest (as Ray's generator)."""
    if not grid_vars:
        yield []
        return
    indices = [0] * len(grid_vars)
    if any(len(domain) == 0 for _, domain in grid_vars):
        return
    while True:
        yield [domain[indices[i]] for i, (_, domain) in enumerate(grid_vars)]
        i = 0
        while i < len(indices):
            indices[i] += 1
            if indices[i] < len(grid_vars[i][1]):
                break
            indices[i] = 0
            i += 1
        else:
            return


def generate_variants(
    spec: dict[str, Any], rng: Any = None, constant_grid_search: bool = False
) -> Iterator[tuple[dict[Path, Any], dict[str, Any]]]:
    """Yield (resolved vars, config) for every grid combination of `spec` (one sample).

    `constant_grid_search`: the random domains are drawn once, before the grid, and shared by
    every combination (except those that read a grid value: drawn per combination)."""
    _, unresolved = split_spec(spec)
    if not unresolved:
        yield {}, copy.deepcopy(spec)
        return
    grid_vars = sorted(
        ((p, d) for p, d in unresolved.items() if d.is_grid()), key=lambda item: item[0]
    )
    domain_vars = [(p, d) for p, d in unresolved.items() if not d.is_grid()]
    constant: dict[Path, Any] = {}
    if constant_grid_search and domain_vars:
        constant = _resolve_domains(copy.deepcopy(spec), domain_vars, rng, allow_fail=True)
        domain_vars = [(p, d) for p, d in domain_vars if p not in constant]
    for combination in _grid_combinations(grid_vars):  # type: ignore[arg-type]
        config = copy.deepcopy(spec)
        for (path, _), value in zip(grid_vars, combination, strict=False):
            assign_value(config, path, value)
        for path, value in constant.items():
            assign_value(config, path, value)
        drawn = {**constant, **_resolve_domains(config, domain_vars, rng)}
        # A grid value may itself hold domains (a grid of sub-spaces): resolve them recursively.
        for sub_vars, sub_config in generate_variants(config, rng, constant_grid_search):
            variant: dict[Path, Any] = {}
            for path, _ in grid_vars:
                variant[path] = get_value(sub_config, path)
            variant.update(drawn)
            variant.update(sub_vars)
            yield variant, sub_config


def _clean_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return re.sub(r"[^a-zA-Z0-9_-]+", "_", str(value)).strip("_")


def format_vars(resolved_vars: dict[Path, Any]) -> str:
    """`lr=0.0100,units=64`: the tag Ray puts in trial names and directory names."""
    return ",".join(
        f"{_clean_value(path[-1])}={_clean_value(value)}"
        for path, value in sorted(resolved_vars.items(), key=lambda item: str(item[0]))
    )
