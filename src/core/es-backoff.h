/* es-backoff.h: exponential backoff with full jitter
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ES_BACKOFF_DEFAULT_BASE_MS 100
#define ES_BACKOFF_DEFAULT_FACTOR  2
#define ES_BACKOFF_DEFAULT_MAX_MS  10000

typedef struct _EsBackoff EsBackoff;

EsBackoff *es_backoff_new           (guint      base_ms,
                                     guint      factor,
                                     guint      max_ms);
EsBackoff *es_backoff_new_default   (void);
void       es_backoff_free          (EsBackoff *self);

guint      es_backoff_next_delay    (EsBackoff *self);
guint      es_backoff_peek_ceiling  (EsBackoff *self);
guint      es_backoff_get_attempts  (EsBackoff *self);
void       es_backoff_reset         (EsBackoff *self);
void       es_backoff_set_seed      (EsBackoff *self,
                                     guint32    seed);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsBackoff, es_backoff_free)

G_END_DECLS
