#!/usr/bin/env bash
# Installs what Switchyard needs on a Debian machine, only when it is missing. Idempotent.
#   scripts/setup.sh            build/run dependencies: libcurl, hiredis, zlib, pkg-config
#   scripts/setup.sh --test     plus what the test suite needs: python3 venv (openai SDK), redis-server
#                               (the Redis store tests start their own servers on free ports)
#   scripts/setup.sh --bench    plus nginx and wrk for bench/run.sh, valgrind for instruction counts
set -euo pipefail

packages=(libcurl4-openssl-dev libhiredis-dev zlib1g-dev pkg-config)
commands=()
for arg in "$@"; do
  case "$arg" in
    --test) packages+=(python3-venv redis-server) ;;
    --bench) commands+=(nginx:nginx-light wrk:wrk valgrind:valgrind) ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  # python3-venv is only needed when the python3 on PATH has no working venv module.
  if [ "$p" = python3-venv ]; then
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 && continue
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for pair in "${commands[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1 && [ ! -x /opt/swift/usr/bin/swift ]; then
  echo "setup: Swift 6 is required (https://www.swift.org/install/linux/); put it on PATH" >&2
  exit 1
fi
