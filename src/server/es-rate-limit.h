/* es-rate-limit.h: a token bucket
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A plain struct rather than a GObject: one lives in every connection, and thousands of
 * connections are idle at any time, so it is kept to 16 bytes. */
typedef struct
{
  double tokens;
  gint64 last_us;
} EsRateLimit;

void     es_rate_limit_init (EsRateLimit *limit,
                             guint        burst,
                             gint64       now_us);
gboolean es_rate_limit_take (EsRateLimit *limit,
                             guint        rate,
                             guint        burst,
                             gint64       now_us);

G_END_DECLS
