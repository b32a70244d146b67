/* exact.c: exact partition functions (exact.h).  All functions are local
 * (no MPI) and keep no global state.
 *
 * int ising_exact_enumerate(const ising_bondlist *model, double beta,
 *                           ising_exact_result *r, double *corr)
 *   Sums over all 2^N states of any model (N <= 25) in a Gray-code walk;
 *   fills every field of r and optionally <s_i s_j>.
 *
 * int ising_exact_kaufman(int L, int M, double Jx, double Jy, double beta,
 *                         ising_exact_result *r)
 *   Kaufman's closed form for the periodic L x M square lattice at h = 0:
 *   lnZ, energy, specific heat, ground state.
 *
 * void ising_exact_onsager(double J, double beta, double *lnz_per_spin,
 *                          double *energy, double *specific_heat,
 *                          double *abs_m)
 *   Onsager's infinite square lattice at h = 0 and Yang's magnetisation.
 *
 * int ising_exact_chain(long N, int periodic, double J, double h,
 *                       double beta, ising_exact_result *r)
 *   Transfer matrix of the 1D ring or open chain: lnZ, energy, specific heat,
 *   <m>, d<m>/dh susceptibility, ground state.
 *
 * Energies and specific heats of the closed forms are derivatives of lnZ
 * taken with second-order dual numbers, so they are exact to rounding and
 * consistent with lnZ by construction. */
#include "ising/exact.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI  3.14159265358979323846
#define LN2 0.69314718055994530942

/* The enumeration walks BLOCK_STATES states into a buffer, then sums them.
 * Every RESYNC_STATES steps the energy is recomputed from scratch: each
 * incremental update rounds, and at beta = 20 an error dE in E is an error
 * beta dE in a weight, so the drift is kept to a few ulps of E. */
#define BLOCK_STATES  4096
#define RESYNC_STATES 64

static double ground_tolerance(double e)
{
  return 1e-9 * (1.0 + fabs(e));
}

static void result_clear(ising_exact_result *r)
{
  r->lnZ = r->energy = r->specific_heat = NAN;
  r->magnetization = r->abs_magnetization = r->m2 = r->m4 = NAN;
  r->susceptibility = r->binder = NAN;
  r->ground_energy = r->ground_degeneracy = NAN;
  r->have_magnetization = 0;
}

/* A value with its first and second derivative along one direction (beta,
 * or h for the chain's magnetisation). */
typedef struct {
  double v, d, dd;
} dual;

static dual dual_const(double c)
{
  return (dual){c, 0.0, 0.0};
}

static dual dual_add(dual a, dual b)
{
  return (dual){a.v + b.v, a.d + b.d, a.dd + b.dd};
}

static dual dual_sub(dual a, dual b)
{
  return (dual){a.v - b.v, a.d - b.d, a.dd - b.dd};
}

static dual dual_scale(dual a, double c)
{
  return (dual){c * a.v, c * a.d, c * a.dd};
}

static dual dual_shift(dual a, double c)
{
  return (dual){a.v + c, a.d, a.dd};
}

static dual dual_mul(dual a, dual b)
{
  return (dual){a.v * b.v, a.d * b.v + a.v * b.d, a.dd * b.v + 2.0 * a.d * b.d + a.v * b.dd};
}

/* f(x) from f, f' and f'' at x.v. */
static dual dual_chain(dual x, double f, double f1, double f2)
{
  return (dual){f, f1 * x.d, f2 * x.d * x.d + f1 * x.dd};
}

static dual dual_exp(dual x)
{
  double e = exp(x.v);
  return dual_chain(x, e, e, e);
}

static dual dual_expm1(dual x)
{
  double e = exp(x.v);
  return dual_chain(x, expm1(x.v), e, e);
}

/* ln|x|, x != 0. */
static dual dual_log(dual x)
{
  return dual_chain(x, log(fabs(x.v)), 1.0 / x.v, -1.0 / (x.v * x.v));
}

static dual dual_log1p(dual x)
{
  double q = 1.0 / (1.0 + x.v);
  return dual_chain(x, log1p(x.v), q, -q * q);
}

static dual dual_recip(dual x)
{
  double q = 1.0 / x.v;
  return dual_chain(x, q, -q * q, 2.0 * q * q * q);
}

static dual dual_sqrt(dual x)
{
  double s = sqrt(x.v);
  return dual_chain(x, s, 0.5 / s, -0.25 / (s * x.v));
}

static dual dual_sinh(dual x)
{
  return dual_chain(x, sinh(x.v), cosh(x.v), sinh(x.v));
}

/* ln(2 cosh x) without overflow. */
static dual dual_ln2cosh(dual x)
{
  double a = fabs(x.v), c = cosh(x.v);
  return dual_chain(x, a + log1p(exp(-2.0 * a)), tanh(x.v), 1.0 / (c * c));
}

/* ln|2 sinh x|, x != 0, without overflow; the direct form near 0 because
 * log1p(-exp(-2a)) loses relative accuracy there. */
static dual dual_ln2sinh(dual x)
{
  double a = fabs(x.v), s = sinh(x.v);
  double f = a < 0.5 ? log(2.0 * sinh(a)) : a + log1p(-exp(-2.0 * a));
  return dual_chain(x, f, 1.0 / tanh(x.v), -1.0 / (s * s));
}

