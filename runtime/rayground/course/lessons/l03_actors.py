"""Lesson 03 (actors): state kept between calls, one actor shared by tasks, actors in parallel,
one actor serving several calls at once (max_concurrency), and a slow actor program diagnosed from
its "how it ran" report."""

from __future__ import annotations

import random
import time
from typing import Any

from .. import evidence
from ..exercise import Exercise, Grader
from ..observe import api


def _grade_accumulator(accumulator_class: Any, g: Grader) -> None:
    g.expect(
        hasattr(accumulator_class, "remote"),
        "Accumulator is an actor class",
        "Accumulator is a plain Python class: its objects would live in the notebook. Put "
        "@ray.remote on the line above `class Accumulator`",
    )
    ray = api()
    # Two actors fed interleaved amounts chosen now (zero and negatives included): the running
    # totals can only come out right if each actor keeps its own sum between calls.
    plan = [(random.randrange(2), random.randint(-20, 50)) for _ in range(7)] + [(1, 0), (0, 0)]

    def use() -> tuple[list[int], list[int]]:
        actors = [accumulator_class.remote(), accumulator_class.remote()]
        try:
            refs = [actors[which].add.remote(x) for which, x in plan]
            running = ray.get(refs, timeout=30)
            totals = ray.get([a.total.remote() for a in actors], timeout=30)
        finally:
            for actor in actors:
                ray.kill(actor)
        return running, totals

    running, totals = g.run(use)
    sums = [0, 0]
    want = []
    for which, x in plan:
        sums[which] += x
        want.append(sums[which])
    shown = ", ".join(f"{'ab'[w]}.add({x})" for w, x in plan)
    g.expect(
        running == want,
        f"two accumulators a and b, called {shown}, returned the running totals {want}",
        f"two accumulators a and b, called {shown}, returned {running!r}; expected each "
        f"actor's running total after the call, {want}: keep the sum in self, add x to it and "
        "return it",
    )
    g.expect(
        totals == sums,
        f"total() returned {sums} afterwards: each actor kept its own state",
        f"total() on a and b returned {totals!r} afterwards; expected {sums}",
    )
    g.expect_known(
        lambda: (
            len(g.record.actors_created()) == 2 and len(g.record.actor_calls()) == len(plan) + 2
        ),
        f"the two actors served all {len(plan) + 2} calls",
        f"expected 2 actors and {len(plan) + 2} method calls; the cluster saw "
        f"{len(g.record.actors_created())} actor(s) and {len(g.record.actor_calls())} call(s)",
    )


class _Counter:
    """The lesson's Counter, which also remembers who counted (the visit tasks' marks)."""

    def __init__(self) -> None:
        self.n = 0
        self.by: list[Any] = []

    def incr(self, visitor: Any = None) -> int:
        self.n += 1
        self.by.append(visitor)
        return self.n

    def seen(self, visitor: Any) -> None:
        """A visit's final mark (with its end time), replacing the one it counted with."""
        token = next(iter(visitor.marks))[5] if getattr(visitor, "marks", None) else None
        self.by = [v for v in self.by if not _has_token(v, token)] + [visitor]

    def value(self) -> int:
        from ..evidence import marks_of, trace

        home = next((v.home for v in self.by if hasattr(v, "home")), 0)
        return trace(self.n, marks_of(self.by), home)


