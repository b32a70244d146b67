"""random_identical.py: random whole runs write the same output file, bit
for bit, on 1 rank and on 2-4 ranks with random layouts and instruction sets.

usage: random_identical.py ISING WORKDIR N [SEED] [--restart [--shim LIB]]
(WORKDIR is created if it does not exist)

Each case takes the next task of a cycle of ten (mc, tempering, quench,
anneal, freeenergy, meanfield, mc/freeenergy together with meanfield; any
ten consecutive cases run them all) and draws a 1D-3D lattice of up to about
2300 sites with random sizes and boundary conditions, couplings (uniform,
anisotropic, +-J, Gaussian), uniform and random fields, the update
algorithm, temperatures and the task's own options (small counts).  It runs
on 1 rank, then on 2, 3 and 4 ranks (mpirun --oversubscribe; ISING_MPIEXEC
overrides "mpirun --oversubscribe -n"), each with a random -process_grid,
random -balance speeds or the defaults (tempering: a random
-ranks_per_replica whose replica groups divide the temperatures), sometimes with -rebalance moving the blocks at every
check (ISING_REBALANCE_TEST), and on a random instruction set (ISING_SIMD
avx2 or scalar, or the best this CPU has).  Every file is compared with
the 1-rank one by check_same.py (every dataset and attribute but the
layout's provenance).  A layout the program refuses (exit 2, e.g. a
tempering layout that does not divide) is counted and skipped; any other
failure, or a difference, fails the case.  Prints one line per run and
exits 1 if any case failed."""
import os
import random
import shlex
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# in turn, so that any 10 consecutive cases run every task
TASKS = ["mc", "tempering", "quench", "anneal", "freeenergy", "meanfield", "mc,meanfield", "tempering",
         "freeenergy,meanfield", "mc"]


def lattice(r):
    """Dimension, sizes (periodic axes even) and the lattice options."""
    dim = r.choice([1, 2, 2, 3, 3, 3])
    if dim == 1:
        L = [r.randint(4, 300)]
    elif dim == 2:
        L = [r.randint(4, 48), r.randint(4, 40)]
    else:
        L = [r.randint(4, 16), r.randint(4, 12), r.randint(4, 12)]
    bc = []
    for d in range(dim):
        periodic = r.random() < 0.6
        if periodic and L[d] % 2:
            L[d] += 1
        bc.append("periodic" if periodic else "open")
    return dim, L, ["-lattice_size", ",".join(map(str, L)), "-lattice_bc", ",".join(bc)]


def physics(r, dim):
    """Couplings, fields, algorithm and seeds."""
    o = []
    kind = r.choice(["uniform", "pm", "gaussian"])
    if kind != "uniform":
        o += ["-couplings", kind]
    if kind == "uniform" and r.random() < 0.4:
        o += ["-J", ",".join(str(round(r.uniform(-1.5, 1.5), 3)) for _ in range(dim))]
    if kind == "pm":
        o += ["-pm_p", str(round(r.random(), 3))]
    if kind == "gaussian" and r.random() < 0.4:
        o += ["-gaussian_mean", str(round(r.uniform(-1, 1), 3))]
    if r.random() < 0.4:
        o += ["-field", str(round(r.uniform(-0.5, 0.5), 3))]
    if r.random() < 0.3:
        o += ["-field_sigma", str(round(r.uniform(0.1, 1.2), 3))]
    if r.random() < 0.5:
        o += ["-algorithm", "heatbath"]
    o += ["-seed", str(r.randint(0, 2**40)), "-disorder_seed", str(r.randint(0, 2**40))]
    return o


def betas(r, n):
    """n inverse temperatures, sorted."""
    return sorted(round(r.uniform(0.05, 1.2), 4) for _ in range(n))