/* ln(exp(a) + exp(b)). */
static dual dual_logaddexp(dual a, dual b)
{
  dual hi = a.v >= b.v ? a : b, lo = a.v >= b.v ? b : a;
  return dual_add(hi, dual_log1p(dual_exp(dual_sub(lo, hi))));
}

/* Compensated (Neumaier) summation: s + c carries the sum to about twice
 * the working precision, whatever the order and magnitude of the terms. */
static void neumaier_add(double *s, double *c, double x)
{
  double t = *s + x;
  *c += fabs(*s) >= fabs(x) ? (*s - t) + x : (x - t) + *s;
  *s = t;
}

/* Kaufman's products have up to 4096 factors of size ~1e5 whose log-sums are
 * then differenced against each other. */
typedef struct {
  dual s, c;
} dual_sum;

static void dual_sum_add(dual_sum *acc, dual x)
{
  neumaier_add(&acc->s.v, &acc->c.v, x.v);
  neumaier_add(&acc->s.d, &acc->c.d, x.d);
  neumaier_add(&acc->s.dd, &acc->c.dd, x.dd);
}

static dual dual_sum_get(const dual_sum *acc)
{
  return dual_add(acc->s, acc->c);
}

static int model_valid(const ising_bondlist *m)
{
  if (!m || m->nspins < 1 || m->nspins > ISING_EXACT_MAX_SPINS || m->nbonds < 0 || !m->h ||
      (m->nbonds > 0 && (!m->i || !m->j || !m->J)))
    return 0;
  for (int b = 0; b < m->nbonds; b++)
    if (m->i[b] < 0 || m->i[b] >= m->nspins || m->j[b] < 0 || m->j[b] >= m->nspins || m->i[b] == m->j[b] ||
        !isfinite(m->J[b]))
      return 0;
  for (int k = 0; k < m->nspins; k++)
    if (!isfinite(m->h[k])) return 0;
  return 1;
}

/* Neighbour lists in compressed rows: the local field of spin k is
 * h[k] + sum over first[k] <= a < first[k+1] of coupling[a] * s[site[a]]. */
typedef struct {
  int first[ISING_EXACT_MAX_SPINS + 1];
  int *site;
  double *coupling;
} neighbours;

static int neighbours_build(neighbours *nb, const ising_bondlist *m)
{
  int n = m->nspins, fill[ISING_EXACT_MAX_SPINS];
  size_t len = 2 * (size_t)m->nbonds + 1;
  nb->site = malloc(len * sizeof(int));
  nb->coupling = malloc(len * sizeof(double));
  if (!nb->site || !nb->coupling) {
    free(nb->site);
    free(nb->coupling);
    return -1;
  }
  memset(nb->first, 0, sizeof(nb->first));
  for (int b = 0; b < m->nbonds; b++) {
    nb->first[m->i[b] + 1]++;
    nb->first[m->j[b] + 1]++;
  }
  for (int k = 0; k < n; k++) {
    nb->first[k + 1] += nb->first[k];
    fill[k] = nb->first[k];
  }
  for (int b = 0; b < m->nbonds; b++) {
    int a = fill[m->i[b]]++;
    nb->site[a] = m->j[b];
    nb->coupling[a] = m->J[b];
    a = fill[m->j[b]]++;
    nb->site[a] = m->i[b];
    nb->coupling[a] = m->J[b];
  }
  return 0;
}

static double energy_of(const ising_bondlist *m, const double *s)
{
  double e = 0.0;
  for (int b = 0; b < m->nbonds; b++) e -= m->J[b] * s[m->i[b]] * s[m->j[b]];
  for (int k = 0; k < m->nspins; k++) e -= m->h[k] * s[k];
  return e;
}

/* Weighted sums over states, w = exp(-beta x) with x = E - shift >= 0:
 * w, w x, w x^2, w M, w |M|, w M^2, w M^4 with M = sum_i s_i.  Summed in
 * chunks of CHUNK_STATES, each chunk added with compensation: a plain
 * running sum would drop every term below half an ulp of the ground-state
 * weight, a systematic loss of ~1e-13 over 2^14 states. */
enum { MOM_Z, MOM_E1, MOM_E2, MOM_M1, MOM_MA, MOM_M2, MOM_M4, NMOM };
#define CHUNK_STATES 16

typedef struct {
  double sum[NMOM], comp[NMOM];
} moments;

/* Re-expresses the sums against a shift lower by d, f = exp(-beta d). */
static void moments_lower_shift(moments *a, double d, double f)
{
  double v[NMOM];
  for (int i = 0; i < NMOM; i++) {
    v[i] = a->sum[i] + a->comp[i];
    a->comp[i] = 0.0;
  }
  a->sum[MOM_E2] = f * (v[MOM_E2] + d * (2.0 * v[MOM_E1] + d * v[MOM_Z]));
  a->sum[MOM_E1] = f * (v[MOM_E1] + d * v[MOM_Z]);
  for (int i = 0; i < NMOM; i++)
    if (i != MOM_E1 && i != MOM_E2) a->sum[i] = f * v[i];
}

