/* structure.c: structure factor by a distributed row-column FFT (structure.h).
 *   ising_structure_create, ising_structure_compute   collective
 *   ising_structure_free                               local */
#include "ising/structure.h"

#include "ising/error.h"
#include "ising/fft.h"
#include "ising/observables.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double pi = 3.14159265358979323846;

static int64_t *box(const ising_structure *s, int layout, int rank)
{
  return s->boxes + ((size_t)layout * (size_t)s->g->size + (size_t)rank) * 6;
}

static int64_t volume(const int64_t *b)
{
  int64_t v = 1;
  for (int d = 0; d < 3; d++) v *= b[3 + d] > b[d] ? b[3 + d] - b[d] : 0;
  return v;
}

/* The intersection of boxes a and b; returns its volume. */
static int64_t intersect(const int64_t *a, const int64_t *b, int64_t *out)
{
  for (int d = 0; d < 3; d++) {
    out[d] = a[d] > b[d] ? a[d] : b[d];
    out[3 + d] = a[3 + d] < b[3 + d] ? a[3 + d] : b[3 + d];
  }
  return volume(out);
}

/* Offset of global position x in the contiguous (x fastest) storage of box b. */
static size_t box_offset(const int64_t *b, int64_t x, int64_t y, int64_t z)
{
  int64_t e0 = b[3] - b[0], e1 = b[4] - b[1];
  return (size_t)((x - b[0]) + e0 * ((y - b[1]) + e1 * (z - b[2])));
}

/* Copies the part sub of box b between its storage and a packed buffer
 * (complex values, two doubles each): to_buffer 1 packs, 0 unpacks. */
static void copy_part(double *storage, const int64_t *b, const int64_t *sub, double *buffer, int to_buffer)
{
  size_t k = 0, run = (size_t)(sub[3] - sub[0]);
  for (int64_t z = sub[2]; z < sub[5]; z++)
    for (int64_t y = sub[1]; y < sub[4]; y++) {
      double *row = storage + 2 * box_offset(b, sub[0], y, z);
      if (to_buffer)
        memcpy(buffer + 2 * k, row, 2 * run * sizeof(double));
      else
        memcpy(row, buffer + 2 * k, 2 * run * sizeof(double));
      k += run;
    }
}

/* Moves s->data from layout 'from' to layout 'to'. */
static int redistribute(ising_structure *s, int from, int to)
{
  const ising_geometry *g = s->g;
  int *scount = s->counts, *sdispl = scount + g->size, *rcount = sdispl + g->size, *rdispl = rcount + g->size;
  const int64_t *mine_from = box(s, from, g->rank), *mine_to = box(s, to, g->rank);
  int64_t sub[6], off = 0;
  for (int r = 0; r < g->size; r++) {
    int64_t v = intersect(mine_from, box(s, to, r), sub);
    if (v) copy_part(s->data, mine_from, sub, s->send + 2 * off, 1);
    scount[r] = (int)(2 * v);
    sdispl[r] = (int)(2 * off);
    off += v;
  }
  off = 0;
  for (int r = 0; r < g->size; r++) {
    int64_t v = intersect(box(s, from, r), mine_to, sub);
    rcount[r] = (int)(2 * v);
    rdispl[r] = (int)(2 * off);
    off += v;
  }
  if (MPI_Alltoallv(s->send, scount, sdispl, MPI_DOUBLE, s->recv, rcount, rdispl, MPI_DOUBLE, g->comm) != MPI_SUCCESS)
    return -1;
  for (int r = 0; r < g->size; r++) {
    if (!rcount[r]) continue;
    intersect(box(s, from, r), mine_to, sub);
    copy_part(s->data, mine_to, sub, s->recv + rdispl[r], 0);
  }
  return 0;
}

