"""IPython magics: `%load_ext rayground`, then %ray_init, %ray_shutdown, the live views and
%%ray_explain.

Every magic displays something with a stable text/plain form (nbval compares it); bad arguments
raise UsageError with what was wrong and what to type instead.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
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

    @line_magic
    def ray_shutdown(self, line: str) -> None:
        """Stop the cluster this kernel started (or leave the one it joined)."""
        if line.strip():
            raise UsageError("%ray_shutdown takes no arguments")
        if session.stop():
            print("Cluster shut down.")
        else:
            print("No cluster was running.")


def register(ipython: Any) -> None:
    ipython.register_magics(RayMagics)