int ising_exact_enumerate(const ising_bondlist *model, double beta, ising_exact_result *r, double *corr)
{
  if (!r) return -1;
  result_clear(r);
  if (!model_valid(model) || !isfinite(beta) || beta < 0) return -1;
  const int n = model->nspins;
  neighbours nb;
  /* corr accumulates w s_i s_j (i < j) like the moments: a chunk's sums in
   * corr_chunk, added with compensation corr_comp */
  double *corr_comp = NULL, *corr_chunk = NULL;
  if (neighbours_build(&nb, model)) return -1;
  if (corr) {
    corr_comp = calloc((size_t)n * (size_t)n, sizeof(double));
    corr_chunk = calloc((size_t)n * (size_t)n, sizeof(double));
    if (!corr_comp || !corr_chunk) {
      free(corr_comp);
      free(corr_chunk);
      free(nb.site);
      free(nb.coupling);
      return -1;
    }
    for (int k = 0; k < n * n; k++) corr[k] = 0.0;
  }

  const unsigned long nstates = 1UL << n;
  const unsigned long block = nstates < BLOCK_STATES ? nstates : BLOCK_STATES;
  double s[ISING_EXACT_MAX_SPINS], ebuf[BLOCK_STATES];
  int mbuf[BLOCK_STATES], mag = n;
  moments total = {{0}, {0}};
  double shift = INFINITY, ground_count = 0.0;
  for (int k = 0; k < n; k++) s[k] = 1.0;

  /* State t of the walk is the Gray code t ^ (t >> 1), bit k set meaning
   * s_k = -1; step t -> t+1 flips the spin of the lowest set bit of t+1. */
  for (unsigned long start = 0; start < nstates; start += block) {
    double e = 0.0, bmin = INFINITY;
    for (unsigned long q = 0; q < block; q++) {
      if (q % RESYNC_STATES == 0) e = energy_of(model, s);
      ebuf[q] = e;
      mbuf[q] = mag;
      bmin = e < bmin ? e : bmin;
      unsigned long t = start + q + 1;
      if (t == nstates) break;
      int k = 0;
      while (!((t >> k) & 1UL)) k++;
      double field = model->h[k];
      for (int a = nb.first[k]; a < nb.first[k + 1]; a++) field += nb.coupling[a] * s[nb.site[a]];
      e += 2.0 * s[k] * field;
      s[k] = -s[k];
      mag += s[k] > 0 ? 2 : -2;
    }

    if (bmin < shift) {
      if (isfinite(shift)) {
        double d = shift - bmin, f = exp(-beta * d);
        moments_lower_shift(&total, d, f);
        if (corr)
          for (int k = 0; k < n * n; k++) {
            corr[k] = f * (corr[k] + corr_comp[k]);
            corr_comp[k] = 0.0;
          }
        if (d > ground_tolerance(bmin)) ground_count = 0.0;
      }
      shift = bmin;
    }

    const double tol = ground_tolerance(shift);
    for (unsigned long q0 = 0; q0 < block; q0 += CHUNK_STATES) {
      double part[NMOM] = {0};
      unsigned long q1 = q0 + CHUNK_STATES < block ? q0 + CHUNK_STATES : block;
      for (unsigned long q = q0; q < q1; q++) {
        double x = ebuf[q] - shift, w = exp(-beta * x);
        double m = mbuf[q], m2 = m * m;
        part[MOM_Z] += w;
        part[MOM_E1] += w * x;
        part[MOM_E2] += w * x * x;
        part[MOM_M1] += w * m;
        part[MOM_MA] += w * fabs(m);
        part[MOM_M2] += w * m2;
        part[MOM_M4] += w * m2 * m2;
        ground_count += x <= tol;
        if (corr) {
          unsigned long g = (start + q) ^ ((start + q) >> 1);
          double sg[ISING_EXACT_MAX_SPINS];
          for (int i = 0; i < n; i++) sg[i] = (g >> i) & 1UL ? -1.0 : 1.0;
          for (int i = 0; i < n; i++) {
            double wi = w * sg[i], *row = corr_chunk + (size_t)i * (size_t)n;
            for (int j = i + 1; j < n; j++) row[j] += wi * sg[j];
          }
        }
      }
      for (int i = 0; i < NMOM; i++) neumaier_add(&total.sum[i], &total.comp[i], part[i]);
      if (corr)
        for (int i = 0; i < n; i++)
          for (int j = i + 1; j < n; j++) {
            size_t k = (size_t)i * (size_t)n + (size_t)j;
            neumaier_add(&corr[k], &corr_comp[k], corr_chunk[k]);
            corr_chunk[k] = 0.0;
          }
    }
  }
  free(nb.site);
  free(nb.coupling);

  double v[NMOM];
  for (int i = 0; i < NMOM; i++) v[i] = total.sum[i] + total.comp[i];
  const double dn = n, z = v[MOM_Z], mean_x = v[MOM_E1] / z;
  r->lnZ = -beta * shift + log(z);
  r->energy = (shift + mean_x) / dn;
  r->specific_heat = beta * beta * (v[MOM_E2] / z - mean_x * mean_x) / dn;
  r->magnetization = v[MOM_M1] / (z * dn);
  r->abs_magnetization = v[MOM_MA] / (z * dn);
  r->m2 = v[MOM_M2] / (z * dn * dn);
  r->m4 = v[MOM_M4] / (z * dn * dn * dn * dn);
  r->susceptibility = beta * dn * (r->m2 - r->abs_magnetization * r->abs_magnetization);
  r->binder = r->m2 > 0 ? 1.0 - r->m4 / (3.0 * r->m2 * r->m2) : NAN;
  r->ground_energy = shift;
  r->ground_degeneracy = ground_count;
  r->have_magnetization = 1;
  if (corr) {
    for (int i = 0; i < n; i++) {
      corr[(size_t)i * (size_t)n + (size_t)i] = 1.0;
      for (int j = i + 1; j < n; j++) {
        size_t k = (size_t)i * (size_t)n + (size_t)j;
        corr[k] = (corr[k] + corr_comp[k]) / z;
        corr[(size_t)j * (size_t)n + (size_t)i] = corr[k];
      }
    }
    free(corr_comp);
    free(corr_chunk);
  }
  return 0;
}