/* Transforms every line along axis a of the local box of layout a + 1. */
static int transform_lines(ising_structure *s, int a)
{
  const int64_t *b = box(s, a + 1, s->g->rank);
  int64_t e[3], st[3];
  for (int d = 0; d < 3; d++) e[d] = b[3 + d] - b[d];
  if (volume(b) == 0) return 0;
  st[0] = 1;
  st[1] = e[0];
  st[2] = e[0] * e[1];
  int64_t n = e[a];
  double *re = s->line, *im = s->line + n;
  for (int64_t i2 = 0; i2 < (a == 2 ? 1 : e[2]); i2++)
    for (int64_t i1 = 0; i1 < (a == 1 ? 1 : e[1]); i1++)
      for (int64_t i0 = 0; i0 < (a == 0 ? 1 : e[0]); i0++) {
        double *p = s->data + 2 * (i0 + st[1] * i1 + st[2] * i2);
        for (int64_t j = 0; j < n; j++) {
          re[j] = p[2 * j * st[a]];
          im[j] = p[2 * j * st[a] + 1];
        }
        if (ising_fft(re, im, (size_t)n, -1)) return -1;
        for (int64_t j = 0; j < n; j++) {
          p[2 * j * st[a]] = re[j];
          p[2 * j * st[a] + 1] = im[j];
        }
      }
  return 0;
}

/* |k| of the mode with global indices n[d]. */
static double wavenumber(const ising_geometry *g, const int64_t *n)
{
  double k2 = 0.0;
  for (int d = 0; d < g->dim; d++) {
    int64_t m = 2 * n[d] > g->L[d] ? n[d] - g->L[d] : n[d];
    double kd = 2.0 * pi * (double)m / (double)g->L[d];
    k2 += kd * kd;
  }
  return sqrt(k2);
}

static int shell_of(const ising_structure *s, double k)
{
  int b = (int)floor(k / s->dk + 0.5);
  return b < s->nshells ? b : s->nshells - 1;
}

