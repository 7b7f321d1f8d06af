#!/usr/bin/env bash
# The C ABI gate on the build under test, and the gate's own self-test.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BATON_BUILD:-$root/build}
bash "$root/scripts/abi-check.sh" "$build"
bash "$root/scripts/abi-check.sh" --self-test
