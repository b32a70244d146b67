/* rebalance.c: moving the blocks during a run (rebalance.h).
 *   ising_rebalance_init, ising_rebalance_due, ising_rebalance_free   local
 *   ising_rebalance_check, ising_rebalance_write                       collective */
#include "ising/rebalance.h"

#include "ising/error.h"
#include "ising/timers.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ising_rebalance_init(ising_rebalance *b, const ising_params *p, const ising_geometry *g, const ising_couplings *c)
{
  memset(b, 0, sizeof(*b));
  b->g = g;
  b->c = c;
  b->own = -1;
  b->slot[0].comm = b->slot[1].comm = MPI_COMM_NULL;
  b->every = g->size > 1 ? p->rebalance : 0;
  b->max_block = INT_MAX;
  b->update0 = ising_timer_elapsed(ISING_PHASE_UPDATE);
  b->all = MPI_COMM_NULL;
  b->across = MPI_COMM_NULL;
  const char *test = getenv("ISING_REBALANCE_TEST");
  b->test = test && *test;
}

void ising_rebalance_groups(ising_rebalance *b, MPI_Comm all, MPI_Comm across)
{
  b->all = all;
  b->across = across;
  b->grouped = 1;
}

void ising_rebalance_owned(ising_rebalance *b, ising_geometry *g, ising_couplings *c)
{
  b->owned_g = g;
  b->owned_c = c;
}

int ising_rebalance_due(ising_rebalance *b)
{
  if (b->every <= 0 || b->off) return 0;
  return ++b->since >= b->every;
}

/* The sites of the largest block of cuts cut (as g->cut_mem). */
static double largest_block(const ising_geometry *g, const int64_t *cut)
{
  double v = 1.0;
  for (int d = 0, k = 0; d < g->dim; k += g->grid[d] + 1, d++) {
    int64_t m = 0;
    for (int c = 0; c < g->grid[d]; c++) m = cut[k + c + 1] - cut[k + c] > m ? cut[k + c + 1] - cut[k + c] : m;
    v *= (double)m;
  }
  return v;
}

