/* couplings.h: the bonds J_ij and fields h_i of the model, generated
 * decomposition-independently.
 *
 * Bond (site, d) joins a site to its +d neighbour; its global number is
 * site*dim + d, and with disorder its value is a pure function of
 * (disorder_seed, bond number) (stream ISING_STREAM_BONDS); a random field
 * is a function of (disorder_seed, site number) (ISING_STREAM_FIELDS).  On an
 * open axis the bond leaving the last site is absent (J = 0).  Every coupling
 * and field is quantised to a multiple of 2^-32 (ising_quantize) so energies
 * are exact fixed-point integers.
 *
 * Uniform couplings keep only the per-axis constants; disordered ones store,
 * on the extended array, Jp[d][i] = coupling of the bond from i to i + e_d
 * (halo positions included, so the -d bond of site i is Jp[d][i - stride_d]).
 * A random field is stored per extended position in h.  With ±J bonds
 * (-couplings pm) every bond of axis d is 0 or ±J[d], and negative[d] holds
 * one bit per extended position, set where Jp[d][i] < 0, so the update
 * kernels read dim bits per site instead of dim doubles (sweep.h).
 *
 *   int ising_couplings_create(const ising_params *p, const ising_geometry *g, ising_couplings *c)
 *       Collective.  Generates this rank's couplings and fields (halo
 *       positions included).  Returns 0, or ISING_EXIT_RUNTIME on every rank
 *       (message printed) when memory runs out.
 *   int ising_couplings_write(ising_io *io, const ising_geometry *g, const ising_couplings *c, int active)
 *       Collective over the file's communicator.  The quenched disorder as
 *       simulated: /model/bonds [dim, (z,) (y,) x] (the coupling of the bond
 *       from each site to its +d neighbour) when bonds are disordered,
 *       /model/fields when fields are random.  Ranks with active == 0 (other
 *       tempering groups) write nothing.  Returns 0 or -1.
 *   void ising_couplings_free(ising_couplings *c)                   Local.
 *   double ising_couplings_bond(const ising_params *p, int64_t site, int d)
 *       Local.  The coupling of global bond (site, d) (0 if absent).
 *   double ising_couplings_field(const ising_params *p, int64_t site)
 *       Local.  The field on a global site.
 *   int ising_couplings_bondlist(const ising_params *p, ising_bondlist *b)
 *       Local.  The whole model as a bond list (for the exact module and
 *       tests; the caller checks the size).  Returns 0, or -1 if out of memory.
 */
#ifndef ISING_COUPLINGS_H
#define ISING_COUPLINGS_H

#include "ising/bondlist.h"
#include "ising/geometry.h"
#include "ising/io.h"
#include "ising/params.h"

#include <string.h>

typedef struct {
  int uniform_bonds;                 /* 1: J[d] holds every bond of axis d */
  int uniform_field;                 /* 1: field holds every h_i */
  double J[ISING_MAX_DIM];           /* quantised per-axis couplings when uniform_bonds */
  double field;                      /* quantised uniform field when uniform_field */
  double *Jp[ISING_MAX_DIM];         /* extended arrays when !uniform_bonds, else NULL */
  double *h;                         /* extended array when !uniform_field, else NULL */
  int pm_bonds;                      /* 1: every Jp[d][i] is 0, J[d] or -J[d] */
  uint64_t *negative[ISING_MAX_DIM]; /* when pm_bonds: bit i of axis d set iff Jp[d][i] < 0 (padded by 2 words) */
} ising_couplings;

/* 64 bits of a bit array (negative[d]) from bit pos on: the arrays are padded by two words. */
static inline uint64_t ising_bits64(const uint64_t *a, size_t pos)
{
  size_t w = pos / 64;
  unsigned sh = (unsigned)(pos % 64);
  return sh ? (a[w] >> sh) | (a[w + 1] << (64 - sh)) : a[w];
}

/* Prefetch `lines` cache lines of 8 doubles of a bond or field array (Jp[d], h) from position a on.  The
 * readers of these arrays (the general sweep kernels, the energy pass) stream several of them at once, one
 * stream per row, which the hardware prefetchers restart at every page and bring too late: on the AMD EPYC VM
 * they waited on them for half their time or more (docs/performance.md, "Prefetching the bonds").  The address
 * is formed as an integer, as it may lie past the array's end (a prefetch does not fault).  __builtin_prefetch,
 * not _mm_prefetch: GCC 12 left out the _mm_prefetch of such a helper once inlined, without a word. */
static inline void ising_prefetch_doubles(const double *arr, size_t a, int lines)
{
  for (int l = 0; l < lines; l++)
    __builtin_prefetch((const void *)((uintptr_t)arr + (uintptr_t)(a + 8 * (size_t)l) * sizeof(double)), 0, 3);
}

/* 32 bits of a bit array from bit pos on, by one unaligned 8-byte load from byte pos / 8 (within the word of
 * pos and the next, as ising_bits64 reads; bit i is bit i % 8 of byte i / 8 on a little-endian machine). */
static inline uint32_t ising_bits32(const uint64_t *a, size_t pos)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t w;
  memcpy(&w, (const unsigned char *)a + pos / 8, sizeof(w));
  return (uint32_t)(w >> (pos % 8));
#else
  return (uint32_t)ising_bits64(a, pos);
#endif
}

int ising_couplings_create(const ising_params *p, const ising_geometry *g, ising_couplings *c);
int ising_couplings_write(ising_io *io, const ising_geometry *g, const ising_couplings *c, int active);
void ising_couplings_free(ising_couplings *c);
double ising_couplings_bond(const ising_params *p, int64_t site, int d);
double ising_couplings_field(const ising_params *p, int64_t site);
int ising_couplings_bondlist(const ising_params *p, ising_bondlist *b);

#endif
