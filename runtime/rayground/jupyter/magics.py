"""IPython magics: `%load_ext rayground`, then %ray_init, %ray_shutdown, the live views and
%%ray_explain.

Every magic displays something with a stable text/plain form (nbval compares it); bad arguments
raise UsageError with what was wrong and what to type instead.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from . import session
from .backends import InitArgs, parse_resources, parse_size


def _init_args(line: str, magic: Any) -> InitArgs:
    opts = parse_argstring(magic, line)
    if opts.num_cpus is not None and opts.num_cpus < 0:
        raise UsageError(f"--num-cpus must be >= 0, got {opts.num_cpus:g}")
    if opts.num_gpus is not None and opts.num_gpus < 0:
        raise UsageError(f"--num-gpus must be >= 0, got {opts.num_gpus:g}")
    try:
        resources = parse_resources(opts.resources) if opts.resources else ()
        store = parse_size(opts.object_store_memory) if opts.object_store_memory else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if store is not None and store < 1024 * 1024:
        raise UsageError(f"--object-store-memory must be at least 1MiB, got {store} bytes")
    if opts.address and any(v is not None for v in (opts.num_cpus, opts.num_gpus, store)) | bool(
        resources
    ):
        raise UsageError(
            "--address joins a running cluster, whose resources were set where it was started; "
            "drop --num-cpus/--num-gpus/--resources/--object-store-memory, or drop --address "
            "to start a cluster of your own."
        )
    return InitArgs(
        num_cpus=opts.num_cpus,
        num_gpus=opts.num_gpus,
        resources=resources,
        object_store_memory=store,
        address=opts.address or None,
        backend=opts.backend,
    )


@magics_class
class RayMagics(Magics):
    @line_magic
    @magic_arguments()
    @argument("--num-cpus", type=float, default=None, help="CPUs of the local cluster")
    @argument("--num-gpus", type=float, default=None, help="GPUs of the local cluster")
    @argument("--resources", default=None, help="custom resources as JSON, e.g. '{\"disk\": 2}'")
    @argument("--object-store-memory", default=None, help="store size: bytes, or e.g. 512MiB, 2GB")
    @argument("--address", default=None, help="join a running cluster: 'auto' or host:port")
    @argument(
        "--backend",
        default="rayground",
        choices=["rayground", "ray"],
        help="rayground (default) or real Ray (needs `pip install 'rayground[ray]'`)",
    )
    def ray_init(self, line: str) -> None:
        """Start or join a cluster and show its status. Same arguments again reuse it; new ones
        restart it."""
        args = _init_args(line, self.ray_init)
        try:
            outcome = session.ensure(args)
        except ImportError as exc:
            raise UsageError(str(exc)) from None  # for --backend ray: how to install Ray
        except (ValueError, TypeError, ConnectionError) as exc:
            raise UsageError(f"%ray_init failed: {exc}") from None
        from . import routing

        routing.install(self.shell)
        display(session.StatusView(outcome.backend.status(), outcome.message))

    def _view(self, kind: str, line: str, **kwargs: Any) -> None:
        from . import views

        if session.current(required=False) is None:
            raise UsageError(f"%ray_{kind} needs a cluster: run %ray_init first.")
        try:
            view = views.VIEWS[kind](session.current(), **kwargs)
        except Exception as exc:
            raise UsageError(f"%ray_{kind} could not read the cluster's state: {exc}") from None
        if "--static" in line.split():
            views.last_static = view
        else:
            view.start()
        display(view)

    @line_magic
    @magic_arguments()
    @argument("--static", action="store_true", help="show the state now, without live updates")
    def ray_status(self, line: str) -> None:
        """Live cluster status: nodes, resources, store use, tasks and actors."""
        parse_argstring(self.ray_status, line)
        self._view("status", line)

    @line_magic
    @magic_arguments()
    @argument("--static", action="store_true", help="show the state now, without live updates")
    @argument("--limit", type=int, default=100_000, help="newest tasks to draw (default 100000)")
    @argument("graph", nargs="?", default=None, help="a bound graph (rayground.dag) to draw")
    def ray_dag(self, line: str) -> None:
        """Live task graph: edges from the refs each task consumed, coloured by state; grouped by
        function when large. `%ray_dag NAME` draws the bound graph NAME before it runs."""
        opts = parse_argstring(self.ray_dag, line)
        if opts.limit < 1:
            raise UsageError(f"--limit must be >= 1, got {opts.limit}")
        if opts.graph is not None:
            self._bound_graph(opts.graph)
            return
        self._view("dag", line, limit=opts.limit)

    def _bound_graph(self, name: str) -> None:
        from .. import dag

        node = self.shell.user_ns.get(name)
        if not isinstance(node, dag.DAGNode):
            raise UsageError(
                f"%ray_dag {name}: {name!r} is not a bound graph; give the name of a variable "
                "made with .bind() (e.g. dag = f.bind(x)), or no name for the live task graph."
            )
        display(node._repr_mimebundle_(), raw=True)

    @line_magic
    @magic_arguments()
    @argument("--static", action="store_true", help="show the state now, without live updates")
    def ray_objects(self, line: str) -> None:
        """Live object store: objects with preview, shape/dtype, size, holders; click to see one."""
        parse_argstring(self.ray_objects, line)
        self._view("objects", line)

    @line_magic
    @magic_arguments()
    @argument("--static", action="store_true", help="show the state now, without live updates")
    def ray_actors(self, line: str) -> None:
        """Live actors: state, pid, calls done and queued."""
        parse_argstring(self.ray_actors, line)
        self._view("actors", line)

    @line_magic
    @magic_arguments()
    @argument("--static", action="store_true", help="show the state now, without live updates")
    def ray_timeline(self, line: str) -> None:
        """Live timeline: tasks per worker over time (matplotlib)."""
        parse_argstring(self.ray_timeline, line)
        self._view("timeline", line)

    @line_magic
    @magic_arguments()
    @argument("--static", action="store_true", help="show the state now, without live updates")
    def serve_status(self, line: str) -> None:
        """Live Serve view: applications, deployments, replicas, requests/s and queue lengths."""
        parse_argstring(self.serve_status, line)
        from . import serve_view, views

        views.VIEWS.setdefault("serve", serve_view.ServeLive)
        self._view("serve", line)

    @cell_magic
    def ray_explain(self, line: str, cell: str) -> None:
        """Run the cell, then explain how it ran: tasks, parallelism against CPUs, time spent
        waiting, and the anti-patterns it showed, each with its fix."""
        from . import analysis

        if line.strip():
            raise UsageError("%%ray_explain takes no arguments; put the code in the cell below")
        backend = session.current(required=False)
        if backend is None:
            raise UsageError("%%ray_explain needs a cluster: run %ray_init first.")
        with analysis.watch(backend) as run:
            self.shell.run_cell(cell, store_history=False)
        display(analysis.ReportView(run.report()))

    @line_magic
    def ray_shutdown(self, line: str) -> None:
        """Stop the cluster this kernel started (or leave the one it joined)."""
        if line.strip():
            raise UsageError("%ray_shutdown takes no arguments")
        outcome = session.stop()
        if outcome == "stopped":
            print("Cluster shut down.")
        elif outcome == "left":
            print("Disconnected; the cluster this kernel joined keeps running.")
        else:
            print("No cluster was running.")


def register(ipython: Any) -> None:
    ipython.register_magics(RayMagics)
