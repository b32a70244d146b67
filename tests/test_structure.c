/* test_structure.c: the serial FFT (fft.h) and the distributed structure
 * factor (structure.h) against direct sums.
 *
 * 1. ising_fft for every length 1..70 and a few large ones (powers of two and
 *    not, the latter through Bluestein), forward and inverse, against the
 *    direct DFT of random data: max error <= 1e-9 * (1 + max |X|)
 *    (double-precision round-off grows like log n; 1e-9 is far above it
 *    and far below any indexing or sign mistake, which gives O(1) errors).
 * 1b. ising_fft_autocorrelation for every length 1..70 and a few large ones
 *    against the direct lagged sums (long double) of random data: max error
 *    <= 1e-10 * (1 + r_0) (the same argument; r_0 bounds every |r_t|).
 * 2. The shell sums and mode counts of S(k) for random +-1 fields on 1D,
 *    2D and 3D lattices (odd and even sizes, uneven splits), against the
 *    direct O(N^2) DFT of the same field computed on every rank: per mode the
 *    fixed-point rounding is <= 2^-33, so the sums agree to N 2^-33 plus
 *    round-off; tolerance 1e-6 absolute.  Sum rule: sum over all shells =
 *    N (Parseval: sum_k |F(k)|^2 = N sum_x s_x^2 = N^2), exactly up to the
 *    per-mode rounding.
 * Run on 1 to 4 ranks. */
#include "ising/fft.h"
#include "ising/geometry.h"
#include "ising/rng.h"
#include "ising/structure.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, rank;

static void check(int ok, const char *what)
{
  int all;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  if (rank == 0) printf("%-74s %s\n", what, all ? "ok" : "FAILED");
  failures += !all;
}

/* A check of one length n: printed for the lengths worth listing (above 64, 16 j + 1, powers of two), and for
 * any that fails; the others pass silently (main prints one line for them). */
static void check_length(size_t n, int ok, const char *what)
{
  if (n > 64 || n % 16 == 1 || (n & (n - 1)) == 0 || !ok) check(ok, what);
}

static void check_fft(size_t n)
{
  double *re = malloc(sizeof(double) * n), *im = malloc(sizeof(double) * n);
  double *xr = malloc(sizeof(double) * n), *xi = malloc(sizeof(double) * n);
  for (size_t j = 0; j < n; j++) {
    uint32_t w[4];
    ising_rng4(7, 0, n, j, w);
    re[j] = ising_rng_uniform(w[0]) - 0.5;
    im[j] = ising_rng_uniform(w[1]) - 0.5;
  }
  for (int sign = -1; sign <= 1; sign += 2) {
    double maxx = 0.0, maxerr = 0.0;
    for (size_t k = 0; k < n; k++) {
      long double sr = 0, si = 0;
      for (size_t j = 0; j < n; j++) {
        long double a = sign * 2.0L * 3.141592653589793238462643383279L * (long double)((j * k) % n) / (long double)n;
        sr += re[j] * cosl(a) - im[j] * sinl(a);
        si += re[j] * sinl(a) + im[j] * cosl(a);
      }
      xr[k] = (double)sr;
      xi[k] = (double)si;
      maxx = fmax(maxx, hypot(xr[k], xi[k]));
    }
    double *yr = malloc(sizeof(double) * n), *yi = malloc(sizeof(double) * n);
    memcpy(yr, re, sizeof(double) * n);
    memcpy(yi, im, sizeof(double) * n);
    int rc = ising_fft(yr, yi, n, sign);
    for (size_t k = 0; k < n; k++) maxerr = fmax(maxerr, hypot(yr[k] - xr[k], yi[k] - xi[k]));
    char what[128];
    snprintf(what, sizeof(what), "fft n = %zu sign %+d: max error %.1e", n, sign, maxerr);
    check_length(n, rc == 0 && maxerr <= 1e-9 * (1 + maxx), what);
    free(yr);
    free(yi);
  }
  free(re);
  free(im);
  free(xr);
  free(xi);
}

static int8_t spin_of(int64_t site)
{
  return ising_rng_u32(3, 1, 0, (uint64_t)site) & 1 ? 1 : -1;
}