int ising_structure_create(const ising_geometry *g, ising_structure *s)
{
  memset(s, 0, sizeof(*s));
  s->g = g;
  const int nl = g->dim + 1;
  int64_t lmin = g->L[0];
  for (int d = 1; d < g->dim; d++) lmin = g->L[d] < lmin ? g->L[d] : lmin;
  s->dk = 2.0 * pi / (double)lmin;
  s->nshells = (int)floor(pi * sqrt((double)g->dim) / s->dk + 0.5) + 1;
  s->boxes = malloc(sizeof(int64_t) * 6 * (size_t)nl * (size_t)g->size);
  s->counts = malloc(sizeof(int) * 4 * (size_t)g->size);
  s->modes = calloc((size_t)s->nshells, sizeof(int64_t));
  s->kmean = malloc(sizeof(double) * (size_t)s->nshells);
  int64_t lmax = 1;
  for (int d = 0; d < g->dim; d++) lmax = g->L[d] > lmax ? g->L[d] : lmax;
  s->line = malloc(sizeof(double) * 2 * (size_t)lmax);
  int bad = !s->boxes || !s->counts || !s->modes || !s->kmean || !s->line;
  if (!bad) {
    /* Layout 0: the geometry's blocks. */
    int64_t mine[6] = {0, 0, 0, 1, 1, 1};
    for (int d = 0; d < g->dim; d++) {
      mine[d] = g->offset[d];
      mine[3 + d] = g->offset[d] + g->n[d];
    }
    MPI_Allgather(mine, 6, MPI_INT64_T, box(s, 0, 0), 6, MPI_INT64_T, g->comm);
    /* Layout a + 1: whole lines along a, split along the longest other axis. */
    for (int a = 0; a < g->dim; a++) {
      int split = -1;
      for (int d = 0; d < g->dim; d++)
        if (d != a && (split < 0 || g->L[d] >= g->L[split])) split = d;
      for (int r = 0; r < g->size; r++) {
        int64_t *b = box(s, a + 1, r);
        for (int d = 0; d < 3; d++) {
          b[d] = 0;
          b[3 + d] = d < g->dim ? g->L[d] : 1;
        }
        if (split >= 0) {
          int64_t start, len;
          ising_geometry_split(g->L[split], g->size, r, &start, &len);
          b[split] = start;
          b[3 + split] = start + len;
        } else if (r > 0) {
          b[3] = 0; /* 1D: rank 0 holds the one line */
        }
      }
    }
  }
  int64_t maxvol = 1;
  for (int l = 0; !bad && l < nl; l++) {
    int64_t v = volume(box(s, l, g->rank));
    maxvol = v > maxvol ? v : maxvol;
  }
  bad = bad || 2 * maxvol > INT_MAX;
  const int64_t nfinal = bad ? 0 : volume(box(s, g->dim, g->rank));
  if (!bad) {
    s->kval = malloc(sizeof(double) * (size_t)(nfinal ? nfinal : 1));
    s->data = malloc(sizeof(double) * 2 * (size_t)maxvol);
    s->send = malloc(sizeof(double) * 2 * (size_t)maxvol);
    s->recv = malloc(sizeof(double) * 2 * (size_t)maxvol);
    bad = !s->kval || !s->data || !s->send || !s->recv;
  }
  if (ising_check(g->comm, bad,
                  "structure factor: cannot allocate its buffers (56 bytes per site, at most 2^30 sites per rank); "
                  "use -quench_structure_factor false")) {
    ising_structure_free(s);
    return -1;
  }
  /* Modes and mean |k| per shell. */
  ising_int128 *ksum = calloc((size_t)s->nshells, sizeof(ising_int128));
  if (ising_check(g->comm, !ksum, "structure factor: out of memory")) {
    ising_structure_free(s);
    return -1;
  }
  const int64_t *fin = box(s, g->dim, g->rank);
  int64_t n[3];
  size_t off = 0;
  for (n[2] = fin[2]; n[2] < fin[5]; n[2]++)
    for (n[1] = fin[1]; n[1] < fin[4]; n[1]++)
      for (n[0] = fin[0]; n[0] < fin[3]; n[0]++, off++) {
        double k = s->kval[off] = wavenumber(g, n);
        int b = shell_of(s, k);
        s->modes[b]++;
        ksum[b] += (ising_int128)nearbyint(k * ISING_QUANTUM_SCALE);
      }
  MPI_Allreduce(MPI_IN_PLACE, s->modes, s->nshells, MPI_INT64_T, MPI_SUM, g->comm);
  ising_allreduce_int128(g->comm, ksum, s->nshells);
  for (int b = 0; b < s->nshells; b++)
    s->kmean[b] = s->modes[b] ? (double)ksum[b] / ISING_QUANTUM_SCALE / (double)s->modes[b] : NAN;
  free(ksum);
  return 0;
}

int ising_structure_compute(ising_structure *s, const int8_t *spins, ising_int128 *shell)
{
  const ising_geometry *g = s->g;
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  size_t k = 0;
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++)
      for (int ex = 1; ex <= g->n[0]; ex++, k++) {
        s->data[2 * k] = spins[ising_geometry_index(g, ex, ey, ez)];
        s->data[2 * k + 1] = 0.0;
      }
  int bad = 0;
  for (int a = 0; a < g->dim && !bad; a++) bad = redistribute(s, a, a + 1) || transform_lines(s, a);
  if (ising_check(g->comm, bad, "structure factor: FFT or redistribution failed (out of memory?)")) return -1;
  for (int b = 0; b < s->nshells; b++) shell[b] = 0;
  const int64_t nfinal = volume(box(s, g->dim, g->rank));
  const double inv_n = 1.0 / (double)g->nsites;
  for (int64_t off = 0; off < nfinal; off++) {
    double re = s->data[2 * off], im = s->data[2 * off + 1];
    shell[shell_of(s, s->kval[off])] += (ising_int128)nearbyint((re * re + im * im) * inv_n * ISING_QUANTUM_SCALE);
  }
  ising_allreduce_int128(g->comm, shell, s->nshells);
  return 0;
}

void ising_structure_free(ising_structure *s)
{
  free(s->boxes);
  free(s->counts);
  free(s->modes);
  free(s->kmean);
  free(s->line);
  free(s->kval);
  free(s->data);
  free(s->send);
  free(s->recv);
  memset(s, 0, sizeof(*s));
}
