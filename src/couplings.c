/* couplings.c: bonds and fields (couplings.h).
 *   ising_couplings_create, ising_couplings_write  collective
 *   ising_couplings_free, ising_couplings_bond,
 *   ising_couplings_field, ising_couplings_bondlist   local */
#include "ising/couplings.h"

#include "ising/error.h"
#include "ising/rng.h"

#include <stdlib.h>
#include <string.h>

/* Global coordinate of a site along axis d. */
static int64_t coordinate(const ising_params *p, int64_t site, int d)
{
  for (int e = 0; e < d; e++) site /= p->L[e];
  return site % p->L[d];
}

double ising_couplings_bond(const ising_params *p, int64_t site, int d)
{
  if (!p->periodic[d] && coordinate(p, site, d) == p->L[d] - 1) return 0.0;
  uint64_t bond = (uint64_t)site * (uint64_t)p->dim + (uint64_t)d;
  uint32_t w[4];
  switch (p->couplings) {
  case ISING_COUPLINGS_PM:
    ising_rng4(p->disorder_seed, ISING_STREAM_BONDS, 0, bond, w);
    return ising_quantize(ising_rng_uniform(w[0]) < p->pm_p ? -p->J[d] : p->J[d]);
  case ISING_COUPLINGS_GAUSSIAN:
    ising_rng4(p->disorder_seed, ISING_STREAM_BONDS, 0, bond, w);
    return ising_quantize(p->gaussian_mean + p->gaussian_sigma * ising_rng_normal(w));
  default: return ising_quantize(p->J[d]);
  }
}

double ising_couplings_field(const ising_params *p, int64_t site)
{
  if (p->field_sigma == 0.0) return ising_quantize(p->field);
  uint32_t w[4];
  ising_rng4(p->disorder_seed, ISING_STREAM_FIELDS, 0, (uint64_t)site, w);
  return ising_quantize(p->field + p->field_sigma * ising_rng_normal(w));
}

int ising_couplings_create(const ising_params *p, const ising_geometry *g, ising_couplings *c)
{
  memset(c, 0, sizeof(*c));
  c->uniform_bonds = p->couplings == ISING_COUPLINGS_UNIFORM;
  c->uniform_field = p->field_sigma == 0.0;
  c->field = ising_quantize(p->field);
  for (int d = 0; d < p->dim; d++) c->J[d] = ising_quantize(p->J[d]);

  int oom = 0;
  c->pm_bonds = p->couplings == ISING_COUPLINGS_PM;
  size_t bit_words = g->nextended / 64 + 2;
  if (!c->uniform_bonds)
    for (int d = 0; d < p->dim; d++) oom |= !(c->Jp[d] = calloc(g->nextended, sizeof(double)));
  if (c->pm_bonds)
    for (int d = 0; d < p->dim; d++) oom |= !(c->negative[d] = calloc(bit_words, sizeof(uint64_t)));
  if (!c->uniform_field) oom |= !(c->h = calloc(g->nextended, sizeof(double)));
  if (ising_check(g->comm, oom, "out of memory for the couplings of %zu sites per rank", g->nlocal)) {
    ising_couplings_free(c);
    return ISING_EXIT_RUNTIME;
  }

  if (c->uniform_bonds && c->uniform_field) return 0; /* nothing per site */
  for (int ez = 0; ez < g->ext[2]; ez++)
    for (int ey = 0; ey < g->ext[1]; ey++)
      for (int ex = 0; ex < g->ext[0]; ex++) {
        int64_t site = ising_geometry_global_index(g, ex, ey, ez);
        if (site < 0) continue;
        size_t i = ising_geometry_index(g, ex, ey, ez);
        if (!c->uniform_bonds)
          for (int d = 0; d < p->dim; d++) c->Jp[d][i] = ising_couplings_bond(p, site, d);
        if (c->pm_bonds)
          for (int d = 0; d < p->dim; d++) c->negative[d][i / 64] |= (uint64_t)(c->Jp[d][i] < 0) << (i % 64);
        if (!c->uniform_field) c->h[i] = ising_couplings_field(p, site);
      }
  return 0;
}

void ising_couplings_free(ising_couplings *c)
{
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    free(c->Jp[d]);
    free(c->negative[d]);
  }
  free(c->h);
  memset(c, 0, sizeof(*c));
}

int ising_couplings_bondlist(const ising_params *p, ising_bondlist *b)
{
  int n = (int)p->nsites, nb = 0;
  for (int64_t s = 0; s < p->nsites; s++)
    for (int d = 0; d < p->dim; d++)
      if (p->periodic[d] || coordinate(p, s, d) != p->L[d] - 1) nb++;
  if (ising_bondlist_alloc(b, n, nb)) return -1;
  nb = 0;
  for (int64_t s = 0; s < p->nsites; s++) {
    b->h[s] = ising_couplings_field(p, s);
    for (int d = 0; d < p->dim; d++) {
      int64_t x = coordinate(p, s, d);
      if (!p->periodic[d] && x == p->L[d] - 1) continue;
      int64_t stride = 1;
      for (int e = 0; e < d; e++) stride *= p->L[e];
      int64_t t = s + (x == p->L[d] - 1 ? -(p->L[d] - 1) * stride : stride);
      b->i[nb] = (int)s;
      b->j[nb] = (int)t;
      b->J[nb] = ising_couplings_bond(p, s, d);
      nb++;
    }
  }
  return 0;
}

int ising_couplings_write(ising_io *io, const ising_geometry *g, const ising_couplings *c, int active)
{
  int rc = 0;
  if (!c->uniform_bonds) {
    rc = ising_io_dataset_field(io, "/model/bonds", g->dim, g, H5T_NATIVE_DOUBLE);
    for (int d = 0; d < g->dim && !rc; d++)
      rc = ising_io_write_field_part(io, "/model/bonds", d, g, H5T_NATIVE_DOUBLE, c->Jp[d], active);
  }
  if (!rc && !c->uniform_field) {
    rc = ising_io_dataset_field(io, "/model/fields", 0, g, H5T_NATIVE_DOUBLE);
    if (!rc) rc = ising_io_write_field_part(io, "/model/fields", 0, g, H5T_NATIVE_DOUBLE, c->h, active);
  }
  return rc;
}
