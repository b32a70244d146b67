/* trw.c: the tree-reweighted upper bound on ln Z (trw.h).
 *   ising_trw_evaluate, ising_trw_solve, ising_trw_bound,
 *   ising_trw_trivial                                      collective
 *   ising_trw_tree_model                                   local */
#include "ising/trw.h"

#include "ising/error.h"
#include "ising/observables.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHIFTS 2 /* trees per primary axis */

typedef struct {
  int order[ISING_MAX_DIM]; /* axes, primary first */
  int64_t t[ISING_MAX_DIM]; /* root coordinate per axis */
  int64_t cut[ISING_MAX_DIM];
  double rho; /* weight of the tree */
} tree;

static int ntrees(int dim)
{
  return SHIFTS * dim;
}

static tree make_tree(int dim, const int64_t *L, const int *periodic, const double *w, int k)
{
  tree T;
  int a = k / SHIFTS, shift = k % SHIFTS;
  for (int j = 0; j < ISING_MAX_DIM; j++) {
    T.order[j] = j < dim ? (a + j) % dim : j;
    T.t[j] = shift * L[j] / SHIFTS;
    T.cut[j] = periodic[j] ? (T.t[j] + L[j] - 1) % L[j] : L[j] - 1;
  }
  T.rho = w[a] / SHIFTS;
  return T;
}

/* Does the bond from global coordinates x along axis d belong to T? */
static int in_tree(const tree *T, int dim, const int64_t *x, int d)
{
  for (int j = 0; j < dim; j++) {
    int b = T->order[j];
    if (b == d) return x[d] != T->cut[d];
    if (x[b] != T->t[b]) return 0;
  }
  return 0;
}

/* rho_e of the bond from x along d (0 for the absent wrap bond of an open axis). */
static double edge_rho(const tree *trees, int nt, int dim, const int64_t *L, const int *periodic, const int64_t *x,
                       int d)
{
  if (!periodic[d] && x[d] == L[d] - 1) return 0.0;
  double rho = 0.0;
  for (int k = 0; k < nt; k++)
    if (in_tree(&trees[k], dim, x, d)) rho += trees[k].rho;
  return rho;
}

static int check_weights(int dim, const double *w)
{
  double sum = 0.0;
  for (int a = 0; a < dim; a++) {
    if (!(w[a] > 0.0) || !isfinite(w[a])) return -1;
    sum += w[a];
  }
  return fabs(sum - 1.0) < 1e-12 ? 0 : -1;
}

static double lse(double x, double y)
{
  if (x < y) {
    double s = x;
    x = y;
    y = s;
  }
  if (y == -INFINITY) return x;
  return x + log1p(exp(y - x));
}

/* M <- M diag(exp(phi)) B(theta), all in logs: M[2 i + j] = ln of entry
 * (i, j), index 0 for s = +1, 1 for s = -1; B(theta)_{ss'} = exp(theta s s'). */
static inline void step(double *M, const double *phi, double theta)
{
  for (int i = 0; i < 2; i++) {
    double u = M[2 * i] + phi[0], v = M[2 * i + 1] + phi[1];
    M[2 * i] = lse(u + theta, v - theta);
    M[2 * i + 1] = lse(u - theta, v + theta);
  }
}

typedef struct {
  const ising_geometry *g;
  const ising_couplings *c;
  double beta;
  MPI_Comm axis[ISING_MAX_DIM]; /* sub-communicators of the process grid, rank = coordinate */
  double *phi;                  /* 2 per local site: log unary potentials */
  double *rho;                  /* dim per local site: rho_e of the bond to the +d neighbour */
  double *state, *back;         /* 4 per line: log transfer products */
  size_t maxlines;
} context;

typedef struct {
  int lo[ISING_MAX_DIM], hi[ISING_MAX_DIM]; /* local coordinate ranges of the lines' other axes */
  int a;                                    /* the lines' axis */
  size_t count;
} lineset;

static size_t compact(const ising_geometry *g, const int *x)
{
  return (size_t)x[0] + (size_t)g->n[0] * ((size_t)x[1] + (size_t)g->n[1] * (size_t)x[2]);
}

