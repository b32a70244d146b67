/* test_exact.c: checks of the exact module (exact.h).
 *
 * Every check prints one line: what is compared, the measured deviation,
 * the tolerance, ok or FAIL.  Deviations are relative, |a - b| / max(|b|, 1)
 * for per-spin quantities that can be near zero and |a - b| / |b| for lnZ,
 * unless the line says otherwise; a yes/no check shows deviation 0 when it
 * holds (tolerance 0).  The last line counts passed and failed checks; the
 * exit status is 0 when every check passes, 1 otherwise.
 *
 * Checked: enumeration against plain long-double sums over the states (2, 3
 * and 14 spins, correlations included); Kaufman against enumeration (L = 2
 * double bonds, odd sizes, anisotropic and negative couplings, Tc, 25
 * spins); Kaufman at 1024^2 and 4096^2 against Onsager from beta = 1e-6 to
 * 50, and its 1/L approach at Tc; Onsager against 40-digit values and finite
 * differences of its own lnZ; the chain against enumeration (ring, open,
 * N = 2, frustrated, degenerate) and the thermodynamic limit at N = 1e6;
 * ground states and beta = 50; edge cases and rejection of invalid input.
 * Two lines report the time of a 25-spin enumeration.  Local, no MPI. */
#include "ising/exact.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int failures, passes;

static void check(const char *what, double dev, double tol)
{
  int ok = dev <= tol; /* a NaN deviation fails */
  printf("%-66s dev %9.2e  tol %7.1e  %s\n", what, dev, tol, ok ? "ok" : "FAIL");
  failures += !ok;
  passes += ok;
}

static double rel(double a, double b)
{
  return fabs(a - b) / fabs(b);
}

static double rel1(double a, double b)
{
  return fabs(a - b) / fmax(fabs(b), 1.0);
}

/* splitmix64: a fixed, portable stream for random couplings. */
static uint64_t rng_state = 0x1234567887654321ULL;

