/* test-backoff.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "es-backoff.h"

static void
test_backoff_ceiling_growth (void)
{
  g_autoptr(EsBackoff) backoff = es_backoff_new_default ();
  const guint expected[] = { 100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000 };

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_assert_cmpuint (es_backoff_get_attempts (backoff), ==, i);
      g_assert_cmpuint (es_backoff_peek_ceiling (backoff), ==, expected[i]);
      es_backoff_next_delay (backoff);
    }

  /* Far past the cap nothing overflows. */
  for (guint i = 0; i < 1000; i++)
    g_assert_cmpuint (es_backoff_next_delay (backoff), <=, 10000);
  g_assert_cmpuint (es_backoff_peek_ceiling (backoff), ==, 10000);
}

static void
test_backoff_bounds (void)
{
  g_autoptr(EsBackoff) backoff = es_backoff_new_default ();

  es_backoff_set_seed (backoff, 42);

  for (guint round = 0; round < 200; round++)
    {
      es_backoff_reset (backoff);
      for (guint attempt = 0; attempt < 12; attempt++)
        {
          guint ceiling = es_backoff_peek_ceiling (backoff);
          guint delay = es_backoff_next_delay (backoff);

          g_assert_cmpuint (delay, <=, ceiling);
          g_assert_cmpuint (delay, <=, 10000);
        }
    }
}

/* Full jitter: the delays of one attempt spread over the whole range, and the mean grows with
 * the attempt count. */
static void
test_backoff_jitter_spread (void)
{
  g_autoptr(EsBackoff) backoff = es_backoff_new_default ();
  double means[8] = { 0 };
  const guint rounds = 2000;

  es_backoff_set_seed (backoff, 7);

  for (guint attempt = 0; attempt < G_N_ELEMENTS (means); attempt++)
    {
      guint min = G_MAXUINT, max = 0;
      guint64 sum = 0;

      for (guint r = 0; r < rounds; r++)
        {
          guint delay;

          es_backoff_reset (backoff);
          for (guint i = 0; i < attempt; i++)
            es_backoff_next_delay (backoff);
          delay = es_backoff_next_delay (backoff);
          min = MIN (min, delay);
          max = MAX (max, delay);
          sum += delay;
        }

      means[attempt] = (double) sum / rounds;
      /* Uniform over [0, ceiling]: with 2000 samples the extremes come close to both ends. */
      g_assert_cmpuint (min, <, MIN (100u << attempt, 10000u) / 10 + 1);
      g_assert_cmpuint (max, >, MIN (100u << attempt, 10000u) * 9 / 10);
      if (attempt > 0 && (100u << attempt) <= 10000)
        g_assert_cmpfloat (means[attempt], >, means[attempt - 1] * 1.5);
    }
}

static void
test_backoff_reset (void)
{
  g_autoptr(EsBackoff) backoff = es_backoff_new (50, 3, 1000);

  for (guint i = 0; i < 5; i++)
    es_backoff_next_delay (backoff);
  g_assert_cmpuint (es_backoff_peek_ceiling (backoff), ==, 1000);
  es_backoff_reset (backoff);
  g_assert_cmpuint (es_backoff_get_attempts (backoff), ==, 0);
  g_assert_cmpuint (es_backoff_peek_ceiling (backoff), ==, 50);
  g_assert_cmpuint (es_backoff_next_delay (backoff), <=, 50);
  g_assert_cmpuint (es_backoff_peek_ceiling (backoff), ==, 150);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/backoff/ceiling-growth", test_backoff_ceiling_growth);
  g_test_add_func ("/backoff/bounds", test_backoff_bounds);
  g_test_add_func ("/backoff/jitter-spread", test_backoff_jitter_spread);
  g_test_add_func ("/backoff/reset", test_backoff_reset);

  return g_test_run ();
}
