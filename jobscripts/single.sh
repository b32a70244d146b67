#!/bin/bash
# single.sh: one ising run under SLURM.
#
#   sbatch jobscripts/single.sh [ising options ...]
#
# Submit from the repository root (paths below default to the submit
# directory).  The script's arguments are appended to the ising command line
# and override the deck.  Variables (set them in the environment of sbatch,
# which passes its environment to the job, or edit the defaults here):
#
#   ISING     the program                   default $SLURM_SUBMIT_DIR/build/ising
#   DECK      options file                  default $SLURM_SUBMIT_DIR/input/default.opts
#   OUTPUT    HDF5 output file              default ising-$SLURM_JOB_ID.h5 (in the submit directory)
#   NP        MPI ranks                     default $SLURM_NTASKS (sbatch --ntasks)
#   LAUNCHER  auto, srun or mpirun          default auto: `srun --mpi=pmix` when this SLURM has the
#             PMIx plugin (Debian's Open MPI 4.1 starts under it; --mpi=pmi2 does not), else mpirun
#
# Outside SLURM (`bash jobscripts/single.sh`) it runs mpirun in the current
# directory.  Exit status: that of the program (docs/usage.md, "Exit statuses").
#SBATCH --job-name=ising
#SBATCH --ntasks=2
#SBATCH --time=00:30:00
#SBATCH --output=%x-%j.out
set -euo pipefail

here=${SLURM_SUBMIT_DIR:-$PWD}
ISING=${ISING:-$here/build/ising}
DECK=${DECK:-$here/input/default.opts}
OUTPUT=${OUTPUT:-ising-${SLURM_JOB_ID:-$$}.h5}
NP=${NP:-${SLURM_NTASKS:-2}}

case ${LAUNCHER:-auto} in
auto) if [ -n "${SLURM_JOB_ID:-}" ] && srun --mpi=list 2>&1 | grep -qw pmix; then launcher=(srun --mpi=pmix); else
  launcher=(mpirun); fi ;;
srun) launcher=(srun --mpi=pmix) ;;
mpirun) launcher=(mpirun) ;;
*) echo "single.sh: LAUNCHER must be auto, srun or mpirun, not '$LAUNCHER'" >&2 && exit 2 ;;
esac

echo "single.sh: job ${SLURM_JOB_ID:-none} on $(hostname), ${launcher[*]} -n $NP, deck $DECK, output $OUTPUT"
exec "${launcher[@]}" -n "$NP" "$ISING" -options_file "$DECK" -output "$OUTPUT" "$@"