static double uniform(void)
{
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

static double symmetric(void)
{
  return 2.0 * uniform() - 1.0;
}

static double now(void)
{
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void need(int status)
{
  if (status) {
    printf("setup failed\n");
    exit(1);
  }
}

/* Periodic L x M lattice exactly as the simulation counts it: bond
 * (x, x+1 mod L) for every x, so a length-2 axis has a double bond. */
static void lattice(ising_bondlist *b, int L, int M, double Jx, double Jy)
{
  need(ising_bondlist_alloc(b, L * M, 2 * L * M));
  int k = 0;
  for (int y = 0; y < M; y++)
    for (int x = 0; x < L; x++) {
      b->i[k] = x + L * y;
      b->j[k] = (x + 1) % L + L * y;
      b->J[k++] = Jx;
      b->i[k] = x + L * y;
      b->j[k] = x + L * ((y + 1) % M);
      b->J[k++] = Jy;
    }
}

static void chain(ising_bondlist *b, int n, int periodic, double J, double h)
{
  int nb = periodic ? n : n - 1;
  need(ising_bondlist_alloc(b, n, nb));
  for (int k = 0; k < nb; k++) {
    b->i[k] = k;
    b->j[k] = (k + 1) % n;
    b->J[k] = J;
  }
  for (int k = 0; k < n; k++) b->h[k] = h;
}

static double energy_of(const ising_bondlist *m, int state)
{
  double e = 0.0;
  for (int b = 0; b < m->nbonds; b++)
    e -= m->J[b] * ((state >> m->i[b] & 1) ? -1 : 1) * ((state >> m->j[b] & 1) ? -1 : 1);
  for (int k = 0; k < m->nspins; k++) e -= m->h[k] * ((state >> k & 1) ? -1 : 1);
  return e;
}

/* The reference: plain sums of exp(-beta E) over all states in long double,
 * energies evaluated bond by bond, no Gray code, no shift. */
static void plain_sums(const ising_bondlist *m, double beta, ising_exact_result *r, double *corr)
{
  int n = m->nspins, nstates = 1 << n;
  long double z = 0, e1 = 0, e2 = 0, m1 = 0, ma = 0, m2 = 0, m4 = 0;
  double e0 = INFINITY, count = 0;
  for (int st = 0; st < nstates; st++) e0 = fmin(e0, energy_of(m, st));
  for (int k = 0; k < n * n; k++) corr[k] = 0;
  for (int st = 0; st < nstates; st++) {
    double e = energy_of(m, st);
    long double w = expl(-(long double)beta * e), mag = 0;
    for (int k = 0; k < n; k++) mag += (st >> k & 1) ? -1 : 1;
    z += w;
    e1 += w * e;
    e2 += w * e * e;
    m1 += w * mag;
    ma += w * fabsl(mag);
    m2 += w * mag * mag;
    m4 += w * mag * mag * mag * mag;
    count += e - e0 <= 1e-9 * (1 + fabs(e0));
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) corr[i * n + j] += (double)(w * ((st >> i & 1) == (st >> j & 1) ? 1 : -1));
  }
  for (int k = 0; k < n * n; k++) corr[k] /= (double)z;
  r->lnZ = (double)logl(z);
  r->energy = (double)(e1 / z / n);
  r->specific_heat = (double)(beta * beta * (e2 / z - (e1 / z) * (e1 / z)) / n);
  r->magnetization = (double)(m1 / z / n);
  r->abs_magnetization = (double)(ma / z / n);
  r->m2 = (double)(m2 / z / n / n);
  r->m4 = (double)(m4 / z / n / n / n / n);
  r->susceptibility = beta * n * (r->m2 - r->abs_magnetization * r->abs_magnetization);
  r->binder = 1 - r->m4 / (3 * r->m2 * r->m2);
  r->ground_energy = e0;
  r->ground_degeneracy = count;
}

static void random_model(ising_bondlist *b, int n, int nbonds)
{
  need(ising_bondlist_alloc(b, n, nbonds));
  for (int k = 0; k < nbonds; k++) {
    b->i[k] = k < n - 1 ? k : (int)(uniform() * n);
    do b->j[k] = k < n - 1 ? k + 1 : (int)(uniform() * n);
    while (b->j[k] == b->i[k]);
    b->J[k] = 1.5 * symmetric();
  }
  for (int k = 0; k < n; k++) b->h[k] = symmetric();
}

static void test_enumeration_vs_plain_sums(void)
{
  static const int sizes[][2] = {{2, 1}, {3, 4}, {14, 30}};
  static const double betas[] = {0.37, 1.9};
  for (int c = 0; c < 3; c++) {
    ising_bondlist b;
    int n = sizes[c][0];
    random_model(&b, n, sizes[c][1]);
    for (int ib = 0; ib < 2; ib++) {
      ising_exact_result r, ref;
      double corr[14 * 14], corr_ref[14 * 14], dc = 0, dm = 0;
      char what[96];
      need(ising_exact_enumerate(&b, betas[ib], &r, corr));
      plain_sums(&b, betas[ib], &ref, corr_ref);
      for (int k = 0; k < n * n; k++) dc = fmax(dc, fabs(corr[k] - corr_ref[k]));
      dm = fmax(dm, rel1(r.magnetization, ref.magnetization));
      dm = fmax(dm, rel1(r.abs_magnetization, ref.abs_magnetization));
      dm = fmax(dm, rel1(r.m2, ref.m2));
      dm = fmax(dm, rel1(r.m4, ref.m4));
      dm = fmax(dm, rel1(r.susceptibility, ref.susceptibility));
      dm = fmax(dm, rel1(r.binder, ref.binder));
      snprintf(what, sizeof what, "enumerate N=%2d beta=%.2f lnZ", n, betas[ib]);
      check(what, rel(r.lnZ, ref.lnZ), 1e-12);
      snprintf(what, sizeof what, "enumerate N=%2d beta=%.2f energy", n, betas[ib]);
      check(what, rel1(r.energy, ref.energy), 1e-12);
      snprintf(what, sizeof what, "enumerate N=%2d beta=%.2f specific heat", n, betas[ib]);
      check(what, rel1(r.specific_heat, ref.specific_heat), 1e-12);
      snprintf(what, sizeof what, "enumerate N=%2d beta=%.2f m,|m|,m2,m4,chi,binder (max)", n, betas[ib]);
      check(what, dm, 1e-12);
      snprintf(what, sizeof what, "enumerate N=%2d beta=%.2f <s_i s_j> (abs)", n, betas[ib]);
      check(what, dc, 1e-12);
      snprintf(what, sizeof what, "enumerate N=%2d ground energy, degeneracy", n);
      check(what, rel1(r.ground_energy, ref.ground_energy) + fabs(r.ground_degeneracy - ref.ground_degeneracy), 1e-12);
    }
    ising_bondlist_free(&b);
  }
}

/* One Kaufman-versus-enumeration case; returns the enumeration time. */
static double kaufman_case(int L, int M, double Jx, double Jy, double beta, double tol)
{
  ising_bondlist b;
  ising_exact_result k, e;
  char what[96];
  lattice(&b, L, M, Jx, Jy);
  double t0 = now();
  need(ising_exact_enumerate(&b, beta, &e, NULL));
  double t = now() - t0;
  need(ising_exact_kaufman(L, M, Jx, Jy, beta, &k));
  double dz = rel(k.lnZ, e.lnZ), de = rel1(k.energy, e.energy);
  double dc = rel1(k.specific_heat, e.specific_heat);
  double dg = rel1(k.ground_energy, e.ground_energy) + fabs(k.ground_degeneracy - e.ground_degeneracy);
  snprintf(what, sizeof what, "kaufman %dx%d J=(%g,%g) beta=%g lnZ,e,c,E0,deg (max)", L, M, Jx, Jy, beta);
  check(what, fmax(fmax(dz, de), fmax(dc, dg)), tol);
  if (!(fmax(fmax(dz, de), fmax(dc, dg)) <= tol)) printf("  lnZ %.3e  e %.3e  c %.3e  ground %.3e\n", dz, de, dc, dg);
  ising_bondlist_free(&b);
  return t;
}

static void test_kaufman_vs_enumeration(void)
{
  static const int sizes[][2] = {{4, 4}, {3, 5}, {5, 3}, {2, 2}, {2, 3}, {3, 2}, {2, 5}, {5, 2}, {4, 5}};
  static const double couplings[][2] = {{1, 1}, {1, 0.6}, {0.5, 1.3}};
  static const double betas[] = {0.1, 0.44, 1.0, 3.0};
  for (int s = 0; s < 9; s++)
    for (int c = 0; c < 3; c++)
      for (int ib = 0; ib < 4; ib++)
        kaufman_case(sizes[s][0], sizes[s][1], couplings[c][0], couplings[c][1], betas[ib], 1e-10);
  /* negative couplings along even axes (gauge-equivalent to |J|) */
  kaufman_case(4, 3, -1.0, 0.7, 0.6, 1e-10);
  kaufman_case(3, 4, 0.8, -1.1, 0.6, 1e-10);
  kaufman_case(4, 4, -1.0, -1.0, 0.44, 1e-10);
  kaufman_case(2, 3, -1.0, 1.0, 1.0, 1e-10);
  /* at Tc, where Kaufman's sign-changing factor passes through zero */
  kaufman_case(4, 4, 1.0, 1.0, 0.5 * log(1 + sqrt(2.0)), 1e-10);
  double t = kaufman_case(5, 5, 1.0, 1.0, 0.44, 1e-10);
  printf("timing: 25-spin enumeration (5x5, one beta) %.3f s\n", t);
}

static void test_kaufman_vs_onsager(void)
{
  static const double betas[] = {0.3, 0.6};
  const double beta_c = 0.5 * log(1 + sqrt(2.0));
  char what[96];
  for (int ib = 0; ib < 2; ib++) {
    ising_exact_result k;
    double lnz, e, c, m;
    need(ising_exact_kaufman(1024, 1024, 1.0, 1.0, betas[ib], &k));
    ising_exact_onsager(1.0, betas[ib], &lnz, &e, &c, &m);
    /* below Tc the two ordered states add ln 2 to the finite lattice */
    double twofold = betas[ib] > beta_c ? log(2.0) : 0.0;
    snprintf(what, sizeof what, "kaufman 1024^2 vs onsager beta=%g lnZ/N (- ln2/N below Tc)", betas[ib]);
    check(what, rel((k.lnZ - twofold) / (1024.0 * 1024.0), lnz), 1e-13);
    snprintf(what, sizeof what, "kaufman 1024^2 vs onsager beta=%g energy", betas[ib]);
    check(what, rel1(k.energy, e), 1e-12);
    snprintf(what, sizeof what, "kaufman 1024^2 vs onsager beta=%g specific heat", betas[ib]);
    check(what, rel1(k.specific_heat, c), 1e-10);
  }
  ising_exact_result k;
  need(ising_exact_kaufman(1024, 1024, 1.0, 1.0, beta_c, &k));
  check("kaufman 1024^2 at beta_c: |e + sqrt 2| (abs)", fabs(k.energy + sqrt(2.0)), 1e-3);
  check("kaufman 1024^2 at beta_c: specific heat finite, >3 (0 if so)",
        isfinite(k.specific_heat) && k.specific_heat > 3 ? 0 : 1, 0);

  double e1024 = k.energy + sqrt(2.0);

  /* relative deviations without floor: at small beta e and c are tiny */
  static const double big_betas[] = {1e-6, 1e-3, 0.3, 0.6, 2.0, 50.0};
  for (int ib = 0; ib < 6; ib++) {
    double lnz, e, c, m, t0 = now();
    need(ising_exact_kaufman(4096, 4096, 1.0, 1.0, big_betas[ib], &k));
    double t = now() - t0;
    ising_exact_onsager(1.0, big_betas[ib], &lnz, &e, &c, &m);
    double twofold = big_betas[ib] > beta_c ? log(2.0) : 0.0;
    snprintf(what, sizeof what, "kaufman 4096^2 vs onsager beta=%g lnZ/N (%.1f ms)", big_betas[ib], 1e3 * t);
    check(what, rel((k.lnZ - twofold) / (4096.0 * 4096.0), lnz), 1e-14);
    snprintf(what, sizeof what, "kaufman 4096^2 vs onsager beta=%g e, c", big_betas[ib]);
    check(what, fmax(rel(k.energy, e), fabs(k.specific_heat - c) / fmax(fabs(c), 1e-30)), 1e-8);
  }
  need(ising_exact_kaufman(4096, 4096, 1.0, 1.0, beta_c, &k));
  check("kaufman 4096^2 at beta_c: |e + sqrt 2| (abs)", fabs(k.energy + sqrt(2.0)), 3e-4);
  check("kaufman at beta_c: e + sqrt 2 ~ 1/L (4096 vs 1024, rel)", rel(4096 * (k.energy + sqrt(2.0)), 1024 * e1024),
        1e-2);
  need(ising_exact_kaufman(4096, 2048, 1.0, 0.5, 0.7, &k));
  check("kaufman 4096x2048 anisotropic beta=0.7 finite (0 if so)",
        isfinite(k.lnZ) && isfinite(k.energy) && isfinite(k.specific_heat) ? 0 : 1, 0);
}

static void test_onsager(void)
{
  const double beta_c = 0.5 * log(1 + sqrt(2.0));
  const double catalan = 0.915965594177219015054603514932384110774;
  double lnz, e, c, m;
  ising_exact_onsager(1.0, beta_c, &lnz, &e, &c, &m);
  check("onsager lnZ/N at beta_c = ln2/2 + 2G/pi", rel(lnz, 0.5 * log(2.0) + 2 * catalan / 3.14159265358979323846),
        1e-14);
  check("onsager energy at beta_c = -sqrt 2", rel(e, -sqrt(2.0)), 1e-13);
  check("onsager |m| at beta_c = 0 (abs)", fabs(m), 1e-3);

  /* 40-digit values of Onsager's integral and closed forms (mpmath) */
  static const double table[][4] = {{1e-4, 0.69314719055994539275, -0.000200000003333333376, 2.0000001000000021333e-8},
                                    {0.1, 0.70323124228583243463, -0.20337739109735565549, 0.021022315788654313126},
                                    {0.44, 0.92872854045688847611, -1.4022269600314211763, 2.8896870923765861144},
                                    {0.6, 1.2101323882884129392, -1.9090861776840752082, 0.31344535812616715789},
                                    {3, 6.0000000000377518094, -1.9999999996979836695, 2.1745376210141681684e-8},
                                    {10, 20.0, -2.0, 1.1551048882210657e-31}};
  for (int it = 0; it < 6; it++) {
    char what[96];
    ising_exact_onsager(1.0, table[it][0], &lnz, &e, &c, &m);
    snprintf(what, sizeof what, "onsager beta=%g lnZ/N, e vs 40 digits", table[it][0]);
    check(what, fmax(rel(lnz, table[it][1]), rel(e, table[it][2])), 1e-14);
    snprintf(what, sizeof what, "onsager beta=%g c vs 40 digits", table[it][0]);
    check(what, rel(c, table[it][3]), 1e-13);
  }

  /* energy and specific heat are closed forms, lnZ a quadrature: finite
   * differences of lnZ tie them together (step 1e-4, error ~1e-8) */
  static const double betas[] = {0.2, 0.4, 0.43, 0.45, 0.6, 1.5};
  for (int ib = 0; ib < 6; ib++) {
    double b = betas[ib], d = 1e-4, lp, lm, l2p, l2m;
    char what[96];
    ising_exact_onsager(1.0, b, &lnz, &e, &c, &m);
    ising_exact_onsager(1.0, b + d, &lp, NULL, NULL, NULL);
    ising_exact_onsager(1.0, b - d, &lm, NULL, NULL, NULL);
    ising_exact_onsager(1.0, b + 2 * d, &l2p, NULL, NULL, NULL);
    ising_exact_onsager(1.0, b - 2 * d, &l2m, NULL, NULL, NULL);
    double de = -(8 * (lp - lm) - (l2p - l2m)) / (12 * d);
    double dc = b * b * (-(l2p + l2m) + 16 * (lp + lm) - 30 * lnz) / (12 * d * d);
    snprintf(what, sizeof what, "onsager beta=%g energy vs -dlnZ/dbeta (finite diff.)", b);
    check(what, rel1(e, de), 1e-8);
    snprintf(what, sizeof what, "onsager beta=%g c vs b^2 d2lnZ/db2 (finite diff.)", b);
    check(what, rel1(c, dc), 1e-4);
  }
  ising_exact_onsager(-0.7, 0.9, &lnz, &e, &c, &m);
  double lf, ef, cf, mf;
  ising_exact_onsager(0.7, 0.9, &lf, &ef, &cf, &mf);
  check("onsager J=-0.7 equals J=0.7 (lnZ, e, c, |m|)", fabs(lnz - lf) + fabs(e - ef) + fabs(c - cf) + fabs(m - mf), 0);
  ising_exact_onsager(1.0, 0.6, NULL, NULL, NULL, &m);
  check("onsager Yang |m| at beta=0.6", rel(m, pow(1 - pow(sinh(1.2), -4), 0.125)), 1e-15);
}

static void test_chain_vs_enumeration(void)
{
  static const double js[] = {1.0, -0.7};
  static const double hs[] = {0.0, 0.3, -0.5};
  static const double betas[] = {0.2, 1.0, 3.0};
  for (int p = 0; p < 2; p++)
    for (int ij = 0; ij < 2; ij++)
      for (int ih = 0; ih < 3; ih++)
        for (int ib = 0; ib < 3; ib++) {
          ising_bondlist b;
          ising_exact_result r, e;
          char what[96];
          double beta = betas[ib];
          chain(&b, 10, p, js[ij], hs[ih]);
          need(ising_exact_enumerate(&b, beta, &e, NULL));
          need(ising_exact_chain(10, p, js[ij], hs[ih], beta, &r));
          double chi = beta * 10 * (e.m2 - e.magnetization * e.magnetization);
          double dev = fmax(fmax(rel(r.lnZ, e.lnZ), rel1(r.energy, e.energy)), rel1(r.specific_heat, e.specific_heat));
          dev = fmax(dev, rel1(r.magnetization, e.magnetization));
          dev = fmax(dev, rel1(r.susceptibility, chi));
          dev = fmax(dev, rel1(r.ground_energy, e.ground_energy) + fabs(r.ground_degeneracy - e.ground_degeneracy));
          snprintf(what, sizeof what, "chain N=10 %s J=%g h=%g beta=%g lnZ,e,c,m,chi,E0 (max)", p ? "ring" : "open",
                   js[ij], hs[ih], beta);
          check(what, dev, 1e-10);
          ising_bondlist_free(&b);
        }

  /* N = 2 ring (double bond), frustrated odd antiferromagnetic ring, short
   * open chain, zero coupling, a degenerate field; then low temperature with
   * a correlation length far beyond N, where the two eigenvalues nearly tie */
  static const struct {
    int n, periodic;
    double J, h, beta;
  } cases[] = {{2, 1, 0.8, 0.2, 1.3},   {9, 1, -1.0, 0.0, 2.0},   {9, 1, -1.0, 0.1, 4.0},   {3, 0, 1.0, -0.4, 0.7},
               {7, 1, 0.0, 0.3, 1.0},   {8, 1, -1.0, 2.0, 1.5},   {15, 1, 1.6, 0.0, 7.5},   {15, 0, 1.6, 0.01, 7.5},
               {9, 1, -1.5, 0.0, 18.8}, {14, 0, -1.9, 0.0, 18.4}, {13, 0, -1.9, 0.05, 18.4}};
  const int ncases = sizeof cases / sizeof cases[0];
  for (int c = 0; c < ncases; c++) {
    ising_bondlist b;
    ising_exact_result r, e;
    char what[96];
    chain(&b, cases[c].n, cases[c].periodic, cases[c].J, cases[c].h);
    need(ising_exact_enumerate(&b, cases[c].beta, &e, NULL));
    need(ising_exact_chain(cases[c].n, cases[c].periodic, cases[c].J, cases[c].h, cases[c].beta, &r));
    double chi = cases[c].beta * cases[c].n * (e.m2 - e.magnetization * e.magnetization);
    double dev = fmax(fmax(rel(r.lnZ, e.lnZ), rel1(r.energy, e.energy)), rel1(r.specific_heat, e.specific_heat));
    dev = fmax(dev, fmax(rel1(r.magnetization, e.magnetization), rel1(r.susceptibility, chi)));
    dev = fmax(dev, rel1(r.ground_energy, e.ground_energy) + fabs(r.ground_degeneracy - e.ground_degeneracy));
    snprintf(what, sizeof what, "chain N=%d %s J=%g h=%g beta=%g all (max; deg %g)", cases[c].n,
             cases[c].periodic ? "ring" : "open", cases[c].J, cases[c].h, cases[c].beta, e.ground_degeneracy);
    check(what, dev, 1e-12);
    ising_bondlist_free(&b);
  }
}

static void test_chain_thermodynamic_limit(void)
{
  static const double hs[] = {0.0, 0.1};
  const double beta = 5.0, J = 1.0, K = beta * J;
  char what[96];
  for (int ih = 0; ih < 2; ih++) {
    ising_exact_result r, o;
    double H = beta * hs[ih], N = 1e6;
    double lam = exp(K) * cosh(H) + sqrt(exp(2 * K) * sinh(H) * sinh(H) + exp(-2 * K));
    double m = sinh(H) / sqrt(sinh(H) * sinh(H) + exp(-4 * K));
    need(ising_exact_chain((long)N, 1, J, hs[ih], beta, &r));
    need(ising_exact_chain((long)N, 0, J, hs[ih], beta, &o));
    snprintf(what, sizeof what, "chain ring N=1e6 beta=5 h=%g lnZ/N vs ln l+", hs[ih]);
    check(what, rel(r.lnZ / N, log(lam)), 1e-14);
    snprintf(what, sizeof what, "chain ring N=1e6 beta=5 h=%g <m> (abs)", hs[ih]);
    check(what, fabs(r.magnetization - m), 1e-13);
    snprintf(what, sizeof what, "chain open N=1e6 beta=5 h=%g lnZ/N vs ln l+ (abs, ~1/N)", hs[ih]);
    check(what, fabs(o.lnZ / N - log(lam)), 1e-5);
  }
  ising_exact_result r;
  need(ising_exact_chain(1000000, 1, J, 0.0, beta, &r));
  check("chain ring N=1e6 beta=5 h=0 energy = -J tanh K", rel(r.energy, -J * tanh(K)), 1e-13);
  check("chain ring N=1e6 beta=5 h=0 chi = beta exp(2K)", rel(r.susceptibility, beta * exp(2 * K)), 1e-12);
  need(ising_exact_chain(1000, 1, J, 0.0, 1e-6, &r));
  check("chain ring N=1000 beta=1e-6 energy = -J tanh K", rel(r.energy, -J * tanh(1e-6)), 1e-8);
  need(ising_exact_chain(10000000, 0, -1.0, 0.3, 50.0, &r));
  check("chain open N=1e7 J=-1 h=0.3 beta=50 finite (0 if so)",
        isfinite(r.lnZ) && isfinite(r.energy) && isfinite(r.specific_heat) && isfinite(r.magnetization) &&
                isfinite(r.susceptibility)
            ? 0
            : 1,
        0);
  check("chain open N=1e7 J=-1 h=0.3 ground energy", rel(r.ground_energy, -(1e7 - 1)), 1e-15);
}

static void test_ground_states(void)
{
  ising_bondlist b;
  ising_exact_result r;
  lattice(&b, 4, 4, 1.0, 1.0);
  need(ising_exact_enumerate(&b, 1.0, &r, NULL));
  check("ground 4x4 ferromagnet E0 = -32", fabs(r.ground_energy + 32), 1e-12);
  check("ground 4x4 ferromagnet degeneracy 2", fabs(r.ground_degeneracy - 2), 0);
  need(ising_exact_enumerate(&b, 50.0, &r, NULL));
  check("beta=50 4x4 ferromagnet lnZ = 50*32 + ln 2", rel(r.lnZ, 50.0 * 32 + log(2.0)), 1e-15);
  ising_bondlist_free(&b);

  /* open chain: a tree is never frustrated, E0 = -sum |J| whatever the
   * signs; a zero bond doubles the degeneracy */
  double sum = 0;
  chain(&b, 12, 0, 0.0, 0.0);
  for (int k = 0; k < 11; k++) {
    b.J[k] = (k % 3 == 1 ? -1 : 1) * (0.5 + uniform());
    sum += fabs(b.J[k]);
  }
  need(ising_exact_enumerate(&b, 1.0, &r, NULL));
  check("ground open chain, mixed signs: E0 = -sum|J|", rel(r.ground_energy, -sum), 1e-12);
  check("ground open chain, mixed signs: degeneracy 2", fabs(r.ground_degeneracy - 2), 0);
  b.J[5] = 0;
  need(ising_exact_enumerate(&b, 1.0, &r, NULL));
  check("ground open chain with a zero bond: degeneracy 4", fabs(r.ground_degeneracy - 4), 0);
  ising_bondlist_free(&b);

  /* ring with one negative bond: one broken bond anywhere, 2 N states */
  chain(&b, 9, 1, 1.0, 0.0);
  b.J[4] = -1;
  need(ising_exact_enumerate(&b, 1.0, &r, NULL));
  check("ground frustrated ring N=9: E0 = -7", fabs(r.ground_energy + 7), 1e-12);
  check("ground frustrated ring N=9: degeneracy 18", fabs(r.ground_degeneracy - 18), 0);
  ising_bondlist_free(&b);

  /* antiferromagnetic triangle: 6 states with one broken bond */
  chain(&b, 3, 1, -1.0, 0.0);
  need(ising_exact_enumerate(&b, 1.0, &r, NULL));
  check("ground AF triangle: E0 = -1, degeneracy 6", fabs(r.ground_energy + 1) + fabs(r.ground_degeneracy - 6), 1e-12);
  ising_bondlist_free(&b);

  /* +-J spin glass at beta = 50: excitations cost >= 4, so lnZ is
   * -beta E0 + ln(degeneracy) up to exp(-200) */
  lattice(&b, 4, 4, 1.0, 1.0);
  for (int k = 0; k < b.nbonds; k++) b.J[k] = uniform() < 0.5 ? -1 : 1;
  need(ising_exact_enumerate(&b, 50.0, &r, NULL));
  char what[96];
  snprintf(what, sizeof what, "beta=50 +-J 4x4 lnZ = -beta E0 + ln deg (E0 %g, deg %g)", r.ground_energy,
           r.ground_degeneracy);
  check(what, rel(r.lnZ, -50 * r.ground_energy + log(r.ground_degeneracy)), 1e-14);
  /* sum rule at h = 0: -<H> = sum_b J_b <s_i s_j> */
  double corr[16 * 16], bonds = 0;
  need(ising_exact_enumerate(&b, 0.7, &r, corr));
  for (int k = 0; k < b.nbonds; k++) bonds += b.J[k] * corr[b.i[k] * 16 + b.j[k]];
  check("+-J 4x4 beta=0.7: -N e = sum_b J_b <s_i s_j>", rel(-16 * r.energy, bonds), 1e-12);
  ising_bondlist_free(&b);

  /* Gaussian couplings and fields at beta = 50: finite, lnZ at least the
   * ground-state term */
  random_model(&b, 16, 32);
  need(ising_exact_enumerate(&b, 50.0, &r, NULL));
  double floor = -50 * r.ground_energy + log(r.ground_degeneracy);
  check("beta=50 gaussian N=16: finite, lnZ >= -beta E0 + ln deg (0 if so)",
        isfinite(r.lnZ) && isfinite(r.specific_heat) && r.lnZ >= floor * (1 - 1e-15) ? 0 : 1, 0);
  ising_bondlist_free(&b);
}

static void test_timing(void)
{
  ising_bondlist b;
  ising_exact_result r;
  random_model(&b, 25, 50);
  double t0 = now();
  need(ising_exact_enumerate(&b, 0.8, &r, NULL));
  double t = now() - t0;
  printf("timing: 25-spin enumeration (random, 50 bonds) %.3f s\n", t);
  check("25-spin random enumeration finite (0 if so)",
        isfinite(r.lnZ) && isfinite(r.specific_heat) && isfinite(r.susceptibility) ? 0 : 1, 0);
  ising_bondlist_free(&b);
}

static void test_invalid_input(void)
{
  ising_bondlist b;
  ising_exact_result r;
  int bad = 0;
  need(ising_bondlist_alloc(&b, 26, 1));
  b.i[0] = 0;
  b.j[0] = 1;
  bad += ising_exact_enumerate(&b, 1.0, &r, NULL) != -1;
  ising_bondlist_free(&b);
  chain(&b, 4, 0, 1.0, 0.0);
  b.j[1] = b.i[1];
  bad += ising_exact_enumerate(&b, 1.0, &r, NULL) != -1;
  b.j[1] = 7;
  bad += ising_exact_enumerate(&b, 1.0, &r, NULL) != -1;
  b.j[1] = 2;
  bad += ising_exact_enumerate(&b, -1.0, &r, NULL) != -1;
  bad += ising_exact_enumerate(&b, NAN, &r, NULL) != -1;
  bad += !isnan(r.lnZ) || r.have_magnetization != 0;
  ising_bondlist_free(&b);
  bad += ising_exact_kaufman(1, 4, 1.0, 1.0, 0.4, &r) != -1;
  bad += ising_exact_kaufman(3, 4, -1.0, 1.0, 0.4, &r) != -1;
  bad += ising_exact_kaufman(4, 4, 0.0, 1.0, 0.4, &r) != -1;
  bad += ising_exact_kaufman(4, 4, 1.0, 1.0, 0.0, &r) != -1;
  bad += ising_exact_chain(1, 1, 1.0, 0.0, 1.0, &r) != -1;
  bad += ising_exact_chain(10, 1, 1.0, 0.0, 200.0, &r) != -1;
  bad += ising_exact_chain(10, 1, 1.0, 0.0, -1.0, &r) != -1;
  check("invalid input rejected with -1, r set to NAN (count of misses)", bad, 0);

  /* edge cases that are valid: one spin, beta = 0 */
  need(ising_bondlist_alloc(&b, 1, 0));
  b.h[0] = 0.7;
  need(ising_exact_enumerate(&b, 1.3, &r, NULL));
  check("enumerate one spin: lnZ = ln(2 cosh beta h), <m> = tanh beta h",
        rel(r.lnZ, log(2 * cosh(1.3 * 0.7))) + rel(r.magnetization, tanh(1.3 * 0.7)), 1e-15);
  ising_bondlist_free(&b);
  lattice(&b, 3, 3, 1.0, -0.5);
  need(ising_exact_enumerate(&b, 0.0, &r, NULL));
  check("enumerate beta=0: lnZ = N ln 2, e = 0, c = 0 (abs)",
        fabs(r.lnZ - 9 * log(2.0)) + fabs(r.energy) + fabs(r.specific_heat), 1e-14);
  ising_bondlist_free(&b);
}

int main(void)
{
  /* line-buffered, so that a crash still leaves every finished line */
  setvbuf(stdout, NULL, _IOLBF, 0);
  test_enumeration_vs_plain_sums();
  test_kaufman_vs_enumeration();
  test_kaufman_vs_onsager();
  test_onsager();
  test_chain_vs_enumeration();
  test_chain_thermodynamic_limit();
  test_ground_states();
  test_timing();
  test_invalid_input();
  printf("test_exact: %d passed, %d failed\n", passes, failures);
  return failures ? 1 : 0;
}
