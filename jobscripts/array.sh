#!/bin/bash
# array.sh: a SLURM job array, one ising run per array task, each with its
# own value of one option (a temperature, a disorder sample, a seed) and its
# own output file.
#
#   sbatch --array=0-3 jobscripts/array.sh [ising options ...]
#   PARAM=disorder_seed DECK=input/spinglass_pm.opts sbatch --array=1-8 jobscripts/array.sh
#
# Task i runs `ising -options_file $DECK -$PARAM <value i> -output <file i> [options ...]`.
# Variables (environment of sbatch, or edit the defaults here):
#
#   ISING     the program                  default $SLURM_SUBMIT_DIR/build/ising
#   DECK      options file                 default $SLURM_SUBMIT_DIR/input/default.opts
#   PARAM     the option that varies, without its dash    default beta
#   VALUES    comma list; task i takes entry i (0-based), so --array must stay
#             within 0..(entries - 1).  Empty: the value is the task id itself,
#             e.g. PARAM=disorder_seed --array=1-100 for 100 disorder samples
#             (use a deck with -beta_list, not -beta, for several temperatures)
#                                          default 0.40,0.42,0.44,0.46 when PARAM is beta, else empty
#   PREFIX    output files are $PREFIX-<task id>.h5   default ising-$SLURM_ARRAY_JOB_ID
#   NP        MPI ranks per task           default $SLURM_NTASKS (sbatch --ntasks)
#   LAUNCHER  auto, srun or mpirun         default auto (see single.sh)
#
# The value actually used is in each file's root attribute `options`.
#SBATCH --job-name=ising-array
#SBATCH --array=0-3
#SBATCH --ntasks=1
#SBATCH --time=00:30:00
#SBATCH --output=%x-%A_%a.out
set -euo pipefail

here=${SLURM_SUBMIT_DIR:-$PWD}
ISING=${ISING:-$here/build/ising}
DECK=${DECK:-$here/input/default.opts}
PARAM=${PARAM:-beta}
if [ "$PARAM" = beta ]; then VALUES=${VALUES-0.40,0.42,0.44,0.46}; fi
VALUES=${VALUES:-}
NP=${NP:-${SLURM_NTASKS:-1}}
task=${SLURM_ARRAY_TASK_ID:?"array.sh: not an array task; submit with sbatch --array=..."}
PREFIX=${PREFIX:-ising-${SLURM_ARRAY_JOB_ID}}

if [ -n "$VALUES" ]; then
  IFS=, read -r -a values <<<"$VALUES"
  if [ "$task" -ge "${#values[@]}" ]; then
    echo "array.sh: array task $task has no entry in VALUES ($VALUES has ${#values[@]} entries: use --array=0-$((${#values[@]} - 1)))" >&2
    exit 2
  fi
  value=${values[$task]}
else
  value=$task
fi

case ${LAUNCHER:-auto} in
auto) if srun --mpi=list 2>&1 | grep -qw pmix; then launcher=(srun --mpi=pmix); else launcher=(mpirun); fi ;;
srun) launcher=(srun --mpi=pmix) ;;
mpirun) launcher=(mpirun) ;;
*) echo "array.sh: LAUNCHER must be auto, srun or mpirun, not '$LAUNCHER'" >&2 && exit 2 ;;
esac

output=$PREFIX-$task.h5
echo "array.sh: task $task of job $SLURM_ARRAY_JOB_ID: -$PARAM $value, ${launcher[*]} -n $NP, output $output"
exec "${launcher[@]}" -n "$NP" "$ISING" -options_file "$DECK" -"$PARAM" "$value" -output "$output" "$@"
