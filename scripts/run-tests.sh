#!/usr/bin/env bash
# run-tests.sh: set up and build (setup.sh), then run the whole CTest suite.
# Extra arguments go to ctest, e.g.  bash scripts/run-tests.sh -L physics
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
