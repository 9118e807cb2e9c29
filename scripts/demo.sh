#!/usr/bin/env bash
# Set up the environment and run the main job:
#   - with a browser: JupyterLab on 127.0.0.1 with the course notebooks
#     (a local rayground cluster starts from the notebooks' ray.init());
#   - without one:    the headless demo, `python -m rayground demo`.
#
# Usage: bash scripts/demo.sh [--lab | --headless] [extra args]
#   --lab       force JupyterLab (prints the URL; open it in any browser)
#   --headless  force the headless demo
# With --lab the first extra arg is the working folder for `rayground course` (default
# course-work/); otherwise extra args go to `python -m rayground demo`.
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
    # The learner works in their own copy (course-work/, or the folder named): the shipped
    # lessons in notebooks/ are never edited. It opens with lesson 00 beside the rayground panel.
    dir="${args[0]:-$ROOT/course-work}"
    exec "$ROOT/.venv/bin/python" -m rayground course "$dir"
fi

echo "[demo] no browser available: running the headless demo (use --lab for JupyterLab)"
exec .venv/bin/python -m rayground demo ${args[@]+"${args[@]}"}
