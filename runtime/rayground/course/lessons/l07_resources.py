"""Lesson 07 (resources and GPUs): CPUs per task, fractional GPUs, a custom resource, a
placement group."""

from __future__ import annotations

import random
import time
from typing import Any

from .. import evidence
from ..exercise import Exercise, Grader


def _asked(spans: list, resource: str) -> set[float]:
    return {s.resources.get(resource, 0.0) for s in spans}


def _heavy_step(i: int) -> int:
    time.sleep(0.2)
    return i * 10


def _gpu_step() -> list:
    from rayground.course.observe import api

    time.sleep(0.4)
    return list(api().get_gpu_ids())


def _solver(job: str) -> str:
    time.sleep(0.2)
    return f"solved {job}"


def _grade_two_at_a_time(two_at_a_time: Any, g: Grader) -> None:
    items = random.sample(range(-9, 60), 6)
    with g.stand_in(two_at_a_time, heavy_step=g.twins.function("heavy_step", _heavy_step)):
        value = g.run(two_at_a_time, items)
    want = [i * 10 for i in items]
    g.expect(
        value == want,
        f"it returned {want}",
        f"two_at_a_time({items}) returned {value!r}; expected {want}",
    )
    runs = g.expect_from_tasks(value, "heavy_step", "every result", count=len(items))
    tasks = g.record.tasks("heavy_step")
    g.expect_known(
        lambda: _asked(tasks, "CPU") == {2.0},
        "each heavy_step task asked for 2 CPUs",
        f"the heavy_step tasks asked for {sorted(_asked(tasks, 'CPU'))} CPU(s) each; ask for 2 "
        "with .options(num_cpus=2)",
    )
    peak = evidence.max_at_once(runs)
    cpus = g.cpus()
    g.expect(
        peak == cpus // 2,
        f"so at most {peak} ran at once on {cpus:g} CPUs (by the workers' own clocks): the "
        "scheduler did the limiting",
        f"at most {peak} heavy_step task(s) ran at once on {cpus:g} CPUs; expected "
        f"{cpus // 2:g}, as many as fit at 2 CPUs each"
        + (": submit them all before you get any result" if peak < cpus // 2 else ""),
    )


def _grade_share_gpus(share_the_gpus: Any, g: Grader) -> None:
    with g.stand_in(share_the_gpus, gpu_step=g.twins.function("gpu_step", _gpu_step)):
        value = g.run(share_the_gpus, 4)
    g.expect(
        isinstance(value, list) and len(value) == 4,
        "it returned one entry per task",
        f"share_the_gpus(4) returned {value!r}; expected a list of 4 GPU id lists",
    )
    runs = g.expect_from_tasks(value, "gpu_step", "the GPU ids", count=4)
    g.expect(
        all(isinstance(ids, list) and len(ids) == 1 for ids in value)
        and sorted(str(ids[0]) for ids in value) == ["0", "0", "1", "1"],
        f"each task saw one GPU id, and each of the two GPUs was shared by two tasks: {value}",
        f"the tasks saw the GPU ids {value}; expected each of GPU 0 and GPU 1 twice (two "
        "tasks per GPU)",
    )
    tasks = g.record.tasks("gpu_step")
    g.expect_known(
        lambda: _asked(tasks, "GPU") == {0.5},
        "each gpu_step task asked for half a GPU",
        f"the gpu_step tasks asked for {sorted(_asked(tasks, 'GPU'))} GPU(s) each; ask for 0.5 "
        "with .options(num_gpus=0.5)",
    )
    # The ids are the evidence that the tasks held their halves together: the scheduler hands
    # out GPU 1 only while two tasks hold GPU 0, and puts a fourth task on GPU 1 only while GPU 0
    # is still full, so [0, 0, 1, 1] needs at least three tasks holding a share at once (one
    # after another, every task would get GPU 0). How many *ran* at the same moment also depends
    # on how fast the backend starts worker processes (Ray starts them on demand; on a busy
    # machine a 0.4 s task can end before the third one is up), so that is shown, not graded.
    peak = evidence.max_at_once(runs)
    g.note(f"{peak} ran at the same moment by the workers' clocks (worker start-up decides that)")


def _grade_licences(licensed_runs: Any, g: Grader) -> None:
    jobs = random.sample(["alpha", "beta", "gamma", "delta", "kappa", "omega", "sigma"], 6)
    with g.stand_in(licensed_runs, solver=g.twins.function("solver", _solver)):
        value = g.run(licensed_runs, jobs)
    want = [f"solved {j}" for j in jobs]
    g.expect(
        value == want,
        "it returned every job's result, in order",
        f"licensed_runs({jobs}) returned {value!r}; expected {want}",
    )
    runs = g.expect_from_tasks(value, "solver", "every result", count=len(jobs))
    tasks = g.record.tasks("solver")
    g.expect_known(
        lambda: _asked(tasks, "licence") == {1.0},
        "each solver task took one licence",
        "the solver tasks did not ask for a licence: add resources={'licence': 1} to their "
        "options, so the cluster never runs more of them than there are licences",
    )
    peak = evidence.max_at_once(runs)
    g.expect(
        peak == 2,
        "at most 2 ran at once (by the workers' own clocks): one per licence",
        f"at most {peak} solver task(s) ran at once; expected 2 (the cluster has 2 licences)"
        + (": submit them all before you get any result" if peak < 2 else ""),
    )


def _pg_module() -> Any:
    """`<backend>.util.placement_group` of the backend the lesson runs on."""
    import importlib

    from rayground.course.observe import api

    return importlib.import_module(f"{api().__name__}.util.placement_group")


def _shard(i: int) -> str:
    time.sleep(0.1)
    current = _pg_module().get_current_placement_group()
    return f"shard {i} in {current.id.hex() if current is not None else 'no group'}"


def _grade_gang(gang_run: Any, g: Grader) -> None:
    n = random.randint(2, 4)
    with g.stand_in(gang_run, shard=g.twins.function("shard", _shard)):
        value = g.run(gang_run, n)
    g.expect(
        isinstance(value, list) and len(value) == n,
        "it returned one result per shard",
        f"gang_run({n}) returned {value!r}; expected a list of {n} shard results",
    )
    g.expect_from_tasks(value, "shard", "every result", count=n)
    # Each result says, from inside its task, which placement group the task ran in; the
    # cluster's own table then says what that group was and what became of it.
    groups = {str(v).rpartition(" in ")[2] for v in value}
    g.expect(
        len(groups) == 1 and "no group" not in groups,
        f"every shard task ran inside one placement group ({next(iter(groups))[:12]}...)",
        f"the shard tasks ran in {sorted(groups)}: schedule each one into the group with "
        "scheduling_strategy=PlacementGroupSchedulingStrategy(pg, i)",
    )
    table = _pg_module().placement_group_table()
    row = table.get(next(iter(groups)))
    g.expect(
        row is not None
        and row["strategy"] == "STRICT_PACK"
        and [row["bundles"][k] for k in sorted(row["bundles"])] == [{"CPU": 1.0}] * n,
        f"the group held {n} bundles of 1 CPU, all on one node (STRICT_PACK)",
        f"the group was {row and row['strategy']} with bundles {row and row['bundles']}; "
        f"reserve {n} bundles of {{'CPU': 1}} with strategy='STRICT_PACK'",
    )
    g.expect(
        row["state"] == "REMOVED",
        "and it was removed afterwards: its CPUs are free again",
        f"the group is still {row['state']}: remove_placement_group(pg) when the shards are "
        "done, or its CPUs stay reserved",
    )


def _render(frame: int) -> str:
    time.sleep(0.2)
    return f"frame {frame} rendered"


def _grade_diagnose(render_all: Any, g: Grader) -> None:
    frames = random.sample(range(100, 999), random.randint(5, 7))
    # The twin keeps the lesson's own request (4 CPUs), as the learner's render has it.
    twin = g.twins.function("render", _render, num_cpus=4)
    with g.stand_in(render_all, render=twin):
        value = g.run(render_all, frames)
    want = [f"frame {f} rendered" for f in frames]
    g.expect(
        value == want,
        f"render_all({frames}) returned every frame rendered, in order",
        f"render_all({frames}) returned {value!r}; expected {want}",
    )
    runs = g.expect_from_tasks(value, "render", "every rendered frame", count=len(frames))
    tasks = g.record.tasks("render")
    g.expect_known(
        lambda: _asked(tasks, "CPU") == {1.0},
        "each render task asked for the 1 CPU it uses",
        f"the render tasks asked for {sorted(_asked(tasks, 'CPU'))} CPU(s) each; render works "
        "on one core: ask for what it uses, 1 CPU, with .options(num_cpus=1)",
    )
    # Whether they could run side by side is the scheduler's to decide once every task is
    # submitted before the first one ends (the records' own times); how many then *ran* at the
    # same moment also depends on how fast the backend starts workers (Ray starts them on
    # demand, slowly on a busy machine), so that is shown, not graded.
    ends = [t.end for t in tasks if t.end is not None]
    g.expect_known(
        lambda: bool(ends) and max(t.created for t in tasks) < min(ends),
        "every render task was submitted before the first one finished, so the scheduler could "
        "run them side by side",
        "the render tasks were submitted one after another, each after the one before finished: "
        "submit them all, then get the whole list",
    )
    g.note(f"{evidence.max_at_once(runs)} ran at the same moment by the workers' clocks")


_GANG_SOLUTION = """def gang_run(n):
    pg = placement_group([{"CPU": 1}] * n, strategy="STRICT_PACK")
    ray.get(pg.ready())
    try:
        return ray.get([
            shard.options(
                scheduling_strategy=PlacementGroupSchedulingStrategy(pg, i)
            ).remote(i)
            for i in range(n)
        ])
    finally:
        remove_placement_group(pg)
"""

EXERCISES = [
    Exercise(
        id="two_at_a_time",
        title="Big tasks take more CPUs",
        answer="two_at_a_time",
        grade=_grade_two_at_a_time,
        hints=(
            "A task's options say what it needs: heavy_step.options(num_cpus=2).",
            "Submit every item with that option, then get the list: the scheduler runs only as "
            "many as the CPUs allow.",
            "Shape: big = heavy_step.options(...); return ray.get(<one big call per item>).",
        ),
        solution="""def two_at_a_time(items):
    big = heavy_step.options(num_cpus=2)
    return ray.get([big.remote(i) for i in items])
""",
        try_next="ask for num_cpus=2 per heavy_step task and submit them all at once.",
    ),
    Exercise(
        id="share_gpus",
        title="Two tasks per GPU",
        answer="share_the_gpus",
        grade=_grade_share_gpus,
        hints=(
            "num_gpus can be a fraction: 0.5 lets two tasks share one GPU.",
            "Submit all n gpu_step tasks with that option before you get any result.",
            "Shape: half = gpu_step.options(num_gpus=...); return ray.get([<n calls of half>]).",
        ),
        solution="""def share_the_gpus(n):
    half = gpu_step.options(num_gpus=0.5)
    return ray.get([half.remote() for _ in range(n)])
""",
        try_next="ask for num_gpus=0.5 per gpu_step task and submit them all at once.",
    ),
    Exercise(
        id="licences",
        title="A custom resource",
        answer="licensed_runs",
        grade=_grade_licences,
        hints=(
            "Custom resources are requested by name: .options(resources={'licence': 1}).",
            "Give every solver task one licence and submit them all at once: the cluster never "
            "runs more than there are licences.",
            "Shape: licensed = solver.options(resources=...); then one licensed call per job, "
            "all submitted before one ray.get of the list.",
        ),
        solution="""def licensed_runs(jobs):
    licensed = solver.options(resources={"licence": 1})
    return ray.get([licensed.remote(j) for j in jobs])
""",
        try_next="give each solver task resources={'licence': 1} and submit them all at once.",
    ),
    Exercise(
        id="diagnose",
        title="Diagnose tasks that wait for nothing",
        answer="render_all",
        grade=_grade_diagnose,
        hints=(
            "Read the %%ray_explain report and the timeline: how many render tasks ran at once, "
            "on how many CPUs? What does each one ask the scheduler for?",
            "render asks for 4 CPUs but works on one: the scheduler can fit only one such task "
            "on this node at a time. Ask for what it really uses.",
            "Shape: return ray.get([render.options(num_cpus=<what it uses>).remote(f) for f in "
            "frames]).",
        ),
        solution="""def render_all(frames):
    return ray.get([render.options(num_cpus=1).remote(frame) for frame in frames])
""",
        try_next="read the report above; ask the scheduler for what render really uses.",
    ),
    Exercise(
        id="gang",
        title="Reserve first, then run",
        answer="gang_run",
        grade=_grade_gang,
        hints=(
            "placement_group([{'CPU': 1}] * n, strategy='STRICT_PACK') reserves n CPUs on one "
            "node; ray.get(pg.ready()) waits until they are held.",
            "Run shard i in bundle i: its .options() take a scheduling strategy that names "
            "the group and the bundle's index (rayground.util.scheduling_strategies).",
            "Get every result, then remove_placement_group(pg) (a try/finally keeps that "
            "promise even when a shard fails).",
        ),
        solution=_GANG_SOLUTION,
        try_next="reserve the group, run the shards in it, then remove it.",
    ),
]
