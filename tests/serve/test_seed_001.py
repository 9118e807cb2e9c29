"""Seed 001's two Ray Serve examples run unchanged but for the import (the sentiment model is
the stand-in in seed001/transformers.py), over HTTP with httpx and through handles."""

from __future__ import annotations

import importlib
import sys

import httpx
import pytest


def _fresh_import(name: str):
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def test_serve_model_runs_over_http_with_the_old_host_port_form(serve_env):
    # The seed calls serve.run(app, host="0.0.0.0", port=8000): the removed form is accepted
    # with a warning naming the current one. Serve already listens on a free loopback port
    # here, so the seed's host and port are reported as ignored rather than bound.
    with pytest.warns(UserWarning) as record:
        module = _fresh_import("serve_model")
    messages = [str(w.message) for w in record]
    assert any("serve.start(http_options=" in m for m in messages), messages
    assert any("already running" in m for m in messages), messages

    reply = httpx.post(serve_env.url, json={"text": "Ray Serve is excellent!"}, timeout=30)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["label"] == "POSITIVE" and 0.5 < body["score"] <= 1.0
    negative = httpx.post(serve_env.url, json={"text": "terrible, slow service"}, timeout=30)
    assert negative.json()["label"] == "NEGATIVE"

    status = serve_env.serve.status().applications["default"]
    assert status.status == "RUNNING"
    assert status.deployments["SentimentService"].replica_states == {"RUNNING": 2}
    assert module.app is not None


def test_serve_model_through_a_handle_reaches_both_replicas(serve_env):
    with pytest.warns(UserWarning):
        _fresh_import("serve_model")
    handle = serve_env.serve.get_app_handle("default")
    replicas = serve_env.ray.util.state.list_actors(filters=[("state", "=", "ALIVE")])
    names = [a.class_name for a in replicas]
    assert names.count("ServeReplica:default:SentimentService") == 2
    # Requests over HTTP spread over the two replicas (power of two choices).
    pids = set()
    with httpx.Client(timeout=30) as client:
        for _ in range(40):
            assert client.post(serve_env.url, json={"text": "good"}).status_code == 200
    for actor in serve_env.ray.util.state.list_actors(filters=[("state", "=", "ALIVE")]):
        if actor.class_name == "ServeReplica:default:SentimentService":
            assert actor.calls_done > 2  # both replicas served requests
            pids.add(actor.pid)
    assert len(pids) == 2
    assert handle.deployment_name == "SentimentService"


def test_serve_pipeline_composition_over_http_and_handles(serve_env):
    module = _fresh_import("serve_pipeline")
    handle = serve_env.serve.run(module.app)
    reply = httpx.post(serve_env.url, json={"text": "  GREAT Product  "}, timeout=30)
    assert reply.status_code == 200
    assert reply.json()["label"] == "POSITIVE"

    status = serve_env.serve.status().applications["default"]
    assert set(status.deployments) == {"Pipeline", "Preprocessor", "Classifier"}

    pre = serve_env.serve.get_deployment_handle("Preprocessor", "default")
    cls = serve_env.serve.get_deployment_handle("Classifier", "default")
    clean = pre.preprocess.remote("  Awful BROKEN thing ")
    assert clean.result(timeout_s=30) == "awful broken thing"
    # A response passed to another call arrives as its value.
    verdict = cls.classify.remote(pre.preprocess.remote("  Love it  "))
    assert verdict.result(timeout_s=30)["label"] == "POSITIVE"
    assert handle.deployment_name == "Pipeline"
