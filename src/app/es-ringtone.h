/* es-ringtone.h: the sound of an incoming call
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define ES_TYPE_RINGTONE (es_ringtone_get_type ())

G_DECLARE_FINAL_TYPE (EsRingtone, es_ringtone, ES, RINGTONE, GObject)

EsRingtone *es_ringtone_new        (void);
void        es_ringtone_start      (EsRingtone *self);
void        es_ringtone_stop       (EsRingtone *self);
gboolean    es_ringtone_is_playing (EsRingtone *self);

G_END_DECLS
