/* es-rate-limit.c: a token bucket
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "es-rate-limit.h"

void
es_rate_limit_init (EsRateLimit *limit,
                    guint        burst,
                    gint64       now_us)
{
  g_return_if_fail (limit != NULL);

  limit->tokens = burst;
  limit->last_us = now_us;
}

/* Refills @rate tokens per second up to @burst, then takes one. Returns FALSE, taking nothing,
 * when the bucket is empty. */
gboolean
es_rate_limit_take (EsRateLimit *limit,
                    guint        rate,
                    guint        burst,
                    gint64       now_us)
{
  g_return_val_if_fail (limit != NULL, FALSE);

  if (now_us > limit->last_us)
    {
      limit->tokens += (double) (now_us - limit->last_us) * rate / G_USEC_PER_SEC;
      if (limit->tokens > burst)
        limit->tokens = burst;
      limit->last_us = now_us;
    }

  if (limit->tokens < 1.0)
    return FALSE;

  limit->tokens -= 1.0;
  return TRUE;
}
