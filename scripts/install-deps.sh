#!/usr/bin/env bash
# Installs the Debian packages baton needs to build, test and run its demo.
# Idempotent: asks apt only for what is missing, and runs `apt-get update` once
# when something is.
#
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --minimal  only what the library and the demo need
#   scripts/install-deps.sh --only PKG...  just these (tools one script needs)
set -euo pipefail

minimal=0
[ "${1:-}" = "--minimal" ] && minimal=1

pkgs=(g++ make cmake pkg-config libsqlite3-dev sqlite3 libsimdjson-dev libfmt-dev
      libssl-dev libboost-dev nodejs npm python3)
if [ "${1:-}" = "--only" ]; then
  pkgs=("${@:2}")
elif [ "$minimal" -eq 0 ]; then
  pkgs+=(catch2 libpq-dev postgresql libxml2-utils abigail-tools clang
         libclang-rt-14-dev libfuzzer-14-dev chromium)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# A python3 or node that the machine already has outside Debian's packages will do.
filtered=()
for p in "${missing[@]}"; do
  case "$p" in
    python3) command -v python3 >/dev/null 2>&1 && continue ;;
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  filtered+=("$p")
done

if [ "${#filtered[@]}" -gt 0 ]; then
  echo "install-deps: installing ${filtered[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
fi
