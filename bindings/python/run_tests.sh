#!/usr/bin/env bash
# Runs the Python binding's tests against a built libbaton.
#
#   bindings/python/run_tests.sh [path/to/libbaton.so | build-dir] [unittest args or test names]
#
# The library is the first argument, else $BATON_LIBRARY, else build/libbaton.so of
# this repository. Prints unittest's usual report; exits non-zero when a test fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"

library=""
# The first argument is the library (or a build folder holding it) unless it looks
# like a unittest option or test name.
if [[ $# -gt 0 && "$1" != -* && ( "$1" == */* || "$1" == *.so* ) ]]; then
  library="$1"
  shift
fi
if [[ -z "$library" ]]; then
  library="${BATON_LIBRARY:-}"
fi
if [[ -n "$library" && -d "$library" ]]; then
  library="$library/libbaton.so"
fi
if [[ -z "$library" ]]; then
  for candidate in "$repo/build/libbaton.so" "$repo"/build*/libbaton.so; do
    if [[ -f "$candidate" ]]; then
      library="$candidate"
      break
    fi
  done
fi
if [[ -z "$library" || ! -f "$library" ]]; then
  echo "run_tests.sh: no libbaton found${library:+ at $library}; pass its path or build it:" >&2
  echo "  cmake -S $repo -B $repo/build && cmake --build $repo/build --target baton" >&2
  exit 2
fi

export BATON_LIBRARY="$(cd "$(dirname "$library")" && pwd)/$(basename "$library")"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
echo "baton python binding: testing with $BATON_LIBRARY ($("$python" --version 2>&1))"
cd "$here"
if [[ $# -gt 0 ]]; then
  exec "$python" -m unittest "$@"
fi
exec "$python" -m unittest discover -s tests -t . -v