/* The first site of line l (local coordinates, x[a] = 0). */
static void line_start(const ising_geometry *g, const lineset *ls, size_t l, int *x)
{
  int b[2], nb = 0;
  for (int d = 0; d < ISING_MAX_DIM; d++)
    if (d != ls->a) b[nb++] = d;
  size_t w0 = (size_t)(ls->hi[b[0]] - ls->lo[b[0]]);
  x[ls->a] = 0;
  x[b[0]] = ls->lo[b[0]] + (int)(l % w0);
  x[b[1]] = ls->lo[b[1]] + (int)(l / w0);
  (void)g;
}

/* Extend the products of lines [l0, l1) over local positions [p0, p1) of axis a. */
static void extend(const context *ctx, const tree *T, const lineset *ls, size_t l0, size_t l1, int p0, int p1,
                   double *state)
{
  const ising_geometry *g = ctx->g;
  const ising_couplings *c = ctx->c;
  int a = ls->a;
  size_t sa = a == 0 ? 1 : a == 1 ? (size_t)g->n[0] : (size_t)g->n[0] * (size_t)g->n[1];
  ptrdiff_t se = g->stride[a];
  int lo[ISING_MAX_DIM];
  for (int d = 0; d < ISING_MAX_DIM; d++) lo[d] = ising_geometry_lo(g, d);
  for (size_t l = l0; l < l1; l++) {
    int x[ISING_MAX_DIM];
    line_start(g, ls, l, x);
    x[a] = p0;
    size_t i = compact(g, x);
    size_t e = ising_geometry_index(g, x[0] + lo[0], x[1] + lo[1], x[2] + lo[2]);
    double *M = state + 4 * l;
    for (int pos = p0; pos < p1; pos++, i += sa, e += (size_t)se) {
      double J = c->uniform_bonds ? c->J[a] : c->Jp[a][e];
      double theta = 0.0;
      if (g->offset[a] + pos != T->cut[a] && J != 0.0) theta = ctx->beta * J / ctx->rho[(size_t)g->dim * i + (size_t)a];
      step(M, ctx->phi + 2 * i, theta);
    }
  }
}

/* The lines' messages to their roots replace the root's potential. */
static void finish(const context *ctx, const tree *T, const lineset *ls, size_t l0, size_t l1, const double *state)
{
  const ising_geometry *g = ctx->g;
  for (size_t l = l0; l < l1; l++) {
    int x[ISING_MAX_DIM];
    line_start(g, ls, l, x);
    x[ls->a] = (int)(T->t[ls->a] - g->offset[ls->a]);
    size_t i = compact(g, x);
    ctx->phi[2 * i] = state[4 * l];
    ctx->phi[2 * i + 1] = state[4 * l + 3];
  }
}

/* Level j of tree T: the lines along order[j] through the roots of the
 * earlier axes, summed into their roots by the pipeline along the axis. */
