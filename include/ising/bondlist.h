/* bondlist.h: a whole (global) Ising model as an explicit list of bonds and
 * fields, H(s) = - sum_b J_b s_{i_b} s_{j_b} - sum_i h_i s_i, each bond once.
 *
 * This is the serial description used by the exact module and by tests; the
 * distributed simulation never builds it for large lattices.  The couplings
 * module fills it from the parameters (ising_couplings_bondlist), with exactly
 * the couplings the distributed lattice uses.  Everything here is local
 * (no MPI). */
#ifndef ISING_BONDLIST_H
#define ISING_BONDLIST_H

typedef struct {
  int nspins; /* number of spins N, sites 0..N-1 */
  int nbonds; /* number of bonds */
  int *i, *j; /* bond b joins sites i[b] and j[b] (i != j) */
  double *J;  /* coupling of bond b */
  double *h;  /* field on each site, length nspins */
} ising_bondlist;

/* Allocates arrays for nspins sites and nbonds bonds, zero-filled.
 * Returns 0 on success, -1 if out of memory (then nothing is allocated). */
int ising_bondlist_alloc(ising_bondlist *b, int nspins, int nbonds);

/* Frees the arrays and zeroes the struct; safe on a zeroed struct. */
void ising_bondlist_free(ising_bondlist *b);

#endif
