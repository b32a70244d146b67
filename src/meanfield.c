/* meanfield.c: the mean-field task (meanfield.h).
 *   ising_mf_sweep_colour, ising_mf_tanh         local (kernel, no MPI)
 *   ising_mf_evaluate, ising_meanfield_run       collective */
#include "ising/meanfield.h"

#include "ising/error.h"
#include "ising/halo.h"
#include "ising/observables.h"
#include "ising/rng.h"
#include "ising/timers.h"
#include "ising/trw.h"

#include <math.h>
#include <petscdmda.h>
#include <petscsnes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Index of the continuation start in /meanfield/start (after the -mf_init points). */
#define START_PREVIOUS ISING_MF_NINIT

/* ---- tanh, vectorised, the same bits on every instruction set ----
 *
 * glibc's tanh, one call per site, took about 15 of the 20-24 ns per site of a sweep.  tanh |x| = t / (t + 2) with
 * t = e^(2|x|) - 1 (no cancellation near 0): 2|x| = k ln2 + r (Cody-Waite, k = floor(2|x| / ln2), 0 <= r < ln2),
 * e^r - 1 = r + r^2 q(r) with q the Taylor polynomial of degree 15 (remainder below 1e-17 relative) by Horner's
 * rule, t = 2^k (e^r - 1) + (2^k - 1), two terms of one sign (no cancellation).  |x| is clamped to 20 (tanh 20
 * rounds to 1), the sign put back (tanh -0 = -0), and a NaN returned as it came.  Only +, -, *, / and integer
 * operations, and meanfield.c is compiled with -ffp-contract=off (no fused multiply-adds): the loop that GCC vectorises
 * for AVX-512 and AVX2 rounds each operation as the scalar code does, so sweeps give the same bits on every instruction
 * set and for every split of a row into vector and scalar parts (test_meanfield checks both, and the error against
 * tanhl: at most 3 units in the last place, 2.4 at worst on 2 million arguments, where glibc's tanh reaches 2.1). */
static inline __attribute__((always_inline)) double mf_tanh1(double x)
{
  const double shift = 0x1.8p52, clamp = 20.0; /* t + shift rounds t to an integer in the low mantissa bits */
  int64_t xb, cb;
  memcpy(&xb, &x, sizeof(xb));
  memcpy(&cb, &clamp, sizeof(cb));
  const int64_t ab = xb & INT64_MAX, nan = -(int64_t)(ab > INT64_C(0x7ff0000000000000));
  const int64_t over = -(int64_t)(ab > cb), clamped = (ab & ~over) | (cb & over); /* integer order: a >= 0 */
  double a;
  memcpy(&a, &clamped, sizeof(a));
  /* k = floor(y / ln2), so that r >= 0 (up to rounding) and the two terms of t have one sign */
  const double y = a + a, u = (y * 1.4426950408889634074 - 0.5) + shift, kf = u - shift;
  const double r = ising_ln2_reduce(y, kf);
  double q = 1.0 / 355687428096000.0;
  q = q * r + 1.0 / 20922789888000.0;
  q = q * r + 1.0 / 1307674368000.0;
  q = q * r + 1.0 / 87178291200.0;
  q = q * r + 1.0 / 6227020800.0;
  q = ising_exp_horner(q, r);
  const double em1 = r + (r * r) * q; /* e^r - 1 */
  int64_t ub, sh;
  memcpy(&ub, &u, sizeof(ub));
  memcpy(&sh, &shift, sizeof(sh));
  const int64_t e = (ub - sh + 1023) * ((int64_t)1 << 52); /* 2^k, 0 <= k <= 58 */
  double scale;
  memcpy(&scale, &e, sizeof(scale));
  const double t = em1 * scale + (scale - 1.0), th = t / (t + 2.0);
  int64_t tb;
  memcpy(&tb, &th, sizeof(tb));
  tb = ((tb | (xb & INT64_MIN)) & ~nan) | (xb & nan); /* the sign of x; x itself if NaN */
  double out;
  memcpy(&out, &tb, sizeof(out));
  return out;
}

ISING_SIMD_MAP(ising_mf_tanh, mf_tanh1)

