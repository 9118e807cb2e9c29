"""Draw the course's diagrams (assets/course/*.png) with matplotlib.

    python scripts/make_assets.py            # rewrite assets/course/, embed them in the lessons
    python scripts/make_assets.py --out DIR  # draw somewhere else (the test compares the two)

The lessons carry their diagrams as markdown-cell attachments (`![...](attachment:NAME.png)`),
so an image shows however a lesson is opened: JupyterLab rooted in notebooks/ (the main job),
Notebook 7, JupyterHub, Binder, or a copy of one notebook anywhere. A link to ../assets/ would
point outside the server's root in most of those.

Every picture is drawn from the data below, so a change to a lesson's story is a change here,
reviewed like code. Output is deterministic for a given matplotlib (fixed sizes, DPI and fonts,
no timestamps in the PNG metadata); tests/course/test_assets.py checks that the committed PNGs
are what this script draws.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "assets" / "course"
DPI = 100

BLUE, ORANGE, GREEN, GREY, PURPLE = "#4c78a8", "#f58518", "#54a24b", "#9d9d9d", "#b279a2"
INK = "#222222"

plt.rcParams.update(
    {
        "font.family": "DejaVu Sans",
        "font.size": 11,
        "axes.edgecolor": INK,
        "savefig.facecolor": "white",
        "path.simplify": False,
    }
)


def _canvas(width: float, height: float) -> tuple[plt.Figure, plt.Axes]:
    fig = plt.figure(figsize=(width, height), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width * 10)
    ax.set_ylim(0, height * 10)
    ax.axis("off")
    return fig, ax


def _box(ax: plt.Axes, x: float, y: float, w: float, h: float, text: str, color: str,
         fontsize: float = 11, alpha: float = 0.25) -> None:  # fmt: skip
    ax.add_patch(
        FancyBboxPatch(
            (x, y), w, h, boxstyle="round,pad=0.4,rounding_size=1.2",
            facecolor=color, alpha=alpha, edgecolor=color, linewidth=2,
        )
    )  # fmt: skip
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize, color=INK)


def _arrow(ax: plt.Axes, start: tuple[float, float], end: tuple[float, float],
           color: str = INK, style: str = "-|>", rad: float = 0.0) -> None:  # fmt: skip
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle=style, mutation_scale=14, color=color, linewidth=1.6,
            connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2,
        )
    )  # fmt: skip


def cluster(ax: plt.Axes) -> None:
    """00: the processes of a cluster on one machine."""
    _box(ax, 4, 44, 24, 10, "your notebook\n(the driver)", ORANGE)
    _box(ax, 40, 44, 36, 10, "head\nscheduler · object directory · events", BLUE)
    _arrow(ax, (28.5, 49), (39.5, 49))
    ax.text(34, 51.5, "submit", ha="center", fontsize=9)
    for i in range(4):
        x = 8 + i * 22
        _box(ax, x, 22, 16, 8, f"worker {i + 1}", GREEN)
        _arrow(ax, (58, 43.5), (x + 8, 30.5), color=GREY)
    _box(ax, 8, 4, 82, 8, "object store: shared memory every process on the machine can read",
         PURPLE)  # fmt: skip
    for i in range(4):
        _arrow(ax, (16 + i * 22, 21.5), (16 + i * 22, 12.5), color=PURPLE, style="<|-|>")


def sequential_vs_parallel(ax: plt.Axes) -> None:
    """01: eight 0.2 s tasks one after another, and on 4 CPUs."""
    ax.axis("on")
    ax.set_xlim(-0.45, 1.7)
    ax.set_ylim(-0.6, 6.2)
    ax.set_yticks([])
    ax.set_xticks([0, 0.4, 0.8, 1.2, 1.6])
    ax.set_xlabel("seconds")
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    for i in range(8):  # one lane, one after another
        ax.barh(5.2, 0.19, left=i * 0.2, height=0.7, color=ORANGE, edgecolor="white")
        ax.text(i * 0.2 + 0.095, 5.2, str(i), ha="center", va="center", fontsize=9)
    ax.text(-0.43, 5.2, "a loop\n(1 process)", va="center", fontsize=10)
    for i in range(8):  # four lanes, two waves
        lane, wave = i % 4, i // 4
        y = 3.3 - lane * 0.95
        ax.barh(y, 0.19, left=wave * 0.2, height=0.7, color=GREEN, edgecolor="white")
        ax.text(wave * 0.2 + 0.095, y, str(i), ha="center", va="center", fontsize=9)
    ax.text(-0.43, 1.9, "tasks on\n4 CPUs", va="center", fontsize=10)
    ax.annotate("", xy=(0.4, 4.25), xytext=(1.6, 4.25),
                arrowprops={"arrowstyle": "<->", "color": GREY})  # fmt: skip
    ax.text(1.0, 4.45, "time saved", ha="center", fontsize=9, color=INK)


def task_graph(ax: plt.Axes) -> None:
    """02: three loads feed three cleans, which feed one merge."""
    sources = ["db", "api", "files"]
    for i, name in enumerate(sources):
        y = 40 - i * 15
        _box(ax, 4, y, 20, 8, f"load({name!r})", BLUE)
        _box(ax, 38, y, 20, 8, "clean(rows)", GREEN)
        _arrow(ax, (24.5, y + 4), (37.5, y + 4))
        _arrow(ax, (58.5, y + 4), (71.5, 29), rad=0.0)
    _box(ax, 72, 25, 20, 8, "merge(*parts)", ORANGE)
    ax.text(14, 3, "step 1: together", ha="center", fontsize=9, color=GREY)
    ax.text(48, 3, "step 2: each as its\nload finishes", ha="center", fontsize=9, color=GREY)
    ax.text(82, 3, "step 3", ha="center", fontsize=9, color=GREY)


def actor(ax: plt.Axes) -> None:
    """03: many callers, one actor process, one call at a time."""
    callers = ["notebook", "task A", "task B", "task C"]
    for i, name in enumerate(callers):
        y = 44 - i * 12
        _box(ax, 4, y, 16, 7, name, ORANGE if i == 0 else GREEN)
        _arrow(ax, (20.5, y + 3.5), (39.5, 30), color=GREY)
    ax.text(30, 49, "method calls\n(.remote)", ha="center", fontsize=9)
    for j in range(4):
        _box(ax, 41 + j * 6, 27, 4, 6, "", BLUE, alpha=0.45)
    ax.text(52, 22, "queue: one call at a time,\nin each caller's order", ha="center",
            fontsize=9)  # fmt: skip
    _box(ax, 70, 20, 24, 20, "actor process\n\nself.seen = {...}\nstate kept\nbetween calls",
         PURPLE)  # fmt: skip
    _arrow(ax, (64.5, 30), (69.5, 30))


def object_store(ax: plt.Axes) -> None:
    """04: passing by value copies per call; put once shares one copy."""
    ax.text(24, 55, "by value: one copy per call", ha="center", fontsize=11, weight="bold")
    _box(ax, 14, 40, 20, 7, "array (40 MB)", ORANGE)
    for i in range(4):
        x = 2 + i * 12
        _box(ax, x, 10, 9, 7, "copy", ORANGE, fontsize=9)
        _arrow(ax, (24, 39.5), (x + 4.5, 17.5), color=ORANGE)
    ax.text(24, 3, "4 calls → 4 × 40 MB written", ha="center", fontsize=9)

    ax.text(76, 55, "ray.put once: one copy, many readers", ha="center", fontsize=11,
            weight="bold")  # fmt: skip
    _box(ax, 62, 40, 28, 7, "object store: array (40 MB)", PURPLE)
    for i in range(4):
        x = 56 + i * 11
        _box(ax, x, 10, 8, 7, f"task {i + 1}", GREEN, fontsize=9)
        _arrow(ax, (x + 4, 17.5), (76, 39.5), color=PURPLE)
    ax.text(76, 3, "tasks read the same memory (zero-copy)", ha="center", fontsize=9)


def get_in_loop(ax: plt.Axes) -> None:
    """05: get inside the submit loop vs submit all, then get."""
    ax.axis("on")
    ax.set_xlim(-0.5, 0.9)
    ax.set_ylim(-0.6, 6.0)
    ax.set_yticks([])
    ax.set_xticks([0, 0.2, 0.4, 0.6, 0.8])
    ax.set_xlabel("seconds")
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    for i in range(8):  # submit, wait, submit, wait: one lane
        ax.barh(5.0, 0.095, left=i * 0.1, height=0.7, color=ORANGE, edgecolor="white")
        ax.text(i * 0.1 + 0.047, 5.0, str(i), ha="center", va="center", fontsize=9)
    ax.text(-0.48, 5.0, "get inside\nthe loop", va="center", fontsize=10)
    for i in range(8):  # all submitted at once: 4 lanes, two waves
        lane, wave = i % 4, i // 4
        y = 3.2 - lane * 0.95
        ax.barh(y, 0.095, left=wave * 0.1, height=0.7, color=GREEN, edgecolor="white")
        ax.text(wave * 0.1 + 0.047, y, str(i), ha="center", va="center", fontsize=9)
    ax.text(-0.48, 1.8, "submit all,\nthen get\n(4 CPUs)", va="center", fontsize=10)


def failures(ax: plt.Axes) -> None:
    """06: what the cluster does when code raises, a worker dies, an actor dies."""
    rows = [
        ("your code raises", "get raises the error", "retried only with\nretry_exceptions"),
        ("a worker dies", "task retried in a\nnew worker (max_retries)",
         "WorkerCrashedError\nwhen out of retries"),
        ("an actor dies", "restarted, fresh state\n(max_restarts)",
         "calls in flight re-run\n(max_task_retries)"),
        ("a node dies", "task results rebuilt\nfrom lineage", "put objects lost:\nObjectLostError"),
    ]  # fmt: skip
    ax.text(14, 56, "what failed", ha="center", fontsize=11, weight="bold")
    ax.text(48, 56, "what the cluster does", ha="center", fontsize=11, weight="bold")
    ax.text(82, 56, "and then", ha="center", fontsize=11, weight="bold")
    for i, (what, does, then) in enumerate(rows):
        y = 42 - i * 13
        _box(ax, 3, y, 22, 8, what, ORANGE)
        _box(ax, 36, y, 24, 8, does, BLUE, fontsize=10)
        _box(ax, 70, y, 24, 8, then, GREEN if i != 3 else PURPLE, fontsize=10)
        _arrow(ax, (25.5, y + 4), (35.5, y + 4))
        _arrow(ax, (60.5, y + 4), (69.5, y + 4))


def resources(ax: plt.Axes) -> None:
    """07: a node's 4 CPUs filled by 1-CPU tasks, or by 2-CPU tasks two at a time."""
    for col, (title, per, color) in enumerate(
        [("num_cpus=1: four at once", 1, GREEN), ("num_cpus=2: two at once", 2, ORANGE)]
    ):
        x0 = 6 + col * 48
        ax.text(x0 + 20, 40, title, ha="center", fontsize=11, weight="bold")
        _box(ax, x0, 8, 40, 26, "", GREY, alpha=0.12)
        ax.text(x0 + 20, 4, "node: 4 CPUs", ha="center", fontsize=9, color=GREY)
        for t in range(4 // per):
            label = f"task\n{per} CPU" + ("s" if per > 1 else "")
            _box(ax, x0 + 2 + t * 9.5 * per, 14, 9.5 * per - 3, 14, label, color)


def cluster_nodes(ax: plt.Axes) -> None:
    """08: a driver, a head and worker nodes joined over TCP with the token."""
    _box(ax, 4, 40, 22, 10, "your program\n(the driver)", ORANGE)
    _box(ax, 38, 38, 28, 14, "head node\nscheduler · objects'\nwhereabouts", BLUE)
    _arrow(ax, (26.5, 45), (37.5, 45))
    ax.text(32, 48, "token", ha="center", fontsize=9)
    for i in range(3):
        x = 8 + i * 30
        _box(ax, x, 12, 24, 13, f"worker node {i + 1}\nCPUs · GPUs\nobject store", GREEN)
        _arrow(ax, (x + 12, 25.5), (52, 37.5), color=GREY, style="<|-|>")
    ax.text(84, 31, "nodes join with\nstart --address\n(TCP + token)", ha="center", fontsize=9)
    _arrow(ax, (20, 10.5), (80, 10.5), color=PURPLE, style="<|-|>", rad=0.12)
    ax.text(50, 1.5, "objects are copied between nodes on demand", ha="center", fontsize=9,
            color=PURPLE)  # fmt: skip


def pipeline(ax: plt.Axes) -> None:
    """09: map over shards, reduce the partial results, produce the report."""
    _box(ax, 3, 22, 16, 10, "penguins.csv\n344 rows", GREY)
    for i in range(4):
        y = 42 - i * 12
        _box(ax, 30, y, 20, 7, f"summarize(shard {i + 1})", GREEN, fontsize=10)
        _arrow(ax, (19.5, 27), (29.5, y + 3.5), color=GREY)
        _arrow(ax, (50.5, y + 3.5), (61.5, 27), color=GREY)
    _box(ax, 62, 22, 14, 10, "merge\n(reduce)", BLUE)
    _box(ax, 84, 22, 12, 10, "report\n(produce)", ORANGE)
    _arrow(ax, (76.5, 27), (83.5, 27))
    ax.text(40, 2, "map: one task per shard, in parallel", ha="center", fontsize=9)
    ax.text(69, 15, "fan in", ha="center", fontsize=9)
    ax.text(90, 15, "table + plot", ha="center", fontsize=9)


DIAGRAMS: dict[str, tuple[Callable[[plt.Axes], None], tuple[float, float]]] = {
    "00_cluster.png": (cluster, (10.0, 6.0)),
    "01_sequential_vs_parallel.png": (sequential_vs_parallel, (9.0, 4.0)),
    "02_task_graph.png": (task_graph, (10.0, 5.2)),
    "03_actor.png": (actor, (10.0, 5.6)),
    "04_object_store.png": (object_store, (10.0, 6.0)),
    "05_get_in_loop.png": (get_in_loop, (9.0, 4.0)),
    "06_failures.png": (failures, (10.0, 6.0)),
    "07_resources.png": (resources, (10.0, 4.6)),
    "08_cluster.png": (cluster_nodes, (10.0, 5.6)),
    "09_pipeline.png": (pipeline, (10.0, 5.2)),
}


def draw_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (draw, size) in DIAGRAMS.items():
        if draw in (sequential_vs_parallel, get_in_loop):
            fig = plt.figure(figsize=size, dpi=DPI)
            ax = fig.add_axes((0.02, 0.14, 0.96, 0.84))
        else:
            fig, ax = _canvas(*size)
        draw(ax)
        path = out / name
        fig.savefig(path, dpi=DPI, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    return written


IMAGE = re.compile(
    r"!\[(?P<alt>[^\]]*)\]\((?:attachment:|\.\./assets/course/)(?P<name>[\w.-]+\.png)\)"
)


def embed_all(notebooks: Path, assets: Path) -> list[Path]:
    """Put each diagram a lesson shows into its markdown cell as an attachment (and point the
    link at it); returns the lessons that changed."""
    import base64

    import nbformat

    changed = []
    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            names = [m["name"] for m in IMAGE.finditer(cell.source)]
            if not names:
                continue
            cell.source = IMAGE.sub(r"![\g<alt>](attachment:\g<name>)", cell.source)
            cell.attachments = {
                name: {"image/png": base64.b64encode((assets / name).read_bytes()).decode()}
                for name in names
            }
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the PNGs")
    args = parser.parse_args(argv)
    for path in draw_all(args.out):
        print(path)
    if args.out == DEFAULT_OUT:
        for path in embed_all(ROOT / "notebooks", DEFAULT_OUT):
            print(f"embedded in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
