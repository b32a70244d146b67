/* test_couplings.c: quenched disorder is a pure function of the disorder
 * seed and the global bond/site number (couplings.h), on 1-4 ranks.
 * Checks, for +-J and Gaussian bonds with random fields in 1D, 2D and 3D:
 * every stored bond and field (halo positions included) equals the serial
 * definition; a fixed-point checksum over all bonds reduced over the ranks
 * equals the one computed serially from the bond list; the bond list has
 * the right bond count (open axes lose one bond per line, periodic length-2
 * axes keep two); the fraction of -J bonds and the Gaussian mean and
 * variance match the parameters within 5 standard errors; quantisation to
 * 2^-32 holds; ising_bits32 and ising_bits64 read the same bits of a bit
 * array at every position. */
#include "ising/couplings.h"
#include "ising/rng.h"

#include <math.h>
#include <petscsys.h>
#include <stdio.h>
#include <string.h>

static int failures, rank;

static void check(int ok, const char *what)
{
  int all;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  if (rank == 0) printf("%-72s %s\n", what, all ? "ok" : "FAILED");
  failures += !all;
}

static ising_params model(int dim, const int64_t *L, const int *per, ising_couplings_kind kind)
{
  ising_params p;
  memset(&p, 0, sizeof(p));
  p.dim = dim;
  p.nsites = 1;
  for (int d = 0; d < 3; d++) {
    p.L[d] = d < dim ? L[d] : 1;
    p.periodic[d] = d < dim ? per[d] : 0;
    p.nsites *= p.L[d];
    p.J[d] = d < dim ? 1.0 + 0.25 * d : 0.0;
  }
  p.couplings = kind;
  p.pm_p = 0.3;
  p.gaussian_mean = 0.1;
  p.gaussian_sigma = 1.5;
  p.field = 0.2;
  p.field_sigma = 0.7;
  p.disorder_seed = 987654321;
  return p;
}

static int64_t fixed(double x)
{
  return (int64_t)(x * ISING_QUANTUM_SCALE);
}

static void check_model(const char *name, ising_params p)
{
  char what[200];
  ising_geometry g;
  ising_couplings c;
  if (ising_geometry_create(MPI_COMM_WORLD, &p, &g) || ising_couplings_create(&p, &g, &c)) {
    check(0, name);
    return;
  }
  int ok = 1;
  int64_t local_sum = 0, total = 0;
  for (int ez = 0; ez < g.ext[2]; ez++)
    for (int ey = 0; ey < g.ext[1]; ey++)
      for (int ex = 0; ex < g.ext[0]; ex++) {
        int64_t gi = ising_geometry_global_index(&g, ex, ey, ez);
        if (gi < 0) continue;
        size_t i = ising_geometry_index(&g, ex, ey, ez);
        int e[3] = {ex, ey, ez}, interior = 1;
        for (int d = 0; d < g.dim; d++) interior &= e[d] >= 1 && e[d] <= g.n[d];
        for (int d = 0; d < p.dim; d++) {
          double J = c.Jp[d][i];
          ok &= J == ising_couplings_bond(&p, gi, d) && J == ising_quantize(J);
          if (interior) local_sum += fixed(J) * (gi % 7 + 1);
        }
        ok &= c.h[i] == ising_couplings_field(&p, gi);
        if (interior) local_sum += fixed(c.h[i]) * (gi % 5 + 1);
      }
  snprintf(what, sizeof(what), "%s: stored bonds and fields equal the serial definition", name);
  check(ok, what);
  MPI_Allreduce(&local_sum, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);

  ising_bondlist b;
  ising_couplings_bondlist(&p, &b);
  int64_t serial = 0;
  for (int k = 0; k < b.nbonds; k++) serial += fixed(b.J[k]) * (b.i[k] % 7 + 1);
  for (int s = 0; s < b.nspins; s++) serial += fixed(b.h[s]) * (s % 5 + 1);
  snprintf(what, sizeof(what), "%s: checksum over ranks equals the serial bond list", name);
  check(serial == total, what);
  int64_t expect = 0;
  for (int d = 0; d < p.dim; d++) expect += p.periodic[d] ? p.nsites : p.nsites / p.L[d] * (p.L[d] - 1);
  snprintf(what, sizeof(what), "%s: %d bonds in the bond list (expected %lld)", name, b.nbonds, (long long)expect);
  check(b.nbonds == expect, what);
  ising_bondlist_free(&b);
  ising_couplings_free(&c);
  ising_geometry_free(&g);
}

