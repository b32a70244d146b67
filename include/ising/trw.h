/* trw.h: a certified upper bound on ln Z, the tree-reweighted bound of
 * Wainwright, Jaakkola and Willsky (2005) in its primal form.
 *
 * Write theta for the model's canonical parameters (beta J_e on the bonds,
 * beta h_i on the sites).  ln Z is convex in theta, so for spanning trees T
 * with weights rho_T > 0, sum_T rho_T = 1, and tree-structured parameters
 * theta_T with sum_T rho_T theta_T = theta,
 *     ln Z(theta) <= sum_T rho_T ln Z(theta_T)                (Jensen).
 * The split used: theta_T carries beta J_e / rho_e on the bonds e of T
 * (rho_e = sum_{T contains e} rho_T, the edge appearance probability) and
 * beta h_i on every site.  Each ln Z(theta_T) is computed exactly by
 * leaf-to-root message passing in log space, so the value returned is an
 * upper bound for any weights: an optimisation of the weights that stops
 * early still returns a bound.
 *
 * The trees are combs.  Tree (a, k), for a primary axis a and a shift
 * k = 0, 1: axis order (a, a+1, a+2 mod dim); on every axis b a root
 * coordinate t_b = k L_b / 2 and a cut c_b = t_b - 1 mod L_b on a periodic
 * axis (L_b - 1, the absent wrap bond, on an open one).  A bond along the
 * j-th axis of the order belongs to the tree iff the site's coordinates
 * along the earlier axes equal their roots and it is not the axis's cut:
 * every line along a (all rows, each cut once), the line along the second
 * axis through the roots of the rows (the spine), and in 3D the line along
 * the third axis through the spine roots.  In 1D the trees are the ring
 * minus one bond (two different bonds), or the open chain itself (then the
 * bound is exact).  The weight of tree (a, k) is w_a / 2, with the axis
 * weights w on the simplex; every bond has rho_e >= w_a / 2 > 0.
 *
 * Distribution: the message pass along each line is a pipeline over the
 * ranks of that axis (the process grid's sub-communicator): the rank that
 * owns the root starts the lines' 2x2 log-space transfer products at the
 * root, each rank extends them over its block and passes them on (in
 * chunks of lines, so the ranks work concurrently), and the product comes
 * back to the root's rank; its diagonal is the line's message to the root.
 * Every product is formed site by site in the same order on any process
 * grid, so the bound is bit-identical on any number of ranks.  Cost per
 * evaluation: 2 dim trees of O(N) log-sum-exps each, O(N / ranks) per rank
 * plus a pipeline of grid[a] + chunks steps.
 *
 *   int ising_trw_evaluate(const ising_params *p, const ising_geometry *g, const ising_couplings *c, double beta,
 *                          const double *w, double *lnz_upper)
 *       Collective.  The bound for axis weights w[0..dim-1] (each > 0, sum 1;
 *       NULL: uniform).  Returns 0, -1 on invalid weights or beta (< 0 or not
 *       finite), ISING_EXIT_RUNTIME when memory runs out (message printed).
 *   int ising_trw_solve(const ising_params *p, const ising_geometry *g, const ising_couplings *c, double beta,
 *                       int max_evaluations, ising_trw_result *r)
 *       Collective.  Uniform weights first, then a pattern search over the
 *       axis weights (dim >= 2) within max_evaluations evaluations; the
 *       smallest value found (a bound) and its weights.  Same returns.
 *   int ising_trw_bound(const ising_params *p, const ising_geometry *g, const ising_couplings *c, double beta,
 *                       double *lnz_upper, double *lnz_trivial)
 *       Collective.  ising_trw_solve with ISING_TRW_EVALUATIONS evaluations,
 *       and the trivial ceiling.  Same returns.
 *   double ising_trw_trivial(const ising_geometry *g, const ising_couplings *c, double beta)
 *       Collective.  N ln 2 + beta (sum |J_ij| + sum |h_i|), the sums exact
 *       in fixed point (bit-identical on any number of ranks).
 *   int ising_trw_tree_model(const ising_params *p, double beta, const double *w, int k, ising_bondlist *tree,
 *                            double *rho_tree)
 *       Local.  Tree k (0 <= k < 2 dim) as a bond list with J = theta_T on
 *       its bonds and h = beta h_i (so ln Z(theta_T) is its ln Z at beta = 1)
 *       and its weight rho_T: the serial reference for tests.  Returns 0, -1
 *       (k out of range, or out of memory).
 */
#ifndef ISING_TRW_H
#define ISING_TRW_H

#include "ising/bondlist.h"
#include "ising/couplings.h"
#include "ising/geometry.h"
#include "ising/params.h"

/* Evaluations of the bound in ising_trw_bound (1 uniform + pattern search). */
#define ISING_TRW_EVALUATIONS 9

typedef struct {
  double lnz_upper;              /* the smallest bound evaluated */
  double lnz_uniform;            /* the bound at uniform axis weights */
  double weights[ISING_MAX_DIM]; /* axis weights of lnz_upper */
  int evaluations;               /* evaluations done */
} ising_trw_result;

int ising_trw_evaluate(const ising_params *p, const ising_geometry *g, const ising_couplings *c, double beta,
                       const double *w, double *lnz_upper);
int ising_trw_solve(const ising_params *p, const ising_geometry *g, const ising_couplings *c, double beta,
                    int max_evaluations, ising_trw_result *r);
int ising_trw_bound(const ising_params *p, const ising_geometry *g, const ising_couplings *c, double beta,
                    double *lnz_upper, double *lnz_trivial);
double ising_trw_trivial(const ising_geometry *g, const ising_couplings *c, double beta);
int ising_trw_tree_model(const ising_params *p, double beta, const double *w, int k, ising_bondlist *tree,
                         double *rho_tree);

#endif
