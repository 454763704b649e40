#!/usr/bin/env bash
# End-to-end suite: the official openai SDK against real switchyard and mock-llm processes.
# Creates (or reuses) ./.venv, installs openai, pytest and httpx quietly, then runs
# `python -m pytest -q Tests/e2e` and exits with pytest's code. Non-interactive (CI=true safe).
#
# Binaries: $SWITCHYARD_BIN and $MOCK_LLM_BIN, default .build/debug/{switchyard,mock-llm}.
# Extra arguments go to pytest, e.g.  scripts/e2e.sh -k sigterm -x
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export SWITCHYARD_BIN="${SWITCHYARD_BIN:-$ROOT/.build/debug/switchyard}"
export MOCK_LLM_BIN="${MOCK_LLM_BIN:-$ROOT/.build/debug/mock-llm}"
for bin in "$SWITCHYARD_BIN" "$MOCK_LLM_BIN"; do
    if [ ! -x "$bin" ]; then
        echo "e2e: no executable at $bin (run 'swift build' first, or set SWITCHYARD_BIN / MOCK_LLM_BIN)" >&2
        exit 2
    fi
done

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
# A venv whose interpreter no longer runs (moved repo, removed Python) is rebuilt.
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV"; then
        echo "e2e: '$PYTHON -m venv' failed (on Debian: apt-get install python3-venv)" >&2
        exit 2
    fi
fi

export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1
"$VENV/bin/python" -m pip install -q openai pytest httpx

set +e
PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" -m pytest -q -p no:cacheprovider Tests/e2e "$@"
code=$?
set -e
exit "$code"