int ising_rebalance_check(ising_rebalance *b, const ising_params *p, int nfields, int8_t **fields, ising_halo *halo,
                          const char *when)
{
  ising_timer_start(ISING_PHASE_REBALANCE);
  const ising_geometry *g = b->g;
  const MPI_Comm all = b->grouped ? b->all : g->comm;
  const double t = ising_timer_elapsed(ISING_PHASE_UPDATE);
  double mine = (double)g->nlocal * (double)b->since / fmax(t - b->update0, 1e-9);
  if (b->test) mine = 1.0 + (double)((g->rank + b->checks) % 3); /* ISING_REBALANCE_TEST: speeds that rotate */
  b->checks++;
  b->update0 = t;
  b->since = 0;
  size_t ncut = 0;
  for (int d = 0; d < ISING_MAX_DIM; d++) ncut += (size_t)g->grid[d] + 1;
  double *speeds = malloc(sizeof(double) * (size_t)g->size);
  int64_t *cut = malloc(sizeof(int64_t) * (ncut + 1));
  int8_t **moved = calloc((size_t)nfields, sizeof(int8_t *));
  int bad = !speeds || !cut || !moved, rc = -1;
  if (ising_check(all, bad, "out of memory for -rebalance")) goto done;
  /* groups that share their blocks: each position as fast as its slowest rank */
  if (b->across != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, &mine, 1, MPI_DOUBLE, MPI_MIN, b->across);
  MPI_Allgather(&mine, 1, MPI_DOUBLE, speeds, 1, MPI_DOUBLE, g->comm);
  double top = 0.0;
  for (int r = 0; r < g->size; r++) top = fmax(top, speeds[r]);
  for (int r = 0; r < g->size; r++) speeds[r] /= top;
  /* rank 0 decides (floating point may differ between unequal CPUs); cut[ncut] says whether to move */
  if (g->rank == 0) {
    memcpy(cut, g->cut_mem, sizeof(int64_t) * ncut);
    bad = ising_geometry_balance(g->dim, g->L, g->grid, speeds, cut) != 0;
    /* seconds per sweep of the slowest rank, now and with the new cuts */
    const double now = ising_geometry_slowest(g, g->cut_mem, speeds) / top,
                 then = ising_geometry_slowest(g, cut, speeds) / top;
    const double cost = b->cost > 0.0 ? b->cost : 2.0 * now;
    cut[ncut] = !bad && memcmp(cut, g->cut_mem, sizeof(int64_t) * ncut) && then < now &&
                fmax(largest_block(g, g->cut_mem), largest_block(g, cut)) <= b->max_block &&
                (p->rebalance_gain == 0.0 ||
                 (then <= now * (1.0 - p->rebalance_gain) && (now - then) * (double)b->every > cost));
  }
  if (ising_check(all, bad, "out of memory for -rebalance")) goto done;
  /* shared blocks: the first group's rank 0 decides for all (each group's last move took its own time) */
  if (b->across != MPI_COMM_NULL && g->rank == 0) MPI_Bcast(cut, (int)ncut + 1, MPI_INT64_T, 0, b->across);
  MPI_Bcast(cut, (int)ncut + 1, MPI_INT64_T, 0, g->comm);
  rc = 0;
  const int moving = (int)cut[ncut];
  if (!moving && !b->grouped) goto done;

  const double t0 = MPI_Wtime();
  const int next = b->own == 0 ? 1 : 0;
  ising_geometry *ng = &b->slot[next];
  ising_couplings *nc = &b->cslot[next];
  int failed = moving && ising_geometry_recut(g, cut, speeds, ng) != 0;
  if (moving && !failed) {
    ng->balance = ISING_BALANCE_MEASURE;
    failed = ising_couplings_create(p, ng, nc) != 0;
    if (!failed) {
      int oom = 0, any;
      for (int f = 0; f < nfields; f++) oom |= !(moved[f] = calloc(ng->nextended, 1));
      MPI_Allreduce(&oom, &any, 1, MPI_INT, MPI_LOR, g->comm);
      failed = any;
      for (int f = 0; f < nfields && !failed; f++) failed = ising_geometry_move(g, fields[f], ng, moved[f], 1) != 0;
    }
  }
  /* each step above agreed within the group; replica groups commit only if
   * every group that moves succeeded (the old fields are untouched until
   * then), so that they all go on checking together and shared blocks stay
   * the same */
  if (b->grouped) MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_LOR, all);
  if (failed) {
    if (moving) {
      ising_couplings_free(nc);
      ising_geometry_free(ng);
    }
    b->off = 1;
    ising_warn(all, "-rebalance: out of memory for moving the blocks; the run goes on with the blocks it has "
                    "and moves them no more");
    goto done;
  }
  if (!moving) goto done;
  if (b->owned_g) { /* the caller's storage takes the new blocks */
    ising_couplings_free(b->owned_c);
    ising_geometry_free(b->owned_g);
    *b->owned_g = *ng;
    *b->owned_c = *nc;
    memset(ng, 0, sizeof(*ng));
    ng->comm = MPI_COMM_NULL;
    memset(nc, 0, sizeof(*nc));
    ng = b->owned_g;
    nc = b->owned_c;
  }
  ising_halo_free(halo);
  ising_halo_create(ng, MPI_INT8_T, halo);
  for (int f = 0; f < nfields; f++) {
    ising_halo_exchange(halo, moved[f]);
    free(fields[f]);
    fields[f] = moved[f];
    moved[f] = NULL;
  }
  if (!b->owned_g) {
    if (b->own >= 0) {
      ising_couplings_free(&b->cslot[b->own]);
      ising_geometry_free(&b->slot[b->own]);
    }
    b->own = next;
  }
  b->g = ng;
  b->c = nc;
  b->moves++;
  b->cost = MPI_Wtime() - t0;
  rc = 1;
  if (ng->rank == 0 && !p->quiet && when) {
    ising_geometry_print_blocks(ng, when, stdout);
    fflush(stdout);
  }
done:
  ising_timer_stop(ISING_PHASE_REBALANCE);
  if (moved)
    for (int f = 0; f < nfields; f++) free(moved[f]);
  free(moved);
  free(speeds);
  free(cut);
  return rc;
}

int ising_rebalance_write(ising_rebalance *b, ising_io *io, int first)
{
  if (first && ising_io_attr_length(io, "/", "rebalances", H5T_NATIVE_INT64) == 0 &&
      ising_io_read_attr(io, "/", "rebalances", H5T_NATIVE_INT64, &b->moves, 0))
    b->moves = 0;
  return ising_io_attr_int64(io, "/", "rebalances", &b->moves, 0);
}

void ising_rebalance_free(ising_rebalance *b)
{
  if (b->own >= 0) {
    ising_couplings_free(&b->cslot[b->own]);
    ising_geometry_free(&b->slot[b->own]);
  }
  b->own = -1;
}
