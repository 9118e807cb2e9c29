"""`rayground serve run|status|shutdown`, as Ray's `serve` command.

    rayground serve run module:app [--address A] [--host H] [--port P] [--name N]
                                   [--route-prefix /p] [--app-dir DIR] [--non-blocking]
    rayground serve status [--address A]        applications, deployments, replicas (YAML-like)
    rayground serve shutdown [--address A] [-y] delete every application and stop Serve

`serve run` connects to the cluster at --address (or starts a private one), imports the
application from `module:attribute` (the module is looked up in --app-dir, the current
directory by default), deploys it and, unless --non-blocking, serves until Ctrl-C, then shuts
Serve down. Errors are one line (the `rayground` command prints them).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from typing import Any


def add_parser(sub: Any) -> None:
    """Register `serve` and its subcommands on the `rayground` command's subparsers."""
    serve = sub.add_parser(
        "serve",
        help="run, inspect and stop Serve applications (as Ray's `serve` command)",
        description="Run a Serve application from its import path, show Serve's status, or "
        "shut Serve down.",
    )
    commands = serve.add_subparsers(dest="serve_command", required=True, metavar="SUBCOMMAND")

    run = commands.add_parser(
        "run",
        help="deploy an application and serve it until Ctrl-C",
        description="Import an application (`module:attribute`, a bound deployment), deploy it "
        "and serve it over HTTP until Ctrl-C, then shut Serve down.",
    )
    run.add_argument("import_path", help="module:attribute, e.g. serve_pipeline:app")
    run.add_argument("--address", help="cluster to use ('auto', host:port); default: a new one")
    run.add_argument("--host", default="127.0.0.1", help="HTTP host (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    run.add_argument("--name", default="default", help="application name (default 'default')")
    run.add_argument("--route-prefix", default="/", help="route prefix (default '/')")
    run.add_argument(
        "--app-dir", default=".", help="directory to import the module from (default: .)"
    )
    run.add_argument(
        "--non-blocking", action="store_true", help="return once the application is running"
    )
    run.set_defaults(func=_run)

    status = commands.add_parser(
        "status",
        help="applications, deployments and replicas",
        description="Show every application's status and its deployments' replica states.",
    )
    status.add_argument("--address", default="auto", help="cluster (default 'auto')")
    status.set_defaults(func=_status)

    shutdown = commands.add_parser(
        "shutdown",
        help="delete every application and stop Serve",
        description="Delete every application and stop Serve's controller and HTTP proxy.",
    )
    shutdown.add_argument("--address", default="auto", help="cluster (default 'auto')")
    shutdown.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    shutdown.set_defaults(func=_shutdown)


def _load(import_path: str, app_dir: str) -> Any:
    module_name, _, attribute = import_path.partition(":")
    if not module_name or not attribute:
        raise RuntimeError(
            f"The import path must be module:attribute (e.g. serve_pipeline:app), got "
            f"{import_path!r}."
        )
    directory = os.path.abspath(app_dir)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RuntimeError(
            f"Could not import {module_name!r} ({exc}). Run from the directory that holds it, "
            "or pass --app-dir."
        ) from None
    try:
        target = getattr(module, attribute)
    except AttributeError:
        raise RuntimeError(
            f"Module {module_name!r} has no attribute {attribute!r}; it should be the bound "
            "application (e.g. app = MyDeployment.bind())."
        ) from None
    return target


def _run(args: argparse.Namespace) -> int:
    import rayground
    from rayground import serve

    rayground.init(address=args.address)
    app = _load(args.import_path, args.app_dir)
    if isinstance(app, serve.Deployment):
        raise RuntimeError(
            f"{args.import_path} is a deployment, not an application: bind it first "
            f"(app = {app.name}.bind())."
        )
    if not isinstance(app, serve.Application):
        raise RuntimeError(
            f"{args.import_path} is a {type(app).__name__}, not an application made with "
            "Deployment.bind()."
        )
    serve.start(http_options={"host": args.host, "port": args.port})
    route_prefix = None if args.route_prefix in ("", "none", "None") else args.route_prefix
    serve.run(app, name=args.name, route_prefix=route_prefix)
    where = f"http://{args.host}:{args.port}{route_prefix or ''}"
    print(f"Deployed app '{args.name}' successfully; serving at {where}.", flush=True)
    if args.non_blocking:
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    print("Shutting down Serve.", flush=True)
    serve.shutdown()
    rayground.shutdown()
    return 0


def _status(args: argparse.Namespace) -> int:
    import rayground
    from rayground import serve

    rayground.init(address=args.address)
    try:
        print(format_status(serve.status()))
    finally:
        rayground.shutdown()
    return 0


def format_status(status: Any) -> str:
    """Ray's `serve status` layout (YAML)."""
    lines = ["proxies:"]
    lines += [f"  {node}: {state}" for node, state in status.proxies.items()] or ["  {}"]
    if not status.applications:
        lines.append("applications: {}")
    else:
        lines.append("applications:")
    for name, app in status.applications.items():
        lines += [
            f"  {name}:",
            f"    status: {app.status}",
            f"    message: {app.message!r}",
            f"    last_deployed_time_s: {app.last_deployed_time_s:.3f}",
            "    deployments:",
        ]
        for dep_name, dep in app.deployments.items():
            lines += [
                f"      {dep_name}:",
                f"        status: {dep.status}",
                "        replica_states:",
            ]
            lines += [f"          {k}: {v}" for k, v in dep.replica_states.items()] or [
                "          {}"
            ]
            lines.append(f"        message: {dep.message!r}")
    lines.append("target_capacity: null")
    return "\n".join(lines)


def _shutdown(args: argparse.Namespace) -> int:
    import rayground
    from rayground import serve

    if not args.yes and sys.stdin.isatty():
        answer = input("This deletes every Serve application on the cluster. Continue? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing was changed.")
            return 1
    rayground.init(address=args.address)
    try:
        serve.shutdown()
    finally:
        rayground.shutdown()
    print("Serve is shut down.")
    return 0
