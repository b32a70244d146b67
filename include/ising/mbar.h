/* mbar.h: the multistate Bennett acceptance ratio (Shirts and Chodera 2008)
 * over the temperatures of a run, and reweighting to other temperatures.
 * Serial: every rank holds the same samples and gets the same answer.
 *
 * States k = 0..K-1 at inverse temperatures beta[k] with n[k] (decorrelated)
 * samples of the total energy H.  The samples enter only through their
 * energies, pooled: U energies H[0..U) with multiplicities c[0..U) (sum_u c_u
 * = N = sum_k n_k; ising_mbar_distinct makes them from the samples).  The
 * reduced free energies f_k = -ln Z_k + const solve
 *     f_k = -ln sum_u c_u exp(-beta_k H_u - ln D_u),  D_u = sum_j n_j exp(f_j - beta_j H_u),
 * the minimum of the convex function
 *     F(f) = sum_u c_u ln D_u - sum_k n_k f_k
 * (f_0 = 0 fixed).  Solved by Newton's method on F with a backtracking
 * line search, falling back to the self-consistent iteration when a Newton
 * step does not lower F; every sum is a log-sum-exp.
 *
 *   size_t ising_mbar_distinct(size_t N, const double *H, double *Hu, double *c)
 *       Local.  The distinct values of H[0..N) into Hu (ascending) with their
 *       multiplicities c; returns their number U.  Uniform and ±J couplings
 *       have few distinct energies (a few hundred for thousands of samples),
 *       so every sum below gets that much shorter.
 *   int ising_mbar_solve(int K, const double *beta, const size_t *n, size_t U, const double *H,
 *                        const double *c, double *f, double *lnd)
 *       Local.  f holds a starting guess on entry (zeros will do) and the
 *       solution on exit, f[0] = 0; lnd (U entries, or NULL) gets ln D_u of
 *       the solution, the same bits as ising_mbar_denominators gives for it.
 *       Returns 0, or -1 if it did not converge (max |gradient| / n_k <=
 *       1e-9) in 100 Newton steps and 2000 self-consistent iterations, or
 *       memory is short.
 *   double ising_mbar_denominators(int K, const double *beta, const size_t *n, size_t U,
 *                                  const double *H, const double *c, const double *f, double *lnd)
 *       Local.  ln D_u of every energy for the solution f (for reweighting);
 *       returns F(f), NaN if memory is short.
 *   void ising_mbar_reweight(size_t U, const double *H, const double *c, const double *f,
 *                            const double *lnd, int P, const double *b, double *lnz_rel,
 *                            double *h1, double *var)
 *       Local.  At each inverse temperature b[i], i < P: lnz_rel[i] =
 *       ln Z(b[i]) - ln Z(beta_0) (= -(f(b[i]) - f_0)), h1[i] = <H> and
 *       var[i] = Var(H).  What does not depend on b is summed once for all
 *       P points; each point's results are the same bits as a call for it
 *       alone.
 *   double ising_mbar_overlap(size_t U, const double *H, const double *c, const double *lnd, double fk,
 *                             double bk, double fl, double bl)
 *       Local.  S_kl = sum_u c_u W_uk W_ul for states k and l (reduced free
 *       energies fk, fl of the solution, inverse temperatures bk, bl), with
 *       W_uk = exp(fk - bk H_u) / D_u the weight of energy u in state k and
 *       lnd the solution's ln D_u.  n_l S_kl is element (k, l) of the MBAR
 *       overlap matrix (Klimovich, Shirts and Mobley 2015), whose rows sum
 *       to 1: the share of state k's weight that state l's samples carry.
 *       Near 0 for two states whose energies do not overlap, where MBAR's
 *       estimates, and the spread of its bootstrap, are not to be trusted.
 *   void ising_mbar_test_blocks(size_t n)
 *       Not thread-safe; for tests.  The passes of the solver go over the
 *       energies in blocks that stay in cache (every sum still adds its
 *       terms in the same order); from now on they use blocks of n energies
 *       (rounded up to a multiple of 8), or their own sizes again for n = 0.
 *       The results must not change.
 *   void ising_mbar_exp(ising_simd s, const double *x, double *y, size_t n)
 *       Local.  y[i] = e^x[i] for x[i] <= 0 (y may be x), to 3 units in the
 *       last place (e^-708 for x below -708), with the vector instructions
 *       of s and the same bits for every s.  Every exponential above is
 *       computed by it.
 *
 * The passes go over the energies in blocks, every temperature of a block
 * before the next block (ising_mbar_exp on whole blocks), so that a block's
 * arrays stay in cache; every sum still adds its terms in the order of the
 * energies (in 8 interleaved partial sums), or of j for D_u, so the results
 * depend neither on the instruction set nor on the blocks.
 */
#ifndef ISING_MBAR_H
#define ISING_MBAR_H

#include "ising/rng.h"

#include <stddef.h>

size_t ising_mbar_distinct(size_t N, const double *H, double *Hu, double *c);
int ising_mbar_solve(int K, const double *beta, const size_t *n, size_t U, const double *H, const double *c, double *f,
                     double *lnd);
double ising_mbar_denominators(int K, const double *beta, const size_t *n, size_t U, const double *H, const double *c,
                               const double *f, double *lnd);
void ising_mbar_exp(ising_simd s, const double *x, double *y, size_t n);
void ising_mbar_test_blocks(size_t n);
double ising_mbar_overlap(size_t U, const double *H, const double *c, const double *lnd, double fk, double bk,
                          double fl, double bl);
void ising_mbar_reweight(size_t U, const double *H, const double *c, const double *f, const double *lnd, int P,
                         const double *b, double *lnz_rel, double *h1, double *var);

#endif