static inline double local_field(const ising_geometry *g, const ising_couplings *c, const double *m, size_t i)
{
  double hloc = 0.0;
  for (int d = 0; d < g->dim; d++) {
    ptrdiff_t st = g->stride[d];
    if (c->uniform_bonds)
      hloc += c->J[d] * ((m + i)[-st] + (m + i)[st]);
    else
      hloc += (c->Jp[d] + i)[-st] * (m + i)[-st] + c->Jp[d][i] * (m + i)[st];
  }
  return hloc + (c->uniform_field ? c->field : c->h[i]);
}

/* Sites of a colour per ising_mf_tanh call (the arguments of a row, or of a piece of a long one). */
#define MF_CHUNK 256

void ising_mf_sweep_colour(const ising_geometry *g, const ising_couplings *c, double beta, double damping, double *m,
                           int colour, double *change)
{
  const ising_simd simd = ising_simd_default();
  double worst = 0.0, x[MF_CHUNK], t[MF_CHUNK];
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
      const size_t row = ising_geometry_index(g, 0, ey, ez);
      const int ex0 = ising_geometry_row_start(g, ey, ez, colour);
      for (int e0 = ex0; e0 <= g->n[0]; e0 += 2 * MF_CHUNK) {
        const int n = (g->n[0] - e0) / 2 + 1 < MF_CHUNK ? (g->n[0] - e0) / 2 + 1 : MF_CHUNK;
        for (int j = 0; j < n; j++) x[j] = beta * local_field(g, c, m, row + (size_t)(e0 + 2 * j));
        ising_mf_tanh(simd, x, t, (size_t)n);
        for (int j = 0; j < n; j++) {
          const size_t i = row + (size_t)(e0 + 2 * j);
          const double next = damping * m[i] + (1.0 - damping) * t[j], d = fabs(next - m[i]);
          worst = d > worst ? d : worst; /* fmax inline (as fmax, a NaN d would leave worst) */
          m[i] = next;
        }
      }
    }
  *change = worst;
}

static double entropy(double m)
{
  double p = 0.5 * (1.0 + m), q = 0.5 * (1.0 - m);
  return -(p > 0 ? p * log(p) : 0.0) - (q > 0 ? q * log(q) : 0.0);
}

ising_mf_result ising_mf_evaluate(const ising_geometry *g, const ising_couplings *c, double beta, const double *m)
{
  /* sums[0] = sum_bonds J m m + sum_i h m, sums[1] = entropy, sums[2] = sum m */
  ising_int128 sums[3] = {0, 0, 0};
  double residual = 0.0;
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
      size_t row = ising_geometry_index(g, 0, ey, ez);
      for (int ex = 1; ex <= g->n[0]; ex++) {
        size_t i = row + (size_t)ex;
        double bonds = 0.0;
        for (int d = 0; d < g->dim; d++)
          bonds += (c->uniform_bonds ? c->J[d] : c->Jp[d][i]) * m[i] * (m + i)[g->stride[d]];
        sums[0] += ising_fixed128(bonds + (c->uniform_field ? c->field : c->h[i]) * m[i]);
        sums[1] += ising_fixed128(entropy(m[i]));
        sums[2] += ising_fixed128(m[i]);
        residual = fmax(residual, fabs(m[i] - mf_tanh1(beta * local_field(g, c, m, i))));
      }
    }
  ising_allreduce_int128(g->comm, sums, 3);
  ising_mf_result r;
  MPI_Allreduce(&residual, &r.residual, 1, MPI_DOUBLE, MPI_MAX, g->comm);
  double n = (double)g->nsites, coupling = ising_unfixed128(sums[0]), s = ising_unfixed128(sums[1]);
  r.energy = -coupling / n;
  r.entropy = s / n;
  r.magnetization = ising_unfixed128(sums[2]) / n;
  r.elbo = s + beta * coupling;
  return r;
}

