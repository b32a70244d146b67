/* geometry.h: the global lattice, the MPI Cartesian process grid and this
 * rank's block with its one-site halo.
 *
 * Axes are numbered 0 (x), 1 (y), 2 (z); axes >= dim have length 1.  The
 * process grid is created with MPI_Cart_create so that rank = cx + gx*(cy +
 * gy*cz) (x fastest, as PETSc's DMDA numbers its ranks), and axis d of L sites
 * over g ranks gives rank coordinate c the block of L/g sites plus one if
 * c < L % g, starting at c*(L/g) + min(c, L % g): uneven splits work and the
 * ownership is the DMDA's.  With -balance the blocks of each axis are sized
 * instead in proportion to the ranks' speeds (a tensor-product split: the
 * ranks at coordinate c of axis d all share cut[d][c]..cut[d][c+1]), so the
 * halo faces of neighbours still match.  The random numbers are keyed by
 * global site, so the blocks change no result, only the time.
 *
 * Local storage is an "extended" array of ext[0]*ext[1]*ext[2] entries with
 * ext[d] = n[d] + 2 on active axes (one halo layer each side) and 1 on
 * unused axes; x is fastest.  Local site (x, y, z), 0 <= x < n[0], lives at
 * ising_geometry_index(g, x+1, y+1, z+1) (halo coordinates 0 and n+1; on an
 * unused axis the coordinate is 0).  nbr[2d] is the rank on the -d side,
 * nbr[2d+1] on the +d side, MPI_PROC_NULL at an open boundary.  The colour of
 * a site is the parity of the sum of its global coordinates.
 *
 *   int ising_geometry_create(MPI_Comm comm, const ising_params *p, ising_geometry *g)
 *       Collective.  Chooses the process grid (-process_grid, or the
 *       factorisation of the rank count that minimises the halo surface while
 *       giving every rank at least one site per axis), creates the Cartesian
 *       communicator and fills g.  On failure prints one message and returns
 *       ISING_EXIT_INPUT on every rank.
 *       With p->balance measure, every rank first times its random-number
 *       generator for about 0.2 s (all ranks at once, so that ranks sharing
 *       a core see it; in cache, so not memory bandwidth); with a -balance
 *       list, the entries of the communicator's ranks (by their
 *       MPI_COMM_WORLD rank) are the speeds.  Rank 0 of comm computes the
 *       cuts and sends them, so that every rank has the same.
 *   int ising_geometry_create_shared(MPI_Comm comm, MPI_Comm across, const ising_params *p, ising_geometry *g)
 *       Collective over comm and across.  As ising_geometry_create, for
 *       several communicators that lay out the same lattice on the same
 *       process grid (the replica groups of tempering) and must have the
 *       same blocks: across connects the ranks of one position (rank k of
 *       every comm), and each position's speed is the lowest of its ranks'
 *       (MPI_MIN over across; even blocks need no speeds).  MPI_COMM_NULL:
 *       ising_geometry_create.
 *   void ising_geometry_free(ising_geometry *g)            Collective (frees the communicator).
 *   int64_t ising_geometry_global_index(g, ex, ey, ez)
 *       Local.  Global site number gx + Lx*(gy + Ly*gz) of the extended-array
 *       position (ex, ey, ez), halo positions included (wrapped on periodic
 *       axes; -1 if the position lies outside an open boundary).
 *   void ising_geometry_block(const ising_geometry *g, int d, int c, int64_t *start, int64_t *len)
 *       Local.  The block of rank coordinate c on axis d of this geometry.
 *   void ising_geometry_split(int64_t L, int parts, int c, int64_t *start, int64_t *len)
 *       Local.  The even block of rank coordinate c when L sites go to parts ranks.
 *   int ising_geometry_balance(int dim, const int64_t *L, const int *grid, const double *speed, int64_t *cut)
 *       Local.  Cuts of every axis for ranks of the given relative speeds
 *       (speed[r] for Cartesian rank r = cx + gx*(cy + gy*cz)): cut holds
 *       grid[d] + 1 entries per axis d < dim, one axis after the other, the
 *       first 0 and the last L[d]; every block has at least one site.  They
 *       minimise the slowest rank's sites / speed along each axis in turn,
 *       then, on grids split along several axes, by a search of single-site
 *       moves from the even and from 8 random layouts (exactly in
 *       proportion to the speeds, up to whole sites, on a one-axis grid;
 *       never slower than even blocks; equal speeds give
 *       ising_geometry_split's blocks).  Returns -1 if out of memory.
 *   int ising_geometry_recut(const ising_geometry *g, const int64_t *cut, const double *speeds,
 *                            ising_geometry *out)
 *       Collective.  out: g's lattice and process grid on a duplicate of its
 *       communicator, with the blocks given by cut (laid out as g->cut_mem:
 *       grid[d] + 1 boundaries per axis, every axis of ISING_MAX_DIM) and the
 *       relative speeds (g->size entries, or NULL) stored.  Free it with
 *       ising_geometry_free.  Returns -1 (on every rank) if out of memory.
 *   int ising_geometry_move(const ising_geometry *from, const void *src, const ising_geometry *to, void *dst,
 *                           size_t elem)
 *       Collective.  Copies every site of the field src (extended array of
 *       from, elem bytes per site) to dst (extended array of to; the same
 *       process grid, other cuts), over MPI where the owner changes; the halo
 *       of dst is left to the caller.  Returns -1 if out of memory, -2 if a
 *       block has more than INT_MAX bytes (MPI's count), on every rank.
 *   double ising_geometry_slowest(const ising_geometry *g, const int64_t *cut, const double *speeds)
 *       Local.  The largest sites / speed over the ranks of g's grid with the
 *       blocks cut (as for ising_geometry_recut): the time a sweep would take.
 *   void ising_geometry_print_blocks(const ising_geometry *g, const char *what, FILE *out)
 *       Local.  One line: how the blocks were sized (what: e.g. "of replica
 *       group 0 ") and the sites per block of each split axis (the first 16).
 *   size_t ising_geometry_bit_words(const ising_geometry *g)
 *       Local.  64-bit words of ising_geometry_pack_bits's bits: nlocal / 64, rounded up.
 *   void ising_geometry_pack_bits(const ising_geometry *g, const int8_t *spins, uint64_t *bits)
 *       Local.  The block's spins (extended array; sites of +-1) as one bit
 *       per site, set where the spin is -1: site k of the block in storage
 *       order (x fastest, then y, then z) at bit k % 64 of bits[k / 64]; the
 *       bits past the last site are 0.  Eight sites per multiply.
 *   size_t ising_geometry_bit_chunks(const ising_geometry *g)
 *   void ising_geometry_bit_masks(const ising_geometry *g, uint64_t *masks)
 *       Local.  The extended positions from the block's first site to its
 *       last, 64 at a time: masks[c] (ising_geometry_bit_chunks of them) has
 *       bit j set where position 64 c + j of that range is a site of the block.
 *   void ising_geometry_pack_bits_simd(ising_simd s, const ising_geometry *g, const uint64_t *masks,
 *                                      const int8_t *spins, uint64_t *bits)
 *       Local.  The same bits as ising_geometry_pack_bits.  With s =
 *       ISING_SIMD_AVX512, 64 positions per step (a masked load of the block's
 *       bytes, their sign bits, pext by masks from ising_geometry_bit_masks);
 *       otherwise ising_geometry_pack_bits (masks unused: pext is microcoded
 *       on AMD Zen 2, an AVX2 machine).
 *   int64_t ising_geometry_bits_dot(const uint64_t *a, const uint64_t *b, size_t words, int64_t n)
 *       Local.  sum_i s^a_i s^b_i over the n sites of two blocks packed by
 *       ising_geometry_pack_bits: n less twice the bits that differ.
 *   int ising_geometry_best_grid(int dim, const int64_t *L, int nranks, int *grid)
 *       Local.  The default process grid; returns -1 if none fits.  It
 *       minimises the halo traffic of the largest block, but in 2D and 3D
 *       keeps whole rows on a rank (one rank along x, which the fused sweep
 *       needs) unless that costs more than ISING_WHOLE_ROWS_FACTOR times the
 *       least halo traffic.
 */
