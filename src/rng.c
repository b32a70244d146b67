/* rng.c: the non-inline parts of the counter-based generator (rng.h).
 *   ising_rng_normal   local */
#include "ising/rng.h"

#include <math.h>

double ising_rng_normal(const uint32_t w[2])
{
  const double two_pi = 6.283185307179586476925286766559;
  double u1 = ising_rng_uniform(w[0]), u2 = ising_rng_uniform(w[1]);
  return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}
