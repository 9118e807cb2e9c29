"""Lesson 13 (capstone): penguins prepared with Data, a feature set chosen by Tune, the model
served by Serve. Each check runs the learner's step on inputs of its own (a fresh read of the
CSV, its own split and candidate feature sets, a model whose labels it has shuffled) and reads
the cluster's records: the dataset's fused read->filter tasks, the trials' results, the
replicas' request calls. A value computed in the notebook, or typed in, does not pass.

The model is the notebook's nearest-centroid classifier (`fit_centroids`, `predict` below, the
same code the notebook shows), small enough to need no library beyond the standard one.
"""

from __future__ import annotations

import importlib
import itertools
import math
import random
from typing import Any

from ..exercise import Exercise, Grader
from ..observe import api
from .l10_data import csv_path
from .l12_serve import expect_calls, requests_to

FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]


# ---------------------------------------------------------------------------- the model
def fit_centroids(rows: list[dict[str, Any]], features: list[str]) -> dict[str, Any]:
    """Nearest-centroid model: per feature a mean and spread (to put the features on one
    scale), and per species the centre of its standardised rows."""
    features = list(features)
    n = len(rows)
    mean = {f: sum(r[f] for r in rows) / n for f in features}
    std = {f: math.sqrt(sum((r[f] - mean[f]) ** 2 for r in rows) / n) or 1.0 for f in features}
    sums: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for r in rows:
        z = [(r[f] - mean[f]) / std[f] for f in features]
        acc = sums.setdefault(r["species"], [0.0] * len(features))
        for i, v in enumerate(z):
            acc[i] += v
        counts[r["species"]] = counts.get(r["species"], 0) + 1
    centroids = {s: [v / counts[s] for v in acc] for s, acc in sums.items()}
    return {"features": features, "mean": mean, "std": std, "centroids": centroids}


def predict(model: dict[str, Any], row: dict[str, Any]) -> str:
    z = [(row[f] - model["mean"][f]) / model["std"][f] for f in model["features"]]
    return min(
        sorted(model["centroids"]),
        key=lambda s: sum((a - b) ** 2 for a, b in zip(z, model["centroids"][s], strict=True)),
    )


def accuracy(model: dict[str, Any], rows: list[dict[str, Any]]) -> float:
    return sum(predict(model, r) == r["species"] for r in rows) / len(rows)


def split(rows: list[dict[str, Any]], every: int = 5, offset: int = 0) -> tuple[list, list]:
    """Every `every`-th row (from `offset`) is held out for testing."""
    train = [r for i, r in enumerate(rows) if i % every != offset]
    test = [r for i, r in enumerate(rows) if i % every == offset]
    return train, test


def complete_rows() -> list[dict[str, Any]]:
    """The penguins with all four measurements, species and measurements only (read locally:
    the checks' own reference, not the learner's work)."""
    import pyarrow.csv as pacsv

    rows = pacsv.read_csv(csv_path()).to_pylist()
    keep = ["species", *FEATURES]
    return [
        {k: (float(r[k]) if k in FEATURES else r[k]) for k in keep}
        for r in rows
        if all(r[f] is not None for f in FEATURES)
    ]


# ---------------------------------------------------------------------------- helpers
def _lib(name: str) -> Any:
    return importlib.import_module(f"{api().__name__}.{name}")


def _key(row: dict[str, Any]) -> tuple:
    return tuple((k, row[k] if k == "species" else float(row[k])) for k in ("species", *FEATURES))