/* The dual coupling K*, tanh K* = exp(-2K), K > 0.  Near K = 0 tanh K is
 * accurate, further out 1 - tanh K = 2/(exp(2K)+1) is. */
static dual dual_coupling(dual K)
{
  double k = K.v, t = tanh(k), s = sinh(2.0 * k);
  double f = t < 0.5 ? -0.5 * log(t) : -0.5 * log1p(-2.0 / (exp(2.0 * k) + 1.0));
  return dual_chain(K, f, -1.0 / s, 2.0 / (tanh(2.0 * k) * s));
}

/* acosh(1 + exp(l)) for l <= 0, i.e. cosh(gamma) - 1 <= 1 (near Tc). */
static dual dual_acosh1p_exp(dual l)
{
  double d = exp(l.v), q = sqrt(d / (2.0 + d));
  return dual_chain(l, log1p(d + sqrt(d * (2.0 + d))), q, q / (2.0 + d));
}

/* acosh(1 + exp(l)) - l for l > 0: what is left of gamma after its leading
 * logarithm, kept separate so that the large parts can cancel exactly. */
static dual dual_acosh1p_exp_excess(dual l)
{
  double e = exp(-l.v), r = sqrt(1.0 + 2.0 * e);
  return dual_chain(l, log(1.0 + e + r), -2.0 * e / (r * (1.0 + r)), e / (r * (1.0 + 2.0 * e)));
}

/* ln(2 cosh x) - mk and ln(2 sinh x) - mk for x = half + mk > 0, formed
 * from half directly when x is not small (ln 2cosh x = x + log1p(e^-2x)). */
static void mode_logs(dual half, dual mk, dual *lc, dual *ls)
{
  dual x = dual_add(half, mk);
  if (x.v >= 0.5) {
    dual e = dual_exp(dual_scale(x, -2.0));
    *lc = dual_add(half, dual_log1p(e));
    *ls = dual_add(half, dual_log1p(dual_scale(e, -1.0)));
  } else {
    *lc = dual_sub(dual_ln2cosh(x), mk);
    *ls = dual_sub(dual_ln2sinh(x), mk);
  }
}

/* ln Z of the periodic lattice, L sites per row with coupling kr, M rows
 * coupled by kc (both > 0).  Kaufman, transfer matrix along the rows:
 *   Z = 1/2 (2 sinh 2kc)^(LM/2) [P1 + P2 + P3 + P4],
 *   P1,2 = prod_{k odd} 2 cosh, 2 sinh (M g_k / 2),
 *   P3,4 = prod_{k even} 2 cosh, 2 sinh (M g_k / 2),  k = 0 .. 2L-1,
 *   cosh g_k = cosh 2ks cosh 2kr - sinh 2ks sinh 2kr cos(pi k / L),
 * ks = kc* the dual coupling, and g_0 = 2 (kr - ks) signed: negative above
 * Tc, where P4 < 0.  Three rearrangements keep it accurate:
 * - cosh g_k - 1 = 2 sinh^2(g_0/2) + 2 R sin^2(pi k / 2L), R = sinh 2kr /
 *   sinh 2kc, is formed as a sum (no cancellation near Tc) and carried as a
 *   logarithm (no overflow at low temperature);
 * - at high temperature every g_k ~ 2 ks ~ -ln(beta) with derivatives
 *   ~1/beta that cancel against the prefactor; so each factor is divided by
 *   exp(M ks), analytically, and the prefactor becomes (2 sinh 2kc)^(LM/2)
 *   exp(LM ks) = (2 cosh kc)^LM;
 * - the factor 2 sinh(M g_0 / 2) of P4 stays outside the logarithm while
 *   small, since it passes through zero at Tc with a non-zero derivative. */
