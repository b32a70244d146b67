# input_errors.sh: bad input stops every rank with one clear message naming
# the option, exit status 2, within the time limit, and no output file.
# Each case: ranks, expected message fragment, options.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

n=0
# Every case runs in the background, up to INPUT_JOBS (default 4) at a time,
# and is judged by judge_all in order: most of a failing run's time is
# mpirun's wait (1 s, odls_base_sigkill_timeout) before it ends the job, not
# computation, so the cases overlap well even on 2 cores.  The 300 s limit
# per case only catches a rank left hanging: under ASan, 4 at a time beside
# another MPI test, a case took 4-11 s on the 2-core VM, and CI machines
# can be slower and busier; a limit near that would fail good runs.
jobs_max=${INPUT_JOBS:-4}
declare -a msgs whats
bad() { # np "message fragment" options...
  local np=$1 msg=$2
  shift 2
  n=$((n + 1))
  msgs[n]=$msg
  whats[n]="$*"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
  (
    start=$SECONDS
    timeout 300 "$MPIEXEC" -n "$np" --oversubscribe "$ISING" -sweeps 10 -thermalize 0 -output "case$n.h5" "$@" \
      >"stdout$n.txt" 2>"stderr$n.txt"
    echo "$? $((SECONDS - start))" >"rc$n.txt"
  ) &
}
judged=0
judge_all() { # waits for the cases started so far and judges them
  wait
  local i rc took count msg
  for ((i = judged + 1; i <= n; i++)); do
    read -r rc took <"rc$i.txt" || rc=missing
    msg=${msgs[i]}
    count=$(grep -c "ising: error:" "stderr$i.txt")
    if [ "$rc" != 2 ]; then
      fail "case $i (${whats[i]}): exit status $rc, expected 2"
    elif ! grep -qF -- "$msg" "stderr$i.txt"; then
      fail "case $i (${whats[i]}): message lacks '$msg': $(cat "stderr$i.txt")"
    elif [ "$count" -ne 1 ]; then
      fail "case $i (${whats[i]}): $count error lines, expected exactly 1"
    elif [ -e "case$i.h5" ]; then
      fail "case $i (${whats[i]}): output file left behind"
    else
      pass "case $i (${whats[i]}): $(grep 'ising: error:' "stderr$i.txt") [${took}s]"
    fi
  done
  judged=$n
}

