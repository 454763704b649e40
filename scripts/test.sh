#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs the Swift tests (unit, socket
# integration, in-process gateway) and then the end-to-end tests with the official openai
# Python SDK against the built binaries. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

swift build --build-tests
swift test --skip-build

SWITCHYARD_BIN="$PWD/.build/debug/switchyard" MOCK_LLM_BIN="$PWD/.build/debug/mock-llm" bash scripts/e2e.sh
