#!/bin/bash
# scaling.sh: a strong and a weak scaling study of ising in one allocation.
#
#   sbatch --ntasks=16 jobscripts/scaling.sh       # P = 1, 2, 4, 8, 16
#   bash jobscripts/scaling.sh                     # outside SLURM: mpirun, P = 1, 2
#
# Strong: the same lattice (STRONG_SIZE) on every rank count P.  Weak: the
# lattice grows with P, WEAK_SIZE per rank, by multiplying its last axis by P
# (the automatic process grid then splits that axis, so every rank holds a
# WEAK_SIZE block with the same halo).  Each (study, P) runs REPEATS times
# (shared machines are noisy; postprocess/scaling.py takes the fastest).
# Then make the tables and the plot with
#
#   /usr/bin/python3 postprocess/scaling.py --strong OUTDIR/strong-*.h5 --weak OUTDIR/weak-*.h5 --plot scaling.png
#
# Variables (environment of sbatch, or edit the defaults here):
#
#   ISING        the program                   default $SLURM_SUBMIT_DIR/build/ising
#   RANKS        rank counts, space-separated  default 1 2 4 ... up to $SLURM_NTASKS (1 2 outside SLURM)
#   STUDIES      which studies                 default "strong weak"
#   STRONG_SIZE  lattice of the strong study   default 1024,1024
#   WEAK_SIZE    lattice per rank, weak study  default 512,512
#   SWEEPS       measured sweeps per run       default 200
#   THERMALIZE   sweeps before measuring       default 20
#   REPEATS      runs per (study, P)           default 3
#   OUTDIR       where the runs go             default scaling-$SLURM_JOB_ID (scaling-local outside SLURM)
#   LAUNCHER     auto, srun or mpirun          default auto (see single.sh)
#
# Every run is `ising -lattice_size ... -sweeps $SWEEPS -thermalize $THERMALIZE -seed 1
# -output OUTDIR/<study>-P<P>-r<repeat>.h5 [options ...]` (the script's arguments are appended,
# e.g. -algorithm heatbath); the program's
# stdout, with its timing table, goes to the .log beside each file.  Ask for as many
# tasks as the largest P; with srun, P < ntasks leaves the other cores idle.
#SBATCH --job-name=ising-scaling
#SBATCH --ntasks=16
#SBATCH --time=01:00:00
#SBATCH --exclusive
#SBATCH --output=%x-%j.out
set -euo pipefail

here=${SLURM_SUBMIT_DIR:-$PWD}
ISING=${ISING:-$here/build/ising}
STUDIES=${STUDIES:-strong weak}
STRONG_SIZE=${STRONG_SIZE:-1024,1024}
WEAK_SIZE=${WEAK_SIZE:-512,512}
SWEEPS=${SWEEPS:-200}
THERMALIZE=${THERMALIZE:-20}
REPEATS=${REPEATS:-3}
OUTDIR=${OUTDIR:-scaling-${SLURM_JOB_ID:-local}}
if [ -z "${RANKS:-}" ]; then
  RANKS=1
  for ((p = 2; p <= ${SLURM_NTASKS:-2}; p *= 2)); do RANKS="$RANKS $p"; done
fi

case ${LAUNCHER:-auto} in
auto) if [ -n "${SLURM_JOB_ID:-}" ] && srun --mpi=list 2>&1 | grep -qw pmix; then launcher=(srun --mpi=pmix); else
  launcher=(mpirun); fi ;;
srun) launcher=(srun --mpi=pmix) ;;
mpirun) launcher=(mpirun) ;;
*) echo "scaling.sh: LAUNCHER must be auto, srun or mpirun, not '$LAUNCHER'" >&2 && exit 2 ;;
esac

mkdir -p "$OUTDIR"
echo "scaling.sh: studies $STUDIES, P = $RANKS, $REPEATS repeats, ${launcher[*]}, output in $OUTDIR"
for r in $(seq 1 "$REPEATS"); do
  for study in $STUDIES; do
    for p in $RANKS; do
      case $study in
      strong) size=$STRONG_SIZE ;;
      weak)
        IFS=, read -r -a axes <<<"$WEAK_SIZE"
        axes[-1]=$((axes[-1] * p))
        size=$(
          IFS=,
          echo "${axes[*]}"
        )
        ;;
      *) echo "scaling.sh: STUDIES may hold strong and weak, not '$study'" >&2 && exit 2 ;;
      esac
      name=$OUTDIR/$study-P$p-r$r
      echo "scaling.sh: $study P=$p lattice $size repeat $r"
      if ! "${launcher[@]}" -n "$p" "$ISING" -lattice_size "$size" -sweeps "$SWEEPS" -thermalize "$THERMALIZE" \
        -seed 1 -output "$name.h5" -overwrite "$@" >"$name.log" 2>&1; then
        cat "$name.log" >&2
        echo "scaling.sh: the run $name failed" >&2
        exit 1
      fi
    done
  done
done
echo "scaling.sh: done; tables and plot:"
echo "  /usr/bin/python3 postprocess/scaling.py --strong $OUTDIR/strong-*.h5 --weak $OUTDIR/weak-*.h5 --plot scaling.png"