bad 2 "option -beta: expected a real number in [0, 1e6]" -beta -1
printf -- '# a deck\n-beta 0.3 0.4\n' >extra.opts
bad 2 "option -options_file: 'extra.opts' line 2: more than one value after the option" -options_file extra.opts
printf -- 'lattice_size 8,8\n' >nodash.opts
bad 2 "option -options_file: 'nodash.opts' line 1: expected '-option [value]'" -options_file nodash.opts
# decks that include themselves or each other made PETSc recurse until it crashed (exit 139); a directory as a deck
# hung 2 ranks
printf -- '-sweeps 10\n-options_file self.opts\n' >self.opts
printf -- '-options_file ping.opts\n' >pong.opts
printf -- '-options_file pong.opts\n' >ping.opts
mkdir -p deckdir
bad 2 "option -options_file: decks include each other, or nest deeper than 16 ('self.opts')" -options_file self.opts
bad 2 "option -options_file: decks include each other, or nest deeper than 16" -options_file ping.opts
bad 2 "option -options_file: 'deckdir' is a directory, not a deck" -options_file deckdir
bad 2 "option -beta: expected a real number in [0, 1e6]" -beta abc
bad 2 "option -beta: expected a real number in [0, 1e6]" -beta 1e7
bad 2 "Metropolis at beta = 0 accepts every flip" -beta 0
bad 2 "option -beta_list: value longer than" -beta_list "$(printf '0.1%.0s,' $(seq 1 20000))0.1"
bad 2 "option -beta_list: entry 2" -beta_list 0.3,x,0.5
bad 2 "option -beta_list: expected 1 to 1024" -beta_list 0.3,,0.5
bad 2 "options -beta and -beta_list" -beta 0.4 -beta_list 0.3,0.5
bad 2 "option -lattice_size: entry 1 is '0'" -lattice_size 0,64
bad 2 "option -lattice_size: entry 1 is '-8'" -lattice_size -8
bad 2 "option -lattice_size: expected 1 to 3" -lattice_size 8,8,8,8
bad 2 "option -lattice_size: entry 2 is '8.5'" -lattice_size 8,8.5
bad 2 "odd length 63" -lattice_size 63,64
bad 2 "option -lattice_bc: expected 1 or 2 entries" -lattice_bc periodic,open,open
bad 2 "option -lattice_bc: expected one of periodic, open" -lattice_bc twisted
bad 2 "option -process_grid: the product of the entries is 1 but the run has 2 MPI ranks" -process_grid 1,1
bad 2 "option -process_grid: entry 1 is '3'; each must be an integer in [1, 2]" -process_grid 3,1
bad 2 "option -process_grid: expected 2 comma-separated" -process_grid 2
bad 4 "option -process_grid: 4 ranks along axis 1 but only 2 sites" -lattice_size 2,8 -process_grid 4,1
bad 2 "option -balance: expected even, measure, or 2 comma-separated relative speeds" -balance fast
bad 2 "option -balance: expected even, measure, or 2 comma-separated relative speeds" -balance 1,2,3
bad 2 "got an empty entry or too many" -balance 1,,2
bad 2 "option -balance: entry 2 is '0'; each speed must be a real number in (0, 1e9]" -balance 1,0
bad 2 "option -balance: entry 1 is 'x'" -balance x,1
bad 1 "option -rebalance: expected an integer in [0, 281474976710656], got '-1'" -rebalance -1
bad 1 "option -rebalance_gain: expected a real number in [0, 0.9], got '1'" -rebalance 10 -rebalance_gain 1
bad 1 "options -rebalance, -rebalance_gain: only -task mc, tempering, quench and anneal move the blocks during a run" -task meanfield -rebalance 10
bad 3 "3 MPI ranks cannot be laid out" -lattice_size 2,2
bad 3 "3 MPI ranks cannot be laid out" -lattice_size 2
bad 2 "unknown option -bogus_option" -bogus_option 1
bad 2 "unknown option -beta_lst" -beta_lst 0.4
bad 2 "option -output: cannot create" -output "$work/no/such/dir/out.h5"
bad 2 "option -J: expected 1 or 2 values" -J 1,1,1
bad 2 "option -J: expected real numbers" -J 1,x
bad 2 "option -couplings: expected one of uniform, pm, gaussian" -couplings foo
bad 2 "option -algorithm: expected one of metropolis, heatbath" -algorithm wolff
bad 2 "option -pm_p: expected a real number in [0, 1]" -couplings pm -pm_p 1.5
bad 2 "option -J: not used with -couplings gaussian" -couplings gaussian -J 2
bad 2 "option -gaussian_sigma: only used with -couplings gaussian" -gaussian_sigma 2
bad 2 "option -sweeps: expected an integer in [1," -sweeps 0
bad 2 "option -measure_interval: 100 exceeds -sweeps 10" -measure_interval 100
bad 2 "option -seed: expected an integer in [0, 18446744073709551615]" -seed -3
bad 2 "option -task: expected one of mc" -task foo
bad 2 "option -start: expected one of hot, cold" -start warm
bad 2 "option -field_sigma: expected a real number in [0, 1000]" -field_sigma -1
bad 2 "option -quiet: expected true or false" -quiet maybe
bad 2 "option -progress_interval" -progress_interval 0
bad 3 "option -ranks_per_replica: 2 does not divide the 3 MPI ranks" -task tempering -beta_list 0.1,0.2,0.3 -ranks_per_replica 2
bad 4 "make 2 replica groups, which must divide the 3 replicas (3 temperatures x 1 sets)" -task tempering -beta_list 0.1,0.2,0.3 -ranks_per_replica 2
bad 2 "option -replicas_per_rank: with 2 ranks, -ranks_per_replica 1 and 4 replicas each replica group holds 2" -task tempering -beta_list 0.1,0.2,0.3,0.4 -replicas_per_rank 4
bad 2 "option -task: mc and tempering both write /observables" -task mc,tempering -beta_list 0.2,0.4
bad 2 "option -task tempering: needs at least 2 temperatures" -task tempering -beta 0.3
bad 2 "options -ranks_per_replica, -replicas_per_rank, -pt_swap_interval, -pt_replica_sets, -pt_adapt_sweeps, -disorder_samples: only used with -task tempering" -ranks_per_replica 2
bad 4 "option -ais_ranks_per_chain: 3 does not divide the 4 MPI ranks" -task freeenergy -ais_ranks_per_chain 3
bad 2 "option -ais_ranks_per_chain: expected an integer in [1, 2] (the MPI ranks), got '4'" -task freeenergy -ais_ranks_per_chain 4
bad 2 "option -process_grid: it lays out the lattice on all 2 ranks; with -ais_ranks_per_chain 1 each group of ranks lays out its own" -task freeenergy -ais_ranks_per_chain 1 -process_grid 2,1
bad 2 "option -pt_adapt_sweeps: not with -disorder_samples > 1" -task tempering -beta_list 0.1,0.2 -disorder_samples 2 -pt_adapt_sweeps 100
bad 2 "option -pt_adapt_sweeps: tuning moves the temperatures between the first and the last and needs them increasing without repeats; beta 0.2 follows 0.3" -task tempering -beta_list 0.3,0.2,0.1 -pt_adapt_sweeps 100
bad 2 "needs them increasing without repeats; beta 0.4 follows 0.4" -task tempering -beta_list 0.3,0.4,0.4,0.5 -pt_adapt_sweeps 100 -pt_adapt_method feedback
bad 2 "option -pt_adapt_method: expected one of equal_acceptance, feedback" -task tempering -beta_list 0.1,0.2 -pt_adapt_method optimal
bad 2 "option -pt_replica_sets: expected an integer in [1, 2]" -task tempering -beta_list 0.1,0.2 -pt_replica_sets 3
bad 2 "options -beta_min, -beta_max, -n_temps: give all three" -beta_min 0.1 -n_temps 4
bad 2 "option -beta_max: expected a real number > -beta_min" -beta_min 0.5 -beta_max 0.4 -n_temps 4
bad 2 "option -anneal_beta_end: 0.05 must exceed -anneal_beta_start 0.1" -task anneal -anneal_beta_end 0.05
bad 2 "option -anneal_restarts: expected an integer in [1, 32000]" -task anneal -anneal_restarts 0
bad 2 "option -anneal_schedule: expected one of linear, geometric" -task anneal -anneal_schedule cosine
bad 2 "option -quench_beta: expected a real number in (0, 1e6] or inf" -task quench -quench_beta 0
bad 2 "option -quench_beta: expected a real number in (0, 1e6] or inf" -task quench -quench_beta -inf
bad 2 "option -quench_sweeps: expected an integer in [1, 4294967295]" -task quench -quench_sweeps 0
bad 2 "option -quench_times: entry 3 is '5'; the times must be strictly increasing" -task quench -quench_times 1,10,5
bad 2 "option -quench_times: entry 2 is '2000'" -task quench -quench_times 10,2000 -quench_sweeps 1000
bad 2 "options -quench_times and -quench_per_decade: give one of them" -task quench -quench_times 1,2 \
  -quench_per_decade 5