def _grade_shared(count_visits: Any, g: Grader) -> None:
    twins = {"Counter": g.twins.actor("Counter", _Counter), "visit": _visit_twin(g)}
    n = random.randint(4, 7)
    with g.stand_in(count_visits, **twins):
        value = g.run(count_visits, n)
    g.expect(
        value == n,
        f"count_visits({n}) returned {n}",
        f"count_visits({n}) returned {value!r}; expected {n} ({n} tasks, one visit each, all "
        "counted by the same counter)",
    )
    g.expect_from_tasks(value, "Counter.value", "the count", count=1)
    visits = g.twins.runs(value, "visit")
    g.expect(
        len(visits) == n,
        f"the counter was incremented by {n} visit tasks",
        f"the counter counted {len(visits)} visit task(s) of {n}: the visits must come from "
        "visit tasks, each given the same counter's handle (not calls made from the notebook)",
    )
    created = g.record.actors_created()
    g.expect_known(
        lambda: len(created) == 1,
        "they all talked to one Counter actor, passed to them as a handle",
        f"{len(created)} Counter actors were created: create ONE and pass its handle to every "
        "visit task",
    )
    # Each visit waits inside for the counter; Ray then starts a worker process per waiting
    # task, slowly on a busy machine, so only the overlap itself is asked for here.
    g.expect_overlap(visits, "the visit tasks", min_speedup=1.0)


def _has_token(visitor: Any, token: str | None) -> bool:
    return token is not None and any(m[5] == token for m in getattr(visitor, "marks", ()))


def _visit_twin(g: Grader) -> Any:
    """visit, twinned: it counts itself by handing the counter its own mark."""
    secret, home = g.twins.secret, g.twins.home

    def visit(counter: Any) -> int:
        import os
        import uuid

        from rayground.course.evidence import trace
        from rayground.course.observe import api

        start = time.time()
        time.sleep(0.15)
        # The visit's mark travels with the incr call; it spans the work and the wait for the
        # counter (measured by this worker once the counter answered, and sent with a second
        # call that does not count).
        token = uuid.uuid4().hex[:8]
        pending = (secret, "visit", os.getpid(), start, start + 0.15, token)
        count = api().get(counter.incr.remote(trace(0, frozenset({pending}), home)))
        done = (secret, "visit", os.getpid(), start, time.time(), token)
        api().get(counter.seen.remote(trace(0, frozenset({done}), home)))
        return count

    visit.__module__ = "__twin__"
    return api().remote(visit)


def _times_ten(x: int) -> int:
    time.sleep(0.15)
    return x * 10


class _Worker:
    def process(self, x: int) -> int:
        return _times_ten(x)


def _grade_pool(process_all: Any, g: Grader) -> None:
    items = random.sample(range(-5, 50), 8)
    with g.stand_in(process_all, Worker=g.twins.actor("Worker", _Worker)):
        value = g.run(process_all, items)
    expected = [i * 10 for i in items]
    g.expect(
        value == expected,
        f"process_all({items}) returned {expected}",
        f"process_all({items}) returned {value!r}; expected {expected} in the input's order",
    )
    runs = g.expect_from_tasks(value, "Worker.process", "every result", count=len(items))
    pids = {r.pid for r in runs}
    g.expect(
        len(pids) == 2,
        f"the {len(items)} process calls were spread over 2 Worker actors",
        f"the {len(items)} process calls ran in {len(pids)} actor process(es); expected 2 "
        "Worker actors. One actor runs its calls one at a time",
    )
    g.expect_overlap(runs, "the two actors' calls")


class _Downloader:
    """The lesson's Downloader: waits on the "network" and counts the pages it fetched."""

    def __init__(self) -> None:
        import threading

        self.pages = 0
        self.lock = threading.Lock()  # calls run in threads: count under a lock

    def fetch(self, url: str) -> str:
        time.sleep(0.2)
        with self.lock:
            self.pages += 1
        return f"<html>{url}</html>"

    def fetched(self) -> int:
        return self.pages