static void reduce_level(context *ctx, const tree *T, int j)
{
  const ising_geometry *g = ctx->g;
  lineset ls;
  ls.a = T->order[j];
  ls.count = 1;
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    ls.lo[d] = 0;
    ls.hi[d] = g->n[d];
    for (int i = 0; i < j; i++)
      if (T->order[i] == d) {
        int64_t r = T->t[d] - g->offset[d];
        ls.lo[d] = (int)(r >= 0 && r < g->n[d] ? r : 0);
        ls.hi[d] = r >= 0 && r < g->n[d] ? ls.lo[d] + 1 : ls.lo[d];
      }
    if (d != ls.a) ls.count *= (size_t)(ls.hi[d] - ls.lo[d]);
  }
  if (ls.count == 0) return; /* the same on every rank of the axis */
  int a = ls.a, P = g->grid[a], me = g->coords[a], na = g->n[a];
  int owner = 0;
  for (int q = 0; q < P; q++) {
    int64_t start, len;
    ising_geometry_block(g, a, q, &start, &len);
    if (T->t[a] >= start && T->t[a] < start + len) owner = q;
  }
  int troot = (int)(T->t[a] - g->offset[a]);
  for (size_t l = 0; l < ls.count; l++) {
    double *M = ctx->state + 4 * l;
    M[0] = M[3] = 0.0;
    M[1] = M[2] = -INFINITY;
  }
  if (P == 1) {
    extend(ctx, T, &ls, 0, ls.count, troot, na, ctx->state);
    extend(ctx, T, &ls, 0, ls.count, 0, troot, ctx->state);
    finish(ctx, T, &ls, 0, ls.count, ctx->state);
    return;
  }
  int nchunk = (int)(ls.count < (size_t)(4 * P) ? ls.count : (size_t)(4 * P));
  int next = (me + 1) % P, prev = (me + P - 1) % P;
  MPI_Request *req = malloc(sizeof(MPI_Request) * 2 * (size_t)nchunk);
  MPI_Request *sreq = req, *rreq = req + nchunk;
  MPI_Comm comm = ctx->axis[a];
  for (int k = 0; k < nchunk; k++) {
    size_t l0 = ls.count * (size_t)k / (size_t)nchunk, l1 = ls.count * (size_t)(k + 1) / (size_t)nchunk;
    int n = (int)(4 * (l1 - l0));
    if (me == owner) MPI_Irecv(ctx->back + 4 * l0, n, MPI_DOUBLE, prev, k, comm, &rreq[k]);
  }
  for (int k = 0; k < nchunk; k++) {
    size_t l0 = ls.count * (size_t)k / (size_t)nchunk, l1 = ls.count * (size_t)(k + 1) / (size_t)nchunk;
    int n = (int)(4 * (l1 - l0));
    if (me == owner) {
      extend(ctx, T, &ls, l0, l1, troot, na, ctx->state);
    } else {
      MPI_Recv(ctx->state + 4 * l0, n, MPI_DOUBLE, prev, k, comm, MPI_STATUS_IGNORE);
      extend(ctx, T, &ls, l0, l1, 0, na, ctx->state);
    }
    MPI_Isend(ctx->state + 4 * l0, n, MPI_DOUBLE, next, k, comm, &sreq[k]);
  }
  if (me == owner)
    for (int k = 0; k < nchunk; k++) {
      size_t l0 = ls.count * (size_t)k / (size_t)nchunk, l1 = ls.count * (size_t)(k + 1) / (size_t)nchunk;
      MPI_Wait(&rreq[k], MPI_STATUS_IGNORE);
      extend(ctx, T, &ls, l0, l1, 0, troot, ctx->back);
      finish(ctx, T, &ls, l0, l1, ctx->back);
    }
  MPI_Waitall(nchunk, sreq, MPI_STATUSES_IGNORE);
  free(req);
}

/* ln Z(theta_T), exact. */
static double tree_lnz(context *ctx, const tree *T)
{
  const ising_geometry *g = ctx->g;
  const ising_couplings *c = ctx->c;
  int lo[ISING_MAX_DIM], x[ISING_MAX_DIM];
  for (int d = 0; d < ISING_MAX_DIM; d++) lo[d] = ising_geometry_lo(g, d);
  for (x[2] = 0; x[2] < g->n[2]; x[2]++)
    for (x[1] = 0; x[1] < g->n[1]; x[1]++)
      for (x[0] = 0; x[0] < g->n[0]; x[0]++) {
        size_t i = compact(g, x);
        double h =
            c->uniform_field ? c->field : c->h[ising_geometry_index(g, x[0] + lo[0], x[1] + lo[1], x[2] + lo[2])];
        ctx->phi[2 * i] = ctx->beta * h;
        ctx->phi[2 * i + 1] = -ctx->beta * h;
      }
  for (int j = 0; j < g->dim; j++) reduce_level(ctx, T, j);
  double v = -INFINITY, all;
  int own = 1;
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    x[d] = (int)(T->t[d] - g->offset[d]);
    own &= x[d] >= 0 && x[d] < g->n[d];
  }
  if (own) {
    size_t i = compact(g, x);
    v = lse(ctx->phi[2 * i], ctx->phi[2 * i + 1]);
  }
  MPI_Allreduce(&v, &all, 1, MPI_DOUBLE, MPI_MAX, g->comm);
  return all;
}