def task_options(r, task, nsites):
    """The task's own options, with small counts (a run takes about a second)."""
    o = ["-task", task]
    if task in ("mc", "mc,meanfield"):
        o += ["-beta_list", ",".join(map(str, sorted(set(betas(r, r.randint(1, 3)))))),
              "-thermalize", str(r.randint(0, 20)), "-sweeps", str(r.randint(20, 120)),
              "-measure_interval", str(r.randint(1, 3)), "-snapshot_interval", str(r.choice([0, 0, 10, 25]))]
        if r.random() < 0.3:
            o += ["-start", "cold"]
    if "meanfield" in task:
        o += ["-mf_max_iter", str(r.randint(50, 400)), "-mf_tol", "1e-10",
              "-mf_init", r.choice(["paramagnetic,ferro,random", "paramagnetic", "random", "ferro,antiferro"])]
        if r.random() < 0.3:
            o += ["-mf_damping", str(round(r.uniform(0, 0.6), 2))]
        if task == "meanfield":
            o += ["-beta_list", ",".join(map(str, sorted(set(betas(r, r.randint(1, 3))))))]
    if task == "tempering":
        n = r.randint(2, 8)
        lo = round(r.uniform(0.1, 0.5), 3)
        o += ["-beta_min", str(lo), "-beta_max", str(round(lo + r.uniform(0.1, 1.0), 3)), "-n_temps", str(n),
              "-thermalize", str(r.randint(0, 20)), "-sweeps", str(r.randint(20, 100)),
              "-pt_swap_interval", str(r.randint(1, 3)), "-pt_replica_sets", str(r.choice([1, 1, 2])),
              "-disorder_samples", str(r.choice([1, 1, 2]))]
    if task == "quench":
        o += ["-quench_beta", r.choice(["inf", str(round(r.uniform(0.5, 2), 3))]),
              "-quench_sweeps", str(r.randint(5, 40)), "-quench_histories", str(r.randint(1, 3)),
              "-quench_per_decade", str(r.randint(1, 5))]
        if nsites > 4096 or r.random() < 0.3:
            o += ["-quench_structure_factor", "false"]
    if task == "anneal":
        o += ["-anneal_steps", str(r.randint(2, 12)), "-anneal_sweeps_per_step", str(r.randint(1, 4)),
              "-anneal_restarts", str(r.randint(1, 4)), "-anneal_schedule", r.choice(["linear", "geometric"])]
    if "freeenergy" in task:
        o += ["-beta_list", ",".join(map(str, sorted(set(betas(r, r.randint(1, 2)))))),
              "-ais_chains", str(r.randint(1, 5)), "-ais_steps", str(r.randint(5, 40)),
              "-ais_sweeps_per_step", str(r.randint(1, 2)), "-ais_start", r.choice(["uniform", "meanfield"])]
        if "meanfield" in o and "-mf_max_iter" not in o:
            o += ["-mf_max_iter", "200"]
    return o


def grid(r, np_, dim, L):
    """A process grid of np_ ranks: its prime factors on random axes that have room for them."""
    g = [1] * dim
    rest = np_
    f = 2
    while rest > 1:
        while rest % f == 0:
            d = r.randrange(dim)
            for _ in range(dim):
                if g[d] * f <= L[d]:
                    break
                d = (d + 1) % dim
            g[d] *= f
            rest //= f
        f += 1
    return g