def _grade_concurrent(fetch_all: Any, g: Grader) -> None:
    n = random.randint(5, 8)
    urls = [f"https://example.org/{random.randrange(10**6)}" for _ in range(n)]
    with g.stand_in(fetch_all, Downloader=g.twins.actor("Downloader", _Downloader)):
        value = g.run(fetch_all, urls)
    g.expect(
        isinstance(value, tuple | list) and len(value) == 2,
        "fetch_all returned (pages, count)",
        f"fetch_all returned {value!r}; expected a pair (pages, count): the pages in the "
        "urls' order and what the actor's fetched() says",
    )
    pages, count = value
    want = [f"<html>{u}</html>" for u in urls]
    g.expect(
        pages == want,
        f"fetch_all on {n} urls chosen now returned their {n} pages in order",
        f"fetch_all returned pages {pages!r}; expected {want}",
    )
    runs = g.expect_from_tasks(pages, "Downloader.fetch", "the pages", count=n)
    pids = {r.pid for r in runs}
    g.expect(
        len(pids) == 1,
        f"all {n} fetch calls ran in one actor process",
        f"the {n} fetch calls ran in {len(pids)} processes: this exercise is about ONE "
        "Downloader serving several calls at once, not one actor per url",
    )
    g.expect(
        count == n,
        f"the actor's fetched() said {n}: one actor kept the count of every page",
        f"the count was {count!r}; expected {n}, what the one Downloader's fetched() returns "
        "after all the fetches",
    )
    g.expect_from_tasks(count, "Downloader.fetched", "the count", count=1)
    created = g.record.actors_created()
    g.expect_known(
        lambda: len(created) == 1,
        "one Downloader actor was created",
        f"{len(created)} Downloader actors were created; create ONE, with max_concurrency",
    )
    g.expect_overlap(runs, "the fetch calls on that one actor")


_POSITIVE = frozenset({"good", "great", "fine", "love"})


class _Scorer:
    """The lesson's Scorer: a model that takes a while to load, then scores one text a call."""

    def __init__(self) -> None:
        time.sleep(0.3)  # loading the model: paid once per actor
        self.positive = _POSITIVE

    def score(self, text: str) -> int:
        time.sleep(0.1)
        return sum(word in self.positive for word in text.split())


def _grade_diagnose(score_all: Any, g: Grader) -> None:
    # Texts chosen now, more than the lesson's six: an answer tuned to those is caught.
    words = [*sorted(_POSITIVE), "bad", "meh", "not", "food", "slow"]
    n = random.randint(9, 12)
    texts = [" ".join(random.choices(words, k=random.randint(1, 4))) for _ in range(n)]
    with g.stand_in(score_all, Scorer=g.twins.actor("Scorer", _Scorer)):
        value = g.run(score_all, texts)
    expected = [sum(w in _POSITIVE for w in t.split()) for t in texts]
    g.expect(
        value == expected,
        f"score_all on {n} texts chosen now returned their scores in order",
        f"score_all({texts}) returned {value!r}; expected {expected} (one score per text, in "
        "the texts' order)",
    )
    runs = g.expect_from_tasks(value, "Scorer.score", "every score", count=n)
    g.expect_no_finding(
        "get_in_loop", "the run analysis found no get inside the submit loop: the cause is gone"
    )
    loads = len({r.pid for r in runs})  # each actor is a process of its own
    cpus = max(int(g.cpus()), 2)
    g.expect(
        loads <= cpus,
        f"the model was loaded {loads} time(s), once per Scorer actor, not once per text",
        f"the {n} texts were scored by {loads} Scorer actors: each one loads the model (0.3 s) "
        f"again. Create a few (at most one per CPU, {cpus} here) once and reuse them",
    )
    g.expect(
        loads >= 2,
        f"the calls were spread over {loads} Scorer actors",
        f"all {n} texts went to {loads} Scorer actor: one actor runs its calls one at a time. "
        "Create a few and spread the texts over them",
    )
    # Calls at once, not a speed-up: actors start one by one (on Ray, a process each, seconds
    # apart on a busy machine), so the span of the calls includes that start-up and a right
    # answer can show no speed-up; waiting on each call in the loop never runs two at once.
    peak = evidence.max_at_once(runs)
    g.expect(
        peak >= 2,
        f"the score calls ran at the same time on different Scorers: up to {peak} at once",
        "the score calls ran one at a time (by the workers' own clocks): each text waited for "
        "the previous one. Submit them all before you wait for any",
    )


