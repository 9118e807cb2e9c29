"""Lesson 12 (Serve): deploy a model behind a handle, compose deployments, scale them out.

The checks deploy the learner's code, send it requests, and read from the cluster's records
which replica actors served them (`ServeReplica:<app>:<deployment>.handle_request` calls): a
value computed in the notebook, or work done in the wrong deployment, shows there.
"""

from __future__ import annotations

import importlib
import os
import random
from typing import Any

from ..exercise import Exercise, Grader
from ..observe import TaskSpan, api

# The checks run in a notebook cell, inside the kernel's event loop, where Serve refuses a
# blocking .result() (Ray's rule); the check blocks on purpose, so it says so.


def _serve() -> Any:
    return importlib.import_module(f"{api().__name__}.serve")


# The replica methods a request arrives by: rayground's, and Ray Serve's (which sends most
# requests as handle_request_with_rejection).
_REQUEST_METHODS = (
    ".handle_request",
    ".handle_request_streaming",
    ".handle_request_with_rejection",
    ".handle_http",
)


def requests_to(g: Grader, app: str, deployment: str) -> list[TaskSpan]:
    prefix = f"ServeReplica:{app}:{deployment}."
    return [
        s
        for s in g.record.actor_calls()
        if s.name.startswith(prefix) and s.name.endswith(_REQUEST_METHODS)
    ]


def expect_calls(g: Grader, condition: Any, ok: str, wrong: str) -> None:
    """`g.expect_known` for facts read from the replicas' request calls. Ray Serve leaves them
    out of Ray's state API unless RAY_SERVE_ENABLE_TASK_EVENTS=1 is set (off for speed): then
    the line says so instead of failing."""
    if g.record.backend == "ray" and os.environ.get("RAY_SERVE_ENABLE_TASK_EVENTS") != "1":
        g.note(
            f"(not checked on ray: {ok}; Ray Serve records its replicas' calls only with "
            "RAY_SERVE_ENABLE_TASK_EVENTS=1 set before ray.init)"
        )
        return
    g.expect_known(condition, ok, wrong)


def _running_replicas(app: str, deployment: str) -> int:
    status = _serve().status().applications.get(app)
    if status is None or deployment not in status.deployments:
        return 0
    return status.deployments[deployment].replica_states.get("RUNNING", 0)


def _cleanup(app: str) -> None:
    try:
        _serve().delete(app)
    except Exception:  # the learner's code may never have deployed it
        pass


# ---------------------------------------------------------------------------- deploy
def _grade_deploy(deploy_doubler: Any, g: Grader) -> None:
    numbers = random.sample(range(-50, 50), 12)

    def use() -> list[Any]:
        handle = deploy_doubler()
        return [handle.remote(x).result(timeout_s=60, _skip_asyncio_check=True) for x in numbers]

    try:
        values = g.run(use)
        g.expect(
            values == [2 * x for x in numbers],
            f"the handle returned 2*x for {len(numbers)} random numbers",
            f"for {numbers[:4]}... the handle returned {values[:4]}...; expected each number "
            "doubled: __call__(self, x) should return 2 * x",
        )
        calls = requests_to(g, "doubler", "Doubler")
        expect_calls(
            g,
            lambda: len(calls) == len(numbers),
            f"all {len(numbers)} requests were served by Doubler replicas",
            f"no request reached a Doubler replica of application 'doubler' ({len(calls)} of "
            f"{len(numbers)} did): deploy it with serve.run(Doubler.bind(), name='doubler', "
            "route_prefix=None) and return the handle serve.run gives you",
        )
        g.expect(
            _running_replicas("doubler", "Doubler") == 2,
            "Doubler runs 2 replicas",
            f"Doubler runs {_running_replicas('doubler', 'Doubler')} replica(s); expected 2 "
            "replicas: @serve.deployment(num_replicas=2)",
        )
        expect_calls(
            g,
            lambda: len({c.actor_id for c in calls}) == 2,
            "the requests were spread over both replicas",
            "one replica served every request: call the handle, not one replica's actor",
        )
    finally:
        _cleanup("doubler")


# ---------------------------------------------------------------------------- compose
TEXTS = ["The cat, the hat!", "A b c a", "Hello hello HELLO world.", "one"]
_DISTINCT = [3, 3, 2, 1]


def _grade_compose(build_pipeline: Any, g: Grader) -> None:
    serve = _serve()
    texts = random.sample(TEXTS, len(TEXTS))
    expected = [_DISTINCT[TEXTS.index(t)] for t in texts]

    def use() -> list[Any]:
        handle = serve.run(build_pipeline(), name="pipeline", route_prefix=None)
        return [handle.remote(t).result(timeout_s=60, _skip_asyncio_check=True) for t in texts]

    try:
        values = g.run(use)
        g.expect(
            values == expected,
            f"the pipeline counted the distinct words of {len(texts)} texts",
            f"for {texts} the pipeline returned {values}; expected {expected}: clean the text "
            "with Cleaner first (lower case, no punctuation), then count with WordCounter",
        )
        ingress = requests_to(g, "pipeline", "Pipeline")
        cleaner = requests_to(g, "pipeline", "Cleaner")
        counter = requests_to(g, "pipeline", "WordCounter")
        expect_calls(
            g,
            lambda: len(ingress) == len(texts),
            "every request entered through the Pipeline deployment",
            f"the Pipeline deployment received {len(ingress)} of {len(texts)} requests: the "
            "application's ingress must be Pipeline.bind(Cleaner.bind(), WordCounter.bind())",
        )
        expect_calls(
            g,
            lambda: len(cleaner) == len(texts) and len(counter) == len(texts),
            "Pipeline called Cleaner and WordCounter once per request, through their handles",
            f"Cleaner replicas received {len(cleaner)} and WordCounter {len(counter)} "
            f"request(s) for {len(texts)} texts: Pipeline must call them through the handles "
            "its constructor gets, not do their work itself",
        )
    finally:
        _cleanup("pipeline")