def layout(r, task, np_, dim, L, opts, rebalance=(2, 10)):
    """Random layout options for np_ ranks: a tempering layout (replica groups that divide the temperatures), a
    process grid, uneven blocks or the defaults, sometimes with -rebalance."""
    if np_ == 1:
        return []
    lay = []
    u = r.random()
    if task == "tempering":
        temps = int(opts[opts.index("-n_temps") + 1])
        rpr = r.choice([d for d in range(1, np_ + 1) if np_ % d == 0 and temps % (np_ // d) == 0])
        if rpr > 1 or u < 0.5:
            lay = ["-ranks_per_replica", str(rpr)]
    elif u < 0.4:
        lay = ["-process_grid", ",".join(map(str, grid(r, np_, dim, L)))]
    elif u < 0.7 and task != "tempering":
        lay = ["-balance", ",".join(str(round(r.uniform(0.3, 3), 2)) for _ in range(np_))]
    if task.split(",")[0] in ("mc", "tempering", "quench", "anneal") and r.random() < 0.25:
        lay += ["-rebalance", str(r.randint(*rebalance)), "-rebalance_gain", "0"]
    return lay


def long_task_options(r, task, nsites):
    """Options of a checkpointed task (mc, tempering, anneal, or mc with meanfield and anneal) that take about
    10^8 site updates, long enough to be stopped after the first checkpoint."""
    work = 10 ** 8
    o = ["-task", task]
    if task.startswith("mc"):
        nb = r.randint(1, 3)
        o += ["-beta_list", ",".join(map(str, sorted(set(betas(r, nb))))), "-thermalize", str(r.randint(0, 200)),
              "-sweeps", str(max(1000, work // (nb * nsites))), "-measure_interval", str(r.randint(5, 40)),
              "-snapshot_interval", str(r.choice([0, 0, 5000]))]
    if "meanfield" in task:
        o += ["-mf_max_iter", "300", "-mf_init", r.choice(["paramagnetic,ferro,random", "paramagnetic"])]
    if task == "tempering":
        n = r.randint(2, 8)
        lo = round(r.uniform(0.1, 0.5), 3)
        o += ["-beta_min", str(lo), "-beta_max", str(round(lo + r.uniform(0.1, 1.0), 3)), "-n_temps", str(n),
              "-thermalize", str(r.randint(0, 200)), "-sweeps", str(max(1000, work // (n * nsites))),
              "-measure_interval", str(r.randint(5, 40)), "-pt_swap_interval", str(r.randint(1, 3)),
              "-pt_replica_sets", str(r.choice([1, 1, 2]))]
        # a tuned ladder is shared by every disorder sample, so tuning needs one sample
        o += ["-pt_adapt_sweeps", "2000"] if r.random() < 0.3 else ["-disorder_samples", str(r.choice([1, 2]))]
    if "anneal" in task:
        restarts = r.randint(1, 4)
        o += ["-anneal_steps", "100", "-anneal_restarts", str(restarts),
              "-anneal_sweeps_per_step", str(max(1, work // (100 * restarts * nsites))),
              "-anneal_schedule", r.choice(["linear", "geometric"])]
    return o


def ranks_of(pid):
    """The ranks: mpirun's children."""
    for _ in range(50):
        p = subprocess.run(["pgrep", "-P", str(pid)], stdout=subprocess.PIPE, text=True)
        pids = [int(x) for x in p.stdout.split()]
        if pids:
            return pids
        time.sleep(0.1)
    return []


def stopped_run(cmd, out, log, sig):
    """Starts cmd, sends sig to its ranks once it has written a checkpoint, and returns (exit status, output)."""
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd + ["-checkpoint_interval", "0.02", "-overwrite", "-output", out], stdout=f,
                                stderr=subprocess.STDOUT)
    deadline = time.time() + 600
    while proc.poll() is None and time.time() < deadline:
        with open(log) as f:
            if "checkpoint: wrote" in f.read():
                for pid in ranks_of(proc.pid):
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                break
        time.sleep(0.02)
    try:
        rc = proc.wait(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    with open(log) as f:
        return rc, f.read()


def restart_cases(ising, work, n, r, mpiexec, shim=None):
    """-restart mode: each case runs on 1 rank to the end (the reference), then on a random layout until its
    first checkpoint, where a signal (TERM, INT or USR1) stops it (exit status 4), and is restarted on another
    random layout to the end; the file must equal the reference.  With shim (tests/signal_shim.c, preloaded), a
    third of the cases get their signal in set-up instead, in a random rank right after it creates the output
    file: the run must checkpoint at its first sweep and exit 4."""
    t = Tally()
    early = 0
    tasks = ["mc", "tempering", "anneal", "mc,meanfield,anneal", "tempering", "mc"]
    first = r.randrange(len(tasks))
    for case in range(n):
        task, dim, L, opts = draw(r, tasks, case, first, long_task_options)
        label = f"case {case}: " + " ".join(opts)
        ref = os.path.join(work, f"restart{case}.ref.h5")
        rc, text = run(mpiexec + ["1", ising] + opts, ref)
        if not t.finished(f"{label} on 1 rank", rc, text, refusable=False):
            continue
        np1, np2 = r.randint(1, 4), r.randint(1, 4)
        lay1, lay2 = layout(r, task, np1, dim, L, opts, (50, 500)), layout(r, task, np2, dim, L, opts, (50, 500))
        sig = r.choice([signal.SIGTERM, signal.SIGINT, signal.SIGUSR1])
        out = os.path.join(work, f"restart{case}.h5")
        ckpt = out[:-3] + ".ckpt.h5"
        in_setup = shim is not None and r.random() < 1 / 3
        rank = r.randrange(np1) if in_setup else 0
        at = f" in set-up (rank {rank})" if in_setup else ""
        where = f"{label}: {np1} ranks {' '.join(lay1)}, {sig.name}{at}, restarted on {np2} ranks {' '.join(lay2)}"
        if in_setup:
            pre = ["-x", f"LD_PRELOAD={shim}", "-x", "ISING_SHIM_AFTER=H5Fcreate", "-x", "ISING_SHIM_CALL=1", "-x",
                   f"ISING_SHIM_SIGNAL={int(sig)}", "-x", f"ISING_SHIM_RANK={rank}"]
            rc, text = run(mpiexec + [str(np1)] + pre + [ising] + opts + lay1, out)
            if rc != 4:
                t.finished(where, rc if rc else -1, text, "signal in set-up: exit status (want 4)", refusable=False)
                continue
        else:
            rc, text = stopped_run(mpiexec + [str(np1), ising] + opts + lay1, out, os.path.join(work, "run.log"), sig)
        if rc == 4:
            rc, text = run(mpiexec + [str(np2), ising] + opts + lay2 + ["-restart", ckpt], out, overwrite=False)
            if not t.finished(where, rc, text, "restart: exit status"):
                continue
        elif rc == 0:
            # it ended before its first checkpoint, or the signal came after its last sweep (it then changes
            # nothing): compared all the same
            early += 1
        elif not t.finished(where, rc, text, "stopped run (not stopped by the signal): exit status"):
            continue
        if t.compare(where, ref, out, ckpt):
            os.remove(ref)
    print(f"{t.compared} restarted runs compared with 1 rank ({early} ended before the signal took effect), "
          f"{t.refused} layouts refused, {t.failed} failure(s)")
    return t.failed


class Tally:
    """Prints and counts the outcome of each run: refused layouts, failures, comparisons."""

    def __init__(self):
        self.failed = self.refused = self.compared = 0

    def finished(self, where, rc, text, what="exit", refusable=True):
        """True if the run ended with status 0; else a refusal (status 2, where refusable) or a failure is
        printed and counted."""
        if rc == 0:
            return True
        if rc == 2 and refusable:
            self.refused += 1
            print(f"refused {where}: {refusal(text)}", flush=True)
        else:
            self.failed += 1
            print(f"FAILED {where}: {what} {rc}\n{text}", flush=True)
        return False

    def compare(self, where, ref, out, ckpt=None):
        """check_same.py on ref and out, and no checkpoint left at ckpt: prints ok (and removes out) or FAILED
        (both files kept); True if ok."""
        equal, report = same(ref, out)
        self.compared += 1
        bad = "" if equal else "differs from 1 rank"
        if equal and ckpt and os.path.exists(ckpt):
            bad = "checkpoint left behind"
        if bad:
            self.failed += 1
            print(f"FAILED {where}: {bad} ({ref} and {out} kept)\n{report}", flush=True)
            return False
        print(f"ok {where}", flush=True)
        os.remove(out)
        return True


def refusal(text):
    """The program's error line in a refused run's output."""
    why = [line for line in text.splitlines() if "error:" in line]
    return why[0] if why else text.strip()


def same(ref, out):
    """check_same.py on the two files: (True if equal, its report)."""
    p = subprocess.run([sys.executable, os.path.join(HERE, "check_same.py"), ref, out], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return p.returncode == 0, p.stdout


def draw(r, tasks, case, first, options):
    """Case number case: its task (tasks in turn from first), lattice, physics and task options."""
    dim, L, geo = lattice(r)
    nsites = 1
    for x in L:
        nsites *= x
    task = tasks[(case + first) % len(tasks)]
    return task, dim, L, geo + physics(r, dim) + options(r, task, nsites)


def run(cmd, out, simd=None, overwrite=True):
    env = dict(os.environ)
    if simd:
        env["ISING_SIMD"] = simd
    p = subprocess.run(cmd + ["-quiet", "-output", out] + (["-overwrite"] if overwrite else []), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600, env=env)
    return p.returncode, p.stdout


def main():
    argv = sys.argv[1:]
    shim = None
    if "--shim" in argv:
        k = argv.index("--shim")
        shim = os.path.abspath(argv[k + 1])
        del argv[k:k + 2]
    args = [a for a in argv if a != "--restart"]
    ising, work, n = args[0], args[1], int(args[2])
    seed = int(args[3]) if len(args) > 3 else 1
    os.makedirs(work, exist_ok=True)
    mpiexec = shlex.split(os.environ.get("ISING_MPIEXEC", "mpirun --oversubscribe -n"))
    # -rebalance moves the blocks at every check whatever the timing (rebalance.h)
    os.environ["ISING_REBALANCE_TEST"] = "1"
    r = random.Random(seed)
    if "--restart" in sys.argv:
        sys.exit(1 if restart_cases(ising, work, n, r, mpiexec, shim) else 0)
    first = r.randrange(len(TASKS))
    t = Tally()
    for case in range(n):
        task, dim, L, opts = draw(r, TASKS, case, first, task_options)
        if task == "quench" and "inf" not in opts and "heatbath" not in opts and r.random() < 0.5:
            opts += ["-algorithm", "heatbath"]
        ref = os.path.join(work, f"case{case}.np1.h5")
        rc, text = run(mpiexec + ["1", ising] + opts, ref)
        label = f"case {case}: " + " ".join(opts)
        if not t.finished(f"{label} on 1 rank", rc, text, refusable=False):
            continue
        keep = False
        for np_ in (2, 3, 4):
            lay = layout(r, task, np_, dim, L, opts)
            out = os.path.join(work, f"case{case}.np{np_}.h5")
            simd = r.choice([None, None, "avx2", "scalar"])
            rc, text = run(mpiexec + [str(np_), ising] + opts + lay, out, simd)
            where = f"{label} on {np_} ranks {' '.join(lay)}" + (f" (ISING_SIMD={simd})" if simd else "")
            if t.finished(where, rc, text) and not t.compare(where, ref, out):
                keep = True
        if not keep:
            os.remove(ref)
    print(f"{t.compared} runs compared with 1 rank, {t.refused} layouts refused, {t.failed} failure(s)")
    sys.exit(1 if t.failed else 0)


if __name__ == "__main__":
    main()