static void init_field(const ising_params *p, const ising_geometry *g, int start, double *m)
{
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++)
      for (int ex = 1; ex <= g->n[0]; ex++) {
        int64_t site = ising_geometry_global_index(g, ex, ey, ez);
        double v = 0.0;
        if (start == 1) v = 1.0;
        if (start == 2) v = ising_geometry_row_start(g, ey, ez, 0) == 1 + ((ex - 1) & 1) ? 1.0 : -1.0;
        if (start == 3)
          v = 2.0 * ising_rng_uniform(ising_rng_u32(p->seed, ISING_STREAM_MF_INIT, 0, (uint64_t)site)) - 1.0;
        m[ising_geometry_index(g, ex, ey, ez)] = v;
      }
}

typedef struct {
  int64_t iterations;
  int converged;
} solve_info;

/* Damped sweeps from m (start `start`, at temperature k) until converged or -mf_max_iter sweeps.  A start that
 * does not converge runs all of them (a random start below the transition keeps its domain walls for long), so
 * rank 0 prints a progress line every -progress_interval seconds. */
static solve_info solve_sweeps(const ising_params *p, const ising_geometry *g, const ising_couplings *c, int k,
                               int start, ising_halo *halo, double *m)
{
  solve_info info = {0, 0};
  const double d = p->mf_damping, beta = p->beta[k];
  double last = MPI_Wtime();
  for (info.iterations = 1; info.iterations <= p->mf_max_iter; info.iterations++) {
    double change = 0.0, part, total;
    for (int colour = 0; colour < 2; colour++) {
      ising_timer_start(ISING_PHASE_UPDATE);
      ising_mf_sweep_colour(g, c, beta, d, m, colour, &part);
      ising_timer_stop(ISING_PHASE_UPDATE);
      change = fmax(change, part);
      ising_timer_start(ISING_PHASE_HALO);
      ising_halo_exchange(halo, m);
      ising_timer_stop(ISING_PHASE_HALO);
    }
    MPI_Allreduce(&change, &total, 1, MPI_DOUBLE, MPI_MAX, g->comm);
    /* A damped step moves m by (1 - d) of its residual; confirm with the
     * true residual once the steps are small enough. */
    if (total <= (1.0 - d) * p->mf_tol && ising_mf_evaluate(g, c, beta, m).residual <= p->mf_tol) {
      info.converged = 1;
      break;
    }
    if (!p->quiet && g->rank == 0 && MPI_Wtime() - last >= p->progress_interval) {
      last = MPI_Wtime();
      printf("progress: mean field beta %d/%d = %g, start %s, sweep %lld/%lld, largest change %.3g (tol %g)\n", k + 1,
             p->nbeta, beta, ising_mf_init_name(start), (long long)info.iterations, (long long)p->mf_max_iter, total,
             p->mf_tol);
      fflush(stdout);
    }
  }
  if (info.iterations > p->mf_max_iter) info.iterations = p->mf_max_iter;
  return info;
}

/* Newton through PETSc: F_i(m) = m_i - tanh(beta h_i^loc(m)) on a DMDA with
 * the decomposition of the geometry; couplings come from the run's own
 * arrays, looked up through the extended-array index. */
typedef struct {
  const ising_geometry *g;
  const ising_couplings *c;
  double beta;
  DM da;
  Vec local;
} snes_ctx;

typedef struct {
  PetscInt xs[3], xm[3], gxs[3], gxm[3];
} corners;

static PetscErrorCode get_corners(DM da, corners *k)
{
  PetscFunctionBeginUser;
  PetscCall(DMDAGetCorners(da, &k->xs[0], &k->xs[1], &k->xs[2], &k->xm[0], &k->xm[1], &k->xm[2]));
  PetscCall(DMDAGetGhostCorners(da, &k->gxs[0], &k->gxs[1], &k->gxs[2], &k->gxm[0], &k->gxm[1], &k->gxm[2]));
  PetscFunctionReturn(0);
}

/* Visits every owned site: calls fn with the ghosted index of the site, the
 * ghosted index of each neighbour (or -1 where the bond is absent) and its
 * coupling, and the site's field. */
typedef struct {
  PetscInt site;   /* ghosted local index */
  PetscInt owned;  /* index in the owned block */
  PetscInt x[3];   /* global coordinates */
  PetscInt nbr[6]; /* ghosted index of -d (2d) and +d (2d+1) neighbours, -1 if absent */
  double J[6];
  double h;
} site_view;

