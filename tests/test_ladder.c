/* test_ladder.c: one round of tempering's ladder tuning (ising_pt_retune,
 * tempering.h) against answers worked out by hand.
 *
 * 1. Feedback (Katzgraber, Trebst, Huse, Troyer 2006): interval t gets the
 *    weight sqrt(|f_t - f_t+1|), f the up-fraction of slot t.
 *    a. f falling linearly with the slot on the uneven ladder 0, 0.5, 2, 3:
 *       every weight is the same, so each interval keeps its share and the
 *       ladder stays (to 1e-12).  With the weight sqrt(|df| dbeta) of before
 *       the ladder moved (0.5 to 0.83).
 *    b. f = 1, 0.75, 0.25, 0 on 0, 1, 2, 3: weights 0.5, sqrt(0.5), 0.5, the
 *       new points at the thirds of the cumulative weight 1 + sqrt(0.5):
 *       beta_1 = 1 + (W/3 - 0.5) / sqrt(0.5), beta_2 = 1 + (2W/3 - 0.5) /
 *       sqrt(0.5) (both in the middle interval).
 * 2. Equal acceptance: weight sqrt(-ln A_t).  A = e^-1, e^-4, e^-1 on 0, 1,
 *    2, 3: weights 1, 2, 1, points at W/3 = 4/3 and 8/3 of the cumulative
 *    weight: beta = 0, 1 + 1/6, 1 + 5/6, 3.
 * 3. Equal acceptance with a pair that had no swap attempt in the round: the
 *    ladder stays (it took the acceptance as 1/2 and moved the points).
 * The endpoints stay in every case. */
#include "ising/tempering.h"

#include <math.h>
#include <stdio.h>

static int failures;

static void check(int ok, const char *what)
{
  printf("%-72s %s\n", what, ok ? "ok" : "FAILED");
  failures += !ok;
}

static int near(const double *a, const double *b, int n, double tol)
{
  for (int i = 0; i < n; i++)
    if (!(fabs(a[i] - b[i]) <= tol)) return 0;
  return 1;
}

static void print(const char *what, const double *b, int n)
{
  printf("  %s:", what);
  for (int i = 0; i < n; i++) printf(" %.12g", b[i]);
  printf("\n");
}

int main(void)
{
  /* 1a: up-fraction 1, 2/3, 1/3, 0 from 3/0, 2/1, 1/2, 0/3 visits up/down */
  {
    double beta[4] = {0.0, 0.5, 2.0, 3.0};
    const double want[4] = {0.0, 0.5, 2.0, 3.0};
    const int64_t up[4] = {3, 2, 1, 0}, down[4] = {0, 1, 2, 3};
    ising_pt_retune(beta, 4, ISING_PT_ADAPT_FEEDBACK, NULL, NULL, up, down);
    print("feedback, linear f", beta, 4);
    check(near(beta, want, 4, 1e-12), "feedback: f linear in the slot leaves an uneven ladder as it is");
  }
  /* 1b */
  {
    double beta[4] = {0.0, 1.0, 2.0, 3.0};
    const int64_t up[4] = {4, 3, 1, 0}, down[4] = {0, 1, 3, 4};
    const double r = sqrt(0.5), W = 1.0 + r;
    const double want[4] = {0.0, 1.0 + (W / 3.0 - 0.5) / r, 1.0 + (2.0 * W / 3.0 - 0.5) / r, 3.0};
    ising_pt_retune(beta, 4, ISING_PT_ADAPT_FEEDBACK, NULL, NULL, up, down);
    print("feedback, f = 1, 0.75, 0.25, 0", beta, 4);
    check(near(beta, want, 4, 1e-12), "feedback: weights sqrt(|f_t - f_t+1|), points at equal shares");
  }
  /* 2 */
  {
    double beta[4] = {0.0, 1.0, 2.0, 3.0};
    const int64_t att[3] = {1000000, 1000000, 1000000};
    const int64_t acc[3] = {(int64_t)llround(1e6 * exp(-1.0)), (int64_t)llround(1e6 * exp(-4.0)),
                            (int64_t)llround(1e6 * exp(-1.0))};
    ising_pt_retune(beta, 4, ISING_PT_ADAPT_EQUAL_ACCEPTANCE, att, acc, NULL, NULL);
    const double want[4] = {0.0, 1.0 + 1.0 / 6.0, 1.0 + 5.0 / 6.0, 3.0};
    print("equal acceptance, A = e^-1, e^-4, e^-1", beta, 4);
    check(near(beta, want, 4, 1e-5), "equal acceptance: weights sqrt(-ln A), points at equal shares");
  }
  /* 3 */
  {
    double beta[4] = {0.1, 0.2, 0.6, 1.0};
    const double want[4] = {0.1, 0.2, 0.6, 1.0};
    const int64_t att[3] = {10, 0, 10}, acc[3] = {9, 0, 1};
    ising_pt_retune(beta, 4, ISING_PT_ADAPT_EQUAL_ACCEPTANCE, att, acc, NULL, NULL);
    print("equal acceptance, a pair without attempts", beta, 4);
    check(near(beta, want, 4, 0.0), "equal acceptance: a round with a pair never attempted leaves the ladder");
  }
  printf("%d failure(s)\n", failures);
  return failures != 0;
}
