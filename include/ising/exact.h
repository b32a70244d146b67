/* exact.h: exact partition functions and thermal averages, used as the
 * reference every estimator is tested against.
 *
 * Model: H(s) = - sum_<ij> J_ij s_i s_j - sum_i h_i s_i, s = +-1, each bond
 * counted once, p(s) = exp(-beta H) / Z.  lnZ is the TOTAL natural log of Z;
 * energy, specific heat and magnetisations are per spin.
 *
 * Four methods:
 *   ising_exact_enumerate  any bonds and fields, N <= ISING_EXACT_MAX_SPINS
 *   ising_exact_kaufman    periodic L x M square lattice at h = 0
 *   ising_exact_onsager    infinite square lattice at h = 0
 *   ising_exact_chain      1D chain (ring or open), uniform J and h
 *
 * Everything here is local (no MPI) and thread-safe (no global state). */
#ifndef ISING_EXACT_H
#define ISING_EXACT_H

#include "ising/bondlist.h"

/* Fields that a method does not compute are NAN; have_magnetization says
 * whether abs_magnetization, m2, m4 and binder are valid. */
typedef struct {
  double lnZ;               /* total ln Z */
  double energy;            /* <H>/N */
  double specific_heat;     /* beta^2 (<H^2> - <H>^2) / N */
  double magnetization;     /* <m> (signed) */
  double abs_magnetization; /* <|m|> */
  double m2, m4;            /* <m^2>, <m^4> */
  double susceptibility;    /* enumerate: beta N (<m^2> - <|m|>^2), the
                               finite-lattice Monte Carlo convention;
                               chain: beta N (<m^2> - <m>^2), see there */
  double binder;            /* 1 - <m^4> / (3 <m^2>^2) */
  double ground_energy;     /* min_s H(s) (total, not per spin) */
  double ground_degeneracy; /* number of states with H within
                               1e-9 * (1 + |ground_energy|) of the minimum */
  int have_magnetization;   /* 1 when abs_magnetization..binder are valid */
} ising_exact_result;

#define ISING_EXACT_MAX_SPINS 25

/* Full enumeration of the 2^N states of any model (any bonds, repeated
 * bonds included, any fields), 1 <= N <= ISING_EXACT_MAX_SPINS, beta >= 0.
 * A Gray-code walk flips one spin per step and updates the energy from that
 * spin's local field; every sum is shifted by the running minimum energy, so
 * nothing overflows even at beta = 50, and lnZ = -beta E0 + ln(sum) stays
 * accurate.  All fields are valid (have_magnetization = 1); binder is NAN when
 * <m^2> underflows to 0.  corr: NULL, or an N*N row-major array that receives
 * <s_i s_j> (diagonal 1); it costs O(2^N N^2), so keep N small with it.
 * Time without corr: about 12 ns per state at -O2, 0.4 s for N = 25.
 * Returns 0, or -1 (r all NAN, corr untouched) when N is out of range, an
 * index is out of range or a bond joins a site to itself, a coupling, field
 * or beta is not finite, beta < 0, or memory runs out. */
int ising_exact_enumerate(const ising_bondlist *model, double beta, ising_exact_result *r, double *corr);

/* Kaufman's closed form for the periodic L x M square lattice at h = 0:
 * coupling Jx on the L bonds (x, y)-(x+1 mod L, y) of each row, Jy on the M
 * bonds (x, y)-(x, y+1 mod M) of each column, L, M >= 2, beta > 0.  The
 * simulation counts bond (x, x+1 mod L) for every x, so an axis of length 2
 * carries two bonds between the same pair of sites; the closed form gives
 * exactly that model (checked against enumeration for 2 x 2, 2 x 3, 2 x 5,
 * 3 x 2, 5 x 2), so L = 2 and M = 2 are accepted.  A negative coupling is
 * accepted along an axis of even length (sublattice gauge maps it to |J|,
 * same lnZ, energy and specific heat); along an odd axis it is frustrated
 * and rejected.  lnZ is a log-sum-exp over Kaufman's four products, the term
 * that changes sign at Tc kept as a signed factor; energy and specific heat
 * are the exact first and second beta-derivatives of that expression (dual
 * numbers).  Accurate to rounding (lnZ/N, energy and specific heat to
 * ~1e-15 absolute) for any beta > 0, at Tc, and for L = M = 4096, at a
 * cost O(L) (< 1 ms).  Below Tc lnZ/N exceeds Onsager's by ln(2)/(L M), the
 * two ordered states.  ground_energy = -(|Jx| + |Jy|) L M,
 * ground_degeneracy = 2; magnetisation fields NAN.  Returns 0, or -1 (r all
 * NAN) on invalid input: L or M < 2, a zero or non-finite coupling, a
 * negative coupling along an odd axis, beta <= 0 or not finite. */
int ising_exact_kaufman(int L, int M, double Jx, double Jy, double beta, ising_exact_result *r);

/* Onsager's infinite square lattice, isotropic coupling J, h = 0, beta > 0:
 * lnZ per spin (a tanh-sinh quadrature of Onsager's integral), energy and
 * specific heat per spin (closed forms with complete elliptic integrals,
 * rearranged so that no cancellation is left at small or large beta;
 * specific heat is +inf exactly at Tc), all to ~1e-15 relative, and Yang's
 * spontaneous |m| = (1 - sinh(2 beta J)^-4)^(1/8) below Tc, 0 above.  For
 * J < 0 (antiferromagnet) lnZ, energy and specific heat are those of |J|
 * and abs_m is the staggered magnetisation.  Any output pointer may be NULL;
 * on invalid input (beta <= 0, beta or J not finite) all outputs are NAN. */
void ising_exact_onsager(double J, double beta, double *lnz_per_spin, double *energy, double *specific_heat,
                         double *abs_m);

/* Transfer matrix of the 1D chain of N >= 2 spins, coupling J, uniform field
 * h, beta > 0: periodic (a ring of N bonds; for N = 2 the two bonds join the
 * same two sites, as in the simulation) or open (N - 1 bonds).  lnZ, energy,
 * specific_heat, magnetization = <m> = (1/(beta N)) d lnZ/dh are exact, the
 * derivatives taken analytically (dual numbers).  NOTE: susceptibility here
 * is the thermodynamic one, beta N (<m^2> - <m>^2) = (1/(beta N)) d2lnZ/dh2,
 * NOT the beta N (<m^2> - <|m|>^2) of ising_exact_enumerate; they differ
 * wherever <|m|> != |<m>|, e.g. at h = 0.  abs_magnetization, m2, m4, binder
 * are NAN and have_magnetization = 0 (magnetization itself is valid).
 * ground_energy and ground_degeneracy come from a (min, +) transfer matrix
 * (degeneracy may be +inf beyond 2^1024).  Accurate to rounding also where
 * the correlation length exceeds N (small rings at low temperature), and
 * stable for N up to 1e7 and more (log space, cost O(log N)).  The
 * zero-temperature limit is not handled: requires |beta J| <= 150 and
 * |beta h| <= 300.  Returns 0, or -1 (r all NAN) on invalid input: N < 2,
 * J, h or beta not finite, beta <= 0, or outside that range. */
int ising_exact_chain(long N, int periodic, double J, double h, double beta, ising_exact_result *r);

#endif