static void view_site(const snes_ctx *s, const corners *k, PetscInt x, PetscInt y, PetscInt z, site_view *v)
{
  const ising_geometry *g = s->g;
  const ising_couplings *c = s->c;
  PetscInt gs[3] = {1, k->gxm[0], k->gxm[0] * k->gxm[1]};
  v->x[0] = x;
  v->x[1] = y;
  v->x[2] = z;
  v->site = (x - k->gxs[0]) + gs[1] * (y - k->gxs[1]) + gs[2] * (z - k->gxs[2]);
  v->owned = (x - k->xs[0]) + k->xm[0] * ((y - k->xs[1]) + k->xm[1] * (z - k->xs[2]));
  int e[3];
  for (int d = 0; d < 3; d++) e[d] = d < g->dim ? (int)(v->x[d] - g->offset[d]) + 1 : 0;
  size_t i = ising_geometry_index(g, e[0], e[1], e[2]);
  for (int d = 0; d < g->dim; d++) {
    int lo = g->periodic[d] || v->x[d] > 0, hi = g->periodic[d] || v->x[d] < g->L[d] - 1;
    v->nbr[2 * d] = lo ? v->site - gs[d] : -1;
    v->nbr[2 * d + 1] = hi ? v->site + gs[d] : -1;
    v->J[2 * d] = c->uniform_bonds ? c->J[d] : c->Jp[d][i - (size_t)g->stride[d]];
    v->J[2 * d + 1] = c->uniform_bonds ? c->J[d] : c->Jp[d][i];
  }
  v->h = c->uniform_field ? c->field : c->h[i];
}

static double view_field(const site_view *v, int dim, const PetscScalar *m)
{
  double hloc = 0.0;
  for (int d = 0; d < dim; d++) {
    if (v->nbr[2 * d] >= 0) hloc += v->J[2 * d] * m[v->nbr[2 * d]];
    if (v->nbr[2 * d + 1] >= 0) hloc += v->J[2 * d + 1] * m[v->nbr[2 * d + 1]];
  }
  return hloc + v->h;
}

static PetscErrorCode residual(SNES snes, Vec X, Vec F, void *ctx)
{
  snes_ctx *s = ctx;
  corners k;
  const PetscScalar *m;
  PetscScalar *f;
  PetscFunctionBeginUser;
  (void)snes;
  PetscCall(DMGlobalToLocal(s->da, X, INSERT_VALUES, s->local));
  PetscCall(get_corners(s->da, &k));
  PetscCall(VecGetArrayRead(s->local, &m));
  PetscCall(VecGetArray(F, &f));
  for (PetscInt z = k.xs[2]; z < k.xs[2] + k.xm[2]; z++)
    for (PetscInt y = k.xs[1]; y < k.xs[1] + k.xm[1]; y++)
      for (PetscInt x = k.xs[0]; x < k.xs[0] + k.xm[0]; x++) {
        site_view v;
        view_site(s, &k, x, y, z, &v);
        f[v.owned] = m[v.site] - mf_tanh1(s->beta * view_field(&v, s->g->dim, m));
      }
  PetscCall(VecRestoreArray(F, &f));
  PetscCall(VecRestoreArrayRead(s->local, &m));
  PetscFunctionReturn(0);
}

