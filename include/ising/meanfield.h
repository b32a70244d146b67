/* meanfield.h: the mean-field (variational) task, -task meanfield.
 *
 * Naive mean field is variational inference with the factorised
 * q(s) = prod_i (1 + m_i s_i) / 2.  For every m in [-1, 1]^N the
 * Gibbs-Bogoliubov-Feynman inequality gives
 *     ln Z >= ELBO(m) = sum_i S(m_i) + beta (sum_<ij> J_ij m_i m_j + sum_i h_i m_i),
 *     S(m) = -((1+m)/2) ln((1+m)/2) - ((1-m)/2) ln((1-m)/2),
 * with ln Z - ELBO = KL(q || p) >= 0.  Stationary points satisfy
 * m_i = tanh(beta h_i^loc), h_i^loc = h_i + sum_j J_ij m_j.
 *
 * At each beta of the run the solver starts from the previous beta's best
 * solution (continuation) and from each -mf_init point, solves with damped
 * checkerboard sweeps or with PETSc SNES (Newton on a DMDA whose ownership
 * is the run's decomposition), and keeps the solution with the largest
 * ELBO, the tightest bound.  Sums over sites are exact fixed-point
 * reductions (observables.h), so results are bit-identical on any number of
 * ranks.
 *
 *   void ising_mf_sweep_colour(const ising_geometry *g, const ising_couplings *c, double beta,
 *                              double damping, double *m, int colour, double *change)
 *       Local.  One damped Gauss-Seidel update of the sites of one colour;
 *       *change becomes the largest |m_new - m_old| (kernel: no MPI).
 *   void ising_mf_tanh(ising_simd s, const double *x, double *y, size_t n)
 *       Local.  y[i] = tanh x[i] (y may be x) to 3 units in the last place,
 *       with the vector instructions of s and the same bits for every s.
 *       Every tanh of the task (sweeps, residual, SNES function and
 *       Jacobian) is this one.
 *   ising_mf_result ising_mf_evaluate(const ising_geometry *g, const ising_couplings *c, double beta,
 *                                     const double *m)
 *       Collective.  ELBO, energy, entropy, magnetisation and the residual
 *       max_i |m_i - tanh(beta h_i^loc)| of m (halo up to date).
 *   int ising_meanfield_create(const ising_params *p, const ising_geometry *g, const ising_couplings *c,
 *                              ising_meanfield **mf)
 *       Collective.  Allocates the solver and, for -mf_solver snes, sets up
 *       the DMDA and SNES and checks the -mf_snes_* options PETSc did not
 *       read; called during set-up, before the output file exists, so a
 *       bad solver option costs nothing.  Returns 0, ISING_EXIT_INPUT or
 *       ISING_EXIT_RUNTIME (message printed); *mf is always to be destroyed.
 *   int ising_meanfield_run(ising_meanfield *mf, ising_io *io, ising_freeenergy *fe)
 *       Collective.  The task: every temperature, /meanfield, the bound in
 *       /free_energy, the table on rank 0.  Returns 0 or ISING_EXIT_RUNTIME.
 *   int ising_meanfield_solve(ising_meanfield *mf, int k, double *m)
 *       Collective.  The solution the task keeps at temperature k (the
 *       largest ELBO over the previous call's solution and the -mf_init
 *       starts) into m, an extended array (interior valid), without
 *       writing anything: AIS from the mean-field q (-ais_start meanfield)
 *       calls it for k = 0, 1, ... in turn, as the task does.  Returns 0 or
 *       -1 after a message.
 *   void ising_meanfield_destroy(ising_meanfield **mf)
 *       Collective (frees PETSc objects).
 */
#ifndef ISING_MEANFIELD_H
#define ISING_MEANFIELD_H

#include "ising/couplings.h"
#include "ising/freeenergy.h"
#include "ising/geometry.h"
#include "ising/io.h"
#include "ising/params.h"
#include "ising/rng.h"

typedef struct {
  double elbo;          /* total, a lower bound on ln Z */
  double energy;        /* <H>_q / N */
  double entropy;       /* S(q) / N */
  double magnetization; /* (1/N) sum_i m_i */
  double residual;      /* max_i |m_i - tanh(beta h_i^loc)| */
} ising_mf_result;

void ising_mf_sweep_colour(const ising_geometry *g, const ising_couplings *c, double beta, double damping, double *m,
                           int colour, double *change);
void ising_mf_tanh(ising_simd s, const double *x, double *y, size_t n);
ising_mf_result ising_mf_evaluate(const ising_geometry *g, const ising_couplings *c, double beta, const double *m);
typedef struct ising_meanfield ising_meanfield;
int ising_meanfield_create(const ising_params *p, const ising_geometry *g, const ising_couplings *c,
                           ising_meanfield **mf);
int ising_meanfield_run(ising_meanfield *mf, ising_io *io, ising_freeenergy *fe);
int ising_meanfield_solve(ising_meanfield *mf, int k, double *m);
void ising_meanfield_destroy(ising_meanfield **mf);

#endif