# ---------------------------------------------------------------------------- prepare
def _grade_prepare(prepare: Any, g: Grader) -> None:
    data = _lib("data")
    rows = g.run(lambda: prepare(data.read_csv(csv_path())).take_all())
    expected = complete_rows()
    try:
        got_columns = sorted(rows[0]) if rows else []
        got = sorted(map(_key, rows))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        got, got_columns = None, sorted(rows[0]) if rows and isinstance(rows[0], dict) else []
    g.expect(
        got_columns == sorted(["species", *FEATURES]),
        "the rows have the species and the four measurements, nothing else",
        f"the rows have the columns {got_columns}; keep only 'species' and {FEATURES} "
        "(ds.select_columns([...]))",
    )
    g.expect(
        got == sorted(map(_key, expected)),
        f"the {len(expected)} penguins with all four measurements came back",
        f"{len(rows)} rows came back; expected the {len(expected)} penguins with all four "
        "measurements (drop the rows where any of them is missing: None)",
    )
    # The filter must run in the dataset's tasks (rayground fuses it into the read tasks, Ray
    # runs it in tasks of its own) on the rows read from the file, not on rows brought back
    # from the notebook (from_items/from_pandas: "From..." tasks).
    tasks = [s.name for s in g.record.spans if s.kind == "NORMAL_TASK"]
    filters = [n for n in tasks if "Filter" in n]
    smuggled = [n for n in tasks if n.startswith("From") or "->From" in n]
    g.expect_known(
        lambda: bool(filters) and not smuggled and any("ReadCSV" in n for n in tasks),
        f"the filter ran in the dataset's tasks on the cluster ({filters[0] if filters else ''})",
        "the incomplete rows were not dropped by the dataset's tasks: the rows came to the "
        "notebook (or were typed in) and were cleaned there. Use ds.filter(...) on the "
        "dataset you are given and return the dataset",
    )


# ---------------------------------------------------------------------------- tune
def _trial_results(g: Grader) -> int:
    """Calls that brought a trial's results back: rayground.tune's trial actors answer `next`,
    Ray Tune's `train` (or `train_buffered`, several results at once)."""
    return sum(len(g.record.actor_calls(m)) for m in ("next", "train", "train_buffered"))


def _grade_tune(tune_features: Any, g: Grader) -> None:
    rows = complete_rows()
    offset = random.randrange(5)
    train, test = split(rows, 5, offset)
    candidates = [list(c) for c in itertools.combinations(FEATURES, 2)]
    scores = {tuple(c): accuracy(fit_centroids(train, c), test) for c in candidates}
    # Four of the six pairs (the notebook's end-to-end run picks among pairs and triples), with
    # a best clearly above the worst; a tie for best accepts either.
    for _ in range(100):
        picked = random.sample(candidates, 4)
        ranked = sorted(scores[tuple(c)] for c in picked)
        if ranked[-1] > ranked[0]:
            break
    top = max(scores[tuple(c)] for c in picked)
    bests = [c for c in picked if scores[tuple(c)] == top]
    best = bests[0]
    value = g.run(tune_features, train, test, picked)
    got = list(value) if isinstance(value, list | tuple) else value
    g.expect(
        got in bests,
        f"tune_features found {got} (test accuracy {top:.3f}), the best of the check's 4 "
        "candidate feature sets",
        f"tune_features returned {value!r}; of the candidates it was given, {picked}, the best "
        f"test accuracy is {best}'s ({top:.3f}). Search the feature_sets "
        "passed in (tune.grid_search), with metric='accuracy', mode='max'",
    )
    g.expect_known(
        lambda: _trial_results(g) >= len(picked),
        f"Tune ran the {len(picked)} trials on the cluster ({_trial_results(g)} results came "
        "from trial actors)",
        f"the cluster saw {_trial_results(g)} trial results for {len(picked)} candidates: let "
        "tune.Tuner(...).fit() train and score each feature set in a trial",
    )


# ---------------------------------------------------------------------------- serve
def _shuffled_model() -> dict[str, Any]:
    """A model the notebook does not have: a random feature pair, species labels swapped."""
    rows = complete_rows()
    model = fit_centroids(rows, random.sample(FEATURES, 2))
    names = list(model["centroids"])
    shuffled = names[1:] + names[:1]
    model["centroids"] = {
        new: model["centroids"][old] for old, new in zip(names, shuffled, strict=True)
    }
    return model