static void check_lattice(int dim, const int64_t *L, const int *periodic)
{
  ising_params p;
  memset(&p, 0, sizeof(p));
  p.dim = dim;
  p.nsites = 1;
  for (int d = 0; d < 3; d++) {
    p.L[d] = d < dim ? L[d] : 1;
    p.periodic[d] = d < dim ? periodic[d] : 0;
    p.nsites *= p.L[d];
  }
  char name[128];
  snprintf(name, sizeof(name), "S(k) %dD %lldx%lldx%lld", dim, (long long)p.L[0], (long long)p.L[1], (long long)p.L[2]);
  ising_geometry g;
  if (ising_geometry_create(MPI_COMM_WORLD, &p, &g)) {
    check(0, name);
    return;
  }
  int8_t *s = calloc(g.nextended, 1);
  for (int ez = ising_geometry_lo(&g, 2); ez < ising_geometry_lo(&g, 2) + g.n[2]; ez++)
    for (int ey = ising_geometry_lo(&g, 1); ey < ising_geometry_lo(&g, 1) + g.n[1]; ey++)
      for (int ex = 1; ex <= g.n[0]; ex++)
        s[ising_geometry_index(&g, ex, ey, ez)] = spin_of(ising_geometry_global_index(&g, ex, ey, ez));
  ising_structure st;
  int ok = ising_structure_create(&g, &st) == 0;
  ising_int128 *shell = ok ? malloc(sizeof(ising_int128) * (size_t)st.nshells) : NULL;
  ok = ok && shell && ising_structure_compute(&st, s, shell) == 0;
  if (ok) {
    /* Direct DFT of the global field, every rank alike. */
    const double pi = 3.14159265358979323846;
    double *ref = calloc((size_t)st.nshells, sizeof(double)), total = 0.0;
    int64_t *modes = calloc((size_t)st.nshells, sizeof(int64_t));
    for (int64_t k = 0; k < p.nsites; k++) {
      int64_t n[3] = {k % p.L[0], k / p.L[0] % p.L[1], k / (p.L[0] * p.L[1])};
      double kk = 0.0;
      for (int d = 0; d < dim; d++) {
        int64_t m = 2 * n[d] > p.L[d] ? n[d] - p.L[d] : n[d];
        kk += pow(2 * pi * (double)m / (double)p.L[d], 2);
      }
      kk = sqrt(kk);
      double fr = 0.0, fi = 0.0;
      for (int64_t x = 0; x < p.nsites; x++) {
        int64_t c[3] = {x % p.L[0], x / p.L[0] % p.L[1], x / (p.L[0] * p.L[1])};
        double ph = 0.0;
        for (int d = 0; d < 3; d++) ph += (double)(n[d] * c[d] % p.L[d]) / (double)p.L[d];
        fr += spin_of(x) * cos(2 * pi * ph);
        fi -= spin_of(x) * sin(2 * pi * ph);
      }
      double sk = (fr * fr + fi * fi) / (double)p.nsites;
      int b = (int)floor(kk / st.dk + 0.5);
      if (b >= st.nshells) b = st.nshells - 1;
      ref[b] += sk;
      modes[b]++;
      total += sk;
    }
    double maxerr = 0.0, sum = 0.0;
    for (int b = 0; b < st.nshells; b++) {
      double v = (double)shell[b] / ISING_QUANTUM_SCALE;
      maxerr = fmax(maxerr, fabs(v - ref[b]));
      sum += v;
      ok = ok && modes[b] == st.modes[b];
    }
    ok = ok && maxerr <= 1e-6 && fabs(sum - (double)p.nsites) <= 1e-6 && fabs(total - (double)p.nsites) <= 1e-6;
    snprintf(name + strlen(name), sizeof(name) - strlen(name), ": max error %.1e, sum %.9g", maxerr, sum);
    free(ref);
    free(modes);
  }
  check(ok, name);
  free(shell);
  free(s);
  ising_structure_free(&st);
  ising_geometry_free(&g);
}

static void check_autocorrelation(size_t n)
{
  double *y = malloc(sizeof(double) * n), *r = malloc(sizeof(double) * n);
  for (size_t j = 0; j < n; j++) {
    uint32_t w[4];
    ising_rng4(11, 0, n, j, w);
    y[j] = ising_rng_uniform(w[0]) - 0.3; /* a non-zero mean, as an uncentred series would have */
  }
  const int rc = ising_fft_autocorrelation(y, n, r);
  double maxerr = 0.0, r0 = 0.0;
  for (size_t t = 0; t < n; t++) {
    long double direct = 0;
    for (size_t i = 0; i + t < n; i++) direct += (long double)y[i] * y[i + t];
    if (t == 0) r0 = (double)direct;
    maxerr = fmax(maxerr, fabs(r[t] - (double)direct));
  }
  char what[128];
  snprintf(what, sizeof(what), "autocorrelation n = %zu: max error %.1e", n, maxerr);
  check_length(n, rc == 0 && maxerr <= 1e-10 * (1 + r0), what);
  free(y);
  free(r);
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (size_t n = 1; n <= 70; n++) check_fft(n);
  check_fft(1000);
  check_fft(1024);
  check_fft(1031);
  if (rank == 0) printf("%-74s ok (lengths not listed passed)\n", "fft n = 1..70, 1000, 1024, 1031");
  for (size_t n = 1; n <= 70; n++) check_autocorrelation(n);
  check_autocorrelation(1000);
  check_autocorrelation(1024);
  check_autocorrelation(1025);
  check_autocorrelation(4097);
  if (rank == 0) printf("%-74s ok (lengths not listed passed)\n", "autocorrelation n = 1..70, 1000, 1024, 1025, 4097");
  const int per[3] = {1, 1, 1}, mixed[3] = {1, 0, 1};
  check_lattice(1, (int64_t[]){30}, per);
  check_lattice(1, (int64_t[]){17}, mixed + 1);
  check_lattice(2, (int64_t[]){8, 8}, per);
  check_lattice(2, (int64_t[]){12, 7}, mixed);
  check_lattice(2, (int64_t[]){5, 16}, per);
  check_lattice(3, (int64_t[]){4, 6, 5}, mixed);
  check_lattice(3, (int64_t[]){6, 6, 6}, per);
  if (rank == 0) printf("%s\n", failures ? "FAILED" : "all passed");
  MPI_Finalize();
  return failures ? 1 : 0;
}
