/* es-backoff.c: exponential backoff with full jitter
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-backoff"

#include "es-backoff.h"

/* Full jitter (a uniformly random delay between zero and the current ceiling) spreads the
 * reconnects of many clients after a server restart better than a fixed or "equal" jitter. */
struct _EsBackoff
{
  guint  base_ms;
  guint  factor;
  guint  max_ms;
  guint  attempts;
  GRand *rand;
};

EsBackoff *
es_backoff_new (guint base_ms,
                guint factor,
                guint max_ms)
{
  EsBackoff *self;

  g_return_val_if_fail (base_ms > 0, NULL);
  g_return_val_if_fail (factor >= 1, NULL);
  g_return_val_if_fail (max_ms >= base_ms, NULL);

  self = g_new0 (EsBackoff, 1);
  self->base_ms = base_ms;
  self->factor = factor;
  self->max_ms = max_ms;
  self->rand = g_rand_new ();

  return self;
}

EsBackoff *
es_backoff_new_default (void)
{
  return es_backoff_new (ES_BACKOFF_DEFAULT_BASE_MS,
                         ES_BACKOFF_DEFAULT_FACTOR,
                         ES_BACKOFF_DEFAULT_MAX_MS);
}

void
es_backoff_free (EsBackoff *self)
{
  if (self == NULL)
    return;

  g_rand_free (self->rand);
  g_free (self);
}

/* The ceiling of the next delay: base * factor^attempts, capped at max. */
guint
es_backoff_peek_ceiling (EsBackoff *self)
{
  guint64 ceiling;

  g_return_val_if_fail (self != NULL, 0);

  ceiling = self->base_ms;
  for (guint i = 0; i < self->attempts && ceiling < self->max_ms; i++)
    ceiling *= self->factor;

  return (guint) MIN (ceiling, (guint64) self->max_ms);
}

/* Returns the delay in milliseconds to wait before the next attempt, and counts the attempt. */
guint
es_backoff_next_delay (EsBackoff *self)
{
  guint ceiling;

  g_return_val_if_fail (self != NULL, 0);

  ceiling = es_backoff_peek_ceiling (self);
  if (self->attempts < G_MAXUINT)
    self->attempts++;

  return (guint) g_rand_int_range (self->rand, 0, (gint32) ceiling + 1);
}

guint
es_backoff_get_attempts (EsBackoff *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->attempts;
}

void
es_backoff_reset (EsBackoff *self)
{
  g_return_if_fail (self != NULL);

  self->attempts = 0;
}

void
es_backoff_set_seed (EsBackoff *self,
                     guint32    seed)
{
  g_return_if_fail (self != NULL);

  g_rand_set_seed (self->rand, seed);
}
