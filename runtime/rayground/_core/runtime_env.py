"""runtime_env as Ray has it: env_vars, working_dir and py_modules, checked, merged and shipped.

    init (driver)                          head                  a worker on any node
    validate; pack each local path   ->  package_put(uri)  ->  package_get(uri), once a node;
    into a zip named by the hash of      (in memory, once      unzip into an owner-only
    its contents, as Ray:                per content)          <node session>/runtime_resources/
    gcs://_ray_pkg_<hash>.zip                                  then cwd and sys.path

Packages travel through the head, never as paths: a worker on another node gets the same files
although the driver's disk is not there. The hash covers every file's relative path and bytes,
so an unchanged directory is uploaded once however often it is named.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import exceptions
from . import context

# Ray's limit: a package is one gRPC message, 512 MiB (RAY_max_grpc_message_size).
MAX_PACKAGE_SIZE = int(os.environ.get("RAY_max_grpc_message_size", 512 * 1024 * 1024))  # noqa: SIM112
CHUNK = 16 * 1024 * 1024  # a package moves in pieces below the wire's frame limit
URI_PREFIX = "gcs://_ray_pkg_"
_HONOURED = {"env_vars", "working_dir", "py_modules", "excludes", "config"}
# Ray's own keys that need a package manager or a container on every node.
_NEEDS_RAY = {"pip", "conda", "uv", "container", "image_uri", "java_jars", "py_executable"}
_IGNORE_FILES = (".gitignore", ".rayignore")
logger = logging.getLogger("rayground")
_warned: set[str] = set()  # unknown fields already warned about (once a process)


def _package_name(uri: str) -> str:
    """The hash in a package uri: also the name of its directory on each node, so nothing but
    hex digits may pass (a uri comes from whoever submitted the task)."""
    name = uri[len(URI_PREFIX) :].removesuffix(".zip") if uri.startswith(URI_PREFIX) else ""
    if not re.fullmatch(r"[0-9a-f]{1,64}", name) or not uri.endswith(".zip"):
        raise ValueError(f"not a rayground package uri: {uri!r} (gcs://_ray_pkg_<hex>.zip)")
    return name


def default_excludes() -> list[str]:
    """What Ray leaves out of every working_dir, overridable as in Ray."""
    val = os.environ.get("RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES", ".git,.venv,venv,__pycache__")
    return [x.strip() for x in val.split(",") if x.strip()]


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.2f}MiB"


# ------------------------------------------------------------------ checking what the user gave
def validate(runtime_env: Any, job_level: bool = True) -> dict[str, Any]:
    """A plain-dict copy of `runtime_env`, or a clear error saying what is wrong with it.

    Local paths must exist now (as Ray checks at `init`); a task's or actor's own runtime_env
    may name only packages already shipped (uris), as in Ray."""
    if runtime_env is None:
        return {}
    if not isinstance(runtime_env, dict):
        raise TypeError(
            f"runtime_env must be a dict such as {{'env_vars': {{'A': '1'}}}}, got "
            f"{type(runtime_env).__name__}"
        )
    renv = dict(runtime_env)
    cannot = sorted(set(renv) & _NEEDS_RAY)
    if cannot:
        raise ValueError(
            f"runtime_env {cannot} cannot be honoured by rayground: it runs tasks in this "
            "machine's Python environment and installs nothing. Install the packages into the "
            "environment the cluster runs in, or use the Ray backend (`%ray_init --backend ray`, "
            "or `import ray`), which builds such environments."
        )
    unknown = sorted(set(renv) - _HONOURED - _warned)
    if unknown:
        _warned.update(unknown)
        # Ray keeps fields it does not know (for runtime_env plugins) and runs the task; so do
        # we, but say that nothing acts on them here.
        logger.warning(
            "runtime_env field(s) %s are kept but not acted on: rayground applies only %s "
            "(and has no runtime_env plugins). Check the spelling.",
            unknown,
            sorted(_HONOURED),
        )
    env = renv.get("env_vars")
    if env is not None:
        if not isinstance(env, dict):
            raise TypeError(
                f"runtime_env['env_vars'] must be of type Dict[str, str], got {type(env)}"
            )
        for k, v in env.items():
            for x in (k, v):
                if not isinstance(x, str):  # Ray's words
                    raise TypeError(
                        "runtime_env['env_vars'] must be of type Dict[str, str], but the value "
                        f"{x} is of type {type(x)}"
                    )
        renv["env_vars"] = dict(env)
    excludes = renv.get("excludes")
    if excludes is not None and (
        not isinstance(excludes, list) or not all(isinstance(p, str) for p in excludes)
    ):
        raise TypeError("runtime_env['excludes'] must be a list of gitignore-style patterns")
    if renv.get("working_dir") is not None:
        renv["working_dir"] = _check_working_dir(renv["working_dir"], job_level)
    if renv.get("py_modules") is not None:
        renv["py_modules"] = _check_py_modules(renv["py_modules"], job_level)
    return renv


def _only_uris(value: str) -> ValueError:
    return ValueError(  # Ray's words
        f"{value} is not a valid URI. Passing directories or modules to be dynamically "
        "uploaded is only supported at the job level (i.e., passed to `ray.init`)."
    )


def _check_working_dir(value: Any, job_level: bool) -> str:
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        raise TypeError(f"runtime_env['working_dir'] must be a str, got {type(value).__name__}")
    if value.startswith(URI_PREFIX):
        return value  # already shipped (a parent's runtime_env handed down)
    if not job_level:
        raise _only_uris(value)
    if "://" in value:
        raise ValueError(
            f"runtime_env['working_dir'] = {value!r}: rayground takes a local directory or "
            ".zip file only (it fetches nothing from remote storage)."
        )
    path = Path(value).expanduser()
    if not (path.is_dir() or (path.is_file() and path.suffix == ".zip")):
        raise ValueError(  # Ray's words, with the archives rayground unpacks
            f"directory {path} must be an existing directory or a supported archive (.zip)"
        )
    return str(path.resolve())


def _check_py_modules(value: Any, job_level: bool) -> list[str]:
    if not isinstance(value, list):
        raise TypeError(f"`py_modules` must be a list of strings, got {type(value)}.")
    out = []
    for module in value:
        if isinstance(module, ModuleType):
            paths = list(getattr(module, "__path__", []) or [])
            if len(paths) > 1:
                raise ValueError(
                    "py_modules only supports modules whose __path__ has length 1 or those "
                    "who are single-file."
                )
            module = paths[0] if paths else module.__file__
        if isinstance(module, Path):
            module = str(module)
        if not isinstance(module, str):
            raise TypeError(
                f"py_modules must be a list of file paths, URIs, or imported modules, got "
                f"{type(module)}."
            )
        if module.startswith(URI_PREFIX):
            out.append(module)
            continue
        if not job_level:
            raise _only_uris(module)
        if "://" in module:
            raise ValueError(
                f"py_modules entry {module!r}: rayground takes local directories, .py files "
                "and .whl files only (it fetches nothing from remote storage)."
            )
        path = Path(module).expanduser()
        if not (path.is_dir() or (path.is_file() and path.suffix in (".py", ".whl"))):
            raise ValueError(  # Ray's words
                f"py_modules entry must be a .py file, a directory, or a .whl file; got {module}"
            )
        out.append(str(path.resolve()))
    return out


# ------------------------------------------------------------------ merging
def merge(parent: dict[str, Any] | None, child: dict[str, Any] | None) -> dict[str, Any]:
    """Ray's rule (`_merge_runtime_env(..., override=True)`): the child's fields replace the
    parent's, except env_vars, which merge per variable with the child's value winning."""
    parent = dict(parent or {})
    child = dict(child or {})
    env = {**(parent.pop("env_vars", None) or {}), **(child.pop("env_vars", None) or {})}
    merged = {**parent, **child}
    if env:
        merged["env_vars"] = env
    return merged


def worker_key(renv: dict[str, Any] | None) -> str:
    """What a worker process is bound to once it ran with this env: its cwd and sys.path.
    A worker serves only tasks with the same key (env_vars are set and restored per task)."""
    if not renv:
        return ""
    wd = renv.get("working_dir") or ""
    modules = renv.get("py_modules") or ()
    if not wd and not modules:
        return ""
    return wd + "|" + ",".join(modules)


# ------------------------------------------------------------------ packing (driver side)
def _translate(pattern: str) -> tuple[re.Pattern[str], bool, bool] | None:
    """One gitignore line as (regex over a relative posix path, negated, directory only)."""
    line = pattern.rstrip("\n")
    if not line.strip() or line.startswith("#"):
        return None
    line = line.rstrip()
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    anchored = "/" in line
    line = line.lstrip("/")
    out = []
    i = 0
    while i < len(line):
        c = line[i]
        if line.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif line.startswith("/**", i) and i + 3 == len(line):
            out.append("/.*")
            i += 3
        elif line.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = line.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = line[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        elif c == "\\" and i + 1 < len(line):
            out.append(re.escape(line[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    # A pattern naming a directory also covers everything below it.
    return re.compile(f"^{prefix}{''.join(out)}(?:/.*)?$"), negated, dir_only


class Excludes:
    """gitignore-style patterns relative to one directory, as Ray applies `excludes` and each
    directory's .gitignore / .rayignore (the last matching pattern decides; `!` re-includes)."""

    def __init__(self, root: Path, patterns: list[str]) -> None:
        self.root = root
        self.rules = [r for r in (_translate(p) for p in patterns) if r is not None]

    def excluded(self, path: Path, is_dir: bool) -> bool | None:
        """True/False if a pattern decides for `path`, None if none matches."""
        try:
            rel = path.relative_to(self.root).as_posix()
        except ValueError:
            return None
        verdict = None
        for regex, negated, dir_only in self.rules:
            if dir_only and not is_dir:
                continue  # "build/" names a directory (the walk skips what is under it)
            if regex.match(rel):
                verdict = not negated
        return verdict