bad 2 "option -quench_histories: expected an integer in [1, 65535]" -task quench -quench_histories 70000
bad 2 "option -quench_per_decade: only used with -task quench" -quench_per_decade 5
bad 2 "option -task: expected one of mc, meanfield, tempering, anneal, quench, freeenergy" -task quenchh
bad 2 "option -ais_chains: expected an integer in [1, 65535]" -task freeenergy -ais_chains 0
bad 2 "options -ais_steps/-ais_sweeps_per_step: more than 2^32 sweeps per chain" -task freeenergy -ais_steps 1000000 \
  -ais_sweeps_per_step 10000
bad 2 "option -mf_damping: expected a real number in [0, 0.999999]" -task meanfield -mf_damping -0.5
bad 2 "option -mf_tol: expected a real number in [1e-300, 1]" -task meanfield -mf_tol 0
bad 2 "option -mf_init: expected one of paramagnetic, ferro, antiferro, random, got 'warm'" -task meanfield -mf_init ferro,warm
bad 2 "option -mf_solver: expected one of sweeps, snes" -task meanfield -mf_solver newton
bad 2 "option -mf_max_iter: expected an integer in [1," -task meanfield -mf_max_iter 0
bad 2 "unknown option -mf_snes_monitr" -task meanfield -mf_solver snes -mf_snes_monitr
bad 2 "unknown option -mf_snes_monitor" -task meanfield -mf_snes_monitor
bad 2 "option -mf_solver snes: a periodic axis needs at least 4 sites" -task meanfield -mf_solver snes -lattice_size 2,8
bad 2 "option -checkpoint_interval: expected a real number in [0, 1e+09]" -checkpoint_interval -1
bad 2 "option -checkpoint_interval: expected a real number in [0, 1e+09]" -checkpoint_interval soon
bad 2 "options -checkpoint_file, -checkpoint_interval, -restart: only used with -task mc, tempering or anneal" -task meanfield -checkpoint_interval 60
bad 2 "option -checkpoint_file: cannot create '$work/no/such/dir/c.h5.tmp'" -checkpoint_file "$work/no/such/dir/c.h5"
bad 2 "option -checkpoint_file: 'case$((n + 1)).h5' is the -output file" -checkpoint_file "case$((n + 1)).h5"
bad 2 "option -restart: cannot open checkpoint 'missing.ckpt.h5'" -restart missing.ckpt.h5
bad 2 "option -restart: 'case$((n + 1)).h5' is the -output file" -restart "case$((n + 1)).h5"
# the same files under other spellings: the checkpoint was renamed over the output and removed at the end (exit 0,
# no output), or over the held lock; a restart from the output deleted the checkpoint
bad 2 "option -checkpoint_file: './same.h5' is the -output file" -output same.h5 -checkpoint_file ./same.h5
bad 2 "option -checkpoint_file: 'lk.h5.lock' (or its temporary file 'lk.h5.lock.tmp') is the -output file 'lk.h5' or its lock file" -output lk.h5 -checkpoint_file lk.h5.lock
bad 2 "option -checkpoint_file: 'tp.h5' (or its temporary file 'tp.h5.tmp') is the -output file 'tp.h5.tmp'" -output tp.h5.tmp -checkpoint_file tp.h5
bad 2 "option -restart: 'rs.ckpt.h5' is the -output file" -output ./rs.ckpt.h5 -restart rs.ckpt.h5
echo "not hdf5" >garbage.h5
bad 2 "option -restart: cannot open checkpoint 'garbage.h5'" -restart garbage.h5
bad 2 "option -restart: expected the path of a checkpoint file" -restart ""
judge_all