static dual kaufman_lnz(int L, int M, dual kr, dual kc)
{
  const dual ks = dual_coupling(kc), two_ks = dual_scale(ks, 2.0);
  const dual mk = dual_scale(ks, M);
  const dual g0 = dual_scale(dual_sub(kr, ks), 2.0);
  const dual abs_g0 = g0.v < 0 ? dual_scale(g0, -1.0) : g0;
  const int g0_large = abs_g0.v >= 2.0;
  /* |g0| - 2 ks without the cancellation of two ~ -ln(beta) terms */
  const dual g0_excess = g0.v < 0 ? dual_scale(kr, -2.0) : dual_sub(dual_scale(kr, 2.0), dual_scale(ks, 4.0));
  /* A = 2 sinh^2(g0/2) = e^|g0| (1 - e^-|g0|)^2 / 2: while |g0| >= 2 as
   * ln A - 2 ks, else directly (it vanishes at Tc) */
  dual log_a = dual_const(0.0), direct_a = dual_const(0.0);
  if (g0_large) {
    dual tail = dual_log1p(dual_scale(dual_exp(dual_scale(abs_g0, -1.0)), -1.0));
    log_a = dual_add(dual_shift(g0_excess, -LN2), dual_scale(tail, 2.0));
  } else {
    dual sh = dual_sinh(dual_scale(g0, 0.5));
    direct_a = dual_scale(dual_mul(sh, sh), 2.0);
  }
  /* ln(2 R) - 2 ks = ln(2 sinh 2kr) + ln 2 - 2 ln(2 cosh kc) */
  const dual log_2r = dual_shift(dual_sub(dual_ln2sinh(dual_scale(kr, 2.0)), dual_scale(dual_ln2cosh(kc), 2.0)), LN2);
  dual_sum acc[4] = {0};

  /* g_k = g_{2L-k}: visit k = 1 .. L and count k < L twice. */
  for (int k = 1; k <= L; k++) {
    double sn = sin(PI * k / (2.0 * L));
    dual log_b = dual_shift(log_2r, 2.0 * log(sn)), log_delta;
    if (g0_large) {
      log_delta = dual_logaddexp(log_a, log_b);
    } else {
      /* ln(A + e^b), factoring out e^b when it is the large one */
      dual b = dual_add(log_b, two_ks), full;
      if (b.v > 0.0) {
        dual a_over_b = dual_mul(direct_a, dual_exp(dual_scale(b, -1.0)));
        full = dual_add(b, dual_log1p(a_over_b));
      } else {
        full = dual_log(dual_add(direct_a, dual_exp(b)));
      }
      log_delta = dual_sub(full, two_ks);
    }
    /* log_delta = ln(cosh g_k - 1) - 2 ks; eta = g_k - 2 ks */
    dual l = dual_add(log_delta, two_ks);
    dual eta = l.v > 0.0 ? dual_add(log_delta, dual_acosh1p_exp_excess(l)) : dual_sub(dual_acosh1p_exp(l), two_ks);
    dual lc, ls;
    mode_logs(dual_scale(eta, 0.5 * M), mk, &lc, &ls);
    int odd = k % 2;
    double times = k < L ? 2.0 : 1.0;
    dual_sum_add(&acc[odd ? 0 : 2], dual_scale(lc, times));
    dual_sum_add(&acc[odd ? 1 : 3], dual_scale(ls, times));
  }

  /* k = 0: x0 = M g0 / 2 signed, |x0| - M ks formed symbolically */
  const dual x0 = dual_scale(g0, 0.5 * M);
  const dual x0_excess = dual_scale(g0_excess, 0.5 * M);
  const dual e0 = dual_exp(dual_scale(abs_g0, -1.0 * M));
  dual factor4;
  dual_sum_add(&acc[2], dual_add(x0_excess, dual_log1p(e0)));
  if (fabs(x0.v) >= 1.0) {
    dual_sum_add(&acc[3], dual_add(x0_excess, dual_log1p(dual_scale(e0, -1.0))));
    factor4 = dual_const(x0.v > 0 ? 1.0 : -1.0);
  } else {
    dual_sum_add(&acc[3], dual_scale(mk, -1.0));
    factor4 = dual_scale(dual_sinh(x0), 2.0);
  }

  /* Factor out the largest product as a dual, not just its value: the
   * derivatives of each log-product are ~LM, and exp() of an unreduced one
   * would carry (LM)^2 terms into the second derivative that cancel only
   * to ~1e-16 (LM)^2. */
  dual logp[4];
  int top = 0;
  for (int a = 0; a < 4; a++) {
    logp[a] = dual_sum_get(&acc[a]);
    top = logp[a].v > logp[top].v ? a : top;
  }
  dual sum = dual_mul(factor4, dual_exp(dual_sub(logp[3], logp[top])));
  for (int a = 0; a < 3; a++) sum = dual_add(sum, dual_exp(dual_sub(logp[a], logp[top])));
  dual pre = dual_scale(dual_ln2cosh(kc), (double)L * M);
  return dual_add(dual_add(pre, logp[top]), dual_shift(dual_log(sum), -LN2));
}

int ising_exact_kaufman(int L, int M, double Jx, double Jy, double beta, ising_exact_result *r)
{
  if (!r) return -1;
  result_clear(r);
  if (L < 2 || M < 2 || !isfinite(Jx) || !isfinite(Jy) || Jx == 0 || Jy == 0 || (Jx < 0 && L % 2) ||
      (Jy < 0 && M % 2) || !isfinite(beta) || beta <= 0)
    return -1;
  /* Flipping every other column (row) maps Jx (Jy) to -Jx (-Jy) when that
   * axis has even length: same spectrum of H, same lnZ and derivatives. */
  Jx = fabs(Jx);
  Jy = fabs(Jy);
  const double nspins = (double)L * M;
  dual lnz = kaufman_lnz(L, M, (dual){beta * Jx, Jx, 0.0}, (dual){beta * Jy, Jy, 0.0});
  r->lnZ = lnz.v;
  r->energy = -lnz.d / nspins;
  r->specific_heat = beta * beta * lnz.dd / nspins;
  r->ground_energy = -(Jx + Jy) * nspins;
  r->ground_degeneracy = 2.0;
  return 0;
}