#ifndef ISING_GEOMETRY_H
#define ISING_GEOMETRY_H

#include "ising/params.h"
#include "ising/rng.h"

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ISING_WHOLE_ROWS_FACTOR 4.0

typedef struct {
  int dim;
  int64_t L[ISING_MAX_DIM];
  int periodic[ISING_MAX_DIM];
  int64_t nsites; /* global */
  MPI_Comm comm;  /* Cartesian communicator */
  int rank, size;
  int grid[ISING_MAX_DIM], coords[ISING_MAX_DIM];
  int nbr[2 * ISING_MAX_DIM];
  int64_t offset[ISING_MAX_DIM];   /* global coordinate of the first local site */
  int n[ISING_MAX_DIM];            /* local sites per axis (1 on unused axes) */
  int ext[ISING_MAX_DIM];          /* n + 2 on active axes, 1 otherwise */
  ptrdiff_t stride[ISING_MAX_DIM]; /* of the extended array: 1, ext0, ext0*ext1 */
  size_t nlocal;                   /* n0*n1*n2 */
  size_t nextended;                /* ext0*ext1*ext2 */
  int64_t *cut[ISING_MAX_DIM];     /* axis d: the grid[d] + 1 block boundaries, 0 .. L[d] */
  int64_t *cut_mem;                /* owns the cut arrays */
  int balance;                     /* ising_balance of the blocks */
  double *speeds;                  /* with -balance: every rank's relative speed, NULL for even blocks */
} ising_geometry;

