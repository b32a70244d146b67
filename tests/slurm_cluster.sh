# slurm_cluster.sh: a throwaway SLURM cluster on localhost for the tests
# (sourced after common.sh).  One node with this machine's cores, munge,
# slurmctld and slurmd from Debian's slurm-wlm and munge packages, each with
# its own key, socket, ports, state, spool and log directories under one
# temporary directory, so it clashes neither with a system SLURM nor with a
# second copy of itself.
#
#   slurm_require      installs slurm-wlm and munge when missing (as root);
#                      exits 77 (skipped) with the reason when it cannot
#   slurm_start        starts munged, slurmctld and slurmd, waits until the
#                      node is idle, exports SLURM_CONF; an EXIT trap stops them
#   slurm_wait ID S    waits at most S seconds until job ID (every task of an
#                      array) has left the queue; prints one final JobState
#                      per task; status 1 on timeout
#   slurm_stop         cancels the jobs, stops only the daemons slurm_start
#                      started (by the process ids they wrote), removes the
#                      directory; prints the daemon logs when a test failed
#
# Configuration as issue 7 asks: SelectType=select/cons_tres,
# ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, SlurmUser=root.

slurm_require() {
  local missing=()
  for cmd in munged slurmctld slurmd sbatch; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "skipped: ${missing[*]} not installed and not root to install them (apt-get install slurm-wlm munge)"
      exit 77
    fi
    echo "installing slurm-wlm and munge (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1; then
      apt-get update -qq >/dev/null 2>&1
      if ! apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1; then
        echo "skipped: apt-get install slurm-wlm munge failed (no network or no package source?)"
        exit 77
      fi
    fi
    for cmd in munged slurmctld slurmd sbatch; do
      command -v "$cmd" >/dev/null || { echo "skipped: $cmd still not found after installing slurm-wlm and munge" && exit 77; }
    done
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: this test runs slurmd with SlurmUser=root and needs root"
    exit 77
  fi
}

# Free TCP ports on the loopback interface, one per argument.
slurm_free_ports() {
  "$PYTHON" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()' "$1"
}

slurm_start() {
  # A test run inside a SLURM job must not hand that job's variables on.
  for v in $(compgen -e | grep -E '^(SLURM|SBATCH|SALLOC|SRUN)_'); do unset "$v"; done
  SLURM_DIR=$(mktemp -d /tmp/ising-slurm.XXXXXX)
  chmod 755 "$SLURM_DIR"
  trap slurm_stop EXIT
  local d=$SLURM_DIR node cpus ctld_port slurmd_port
  node=$(hostname -s)
  cpus=$(nproc)
  [ "$cpus" -ge 2 ] || cpus=2 # the jobs run 2 ranks; config_overrides lets a 1-core machine oversubscribe
  mkdir -p "$d/munge" "$d/state" "$d/spool/$node" "$d/log" "$d/tmp"
  chmod 711 "$d/munge"
  head -c 1024 /dev/urandom >"$d/munge/munge.key"
  chmod 400 "$d/munge/munge.key"
  munged --force --socket="$d/munge/socket" --key-file="$d/munge/munge.key" --pid-file="$d/munge/munged.pid" \
    --log-file="$d/log/munged.log" --seed-file="$d/munge/seed" </dev/null >/dev/null 2>&1 ||
    slurm_abort "munged did not start"
  read -r ctld_port slurmd_port <<<"$(slurm_free_ports 2)"
  cat >"$d/slurm.conf" <<EOF
ClusterName=isingtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again
AuthInfo=socket=$d/munge/socket,cred_expire=10
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
TmpFS=$d/tmp
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
MinJobAge=600
FirstJobId=$((RANDOM * 10 + 1000))
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$d/slurm.conf
  slurmctld -i -f "$SLURM_CONF" </dev/null >/dev/null 2>&1 || slurm_abort "slurmctld did not start"
  slurmd -f "$SLURM_CONF" </dev/null >/dev/null 2>&1 || slurm_abort "slurmd did not start"
  local state
  for _ in $(seq 1 60); do
    state=$(sinfo -h -n "$node" -o %T 2>/dev/null)
    [ "$state" = idle ] && break
    sleep 0.5
  done
  [ "$state" = idle ] || slurm_abort "node $node is '${state:-unknown}', not idle, 30 s after slurmd started"
  echo "SLURM up: $SLURM_CONF, node $node with $cpus CPUs, ports $ctld_port/$slurmd_port"
}

slurm_abort() {
  echo "FAILED  $*"
  failures=$((failures + 1))
  exit 1
}

slurm_wait() {
  local id=$1 limit=$2 t0=$SECONDS
  while [ -n "$(squeue -h -j "$id" -o %i 2>/dev/null)" ]; do
    if [ $((SECONDS - t0)) -ge "$limit" ]; then
      echo "job $id still queued or running after $limit s:" >&2
      squeue -j "$id" >&2
      return 1
    fi
    sleep 0.5
  done
  scontrol -o show job "$id" | sed -n 's/.* JobState=\([A-Z_]*\) .*/\1/p'
}

# Stops the process whose id is in file $1, waiting at most 10 s before SIGKILL.
slurm_kill_pidfile() {
  local pid
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null
}

slurm_stop() {
  local rc=$?
  trap - EXIT
  [ -n "${SLURM_DIR:-}" ] || exit "$rc"
  if [ -s "$SLURM_DIR/slurmctld.pid" ]; then
    scancel --quiet --user=root 2>/dev/null
    for _ in $(seq 1 40); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  slurm_kill_pidfile "$SLURM_DIR/slurmd.pid"
  slurm_kill_pidfile "$SLURM_DIR/slurmctld.pid"
  slurm_kill_pidfile "$SLURM_DIR/munge/munged.pid"
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || [ "$failures" -ne 0 ]; then
    for log in "$SLURM_DIR"/log/*.log; do
      echo "---- $log (last 30 lines)"
      tail -n 30 "$log"
    done
  fi
  rm -rf "$SLURM_DIR"
  exit "$rc"
}