/* The complete elliptic integrals K(k), E(k) by the arithmetic-geometric
 * mean, returned as D = (2/pi) K - 1 and R, where E = K (1 - k^2/2 - R),
 * from k and k' = sqrt(1 - k^2) given separately so that k -> 1 (Tc) stays
 * accurate.  D and R are O(k^2) and O(k^4) at high and low temperature and
 * are formed without cancellation: the AGM steps c_n come from c_{n+1} =
 * c_n^2 / (4 a_{n+1}), not from a - b, and 1 - a_n = c_1 + ... + c_n. */
static void elliptic_dr(double k, double kp, double *d, double *r)
{
  double a = 1.0, b = kp, c = k, lost = 0.0, rest = 0.0, pow2 = 0.5;
  /* quadratic convergence; the cap only matters for k' ~ 1e-300 */
  for (int it = 0; it < 64 && c > 1e-17 * a; it++) {
    double an = 0.5 * (a + b);
    b = sqrt(a * b);
    c = c * c / (4.0 * an);
    a = an;
    lost += c;
    pow2 *= 2.0;
    rest += pow2 * c * c;
  }
  *d = lost / a;
  *r = rest;
}

/* (1/pi) int_0^{pi/2} ln[(1 + sqrt(1 - k^2 cos^2 u)) / 2] du, Onsager's
 * integral with u = pi/2 - phi, by tanh-sinh quadrature.  Near Tc (k' -> 0)
 * the integrand has a kink of width k' at u = 0, where tanh-sinh puts its
 * nodes double-exponentially densely. */
static double onsager_integrand(double u, double k, double kp)
{
  double c = cos(u), y = k * k * c * c, sn = sin(u);
  double root = sqrt(kp * kp + k * k * sn * sn); /* sqrt(1 - y), no cancel */
  return log1p(-y / (2.0 * (1.0 + root)));
}

static double onsager_integral(double k, double kp)
{
  const double half = 0.25 * PI; /* u = half * (1 + x), x in (-1, 1) */
  const double tmax = 3.5;       /* 1 - |x| < 1e-22 beyond */
  double h = 0.5, total = half * 0.5 * PI * onsager_integrand(half, k, kp);
  double estimate = 0.0;
  for (int level = 0; level < 12; level++) {
    /* level 0 sums all multiples of h, later levels only the odd ones */
    double step = level == 0 ? h : 2.0 * h;
    for (double t = h; t <= tmax; t += step) {
      double a = 0.5 * PI * sinh(t), ch = cosh(a);
      double w = 0.5 * PI * cosh(t) / (ch * ch);
      double dist = 2.0 * half / (1.0 + exp(2.0 * a)); /* to the nearer end */
      total += half * w * (onsager_integrand(dist, k, kp) + onsager_integrand(2.0 * half - dist, k, kp));
    }
    double next = h * total;
    if (level > 2 && fabs(next - estimate) < 1e-16 * (1.0 + fabs(next))) return next / PI;
    estimate = next;
    h *= 0.5;
  }
  return estimate / PI;
}

void ising_exact_onsager(double J, double beta, double *lnz_per_spin, double *energy, double *specific_heat,
                         double *abs_m)
{
  double lnz = NAN, e = NAN, c = NAN, m = NAN;
  if (isfinite(J) && isfinite(beta) && beta > 0) {
    const double ja = fabs(J), K = beta * ja, x = 2.0 * K;
    if (K == 0) {
      lnz = LN2;
      e = c = m = 0.0;
    } else {
      const double t = tanh(x), sech = 1.0 / cosh(x);
      const double k = 2.0 * t * sech; /* 2 sinh 2K / cosh^2 2K */
      /* k' = sqrt(1 - k^2) = |sinh^2 2K - 1| / cosh^2 2K, from the factors
       * so that it stays accurate at Tc where it vanishes */
      const double kp = fabs(t - sech) * (t + sech);
      lnz = x + log1p(exp(-2.0 * x)) + onsager_integral(k, kp);
      /* Onsager: u = -J coth 2K [1 + (2/pi) (2 tanh^2 2K - 1) K],
       * c = (4/pi) (K coth 2K)^2 {K - E - sech^2 2K [pi/2 +
       * (2 tanh^2 2K - 1) K]}.  In D and R, with k^2 = 4 tanh^2 sech^2,
       * the braces become R + D (sech^2 + R): the O(k^2) terms that cancel
       * (leaving c ~ e^-8K at low temperature) are gone analytically. */
      if (kp == 0) {
        e = -ja / t;
        c = INFINITY;
      } else {
        double d, rest;
        elliptic_dr(k, kp, &d, &rest);
        e = -ja * (2.0 * t * t + d * (2.0 * t * t - 1.0)) / t;
        c = 2.0 * (K / t) * (K / t) * (rest + d * (sech * sech + rest));
      }
      const double s = sinh(x);
      m = s > 1.0 ? pow(1.0 - pow(s, -4.0), 0.125) : 0.0;
    }
  }
  if (lnz_per_spin) *lnz_per_spin = lnz;
  if (energy) *energy = e;
  if (specific_heat) *specific_heat = c;
  if (abs_m) *abs_m = m;
}

