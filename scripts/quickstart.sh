#!/usr/bin/env bash
# One-command set-up for frame_select_env.
#
#   bash scripts/quickstart.sh          # set up .venv, then train + evaluate AS on the built-in data
#   bash scripts/quickstart.sh test     # set up .venv, then run the whole test suite
#
# Set-up creates .venv (if missing) and installs the package with its dev extra. It is skipped
# when .venv is already up to date with pyproject.toml. PYTHON picks the interpreter (>= 3.10).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}

setup() {
    local stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
    if [[ -f "$stamp" ]]; then
        return
    fi
    echo "[quickstart] creating $VENV and installing frame_select_env (a minute or two)"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # torch first, pinned: an unpinned torch may pull GPU packages. For a CPU-only machine with
    # internet access, point pip at PyTorch's CPU wheel index to skip the CUDA libraries.
    "$VENV/bin/python" -m pip install --quiet "torch==$TORCH_VERSION"
    "$VENV/bin/python" -m pip install --quiet -e ".[dev,tensorboard]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
}

setup
case "${1:-train}" in
    train)
        shift || true
        exec "$VENV/bin/python" scripts/train_reinforce.py "$@"
        ;;
    test)
        shift
        # two workers (pytest-xdist), a test file per worker at a time: the suite's subprocesses
        # and fixtures stay in their file's order; PYTEST_WORKERS=0 runs it in one process
        exec "$VENV/bin/python" -m pytest -q -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
        ;;
    setup)
        echo "[quickstart] $VENV is ready: source $VENV/bin/activate"
        ;;
    *)
        echo "usage: bash scripts/quickstart.sh [train [ARGS...] | test [PYTEST ARGS...] | setup]" >&2
        exit 2
        ;;
esac