static PetscErrorCode jacobian(SNES snes, Vec X, Mat A, Mat P, void *ctx)
{
  snes_ctx *s = ctx;
  corners k;
  const PetscScalar *m;
  PetscFunctionBeginUser;
  (void)snes;
  PetscCall(DMGlobalToLocal(s->da, X, INSERT_VALUES, s->local));
  PetscCall(get_corners(s->da, &k));
  PetscCall(VecGetArrayRead(s->local, &m));
  PetscCall(MatZeroEntries(P));
  for (PetscInt z = k.xs[2]; z < k.xs[2] + k.xm[2]; z++)
    for (PetscInt y = k.xs[1]; y < k.xs[1] + k.xm[1]; y++)
      for (PetscInt x = k.xs[0]; x < k.xs[0] + k.xm[0]; x++) {
        site_view v;
        view_site(s, &k, x, y, z, &v);
        double t = mf_tanh1(s->beta * view_field(&v, s->g->dim, m)), slope = -s->beta * (1.0 - t * t);
        MatStencil row = {.i = x, .j = y, .k = z}, col[7];
        PetscScalar val[7];
        int n = 0;
        col[n] = row;
        val[n++] = 1.0;
        for (int d = 0; d < s->g->dim; d++)
          for (int side = 0; side < 2; side++) {
            if (v.nbr[2 * d + side] < 0) continue;
            col[n] = row;
            PetscInt *coord = d == 0 ? &col[n].i : d == 1 ? &col[n].j : &col[n].k;
            *coord += side ? 1 : -1; /* unwrapped: the DMDA maps ghost coordinates itself */
            val[n++] = slope * v.J[2 * d + side];
          }
        /* ADD: on a periodic axis of length 2 both neighbours are one site. */
        PetscCall(MatSetValuesStencil(P, 1, &row, n, col, val, ADD_VALUES));
      }
  PetscCall(VecRestoreArrayRead(s->local, &m));
  PetscCall(MatAssemblyBegin(P, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(P, MAT_FINAL_ASSEMBLY));
  if (A != P) {
    PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  }
  PetscFunctionReturn(0);
}

typedef struct {
  snes_ctx ctx;
  SNES snes;
  Vec X, F;
  Mat A;
  PetscInt *own[3];
} snes_solver;

static PetscErrorCode snes_create(const ising_params *p, const ising_geometry *g, const ising_couplings *c,
                                  snes_solver *s)
{
  DMBoundaryType bt[3];
  PetscInt M[3];
  PetscFunctionBeginUser;
  memset(s, 0, sizeof(*s));
  s->ctx.g = g;
  s->ctx.c = c;
  for (int d = 0; d < 3; d++) {
    bt[d] = d < g->dim && g->periodic[d] ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_NONE;
    M[d] = (PetscInt)g->L[d];
    if (d >= g->dim) continue;
    PetscCall(PetscMalloc1(g->grid[d], &s->own[d]));
    for (int r = 0; r < g->grid[d]; r++) {
      int64_t start, len;
      ising_geometry_block(g, d, r, &start, &len);
      s->own[d][r] = (PetscInt)len;
    }
  }
  if (g->dim == 1)
    PetscCall(DMDACreate1d(g->comm, bt[0], M[0], 1, 1, s->own[0], &s->ctx.da));
  else if (g->dim == 2)
    PetscCall(DMDACreate2d(g->comm, bt[0], bt[1], DMDA_STENCIL_STAR, M[0], M[1], g->grid[0], g->grid[1], 1, 1,
                           s->own[0], s->own[1], &s->ctx.da));
  else
    PetscCall(DMDACreate3d(g->comm, bt[0], bt[1], bt[2], DMDA_STENCIL_STAR, M[0], M[1], M[2], g->grid[0], g->grid[1],
                           g->grid[2], 1, 1, s->own[0], s->own[1], s->own[2], &s->ctx.da));
  PetscCall(DMSetUp(s->ctx.da));
  corners k;
  PetscCall(get_corners(s->ctx.da, &k));
  int same = 1, all;
  for (int d = 0; d < g->dim; d++) same &= k.xs[d] == g->offset[d] && k.xm[d] == g->n[d];
  PetscCallMPI(MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_LAND, g->comm));
  PetscCheck(all, g->comm, PETSC_ERR_PLIB, "DMDA ownership differs from the lattice decomposition");
  PetscCall(DMCreateGlobalVector(s->ctx.da, &s->X));
  PetscCall(VecDuplicate(s->X, &s->F));
  PetscCall(DMCreateLocalVector(s->ctx.da, &s->ctx.local));
  PetscCall(DMCreateMatrix(s->ctx.da, &s->A));
  PetscCall(SNESCreate(g->comm, &s->snes));
  PetscCall(SNESSetDM(s->snes, s->ctx.da));
  PetscCall(SNESSetFunction(s->snes, s->F, residual, &s->ctx));
  PetscCall(SNESSetJacobian(s->snes, s->A, s->A, jacobian, &s->ctx));
  PetscCall(SNESSetOptionsPrefix(s->snes, "mf_"));
  PetscCall(SNESSetTolerances(s->snes, p->mf_tol, 1e-300, 0.0, (PetscInt)p->mf_max_iter, -1));
  PetscCall(SNESSetFromOptions(s->snes));
  PetscFunctionReturn(0);
}