EXERCISES = [
    Exercise(
        id="accumulator",
        title="An actor that remembers",
        answer="Accumulator",
        grade=_grade_accumulator,
        hints=(
            "An actor is a class with @ray.remote above it; self keeps its state between calls.",
            "Start the sum at 0 in __init__; add(x) changes it and returns the new total; total()"
            " returns it.",
            "Shape: __init__ sets self.<sum> = 0; add does self.<sum> += x and returns "
            "self.<sum>; total returns self.<sum>.",
        ),
        solution="""@ray.remote
class Accumulator:
    def __init__(self):
        self.sum = 0

    def add(self, x):
        self.sum += x
        return self.sum

    def total(self):
        return self.sum
""",
        try_next="keep the running sum in self and decorate the class with @ray.remote.",
    ),
    Exercise(
        id="shared",
        title="One counter, many tasks",
        answer="count_visits",
        grade=_grade_shared,
        hints=(
            "An actor handle can be passed to a task like any other argument: all tasks then talk"
            " to the same actor.",
            "Create ONE Counter, start n visit tasks together with its handle, wait for them, "
            "then ask the counter for its value.",
            "Shape: counter = Counter.remote(); ray.get([<n visits given counter>]); return "
            "ray.get(<counter's value call>).",
        ),
        solution="""def count_visits(n):
    counter = Counter.remote()
    ray.get([visit.remote(counter) for _ in range(n)])
    return ray.get(counter.value.remote())
""",
        try_next="create one Counter, then pass its handle to n visit tasks started together.",
    ),
    Exercise(
        id="pool",
        title="Two actors at once",
        answer="process_all",
        grade=_grade_pool,
        hints=(
            "Calls to one actor run one after another; two actors can work at the same time.",
            "Create two Worker actors and alternate the items between them (item i to worker i % "
            "2); get all the refs at the end, in order.",
            "Shape: workers = [<two Workers>]; refs = [workers[i % 2].process.remote(x) for ...];"
            " return ray.get(refs).",
        ),
        solution="""def process_all(items):
    workers = [Worker.remote() for _ in range(2)]
    refs = [workers[i % 2].process.remote(item) for i, item in enumerate(items)]
    return ray.get(refs)
""",
        try_next="create two Worker actors and alternate the items between them.",
    ),
    Exercise(
        id="concurrent",
        title="One actor, many calls at once",
        answer="fetch_all",
        grade=_grade_concurrent,
        hints=(
            "An actor runs one call at a time unless it is told it may run more: "
            "max_concurrency, given in .options(...) when you create it.",
            "Create ONE Downloader with .options(max_concurrency=8), send every fetch before you "
            "get any, then ask the same actor for fetched().",
            "Shape: d = Downloader.options(max_concurrency=<a few>).remote(); pages = "
            "ray.get([<fetch of each url on d>]); return pages, ray.get(<d's fetched call>).",
        ),
        solution="""def fetch_all(urls):
    downloader = Downloader.options(max_concurrency=8).remote()
    pages = ray.get([downloader.fetch.remote(url) for url in urls])
    return pages, ray.get(downloader.fetched.remote())
""",
        try_next="create one Downloader with max_concurrency and send all the fetches at once.",
    ),
    Exercise(
        id="diagnose",
        title="Diagnose a slow actor program",
        answer="score_all",
        grade=_grade_diagnose,
        hints=(
            "Run the %%ray_explain cell and read its findings and counts: how many calls ran at "
            "once, how long the notebook waited, how many actors were started.",
            "score_one starts a new Scorer (0.3 s to load the model) for every text and waits "
            "for its one call before the loop goes on: load a few Scorers once, send every text, "
            "then wait once.",
            "Shape: scorers = [<a few Scorers, made once>]; refs = [<score of text i on scorer "
            "i % len(scorers)>]; return ray.get(refs). (ActorPool.map does the same.)",
        ),
        solution="""def score_all(texts):
    scorers = [Scorer.remote() for _ in range(4)]
    refs = [scorers[i % 4].score.remote(text) for i, text in enumerate(texts)]
    return ray.get(refs)
""",
        try_next="read the %%ray_explain report above: make a few Scorers once, send every "
        "text, then get once.",
    ),
]
