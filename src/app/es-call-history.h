/* es-call-history.h: the recent calls of this device, kept in the profile
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "es-call.h"

G_BEGIN_DECLS

#define ES_TYPE_HISTORY_ITEM (es_history_item_get_type ())

G_DECLARE_FINAL_TYPE (EsHistoryItem, es_history_item, ES, HISTORY_ITEM, GObject)

const char      *es_history_item_get_call_id         (EsHistoryItem *self);
const char      *es_history_item_get_peer_user       (EsHistoryItem *self);
EsCallDirection  es_history_item_get_direction       (EsHistoryItem *self);
EsCallEndReason  es_history_item_get_end_reason      (EsHistoryItem *self);
gint64           es_history_item_get_started         (EsHistoryItem *self);
gint64           es_history_item_get_duration_ms     (EsHistoryItem *self);
gboolean         es_history_item_get_video           (EsHistoryItem *self);
gboolean         es_history_item_get_verified        (EsHistoryItem *self);
const char      *es_history_item_get_elsewhere_device (EsHistoryItem *self);
gboolean         es_history_item_is_missed           (EsHistoryItem *self);
gboolean         es_history_item_is_answered         (EsHistoryItem *self);

#define ES_TYPE_CALL_HISTORY (es_call_history_get_type ())

G_DECLARE_FINAL_TYPE (EsCallHistory, es_call_history, ES, CALL_HISTORY, GObject)

EsCallHistory *es_call_history_new          (const char    *path);
gboolean       es_call_history_load         (EsCallHistory *self,
                                             GError       **error);
GListModel    *es_call_history_get_calls    (EsCallHistory *self);
GListModel    *es_call_history_get_contacts (EsCallHistory *self);
void           es_call_history_add          (EsCallHistory *self,
                                             const char    *call_id,
                                             const char    *peer_user,
                                             EsCallDirection direction,
                                             EsCallEndReason end_reason,
                                             gint64         started,
                                             gint64         duration_ms,
                                             gboolean       video,
                                             gboolean       verified,
                                             const char    *elsewhere_device);
void           es_call_history_add_call     (EsCallHistory *self,
                                             EsCall        *call,
                                             gboolean       verified);

G_END_DECLS
