/* bondlist.c: allocation of the serial bond-list description (bondlist.h).
 * Local, no MPI. */
#include "ising/bondlist.h"

#include <stdlib.h>
#include <string.h>

int ising_bondlist_alloc(ising_bondlist *b, int nspins, int nbonds)
{
  memset(b, 0, sizeof(*b));
  b->nspins = nspins;
  b->nbonds = nbonds;
  b->i = calloc((size_t)(nbonds > 0 ? nbonds : 1), sizeof(int));
  b->j = calloc((size_t)(nbonds > 0 ? nbonds : 1), sizeof(int));
  b->J = calloc((size_t)(nbonds > 0 ? nbonds : 1), sizeof(double));
  b->h = calloc((size_t)(nspins > 0 ? nspins : 1), sizeof(double));
  if (!b->i || !b->j || !b->J || !b->h) {
    ising_bondlist_free(b);
    return -1;
  }
  return 0;
}

void ising_bondlist_free(ising_bondlist *b)
{
  free(b->i);
  free(b->j);
  free(b->J);
  free(b->h);
  memset(b, 0, sizeof(*b));
}