static void snes_destroy(snes_solver *s)
{
  SNESDestroy(&s->snes);
  MatDestroy(&s->A);
  VecDestroy(&s->X);
  VecDestroy(&s->F);
  VecDestroy(&s->ctx.local);
  DMDestroy(&s->ctx.da);
  for (int d = 0; d < 3; d++) PetscFree(s->own[d]);
}

/* Copies between the extended array and the DMDA's owned block (same sites). */
static void copy_field(const ising_geometry *g, double *m, PetscScalar *x, int to_petsc)
{
  size_t o = 0;
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++)
      for (int ex = 1; ex <= g->n[0]; ex++, o++) {
        size_t i = ising_geometry_index(g, ex, ey, ez);
        if (to_petsc)
          x[o] = m[i];
        else
          m[i] = x[o];
      }
}

static PetscErrorCode solve_snes(snes_solver *s, const ising_geometry *g, double beta, ising_halo *halo, double *m,
                                 solve_info *info)
{
  PetscScalar *x;
  SNESConvergedReason reason;
  PetscInt its;
  PetscFunctionBeginUser;
  s->ctx.beta = beta;
  PetscCall(VecGetArray(s->X, &x));
  copy_field(g, m, x, 1);
  PetscCall(VecRestoreArray(s->X, &x));
  ising_timer_start(ISING_PHASE_UPDATE);
  PetscErrorCode err = SNESSolve(s->snes, NULL, s->X);
  ising_timer_stop(ISING_PHASE_UPDATE);
  PetscCall(err);
  PetscCall(SNESGetConvergedReason(s->snes, &reason));
  PetscCall(SNESGetIterationNumber(s->snes, &its));
  PetscCall(VecGetArray(s->X, &x));
  copy_field(g, m, x, 0);
  PetscCall(VecRestoreArray(s->X, &x));
  /* Newton iterates may leave [-1, 1]; any m inside gives a valid bound. */
  for (size_t i = 0; i < g->nextended; i++) m[i] = fmax(-1.0, fmin(1.0, m[i]));
  ising_halo_exchange(halo, m);
  info->iterations = its;
  info->converged = reason > 0;
  PetscFunctionReturn(0);
}

static const char *const dataset_names[] = {"beta",     "elbo",       "energy",    "entropy", "magnetization",
                                            "residual", "iterations", "converged", "start"};
#define NDATASETS (sizeof(dataset_names) / sizeof(*dataset_names))

static int write_row(ising_io *io, int k, const double *v)
{
  int rc = 0;
  for (size_t j = 0; j < NDATASETS && !rc; j++) {
    char path[64];
    int64_t start = k, count = 1;
    snprintf(path, sizeof(path), "/meanfield/%s", dataset_names[j]);
    rc = ising_io_write_double(io, path, &start, &count, &v[j]);
  }
  return rc;
}

struct ising_meanfield {
  const ising_params *p;
  const ising_geometry *g;
  const ising_couplings *c;
  double *m, *best;
  ising_halo halo;
  snes_solver solver;
  int have_halo, have_snes;
};