# ---------------------------------------------------------------------------- scale
_SLOW_S = 0.3  # how long one request to Slow works


def _grade_scale(scale_up: Any, g: Grader) -> None:
    serve = _serve()
    deployment = _slow_deployment(serve)

    def use() -> list[Any]:
        scaled = scale_up(deployment)
        handle = serve.run(scaled.bind(), name="scaled", route_prefix=None)
        responses = [handle.remote(i) for i in range(12)]
        return [r.result(timeout_s=60, _skip_asyncio_check=True) for r in responses]

    try:
        values = g.run(use)
        g.expect(
            values == list(range(12)),
            "all 12 requests came back with their own answers",
            f"the 12 requests returned {values}; expected 0..11",
        )
        replicas = _running_replicas("scaled", "Slow")
        g.expect(
            replicas == 3,
            "Slow runs 3 replicas",
            f"Slow runs {replicas} replica(s); expected 3 replicas: "
            "deployment.options(num_replicas=3, ...)",
        )
        # Only calls that did Slow's work count: Ray Serve also records, as calls of the same
        # method, the requests a full replica turned away at once (the router retries them
        # elsewhere), and a stand-in deployment that skips the work must not count either.
        calls = [c for c in requests_to(g, "scaled", "Slow") if c.duration >= _SLOW_S * 0.8]
        per_replica: dict[str, list[TaskSpan]] = {}
        for call in calls:
            per_replica.setdefault(call.actor_id or "", []).append(call)
        busiest = max((g.record.max_parallel(s) for s in per_replica.values()), default=0)
        expect_calls(
            g,
            lambda: busiest <= 2,
            "no replica ran more than 2 requests at once",
            f"a replica ran {busiest} requests at once; expected at most 2 at once: set "
            "max_ongoing_requests=2 so the extra requests wait for a free replica",
        )
        expect_calls(
            g,
            lambda: len(per_replica) == 3 and g.record.max_parallel(calls) >= 4,
            "the 3 replicas worked at the same time",
            f"{len(per_replica)} replica(s) served requests, up to "
            f"{g.record.max_parallel(calls)} at once; expected all 3 busy together, "
            "with more than one request at a time on some",
        )
    finally:
        _cleanup("scaled")


def _slow_deployment(serve: Any) -> Any:
    @serve.deployment
    class Slow:
        async def __call__(self, x: int) -> int:
            import asyncio

            await asyncio.sleep(_SLOW_S)
            return x

    return Slow


EXERCISES = [
    Exercise(
        id="deploy",
        title="Deploy a model with two replicas",
        answer="deploy_doubler",
        grade=_grade_deploy,
        hints=(
            "A deployment is a class with @serve.deployment(...) on it; num_replicas=2 asks "
            "for two replica actors.",
            "__call__(self, x) is what handle.remote(x) calls: return 2 * x there.",
            "deploy_doubler() runs Doubler.bind() with serve.run(..., name='doubler', "
            "route_prefix=None) and returns the handle that serve.run gives back.",
        ),
        solution="""@serve.deployment(num_replicas=2)
class Doubler:
    def __call__(self, x):
        return 2 * x


def deploy_doubler():
    return serve.run(Doubler.bind(), name="doubler", route_prefix=None)
""",
        try_next="deploy Doubler with 2 replicas and return the handle serve.run gives you.",
    ),
    Exercise(
        id="compose",
        title="Compose three deployments",
        answer="build_pipeline",
        grade=_grade_compose,
        hints=(
            "Bound deployments passed to Pipeline.bind(...) arrive in Pipeline.__init__ as "
            "handles: keep them on self.",
            "In an async __call__, call them through their methods: "
            "self.cleaner.clean.remote(text) gives a response you can await, or pass straight "
            "on to the next call.",
            "Count the cleaned text with self.counter.count.remote(...); build_pipeline "
            "returns Pipeline bound with Cleaner.bind() and WordCounter.bind().",
        ),
        solution="""@serve.deployment
class Pipeline:
    def __init__(self, cleaner, counter):
        self.cleaner = cleaner
        self.counter = counter

    async def __call__(self, text):
        clean = self.cleaner.clean.remote(text)
        return await self.counter.count.remote(clean)


def build_pipeline():
    return Pipeline.bind(Cleaner.bind(), WordCounter.bind())
""",
        try_next="let Pipeline call Cleaner, then WordCounter, through the handles it is given.",
    ),
    Exercise(
        id="scale",
        title="Scale out with a limit per replica",
        answer="scale_up",
        grade=_grade_scale,
        hints=(
            "deployment.options(...) returns a copy of a deployment with other settings; the "
            "original is unchanged.",
            "num_replicas sets how many replicas run; max_ongoing_requests how many requests "
            "one replica works on at once.",
            "Return deployment.options(...) with 3 replicas and at most 2 ongoing requests.",
        ),
        solution="""def scale_up(deployment):
    return deployment.options(num_replicas=3, max_ongoing_requests=2)
""",
        try_next="return deployment.options(...) with 3 replicas of at most 2 requests each.",
    ),
]
