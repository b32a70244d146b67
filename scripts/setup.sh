#!/usr/bin/env bash
# setup.sh: install what is missing (Debian 12 packages), then configure and
# build ising in ./build.  Used by run-default.sh and run-tests.sh; safe to
# run again (only missing packages are installed, the build is incremental).
#
# Variables: BUILD_DIR (default build), CMAKE_BUILD_TYPE (default Release),
# ISING_WERROR (ON turns warnings into errors; on by default when CI is set),
# ISING_SANITIZE (ON: AddressSanitizer + UBSan build, docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
  petsc-dev librandom123-dev python3-h5py python3-numpy python3-scipy python3-matplotlib)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: these Debian packages are missing; install them as root and run again:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

build=${BUILD_DIR:-build}
werror=${ISING_WERROR:-$([ -n "${CI:-}" ] && echo ON || echo OFF)}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-Release}" -DISING_WERROR="$werror" \
  -DISING_SANITIZE="${ISING_SANITIZE:-OFF}" >/dev/null
cmake --build "$build" -j "$(nproc)"
