"""Seed 001's Ray Tune example with the imports changed (`rayground` for `ray`) and the model in
NumPy (torch is not installed here): the same search space, ASHAScheduler(max_t=20,
grace_period=5, reduction_factor=2), tune.run(num_samples=20, metric/mode,
resources_per_trial={"cpu": 2, "gpu": 0}). The seed then calls `results.get_best_result()`,
which Ray's ExperimentAnalysis does not have: this script shows that error and then the forms
that work on Ray (the analysis' own API, and a Tuner's ResultGrid). Run by test_tune_seed_001.py."""
# ruff: noqa

import numpy as np

from rayground import tune
from rayground.tune.schedulers import ASHAScheduler


def train_model(config):
    rng = np.random.default_rng(0)
    w1 = rng.normal(scale=0.1, size=(10, config["hidden_size"]))
    w2 = rng.normal(scale=0.1, size=(config["hidden_size"], 1))
    for epoch in range(20):
        x = rng.normal(size=(64, 10))
        y = x[:, :1] * 0.5
        h = np.maximum(x @ w1, 0)
        pred = h @ w2
        loss = float(np.mean((pred - y) ** 2))
        grad = 2 * (pred - y) / len(y)
        w1 -= config["lr"] * x.T @ ((grad @ w2.T) * (h > 0))
        w2 -= config["lr"] * h.T @ grad
        tune.report({"loss": loss, "epoch": epoch})


scheduler = ASHAScheduler(max_t=20, grace_period=5, reduction_factor=2)

results = tune.run(
    train_model,
    config={
        "lr": tune.loguniform(1e-4, 1e-1),
        "hidden_size": tune.choice([32, 64, 128, 256]),
    },
    num_samples=20,
    scheduler=scheduler,
    metric="loss",
    mode="min",
    resources_per_trial={"cpu": 2, "gpu": 0},
)

try:
    best = results.get_best_result()
except AttributeError as exc:
    print(f"AttributeError: {exc}")

best_trial = results.get_best_trial("loss", "min")
print(f"Best config: {results.best_config}")
print(f"Best loss: {results.best_result['loss']:.4f}")
print(f"Best trial config matches: {best_trial.config == results.best_config}")
print(
    f"Trials: {len(results.trials)}; iterations: {sorted(t.last_result['training_iteration'] for t in results.trials)}"
)

grid = tune.Tuner(
    train_model,
    param_space={"lr": tune.loguniform(1e-4, 1e-1), "hidden_size": tune.choice([32, 64])},
    tune_config=tune.TuneConfig(
        num_samples=4,
        scheduler=ASHAScheduler(max_t=20, grace_period=5, reduction_factor=2),
        metric="loss",
        mode="min",
    ),
).fit()
best = grid.get_best_result()
print(
    f"Tuner best config keys: {sorted(best.config)}; loss is a float: {isinstance(best.metrics['loss'], float)}"
)
