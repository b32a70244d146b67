#!/usr/bin/env bash
# run-default.sh: set up and build (setup.sh), then run the default deck
# input/default.opts on 2 MPI ranks.  Extra arguments are passed to ising,
# e.g.  bash scripts/run-default.sh -sweeps 50000 -output mine.h5
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Open MPI refuses root unless told; containers and CI often run as root.
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
exec mpirun -n 2 --oversubscribe "${BUILD_DIR:-build}/ising" -options_file input/default.opts "$@"