def _files(root: Path, excludes: list[str]) -> Iterator[tuple[Path, str]]:
    """(file, its path inside the package) for every file under `root` not excluded."""
    user = Excludes(root, excludes)

    def walk(directory: Path, rules: list[Excludes]) -> Iterator[tuple[Path, str]]:
        rules = list(rules)
        for name in _IGNORE_FILES:
            ignore = directory / name
            if ignore.is_file():
                rules.append(Excludes(directory, ignore.read_text(errors="replace").splitlines()))
        for entry in sorted(directory.iterdir()):
            is_dir = entry.is_dir() and not entry.is_symlink()
            verdict = None
            for rule in rules:
                decided = rule.excluded(entry, is_dir)
                if decided is not None:
                    verdict = decided
            if verdict:
                continue
            if is_dir:
                yield from walk(entry, rules)
            elif entry.is_file():
                yield entry, entry.relative_to(root).as_posix()

    yield from walk(root, [user])


def pack_directory(root: Path, excludes: list[str], prefix: str = "") -> tuple[str, bytes]:
    """(uri, zip bytes) of a directory's files; the uri is the hash of paths and contents, so
    the same tree gives the same uri wherever and whenever it is packed."""
    import zipfile  # here, not at import: the head imports this module for PackageStore

    digest = hashlib.sha256()
    buf = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, rel in _files(root, excludes):
            name = prefix + rel
            data = path.read_bytes()
            total += len(data)
            _check_size(total, root)
            digest.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (path.stat().st_mode & 0o777 | stat.S_IFREG) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    data = buf.getvalue()
    _check_size(len(data), root)
    return f"{URI_PREFIX}{digest.hexdigest()[:16]}.zip", data


