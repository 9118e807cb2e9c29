#!/usr/bin/env bash
# Set up the environment and run the main job:
#   - with a browser: JupyterLab on 127.0.0.1 with the course notebooks
#     (a local rayground cluster starts from the notebooks' ray.init());
#   - without one:    the headless demo, `python -m rayground demo`.
#
# Usage: bash scripts/demo.sh [--lab | --headless] [extra args]
#   --lab       force JupyterLab (prints the URL; open it in any browser)
#   --headless  force the headless demo
# Extra args go to `jupyter lab` or to `python -m rayground demo`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

mode=auto
args=()
for a in "$@"; do
    case "$a" in
    --lab) mode=lab ;;
    --headless) mode=headless ;;
    *) args+=("$a") ;;
    esac
done

bash scripts/setup.sh

if [ "$mode" = auto ]; then
    if [ -n "${CI:-}" ]; then
        mode=headless # never block CI on a server
    elif [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname -s)" = Darwin ]; then
        mode=lab
    else
        mode=headless
    fi
fi

if [ "$mode" = lab ] && [ ! -x .venv/bin/jupyter-lab ]; then
    echo "[demo] JupyterLab is not installed in .venv; running the headless demo instead" >&2
    mode=headless
fi

if [ "$mode" = lab ]; then
    dir="$ROOT"
    if [ -d notebooks ]; then dir="$ROOT/notebooks"; fi
    echo "[demo] starting JupyterLab on 127.0.0.1 in ${dir#"$ROOT"/} (Ctrl-C to stop)"
    lab_args=(--ip=127.0.0.1)
    if [ "$(id -u)" = 0 ]; then lab_args+=(--allow-root); fi # containers often run as root
    cd "$dir"
    # Open the first lesson unless the caller named what to open.
    if [ "${#args[@]}" -eq 0 ] && [ -f 00_welcome.ipynb ]; then args=(00_welcome.ipynb); fi
    exec "$ROOT/.venv/bin/jupyter" lab "${lab_args[@]}" ${args[@]+"${args[@]}"}
fi

echo "[demo] no browser available: running the headless demo (use --lab for JupyterLab)"
exec .venv/bin/python -m rayground demo ${args[@]+"${args[@]}"}