/* sum_j C(n, 2j + odd) x^j for n^2 x < 1/4, where 20 terms reach rounding;
 * each term from the previous one, so nothing overflows for large n. */
static dual binomial_series(long n, int odd, dual x)
{
  dual term = dual_const(odd ? (double)n : 1.0), sum = term;
  for (int j = 0; j < 20; j++) {
    double a = (double)n - 2.0 * j - odd;
    double coef = a * (a - 1.0) / ((2.0 * j + 1.0 + odd) * (2.0 * j + 2.0 + odd));
    if (coef <= 0.0) break;
    term = dual_scale(dual_mul(term, x), coef);
    sum = dual_add(sum, term);
  }
  return sum;
}

/* ln Z of the chain for K = beta J and H = beta h, differentiated along
 * whichever of beta or h their derivative parts carry.  With the field split
 * symmetrically over the bonds, the transfer matrix has eigenvalues
 *   l+- = e^K (cosh H +- D),  D = sqrt(sinh^2 H + e^-4K),
 * ring: Z = l+^N + l-^N; open: Z = v^T T^n v, n = N - 1, v = (e^H/2,
 * e^-H/2), which in the eigenbasis is
 *   Z = cosh H (l+^n + l-^n) + (q / D) (l+^n - l-^n),  q = sinh^2 H + e^-2K.
 * cosh H, sinh H, D and q are carried scaled by e^-m0, m0 = max(|H|, -2K)
 * (q by e^-2m0): m0 and K are linear in beta and h, so the large parts of
 * ln Z have exactly zero second derivative and the O(1) remainders cancel
 * nothing.  Two forms, by the correlation length xi = -1/ln|l-/l+| against
 * n:
 * - xi < n: Z = l+^n [...] with rho = (l-/l+)^n, both in log space;
 *   ln|l-/l+| = log1p(-2 X / (cosh H + D)), X = D (J > 0) or cosh H
 *   (J < 0), is accurate even when tiny.
 * - xi >= n (small rings, low temperature): there l+ ~ |l-| and the h
 *   derivatives of the square root D, ~1/D, cancel between the two
 *   eigenvalues.  Expanding (1 + y)^n +- (1 - y)^n in y = D / cosh H (or
 *   z = 1/y for J < 0) leaves polynomials in y^2 = D^2 / cosh^2 H, free of
 *   the square root and summed in few terms because n y < 1/2. */
static dual chain_lnz(long N, int periodic, double J, dual K, dual H)
{
  const long n = periodic ? N : N - 1;
  const dual abs_h = H.v < 0 ? dual_scale(H, -1.0) : H;
  const dual m0 = abs_h.v >= -2.0 * K.v ? abs_h : dual_scale(K, -2.0);
  const dual up = dual_exp(dual_sub(abs_h, m0));
  const dual down = dual_exp(dual_sub(dual_scale(abs_h, -1.0), m0));
  const dual ch = dual_scale(dual_add(up, down), 0.5);
  /* ln(cosh H e^-m0) without underflow */
  const dual ln_ch = dual_add(dual_shift(dual_sub(abs_h, m0), -LN2), dual_log1p(dual_exp(dual_scale(abs_h, -2.0))));
  const dual sh = fabs(H.v) < 1.0 ? dual_mul(dual_sinh(H), dual_exp(dual_scale(m0, -1.0)))
                                  : dual_scale(dual_sub(up, down), H.v < 0 ? -0.5 : 0.5);
  const dual sh2 = dual_mul(sh, sh);
  const dual d2 = dual_add(sh2, dual_exp(dual_sub(dual_scale(K, -4.0), dual_scale(m0, 2.0))));
  const dual D = dual_sqrt(d2);
  const dual q = dual_add(sh2, dual_exp(dual_sub(dual_scale(K, -2.0), dual_scale(m0, 2.0))));
  const dual scale_n = dual_scale(dual_add(K, m0), (double)n);
  dual ratio = dual_const(-INFINITY);
  if (J != 0) ratio = dual_log1p(dual_scale(dual_mul(J > 0 ? D : ch, dual_recip(dual_add(ch, D))), -2.0));

  if (fabs((double)n * ratio.v) < 1.0 && J > 0) {
    dual y2 = dual_mul(d2, dual_recip(dual_mul(ch, ch)));
    dual p = binomial_series(n, 0, y2), s = binomial_series(n, 1, y2);
    dual lnz = dual_shift(dual_add(scale_n, dual_scale(ln_ch, (double)n)), LN2);
    if (periodic) return dual_add(lnz, dual_log(p));
    dual edge = dual_mul(q, dual_recip(ch));
    return dual_add(dual_add(lnz, m0), dual_log(dual_add(dual_mul(ch, p), dual_mul(edge, s))));
  }
  if (fabs((double)n * ratio.v) < 1.0) {
    /* J < 0: l+ = e^K D (1 + z), l- = -e^K D (1 - z), z = cosh H / D */
    dual half_ln_d2 = dual_scale(dual_log(d2), 0.5);
    dual ln_z = dual_sub(ln_ch, half_ln_d2);
    dual z2 = dual_exp(dual_scale(ln_z, 2.0));
    dual p = binomial_series(n, 0, z2), s = binomial_series(n, 1, z2);
    dual lnz = dual_shift(dual_add(scale_n, dual_scale(half_ln_d2, (double)n)), LN2);
    if (periodic) return dual_add(lnz, n % 2 ? dual_add(ln_z, dual_log(s)) : dual_log(p));
    if (n % 2) {
      /* ln(cosh^2 H s + q p) with ln q ~ -2K - 2m0 taken out linearly */
      dual lin = dual_sub(dual_scale(K, -2.0), dual_scale(m0, 2.0));
      dual ln_q = dual_add(lin, dual_log1p(dual_mul(sh2, dual_exp(dual_scale(lin, -1.0)))));
      dual ratio_cq = dual_exp(dual_sub(dual_scale(ln_ch, 2.0), ln_q));
      dual inner = dual_log(dual_add(p, dual_mul(ratio_cq, s)));
      return dual_sub(dual_add(dual_add(lnz, m0), dual_add(ln_q, inner)), half_ln_d2);
    }
    dual edge = dual_mul(q, dual_recip(d2));
    return dual_add(dual_add(dual_add(lnz, m0), ln_ch), dual_log(dual_add(p, dual_mul(edge, s))));
  }

  dual one_plus_rho = dual_const(1.0), one_minus_rho = dual_const(1.0);
  if (J != 0) {
    dual x = dual_scale(ratio, (double)n);
    dual plus = dual_shift(dual_exp(x), 1.0);
    dual minus = dual_scale(dual_expm1(x), -1.0);
    int negative = J < 0 && n % 2;
    one_plus_rho = negative ? minus : plus;
    one_minus_rho = negative ? plus : minus;
  }
  /* n ln l+ = n (K + m0 + ln(cosh H + D)), scaled quantities */
  dual lnz = dual_add(scale_n, dual_scale(dual_log(dual_add(ch, D)), (double)n));
  if (periodic) return dual_add(lnz, dual_log(one_plus_rho));
  dual bracket = dual_add(dual_mul(ch, one_plus_rho), dual_mul(dual_mul(q, dual_recip(D)), one_minus_rho));
  return dual_add(dual_add(lnz, m0), dual_log(bracket));
}