int ising_trw_evaluate(const ising_params *p, const ising_geometry *g, const ising_couplings *c, double beta,
                       const double *w, double *lnz_upper)
{
  (void)p;
  *lnz_upper = NAN;
  int dim = g->dim, nt = ntrees(dim);
  double uniform[ISING_MAX_DIM];
  for (int a = 0; a < dim; a++) uniform[a] = 1.0 / dim;
  if (!w) w = uniform;
  if (check_weights(dim, w) || !(beta >= 0.0) || !isfinite(beta)) return -1;
  tree trees[2 * ISING_MAX_DIM];
  for (int k = 0; k < nt; k++) trees[k] = make_tree(dim, g->L, g->periodic, w, k);

  context ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.g = g;
  ctx.c = c;
  ctx.beta = beta;
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    size_t lines = g->nlocal / (size_t)g->n[d];
    if (lines > ctx.maxlines) ctx.maxlines = lines;
  }
  ctx.phi = malloc(sizeof(double) * 2 * g->nlocal);
  ctx.rho = malloc(sizeof(double) * (size_t)dim * g->nlocal);
  ctx.state = malloc(sizeof(double) * 4 * ctx.maxlines);
  ctx.back = malloc(sizeof(double) * 4 * ctx.maxlines);
  int oom = !ctx.phi || !ctx.rho || !ctx.state || !ctx.back;
  if (ising_check(g->comm, oom, "out of memory for the tree-reweighted bound (%zu sites per rank)", g->nlocal)) {
    free(ctx.phi);
    free(ctx.rho);
    free(ctx.state);
    free(ctx.back);
    return ISING_EXIT_RUNTIME;
  }
  int x[ISING_MAX_DIM];
  for (x[2] = 0; x[2] < g->n[2]; x[2]++)
    for (x[1] = 0; x[1] < g->n[1]; x[1]++)
      for (x[0] = 0; x[0] < g->n[0]; x[0]++) {
        int64_t gx[ISING_MAX_DIM];
        for (int d = 0; d < ISING_MAX_DIM; d++) gx[d] = g->offset[d] + x[d];
        for (int d = 0; d < dim; d++)
          ctx.rho[(size_t)dim * compact(g, x) + (size_t)d] = edge_rho(trees, nt, dim, g->L, g->periodic, gx, d);
      }
  for (int d = 0; d < dim; d++) {
    int remain[ISING_MAX_DIM] = {0, 0, 0};
    remain[dim - 1 - d] = 1; /* the Cartesian communicator lists the axes in reverse (geometry.c) */
    MPI_Cart_sub(g->comm, remain, &ctx.axis[d]);
  }
  double bound = 0.0;
  for (int k = 0; k < nt; k++) bound += trees[k].rho * tree_lnz(&ctx, &trees[k]);
  for (int d = 0; d < dim; d++) MPI_Comm_free(&ctx.axis[d]);
  free(ctx.phi);
  free(ctx.rho);
  free(ctx.state);
  free(ctx.back);
  *lnz_upper = bound;
  return 0;
}

int ising_trw_solve(const ising_params *p, const ising_geometry *g, const ising_couplings *c, double beta,
                    int max_evaluations, ising_trw_result *r)
{
  int dim = g->dim;
  memset(r, 0, sizeof(*r));
  for (int a = 0; a < dim; a++) r->weights[a] = 1.0 / dim;
  int rc = ising_trw_evaluate(p, g, c, beta, r->weights, &r->lnz_upper);
  r->lnz_uniform = r->lnz_upper;
  r->evaluations = 1;
  if (rc || dim == 1) return rc;
  /* Pattern search: move weight towards or away from one axis, the others
   * scaled; halve the step when no move helps.  The decisions use values
   * that are identical on every rank. */
  double step = 0.25, last = MPI_Wtime();
  while (r->evaluations < max_evaluations && step > 1.0 / 64) {
    int improved = 0;
    for (int a = 0; a < (dim == 2 ? 1 : dim) && r->evaluations < max_evaluations; a++)
      for (int sgn = -1; sgn <= 1 && r->evaluations < max_evaluations; sgn += 2) {
        double w[ISING_MAX_DIM], wa = r->weights[a] + sgn * step * r->weights[a];
        if (wa < 0.02 || wa > 0.98) continue;
        for (int b = 0; b < dim; b++) w[b] = b == a ? wa : r->weights[b] * (1.0 - wa) / (1.0 - r->weights[a]);
        double sum = 0.0;
        for (int b = 0; b < dim; b++) sum += w[b];
        for (int b = 0; b < dim; b++) w[b] /= sum;
        double v;
        rc = ising_trw_evaluate(p, g, c, beta, w, &v);
        r->evaluations++;
        if (rc) return rc;
        if (v < r->lnz_upper) {
          r->lnz_upper = v;
          memcpy(r->weights, w, sizeof(w));
          improved = 1;
        }
        /* each evaluation is a pass over the whole lattice per tree: seconds on large lattices */
        if (!p->quiet && g->rank == 0 && MPI_Wtime() - last >= p->progress_interval) {
          last = MPI_Wtime();
          printf("progress: TRW bound at beta = %g, evaluation %d/%d, lnZ/N <= %.10f\n", beta, r->evaluations,
                 max_evaluations, r->lnz_upper / (double)g->nsites);
          fflush(stdout);
        }
      }
    if (!improved) step *= 0.5;
  }
  return 0;
}