# An existing checkpoint file is refused without -overwrite and left untouched.
n=$((n + 1))
echo "precious" >existing.ckpt.h5
timeout 60 "$MPIEXEC" -n 2 --oversubscribe "$ISING" -sweeps 10 -thermalize 0 -quiet -output existing.h5 \
  >stdout.txt 2>stderr.txt
rc=$?
if [ "$rc" -eq 2 ] && grep -qF "option -checkpoint_file: 'existing.ckpt.h5' exists" stderr.txt &&
  [ "$(cat existing.ckpt.h5)" = precious ] && [ ! -e existing.h5 ]; then
  pass "case $n: existing checkpoint refused and untouched"
else
  fail "case $n: existing checkpoint (exit $rc): $(cat stderr.txt)"
fi
rm -f existing.ckpt.h5

# An existing output file is refused without -overwrite and left untouched.
n=$((n + 1))
echo "precious" > existing.h5
timeout 60 "$MPIEXEC" -n 2 --oversubscribe "$ISING" -sweeps 10 -thermalize 0 -quiet -output existing.h5 \
  >stdout.txt 2>stderr.txt
rc=$?
if [ "$rc" -eq 2 ] && grep -qF "option -output: 'existing.h5' exists" stderr.txt && [ "$(cat existing.h5)" = precious ]; then
  pass "case $n: existing output refused and untouched"
else
  fail "case $n: existing output (exit $rc): $(cat stderr.txt)"
fi
finish