int ising_meanfield_create(const ising_params *p, const ising_geometry *g, const ising_couplings *c,
                           ising_meanfield **out)
{
  ising_meanfield *mf = calloc(1, sizeof(*mf));
  *out = mf;
  if (ising_check(g->comm, !mf, "out of memory for the mean-field solver")) return ISING_EXIT_RUNTIME;
  mf->p = p;
  mf->g = g;
  mf->c = c;
  mf->m = calloc(g->nextended, sizeof(double));
  mf->best = calloc(g->nextended, sizeof(double));
  ising_halo_create(g, MPI_DOUBLE, &mf->halo);
  mf->have_halo = 1;
  if (ising_check(g->comm, !mf->m || !mf->best, "out of memory for the mean-field magnetisations"))
    return ISING_EXIT_RUNTIME;
  if (p->mf_solver != ISING_MF_SNES) return 0;
  for (int d = 0; d < g->dim; d++)
    if (ising_check(g->comm, g->periodic[d] && g->L[d] < 4,
                    "option -mf_solver snes: a periodic axis needs at least 4 sites (axis %d has %lld); use "
                    "-mf_solver sweeps",
                    d + 1, (long long)g->L[d]))
      return ISING_EXIT_INPUT;
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  PetscErrorCode err = snes_create(p, g, c, &mf->solver);
  PetscPopErrorHandler();
  mf->have_snes = 1;
  if (ising_check(g->comm, err != 0, "the mean-field Newton solver (PETSc SNES) could not be set up"))
    return ISING_EXIT_RUNTIME;
  /* PETSc has now read the -mf_snes_* options it knows, except those it
   * reads only during a solve, which are marked here; the rest are typos. */
  static const char *const at_solve[] = {"-mf_snes_view",
                                         "-mf_snes_converged_reason",
                                         "-mf_snes_test_jacobian",
                                         "-mf_snes_test_jacobian_view",
                                         "-mf_snes_view_solution",
                                         "-mf_snes_view_pre",
                                         "-mf_ksp_view",
                                         "-mf_ksp_converged_reason",
                                         "-mf_ksp_view_final_residual"};
  for (size_t k = 0; k < sizeof(at_solve) / sizeof(*at_solve); k++) {
    PetscBool set;
    PetscOptionsHasName(NULL, NULL, at_solve[k], &set);
  }
  return ising_params_check_unused(g->comm);
}

void ising_meanfield_destroy(ising_meanfield **mf)
{
  if (!*mf) return;
  if ((*mf)->have_snes) snes_destroy(&(*mf)->solver);
  if ((*mf)->have_halo) ising_halo_free(&(*mf)->halo);
  free((*mf)->m);
  free((*mf)->best);
  free(*mf);
  *mf = NULL;
}

/* The best solution at temperature k into mf->best: from the previous
 * solution (the last call's, unless k == 0) and each -mf_init point, the
 * largest ELBO wins, ties keep the earlier.  0, or -1 after a message. */
static int solve_at(ising_meanfield *mf, int k, ising_mf_result *top_out, solve_info *info_out, int *start_out)
{
  const ising_params *p = mf->p;
  const ising_geometry *g = mf->g;
  const ising_couplings *c = mf->c;
  double *m = mf->m, *best = mf->best;
  ising_halo *halo = &mf->halo;
  const double beta = p->beta[k];
  ising_mf_result top = {.elbo = -INFINITY};
  solve_info top_info = {0, 0};
  int top_start = -1;
  /* Previous beta first, then the -mf_init points; ties keep the earlier. */
  for (int j = 0; j <= ISING_MF_NINIT; j++) {
    int s = j == 0 ? START_PREVIOUS : j - 1;
    if (s == START_PREVIOUS ? k == 0 : !(p->mf_init & (1u << s))) continue;
    if (s == START_PREVIOUS)
      memcpy(m, best, sizeof(double) * g->nextended);
    else
      init_field(p, g, s, m);
    ising_halo_exchange(halo, m);
    solve_info info;
    if (p->mf_solver == ISING_MF_SNES) {
      PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
      PetscErrorCode err = solve_snes(&mf->solver, g, beta, halo, m, &info);
      PetscPopErrorHandler();
      if (ising_check(g->comm, err != 0, "the mean-field Newton solve failed at beta = %g", beta)) return -1;
    } else {
      info = solve_sweeps(p, g, c, k, s, halo, m);
    }
    ising_timer_start(ISING_PHASE_MEASURE);
    ising_mf_result r = ising_mf_evaluate(g, c, beta, m);
    ising_timer_stop(ISING_PHASE_MEASURE);
    if (r.elbo > top.elbo || top_start < 0) {
      top = r;
      top_info = info;
      top_start = s;
      memcpy(best, m, sizeof(double) * g->nextended);
    }
  }
  *top_out = top;
  *info_out = top_info;
  *start_out = top_start;
  return 0;
}