/* Statistics of the generated disorder over many bonds (serial). */
static void check_statistics(void)
{
  const int64_t L[2] = {400, 400};
  const int per[2] = {1, 1};
  ising_params p = model(2, L, per, ISING_COUPLINGS_PM);
  int64_t neg = 0, n = 0;
  for (int64_t s = 0; s < p.nsites; s++, n++) neg += ising_couplings_bond(&p, s, 0) < 0;
  double f = (double)neg / (double)n, se = sqrt(p.pm_p * (1 - p.pm_p) / (double)n);
  char what[200];
  snprintf(what, sizeof(what), "pm: fraction of -J bonds %.4f vs %.2f (5 se = %.4f)", f, p.pm_p, 5 * se);
  check(fabs(f - p.pm_p) < 5 * se, what);
  p = model(2, L, per, ISING_COUPLINGS_GAUSSIAN);
  double sum = 0, sum2 = 0, hs = 0, hs2 = 0;
  for (int64_t s = 0; s < p.nsites; s++) {
    double J = ising_couplings_bond(&p, s, 1), h = ising_couplings_field(&p, s);
    sum += J;
    sum2 += J * J;
    hs += h;
    hs2 += h * h;
  }
  double N = (double)p.nsites, mean = sum / N, var = sum2 / N - mean * mean;
  double hmean = hs / N, hvar = hs2 / N - hmean * hmean;
  double s2 = p.gaussian_sigma * p.gaussian_sigma, h2 = p.field_sigma * p.field_sigma;
  snprintf(what, sizeof(what), "gaussian: mean %.4f var %.4f vs %.2f %.4f (5 se)", mean, var, p.gaussian_mean, s2);
  check(fabs(mean - p.gaussian_mean) < 5 * sqrt(s2 / N) && fabs(var - s2) < 5 * s2 * sqrt(2 / N), what);
  snprintf(what, sizeof(what), "random field: mean %.4f var %.4f vs %.2f %.4f (5 se)", hmean, hvar, p.field, h2);
  check(fabs(hmean - p.field) < 5 * sqrt(h2 / N) && fabs(hvar - h2) < 5 * h2 * sqrt(2 / N), what);
}

/* The kernels' bit readers against the definition (bit i is bit i % 64 of word i / 64), at every position of a
 * random array of 5 words (and the 2 words of padding the couplings give theirs). */
static void check_bits(void)
{
  uint64_t a[7] = {0};
  for (int w = 0; w < 5; w++) {
    uint32_t r[4];
    ising_rng4(99, 0, 0, (uint64_t)w, r);
    a[w] = (uint64_t)r[0] << 32 | r[1];
  }
  int ok = 1;
  for (size_t pos = 0; pos < 5 * 64; pos++) {
    uint64_t want = 0;
    for (int b = 0; b < 64; b++) want |= (a[(pos + (size_t)b) / 64] >> ((pos + (size_t)b) % 64) & 1) << b;
    ok &= ising_bits64(a, pos) == want && ising_bits32(a, pos) == (uint32_t)want;
  }
  check(ok, "ising_bits64 and ising_bits32 at every position");
}

int main(int argc, char **argv)
{
  PetscInitialize(&argc, &argv, NULL, NULL);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const int64_t l1[1] = {16}, l2[2] = {8, 6}, l3[3] = {4, 6, 4}, l22[2] = {2, 4};
  const int per[3] = {1, 1, 1}, open[3] = {0, 0, 0}, mixed[3] = {1, 0, 1};
  check_model("1D periodic pm", model(1, l1, per, ISING_COUPLINGS_PM));
  check_model("1D open gaussian", model(1, l1, open, ISING_COUPLINGS_GAUSSIAN));
  check_model("2D periodic pm", model(2, l2, per, ISING_COUPLINGS_PM));
  check_model("2D open gaussian", model(2, l2, open, ISING_COUPLINGS_GAUSSIAN));
  check_model("2D 2x4 periodic pm (double bonds)", model(2, l22, per, ISING_COUPLINGS_PM));
  check_model("3D mixed gaussian", model(3, l3, mixed, ISING_COUPLINGS_GAUSSIAN));
  check_model("3D periodic pm", model(3, l3, per, ISING_COUPLINGS_PM));
  check_statistics();
  check_bits();
  if (rank == 0) printf("%d failure(s)\n", failures);
  PetscFinalize();
  return failures != 0;
}