/* Ground state of the chain: (min, +) transfer matrix whose entries also
 * count the minimising paths, raised to the power N by squaring. */
typedef struct {
  double e[2][2], count[2][2];
} minplus;

static void minplus_merge(double *e, double *count, double e2, double count2)
{
  double tol = ground_tolerance(fmin(fabs(*e), fabs(e2)));
  if (e2 < *e - tol) {
    *e = e2;
    *count = count2;
  } else if (e2 <= *e + tol) {
    *count += count2;
    *e = fmin(*e, e2);
  }
}

static minplus minplus_mul(const minplus *a, const minplus *b)
{
  minplus p;
  for (int s = 0; s < 2; s++)
    for (int t = 0; t < 2; t++) {
      p.e[s][t] = INFINITY;
      p.count[s][t] = 0.0;
      for (int u = 0; u < 2; u++)
        minplus_merge(&p.e[s][t], &p.count[s][t], a->e[s][u] + b->e[u][t], a->count[s][u] * b->count[u][t]);
    }
  return p;
}

static void chain_ground(long N, int periodic, double J, double h, double *e0, double *degeneracy)
{
  static const double spin[2] = {1.0, -1.0};
  minplus power, result;
  for (int s = 0; s < 2; s++)
    for (int t = 0; t < 2; t++) {
      power.e[s][t] = -J * spin[s] * spin[t] - h * spin[s];
      power.count[s][t] = 1.0;
      result.e[s][t] = s == t ? 0.0 : INFINITY;
      result.count[s][t] = s == t;
    }
  for (long p = periodic ? N : N - 1; p > 0; p >>= 1) {
    if (p & 1) result = minplus_mul(&result, &power);
    if (p > 1) power = minplus_mul(&power, &power);
  }
  *e0 = INFINITY;
  *degeneracy = 0.0;
  /* ring: trace; open: any ends, plus the field on the last spin, which
   * the bond matrices (field of the first spin of each bond) leave out */
  for (int s = 0; s < 2; s++)
    for (int t = 0; t < 2; t++)
      if (!periodic || s == t)
        minplus_merge(e0, degeneracy, result.e[s][t] - (periodic ? 0.0 : h * spin[t]), result.count[s][t]);
}

int ising_exact_chain(long N, int periodic, double J, double h, double beta, ising_exact_result *r)
{
  if (!r) return -1;
  result_clear(r);
  if (N < 2 || !isfinite(J) || !isfinite(h) || !isfinite(beta) || beta <= 0 || fabs(beta * J) > 150.0 ||
      fabs(beta * h) > 300.0)
    return -1;
  const double dn = (double)N;
  dual by_beta = chain_lnz(N, periodic, J, (dual){beta * J, J, 0.0}, (dual){beta * h, h, 0.0});
  dual by_h = chain_lnz(N, periodic, J, dual_const(beta * J), (dual){beta * h, beta, 0.0});
  r->lnZ = by_beta.v;
  r->energy = -by_beta.d / dn;
  r->specific_heat = beta * beta * by_beta.dd / dn;
  r->magnetization = by_h.d / (beta * dn);
  r->susceptibility = by_h.dd / (beta * dn);
  chain_ground(N, periodic, J, h, &r->ground_energy, &r->ground_degeneracy);
  return 0;
}