int ising_meanfield_solve(ising_meanfield *mf, int k, double *m)
{
  ising_mf_result top;
  solve_info info;
  int start;
  if (solve_at(mf, k, &top, &info, &start)) return -1;
  memcpy(m, mf->best, sizeof(double) * mf->g->nextended);
  return 0;
}

int ising_meanfield_run(ising_meanfield *mf, ising_io *io, ising_freeenergy *fe)
{
  const ising_params *p = mf->p;
  const ising_geometry *g = mf->g;
  const ising_couplings *c = mf->c;
  const double *best = mf->best;
  int rc = ISING_EXIT_RUNTIME;
  char names[128] = "";
  for (int s = 0; s <= ISING_MF_NINIT; s++) {
    strcat(names, s ? "," : "");
    strcat(names, ising_mf_init_name(s));
  }
  int64_t nb = p->nbeta;
  int bad = ising_io_group(io, "/meanfield") ||
            ising_io_attr_string(io, "/meanfield", "solver", p->mf_solver == ISING_MF_SNES ? "snes" : "sweeps") ||
            ising_io_attr_string(io, "/meanfield", "start_names", names) ||
            ising_io_dataset_field(io, "/meanfield/m", 0, g, H5T_NATIVE_DOUBLE);
  for (size_t j = 0; j < NDATASETS && !bad; j++) {
    char path[64];
    snprintf(path, sizeof(path), "/meanfield/%s", dataset_names[j]);
    bad = ising_io_dataset_double(io, path, 1, &nb);
  }
  if (bad) goto done;
  if (!p->quiet && g->rank == 0)
    printf("\nmean field (%s): ELBO = sum S(m_i) + beta (sum J m m + sum h m) <= lnZ <= TRW <= trivial\n"
           "  %-10s %14s %14s %12s %14s %14s %12s %10s %5s %s\n",
           p->mf_solver == ISING_MF_SNES ? "Newton, PETSc SNES" : "damped sweeps", "beta", "ELBO/N", "exact lnZ/N",
           "KL/N", "TRW/N", "trivial/N", "m", "iterations", "conv", "start");

  for (int k = 0; k < p->nbeta; k++) {
    const double beta = p->beta[k];
    ising_mf_result top;
    solve_info top_info;
    int top_start;
    if (solve_at(mf, k, &top, &top_info, &top_start)) goto done;
    /* The certified upper bound, to close the sandwich with the ELBO. */
    double upper, trivial;
    ising_timer_start(ISING_PHASE_MEASURE);
    int trw_rc = ising_trw_bound(p, g, c, beta, &upper, &trivial);
    ising_timer_stop(ISING_PHASE_MEASURE);
    if (trw_rc) goto done;
    ising_timer_start(ISING_PHASE_OUTPUT);
    const double row[NDATASETS] = {beta,
                                   top.elbo,
                                   top.energy,
                                   top.entropy,
                                   top.magnetization,
                                   top.residual,
                                   (double)top_info.iterations,
                                   (double)top_info.converged,
                                   (double)top_start};
    bad = write_row(io, k, row) || ising_freeenergy_put_meanfield(fe, k, top.elbo) ||
          ising_freeenergy_put_upper(fe, k, upper, trivial, top.elbo) ||
          (k == p->nbeta - 1 && ising_io_write_field(io, "/meanfield/m", 0, g, H5T_NATIVE_DOUBLE, best)) ||
          ising_io_flush(io);
    ising_timer_stop(ISING_PHASE_OUTPUT);
    if (bad) goto done;
    ising_exact_result ex;
    int have = ising_freeenergy_exact(fe, k, &ex);
    if (have < 0) goto done;
    if (!p->quiet && g->rank == 0) {
      double n = (double)g->nsites;
      printf("  %-10g %14.10f ", beta, top.elbo / n);
      if (have)
        printf("%14.10f %12.4e ", ex.lnZ / n, (ex.lnZ - top.elbo) / n);
      else
        printf("%14s %12s ", "-", "-");
      printf("%14.10f %14.10f %12.8f %10lld %5s %s\n", upper / n, trivial / n, top.magnetization,
             (long long)top_info.iterations, top_info.converged ? "yes" : "NO", ising_mf_init_name(top_start));
      fflush(stdout);
    }
  }
  rc = 0;
done:
  return rc;
}
