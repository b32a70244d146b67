#!/bin/bash
# checkpointed.sh: a long ising run that survives its time limit.  SLURM
# sends the batch shell SIGUSR1 some minutes before the limit
# (--signal=B:USR1@600: 600 s; SLURM may deliver it up to a minute
# early or late); the shell forwards it to the launcher, which forwards it to
# every rank; the program writes a checkpoint and exits with status 4
# (interrupted).  The script then continues the run in a new allocation:
# CONTINUE=requeue (default) puts this same job back in the queue
# (`scontrol requeue`, job id and output name unchanged), CONTINUE=sbatch
# submits a follow-up job that depends on this one.  The next start finds
# the checkpoint and passes `-restart` to the program, until it completes
# (exit 0) or MAX_RESTARTS continuations have been used.
#
#   sbatch jobscripts/checkpointed.sh [ising options ...]
#   sbatch --time=12:00:00 --ntasks=64 jobscripts/checkpointed.sh -sweeps 100000000
#
# Variables (environment of sbatch, or edit the defaults here):
#
#   ISING                the program                default $SLURM_SUBMIT_DIR/build/ising
#   DECK                 options file               default $SLURM_SUBMIT_DIR/input/default.opts
#   OUTPUT               HDF5 output file           default ising-$SLURM_JOB_ID.h5
#   CHECKPOINT           checkpoint file            default OUTPUT with .h5 replaced by .ckpt.h5
#                        (the program's own default).  If it exists when the job starts, the run
#                        restarts from it: delete it to start afresh under the same OUTPUT
#   CHECKPOINT_INTERVAL  seconds between periodic checkpoints (insurance against node failures)
#                                                   default 3600
#   CONTINUE             requeue or sbatch          default requeue
#   MAX_RESTARTS         most continuations         default 20
#   NP                   MPI ranks                  default $SLURM_NTASKS (sbatch --ntasks)
#   LAUNCHER             auto, srun or mpirun       default auto (see single.sh)
#
# A restart runs `ising -options_file $DECK -output $OUTPUT -checkpoint_file $CHECKPOINT
# -checkpoint_interval $CHECKPOINT_INTERVAL [options ...] -restart $CHECKPOINT`: the same options
# as the first start (the program refuses a checkpoint of other physics options); the program
# itself accepts the interrupted OUTPUT of the run in the checkpoint and continues it.
# scancel (SIGTERM without the warning signal) also makes the program checkpoint and exit 4, but
# the job is then not continued; resubmit it with the same OUTPUT to go on.
#SBATCH --job-name=ising-ckpt
#SBATCH --ntasks=2
#SBATCH --time=24:00:00
#SBATCH --signal=B:USR1@600
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=%x-%j.out
set -uo pipefail

here=${SLURM_SUBMIT_DIR:-$PWD}
export ISING=${ISING:-$here/build/ising}
export DECK=${DECK:-$here/input/default.opts}
export OUTPUT=${OUTPUT:-ising-${SLURM_JOB_ID:?checkpointed.sh: submit with sbatch}.h5}
export CHECKPOINT=${CHECKPOINT:-${OUTPUT%.h5}.ckpt.h5}
export CHECKPOINT_INTERVAL=${CHECKPOINT_INTERVAL:-3600}
export CONTINUE=${CONTINUE:-requeue}
export MAX_RESTARTS=${MAX_RESTARTS:-20}
NP=${NP:-$SLURM_NTASKS}
case $CONTINUE in
requeue) restarts=${SLURM_RESTART_COUNT:-0} ;;
sbatch) restarts=${ISING_CONTINUATION:-0} ;;
*) echo "checkpointed.sh: CONTINUE must be requeue or sbatch, not '$CONTINUE'" >&2 && exit 2 ;;
esac

case ${LAUNCHER:-auto} in
auto) if srun --mpi=list 2>&1 | grep -qw pmix; then launcher=(srun --mpi=pmix); else launcher=(mpirun); fi ;;
srun) launcher=(srun --mpi=pmix) ;;
mpirun) launcher=(mpirun) ;;
*) echo "checkpointed.sh: LAUNCHER must be auto, srun or mpirun, not '$LAUNCHER'" >&2 && exit 2 ;;
esac

restart=()
[ -e "$CHECKPOINT" ] && restart=(-restart "$CHECKPOINT")
echo "checkpointed.sh: job $SLURM_JOB_ID start $((restarts + 1)) at $(date -u +%FT%TZ) on $(hostname)," \
  "${launcher[*]} -n $NP, output $OUTPUT${restart[*]:+, restarting from $CHECKPOINT}"

# The launcher runs in the background so that this shell can take SLURM's
# signals while it waits and pass them on: bash runs a trap only between
# commands, and `wait` is interruptible where a foreground command is not.
warned=0 signalled=0
trap 'warned=1 signalled=1; echo "checkpointed.sh: SIGUSR1 at $(date -u +%TZ): checkpoint and continue"; kill -USR1 "$pid" 2>/dev/null' USR1
trap 'signalled=1; echo "checkpointed.sh: SIGTERM at $(date -u +%TZ): checkpoint and stop"; kill -TERM "$pid" 2>/dev/null' TERM
"${launcher[@]}" -n "$NP" "$ISING" -options_file "$DECK" -output "$OUTPUT" -checkpoint_file "$CHECKPOINT" \
  -checkpoint_interval "$CHECKPOINT_INTERVAL" "$@" "${restart[@]}" &
pid=$!
status=
while [ -z "$status" ]; do
  signalled=0
  wait "$pid"
  rc=$?
  # A trapped signal ends `wait` early with a status above 128: wait again.
  if [ "$signalled" = 0 ] || [ "$rc" -le 128 ]; then status=$rc; fi
done

case $status in
0)
  echo "checkpointed.sh: run complete after $((restarts + 1)) start(s): $OUTPUT"
  exit 0
  ;;
4)
  if [ "$warned" = 0 ]; then
    echo "checkpointed.sh: interrupted (not by the time-limit warning); checkpoint $CHECKPOINT; not continued"
    exit 4
  fi
  if [ "$restarts" -ge "$MAX_RESTARTS" ]; then
    echo "checkpointed.sh: interrupted, and MAX_RESTARTS=$MAX_RESTARTS continuations used up; checkpoint $CHECKPOINT" >&2
    exit 4
  fi
  if [ "$CONTINUE" = requeue ]; then
    trap - USR1 TERM
    if scontrol requeue "$SLURM_JOB_ID"; then
      echo "checkpointed.sh: interrupted at the time limit; job $SLURM_JOB_ID requeued"
      exit 0
    fi
    echo "checkpointed.sh: scontrol requeue $SLURM_JOB_ID failed; resubmit with OUTPUT=$OUTPUT to continue" >&2
    exit 4
  fi
  limit=$(squeue -h -j "$SLURM_JOB_ID" -o %l)
  if ISING_CONTINUATION=$((restarts + 1)) sbatch --dependency=afterany:"$SLURM_JOB_ID" --job-name="$SLURM_JOB_NAME" \
    --ntasks="$SLURM_NTASKS" --nodes="$SLURM_JOB_NUM_NODES" --partition="$SLURM_JOB_PARTITION" \
    ${limit:+--time="$limit"} "$0" "$@"; then
    echo "checkpointed.sh: interrupted at the time limit; the follow-up job above continues it"
    exit 0
  fi
  echo "checkpointed.sh: sbatch of the follow-up job failed; resubmit with OUTPUT=$OUTPUT to continue" >&2
  exit 4
  ;;
*)
  echo "checkpointed.sh: the run failed with status $status" >&2
  exit "$status"
  ;;
esac
