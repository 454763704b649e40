#!/usr/bin/env bash
# Builds Switchyard (release, -O) and starts it on config.yaml (or the file given).
#   scripts/serve.sh [config.yaml]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product switchyard
exec .build/release/switchyard serve --config "${1:-config.yaml}"
