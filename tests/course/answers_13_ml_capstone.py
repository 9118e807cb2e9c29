"""Wrong answers and cheats for lesson 13 (the capstone), registered in course_answers.ANSWERS.

"wrong": the step runs on the cluster but gives the wrong result; "fetched"/"local": the right
result computed in the notebook instead of by the dataset's tasks, Tune's trials or the
replicas; "hard-coded": a fixed answer typed in."""

from __future__ import annotations

_CLASSIFIER = (
    "@serve.deployment(num_replicas=2)\n"
    "class SpeciesClassifier:\n"
    "    def __init__(self, model):\n"
    "        self.model = model\n\n"
    "    def predict(self, row):\n"
    "        return {body}\n\n"
    "def deploy_model(model):\n"
    "    return serve.run(SpeciesClassifier.bind({bound}), name='penguins',\n"
    "                     route_prefix='/penguins')\n"
)

CAPSTONE_ANSWERS: dict[str, list[tuple[str, str, str]]] = {
    "13_ml_capstone:prepare": [
        (
            "wrong: all columns kept",
            "def prepare(ds):\n"
            "    return ds.filter(lambda row: all(row[f] is not None for f in FEATURES))\n",
            "keep only 'species'",
        ),
        (
            "fetched",
            "def prepare(ds):\n"
            "    rows = [{k: r[k] for k in ['species', *FEATURES]} for r in ds.take_all()]\n"
            "    return ray.data.from_items(\n"
            "        [r for r in rows if all(r[f] is not None for f in FEATURES)])\n",
            "were not dropped by the dataset's tasks",
        ),
        (
            "hard-coded",
            "def prepare(ds):\n    return ray.data.from_items(complete_rows())\n",
            "were not dropped by the dataset's tasks",
        ),
    ],
    "13_ml_capstone:tune": [
        (
            "wrong: the worst trial",
            "def tune_features(train, test, feature_sets):\n"
            "    def trainable(config):\n"
            "        model = fit_centroids(train, config['features'])\n"
            "        tune.report({'accuracy': accuracy(model, test)})\n\n"
            "    grid = tune.Tuner(trainable,\n"
            "        param_space={'features': tune.grid_search(feature_sets)},\n"
            "        tune_config=tune.TuneConfig(metric='accuracy', mode='min'),\n"
            "        run_config=tune.RunConfig(storage_path=STORAGE, verbose=0)).fit()\n"
            "    return grid.get_best_result().config['features']\n",
            "tune_features returned",
        ),
        (
            "local",
            "def tune_features(train, test, feature_sets):\n"
            "    return max(feature_sets,\n"
            "               key=lambda f: accuracy(fit_centroids(train, f), test))\n",
            "trial results for 4 candidates",
        ),
        (
            "hard-coded",
            "def tune_features(train, test, feature_sets):\n"
            "    return ['bill_length_mm', 'bill_depth_mm', 'flipper_length_mm']\n",
            "tune_features returned",
        ),
    ],
    "13_ml_capstone:serve": [
        (
            "wrong: the notebook's own model",
            _CLASSIFIER.format(
                body="predict(self.model, row)", bound="fit_centroids(complete_rows(), FEATURES)"
            ),
            "the model passed to deploy_model predicts",
        ),
        (
            "local",
            "class _Done:\n"
            "    def __init__(self, value):\n        self.value = value\n\n"
            "    def result(self, timeout_s=None, **kwargs):\n        return self.value\n\n"
            "class _Method:\n"
            "    def __init__(self, model):\n        self.model = model\n\n"
            "    def remote(self, row):\n        return _Done(predict(self.model, row))\n\n"
            "class _Local:\n"
            "    def __init__(self, model):\n        self.predict = _Method(model)\n\n"
            "def deploy_model(model):\n    return _Local(model)\n",
            "SpeciesClassifier replica",
        ),
        (
            "hard-coded",
            _CLASSIFIER.format(body="'Adelie'", bound="model"),
            "the deployment answered",
        ),
    ],
}