def pack_file(path: Path, strip_top_level: bool = False) -> tuple[str, bytes]:
    """A single file's package: a .py module in a zip, a .zip or .whl as it is (a .zip
    working_dir holding one top-level directory stands for that directory, as in Ray)."""
    import zipfile

    data = path.read_bytes()
    _check_size(len(data), path)
    if strip_top_level:
        data = _strip_top_level(data)
    if path.suffix in (".zip", ".whl"):
        digest = hashlib.sha256(b"file\0" + data).hexdigest()[:16]
        return f"{URI_PREFIX}{digest}.zip", data
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(path.name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (0o644 | stat.S_IFREG) << 16
        zf.writestr(info, data)
    digest = hashlib.sha256(path.name.encode() + b"\0" + data).hexdigest()[:16]
    return f"{URI_PREFIX}{digest}.zip", buf.getvalue()


def _strip_top_level(data: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        tops = {i.filename.split("/", 1)[0] for i in infos}
        if len(tops) != 1 or not any("/" in i.filename.rstrip("/") for i in infos):
            return data
        (top,) = tops
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
            for info in infos:
                name = info.filename[len(top) + 1 :]
                if not name or info.is_dir():
                    continue
                new = zipfile.ZipInfo(name, date_time=info.date_time)
                new.external_attr = info.external_attr
                out.writestr(new, zf.read(info), zipfile.ZIP_DEFLATED)
        return buf.getvalue()


def _check_size(size: int, what: Path) -> None:
    if size >= MAX_PACKAGE_SIZE:
        raise ValueError(
            f"Package size ({_mib(size)}) exceeds the maximum size of "
            f"{_mib(MAX_PACKAGE_SIZE)} (packing {what}). To exclude large files, add them to "
            "'.gitignore' or '.rayignore' files, or use the 'excludes' option in the "
            "runtime_env."
        )


Packages = dict[str, tuple[str, bytes]]  # local path -> (uri, zip bytes)


def pack(renv: dict[str, Any]) -> Packages:
    """The package of each local working_dir / py_modules path in a validated job env."""
    excludes = list(renv.get("excludes") or [])
    packages: Packages = {}
    wd = renv.get("working_dir")
    if wd and not wd.startswith(URI_PREFIX):
        path = Path(wd)
        if path.is_dir():
            packages[wd] = pack_directory(path, default_excludes() + excludes)
        else:
            packages[wd] = pack_file(path, strip_top_level=True)
    for module in renv.get("py_modules") or ():
        if not module.startswith(URI_PREFIX):
            path = Path(module)
            if path.is_dir():  # the package's own directory is kept: `import <name>`
                packages[module] = pack_directory(path, excludes, prefix=path.name + "/")
            else:
                packages[module] = pack_file(path)
    return packages


def upload(client: Any, packages: Packages) -> None:
    """Store each package in the head unless it holds that content already."""
    for uri, data in packages.values():
        if client.request("package_has", {"uri": uri}):
            continue
        for offset in range(0, max(len(data), 1), CHUNK):
            args = {"uri": uri, "offset": offset, "size": len(data)}
            args["data"] = data[offset : offset + CHUNK]
            client.request("package_put", args, timeout=120.0)


def shipped(renv: dict[str, Any], packages: Packages) -> dict[str, Any]:
    """`renv` naming packages by uri instead of local paths, as tasks receive it (the
    excludes were applied in packing: Ray drops them then too)."""
    renv = dict(renv)
    renv.pop("excludes", None)
    wd = renv.get("working_dir")
    if wd in packages:
        renv["working_dir"] = packages[wd][0]
    if renv.get("py_modules"):
        renv["py_modules"] = [packages[m][0] if m in packages else m for m in renv["py_modules"]]
    return renv


def current(client: Any) -> dict[str, Any] | None:
    """The runtime_env the caller runs with: its task's or actor's, else its job's."""
    ctx = context.task_context()
    return ctx.get("runtime_env") if ctx else getattr(client, "job_runtime_env", None)


def for_submit(client: Any, runtime_env: Any) -> dict[str, Any] | None:
    """What a task or actor submission carries: its own runtime_env checked (uris only: local
    paths are for `init`, as in Ray) and merged over its parent's (the submitting task's or
    actor's, else the job's), or None when both are empty."""
    parent = current(client)
    own = validate(runtime_env, job_level=False) if runtime_env is not None else {}
    merged = merge(parent, own) if own else parent
    return dict(merged) if merged else None


# ------------------------------------------------------------------ the head's store
class PackageStore:
    """Packages by uri, in the head's memory (Ray keeps them in its GCS the same way)."""

    def __init__(self) -> None:
        self.done: dict[str, bytes] = {}
        self._partial: dict[str, bytearray] = {}

    def has(self, uri: str) -> bool:
        return uri in self.done

    def put(self, uri: str, offset: int, size: int, data: bytes) -> bool:
        _package_name(uri)
        if size >= MAX_PACKAGE_SIZE or offset + len(data) > size:
            raise ValueError(f"package {uri} is larger than {_mib(MAX_PACKAGE_SIZE)}")
        if uri in self.done:
            return True
        buf = self._partial.setdefault(uri, bytearray(size))
        buf[offset : offset + len(data)] = data
        if offset + len(data) >= size:
            self.done[uri] = bytes(self._partial.pop(uri))
        return True

    def get(self, uri: str, offset: int) -> tuple[int, bytes] | None:
        data = self.done.get(uri)
        if data is None:
            return None
        return len(data), data[offset : offset + CHUNK]


# ------------------------------------------------------------------ unpacking (worker side)
def _download(client: Any, uri: str) -> bytes:
    parts = []
    offset = 0
    while True:
        got = client.request("package_get", {"uri": uri, "offset": offset}, timeout=120.0)
        if got is None:
            raise exceptions.RuntimeEnvSetupError(
                f"The package {uri} is not in the cluster (was its driver's cluster restarted?)"
            )
        size, chunk = got
        parts.append(chunk)
        offset += len(chunk)
        if offset >= size:
            return b"".join(parts)


def local_dir(client: Any, cache_root: str, uri: str) -> str:
    """The directory `uri` is unpacked in on this node, unpacking it first if needed. Several
    workers may race: each unpacks into its own temporary directory and one rename wins."""
    import shutil
    import tempfile
    import zipfile

    try:
        name = _package_name(uri)
    except ValueError as exc:
        raise exceptions.RuntimeEnvSetupError(str(exc)) from None
    target = os.path.join(cache_root, name)
    if os.path.isdir(target):
        return target
    os.makedirs(cache_root, mode=0o700, exist_ok=True)
    data = _download(client, uri)
    tmp = tempfile.mkdtemp(prefix=f".{name}.", dir=cache_root)  # 0700
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                dest = os.path.realpath(os.path.join(tmp, info.filename))
                if not dest.startswith(os.path.realpath(tmp) + os.sep):
                    raise exceptions.RuntimeEnvSetupError(
                        f"package {uri} holds a path outside its directory: {info.filename!r}"
                    )
            zf.extractall(tmp)
        for info in zipfile.ZipFile(io.BytesIO(data)).infolist():
            mode = (info.external_attr >> 16) & 0o700
            if mode and not info.is_dir():
                os.chmod(os.path.join(tmp, info.filename), mode | 0o600)
        try:
            os.rename(tmp, target)
        except OSError:
            if not os.path.isdir(target):
                raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def activate(client: Any, cache_root: str, renv: dict[str, Any]) -> None:
    """Bind this worker process to `renv`'s files: py_modules and the working_dir on sys.path,
    cwd the working_dir (a worker keeps one env for life; see worker_key)."""
    for uri in reversed(renv.get("py_modules") or []):
        path = local_dir(client, cache_root, uri)
        if path not in sys.path:
            sys.path.insert(0, path)
    wd = renv.get("working_dir")
    if wd:
        path = local_dir(client, cache_root, wd)
        os.chdir(path)
        if path not in sys.path:
            sys.path.insert(0, path)