int ising_geometry_create(MPI_Comm comm, const ising_params *p, ising_geometry *g);
int ising_geometry_create_shared(MPI_Comm comm, MPI_Comm across, const ising_params *p, ising_geometry *g);
void ising_geometry_free(ising_geometry *g);
int64_t ising_geometry_global_index(const ising_geometry *g, int ex, int ey, int ez);
void ising_geometry_split(int64_t L, int parts, int c, int64_t *start, int64_t *len);
void ising_geometry_block(const ising_geometry *g, int d, int c, int64_t *start, int64_t *len);
int ising_geometry_balance(int dim, const int64_t *L, const int *grid, const double *speed, int64_t *cut);
int ising_geometry_best_grid(int dim, const int64_t *L, int nranks, int *grid);
size_t ising_geometry_bit_words(const ising_geometry *g);
void ising_geometry_pack_bits(const ising_geometry *g, const int8_t *spins, uint64_t *bits);
int64_t ising_geometry_bits_dot(const uint64_t *a, const uint64_t *b, size_t words, int64_t n);
size_t ising_geometry_bit_chunks(const ising_geometry *g);
void ising_geometry_bit_masks(const ising_geometry *g, uint64_t *masks);
void ising_geometry_pack_bits_simd(ising_simd s, const ising_geometry *g, const uint64_t *masks, const int8_t *spins,
                                   uint64_t *bits);
void ising_geometry_print_blocks(const ising_geometry *g, const char *what, FILE *out);
int ising_geometry_recut(const ising_geometry *g, const int64_t *cut, const double *speeds, ising_geometry *out);
int ising_geometry_move(const ising_geometry *from, const void *src, const ising_geometry *to, void *dst, size_t elem);
double ising_geometry_slowest(const ising_geometry *g, const int64_t *cut, const double *speeds);

static inline size_t ising_geometry_index(const ising_geometry *g, int ex, int ey, int ez)
{
  return (size_t)ex + (size_t)g->stride[1] * (size_t)ey + (size_t)g->stride[2] * (size_t)ez;
}

/* Extended x of the first site of a colour (parity of the sum of global
 * coordinates) in the row at extended (ey, ez): 1 or 2.  The checkerboard is
 * defined here once for every kernel. */
static inline int ising_geometry_row_start(const ising_geometry *g, int ey, int ez, int colour)
{
  int64_t par = g->offset[0] + (g->dim > 1 ? g->offset[1] + ey - 1 : 0) + (g->dim > 2 ? g->offset[2] + ez - 1 : 0);
  return 1 + (int)((par + colour) & 1);
}

/* First extended position of each active axis: 1 on active axes, 0 otherwise. */
static inline int ising_geometry_lo(const ising_geometry *g, int d)
{
  return d < g->dim ? 1 : 0;
}

#endif