double ising_trw_trivial(const ising_geometry *g, const ising_couplings *c, double beta)
{
  ising_int128 sum = 0;
  int lo[ISING_MAX_DIM], x[ISING_MAX_DIM];
  for (int d = 0; d < ISING_MAX_DIM; d++) lo[d] = ising_geometry_lo(g, d);
  for (x[2] = 0; x[2] < g->n[2]; x[2]++)
    for (x[1] = 0; x[1] < g->n[1]; x[1]++)
      for (x[0] = 0; x[0] < g->n[0]; x[0]++) {
        size_t e = ising_geometry_index(g, x[0] + lo[0], x[1] + lo[1], x[2] + lo[2]);
        sum += ising_fixed128(fabs(c->uniform_field ? c->field : c->h[e]));
        for (int d = 0; d < g->dim; d++) {
          if (!g->periodic[d] && g->offset[d] + x[d] == g->L[d] - 1) continue;
          sum += ising_fixed128(fabs(c->uniform_bonds ? c->J[d] : c->Jp[d][e]));
        }
      }
  ising_allreduce_int128(g->comm, &sum, 1);
  return (double)g->nsites * log(2.0) + beta * ising_unfixed128(sum);
}

int ising_trw_bound(const ising_params *p, const ising_geometry *g, const ising_couplings *c, double beta,
                    double *lnz_upper, double *lnz_trivial)
{
  ising_trw_result r;
  int rc = ising_trw_solve(p, g, c, beta, ISING_TRW_EVALUATIONS, &r);
  *lnz_upper = rc ? NAN : r.lnz_upper;
  *lnz_trivial = ising_trw_trivial(g, c, beta);
  return rc;
}

int ising_trw_tree_model(const ising_params *p, double beta, const double *w, int k, ising_bondlist *tree_out,
                         double *rho_tree)
{
  int dim = p->dim, nt = ntrees(dim);
  double uniform[ISING_MAX_DIM];
  for (int a = 0; a < dim; a++) uniform[a] = 1.0 / dim;
  if (!w) w = uniform;
  if (k < 0 || k >= nt || check_weights(dim, w)) return -1;
  tree trees[2 * ISING_MAX_DIM];
  for (int q = 0; q < nt; q++) trees[q] = make_tree(dim, p->L, p->periodic, w, q);
  ising_bondlist all;
  if (ising_couplings_bondlist(p, &all)) return -1;
  if (ising_bondlist_alloc(tree_out, all.nspins, (int)p->nsites - 1)) {
    ising_bondlist_free(&all);
    return -1;
  }
  /* ising_couplings_bondlist lists the bonds site by site, axis by axis,
   * skipping the absent ones: walk the same order to know each bond's axis. */
  int nb = 0, b = 0;
  for (int64_t s = 0; s < p->nsites; s++) {
    int64_t x[ISING_MAX_DIM] = {0, 0, 0}, r = s;
    for (int d = 0; d < dim; d++) {
      x[d] = r % p->L[d];
      r /= p->L[d];
    }
    tree_out->h[s] = beta * all.h[s];
    for (int d = 0; d < dim; d++) {
      if (!p->periodic[d] && x[d] == p->L[d] - 1) continue;
      if (in_tree(&trees[k], dim, x, d)) {
        double rho = edge_rho(trees, nt, dim, p->L, p->periodic, x, d);
        tree_out->i[nb] = all.i[b];
        tree_out->j[nb] = all.j[b];
        tree_out->J[nb] = beta * all.J[b] / rho;
        nb++;
      }
      b++;
    }
  }
  ising_bondlist_free(&all);
  *rho_tree = trees[k].rho;
  return nb == tree_out->nbonds ? 0 : -1;
}