def _grade_serve(deploy_model: Any, g: Grader) -> None:
    model = _shuffled_model()
    rows = random.sample(complete_rows(), 12)
    queries = [{f: r[f] for f in FEATURES} for r in rows]

    def use() -> list[Any]:
        handle = deploy_model(model)
        responses = [handle.predict.remote(q) for q in queries]
        return [r.result(timeout_s=60, _skip_asyncio_check=True) for r in responses]

    try:
        values = g.run(use)
        expected = [predict(model, q) for q in queries]
        g.expect(
            values == expected,
            f"the deployment predicted {len(queries)} penguins with the model it was given",
            f"for {len(queries)} penguins the deployment answered {values[:4]}...; the model "
            f"passed to deploy_model predicts {expected[:4]}...: build the deployment from "
            "that model (SpeciesClassifier.bind(model)) and answer predict(self.model, row)",
        )
        status = _lib("serve").status().applications.get("penguins")
        running = 0
        if status is not None and "SpeciesClassifier" in status.deployments:
            running = status.deployments["SpeciesClassifier"].replica_states.get("RUNNING", 0)
        g.expect(
            running >= 1,
            f"the application 'penguins' runs {running} SpeciesClassifier replica(s)",
            "no SpeciesClassifier replica of application 'penguins' is running: run it with "
            "serve.run(SpeciesClassifier.bind(model), name='penguins', "
            "route_prefix='/penguins') and return that handle",
        )
        calls = requests_to(g, "penguins", "SpeciesClassifier")
        expect_calls(
            g,
            lambda: len(calls) >= len(queries),
            f"all {len(queries)} requests were answered by SpeciesClassifier replicas",
            f"{len(calls)} of {len(queries)} requests reached a SpeciesClassifier replica of "
            "application 'penguins': run it with serve.run(SpeciesClassifier.bind(model), "
            "name='penguins', route_prefix='/penguins') and return that handle",
        )
    finally:
        try:
            _lib("serve").delete("penguins")
        except Exception:  # the learner's code may never have deployed it
            pass


EXERCISES = [
    Exercise(
        id="prepare",
        title="Prepare the data with a Dataset",
        answer="prepare",
        grade=_grade_prepare,
        hints=(
            "Return a dataset built from the one you are given: its steps then run in the "
            "dataset's own read tasks, on the cluster.",
            "ds.filter(fn) keeps the rows for which fn(row) is true; a missing measurement is "
            "None. ds.select_columns([...]) keeps the columns named.",
            "Keep a row when all(row[f] is not None for f in FEATURES); then keep the columns "
            "['species', *FEATURES].",
        ),
        solution="""def prepare(ds):
    complete = ds.filter(lambda row: all(row[f] is not None for f in FEATURES))
    return complete.select_columns(["species", *FEATURES])
""",
        try_next="filter the dataset you are given and keep only species and the measurements.",
    ),
    Exercise(
        id="tune",
        title="Choose the features with Tune",
        answer="tune_features",
        grade=_grade_tune,
        hints=(
            "Inside tune_features, define a trainable(config) that trains with "
            "fit_centroids(train, config['features']) and reports its accuracy on test with "
            "tune.report({'accuracy': ...}).",
            "One trial per feature set: param_space={'features': tune.grid_search(feature_sets)}; "
            "the best is the highest accuracy: tune.TuneConfig(metric='accuracy', mode='max').",
            "tuner.fit() returns a ResultGrid; its get_best_result().config['features'] is the "
            "answer (RunConfig(storage_path=STORAGE, verbose=0) keeps the output short).",
        ),
        solution="""def tune_features(train, test, feature_sets):
    def trainable(config):
        model = fit_centroids(train, config["features"])
        tune.report({"accuracy": accuracy(model, test)})

    grid = tune.Tuner(
        trainable,
        param_space={"features": tune.grid_search(feature_sets)},
        tune_config=tune.TuneConfig(metric="accuracy", mode="max"),
        run_config=tune.RunConfig(storage_path=STORAGE, verbose=0),
    ).fit()
    return grid.get_best_result().config["features"]
""",
        try_next="score every feature set in a Tune trial and return the best one's features.",
    ),
    Exercise(
        id="serve",
        title="Serve the model",
        answer="deploy_model",
        grade=_grade_serve,
        hints=(
            "A deployment's constructor receives what .bind(...) was given: "
            "SpeciesClassifier.bind(model) hands every replica the model.",
            "In the class: __init__(self, model) keeps it; predict(self, row) answers with the "
            "notebook's predict function; async __call__ reads await request.json().",
            "deploy_model(model) runs serve.run(...) on the bound deployment with "
            "name='penguins' and route_prefix='/penguins', and returns what serve.run returns.",
        ),
        solution="""@serve.deployment(num_replicas=2)
class SpeciesClassifier:
    def __init__(self, model):
        self.model = model

    def predict(self, row):
        return predict(self.model, row)

    async def __call__(self, request):
        return {"species": self.predict(await request.json())}


def deploy_model(model):
    return serve.run(SpeciesClassifier.bind(model), name="penguins", route_prefix="/penguins")
""",
        try_next="deploy SpeciesClassifier built from the model you are given.",
    ),
]
