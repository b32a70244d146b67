/* mbar.h: the multistate Bennett acceptance ratio (Shirts and Chodera 2008)
 * over the temperatures of a run, and reweighting to other temperatures.
 * Serial: every rank holds the same samples and gets the same answer.
 *
 * States k = 0..K-1 at inverse temperatures beta[k] with n[k] (decorrelated)
 * samples of the total energy H, concatenated state by state in H[].  The
 * reduced free energies f_k = -ln Z_k + const solve
 *     f_k = -ln sum_n exp(-beta_k H_n - ln D_n),  D_n = sum_j n_j exp(f_j - beta_j H_n),
 * the minimum of the convex function
 *     F(f) = sum_n ln D_n - sum_k n_k f_k
 * (f_0 = 0 fixed).  Solved by Newton's method on F with a backtracking
 * line search, falling back to the self-consistent iteration when a Newton
 * step does not lower F; every sum is a log-sum-exp.
 *
 *   int ising_mbar_solve(int K, const double *beta, const size_t *n, const double *H, double *f)
 *       Local.  f holds a starting guess on entry (zeros will do) and the
 *       solution on exit, f[0] = 0.  Returns 0, or -1 if it did not converge
 *       (max |gradient| / n_k <= 1e-9) in 100 Newton steps and 2000
 *       self-consistent iterations, or memory is short.
 *   double ising_mbar_denominators(int K, const double *beta, const size_t *n, const double *H,
 *                                  const double *f, double *lnd)
 *       Local.  ln D_n of every sample for the solution f (for reweighting);
 *       returns F(f).
 *   void ising_mbar_reweight(int K, const size_t *n, const double *H, const double *f, const double *lnd,
 *                            double b, double *lnz_rel, double *h1, double *var)
 *       Local.  At inverse temperature b: ln Z(b) - ln Z(beta_0)
 *       (= -(f(b) - f_0)), <H> and Var(H).
 */
#ifndef ISING_MBAR_H
#define ISING_MBAR_H

#include <stddef.h>

int ising_mbar_solve(int K, const double *beta, const size_t *n, const double *H, double *f);
double ising_mbar_denominators(int K, const double *beta, const size_t *n, const double *H, const double *f,
                               double *lnd);
void ising_mbar_reweight(int K, const size_t *n, const double *H, const double *f, const double *lnd, double b,
                         double *lnz_rel, double *h1, double *var);

#endif
