/* es-call-history.c: the recent calls of this device, kept in the profile
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <json-glib/json-glib.h>

#include "es-call-history.h"

#define MAX_ITEMS 200

struct _EsHistoryItem
{
  GObject          parent_instance;

  char            *call_id;
  char            *peer_user;
  char            *elsewhere_device;
  EsCallDirection  direction;
  EsCallEndReason  end_reason;
  gint64           started;
  gint64           duration_ms;
  guint            video : 1;
  guint            verified : 1;
};

G_DEFINE_FINAL_TYPE (EsHistoryItem, es_history_item, G_TYPE_OBJECT)

static void
es_history_item_finalize (GObject *object)
{
  EsHistoryItem *self = ES_HISTORY_ITEM (object);

  g_free (self->call_id);
  g_free (self->peer_user);
  g_free (self->elsewhere_device);

  G_OBJECT_CLASS (es_history_item_parent_class)->finalize (object);
}

static void
es_history_item_class_init (EsHistoryItemClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = es_history_item_finalize;
}

static void
es_history_item_init (EsHistoryItem *self)
{
}

const char *
es_history_item_get_call_id (EsHistoryItem *self)
{
  return self->call_id;
}

const char *
es_history_item_get_peer_user (EsHistoryItem *self)
{
  return self->peer_user;
}

EsCallDirection
es_history_item_get_direction (EsHistoryItem *self)
{
  return self->direction;
}

EsCallEndReason
es_history_item_get_end_reason (EsHistoryItem *self)
{
  return self->end_reason;
}

gint64
es_history_item_get_started (EsHistoryItem *self)
{
  return self->started;
}

gint64
es_history_item_get_duration_ms (EsHistoryItem *self)
{
  return self->duration_ms;
}

gboolean
es_history_item_get_video (EsHistoryItem *self)
{
  return self->video;
}

gboolean
es_history_item_get_verified (EsHistoryItem *self)
{
  return self->verified;
}

const char *
es_history_item_get_elsewhere_device (EsHistoryItem *self)
{
  return self->elsewhere_device;
}

gboolean
es_history_item_is_missed (EsHistoryItem *self)
{
  return self->direction == ES_CALL_DIRECTION_INCOMING &&
         (self->end_reason == ES_CALL_END_REASON_MISSED ||
          self->end_reason == ES_CALL_END_REASON_CANCELLED);
}

gboolean
es_history_item_is_answered (EsHistoryItem *self)
{
  return self->end_reason == ES_CALL_END_REASON_HANGUP ||
         self->end_reason == ES_CALL_END_REASON_REMOTE_HANGUP ||
         (self->end_reason == ES_CALL_END_REASON_FAILED && self->duration_ms > 0);
}

struct _EsCallHistory
{
  GObject     parent_instance;

  char       *path;
  GListStore *calls;
  GListStore *contacts; /* GtkStringObject, most recent first */
};

G_DEFINE_FINAL_TYPE (EsCallHistory, es_call_history, G_TYPE_OBJECT)

static void
es_call_history_finalize (GObject *object)
{
  EsCallHistory *self = ES_CALL_HISTORY (object);

  g_free (self->path);
  g_clear_object (&self->calls);
  g_clear_object (&self->contacts);

  G_OBJECT_CLASS (es_call_history_parent_class)->finalize (object);
}

static void
es_call_history_class_init (EsCallHistoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = es_call_history_finalize;
}

static void
es_call_history_init (EsCallHistory *self)
{
  self->calls = g_list_store_new (ES_TYPE_HISTORY_ITEM);
  self->contacts = g_list_store_new (G_TYPE_OBJECT);
}

EsCallHistory *
es_call_history_new (const char *path)
{
  EsCallHistory *self = g_object_new (ES_TYPE_CALL_HISTORY, NULL);

  self->path = g_strdup (path);

  return self;
}

GListModel *
es_call_history_get_calls (EsCallHistory *self)
{
  return G_LIST_MODEL (self->calls);
}

/* Contacts are the people this device has talked to, as the server has no
 * address book: a list of GObjects carrying the user name as data "user". */
GListModel *
es_call_history_get_contacts (EsCallHistory *self)
{
  return G_LIST_MODEL (self->contacts);
}

static void
rebuild_contacts (EsCallHistory *self)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) objects = g_ptr_array_new_with_free_func (g_object_unref);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->calls));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(EsHistoryItem) item = g_list_model_get_item (G_LIST_MODEL (self->calls), i);
      GObject *contact;

      if (item->peer_user == NULL || !g_hash_table_add (seen, item->peer_user))
        continue;

      contact = g_object_new (G_TYPE_OBJECT, NULL);
      g_object_set_data_full (contact, "user", g_strdup (item->peer_user), g_free);
      g_ptr_array_add (objects, contact);
    }

  g_list_store_splice (self->contacts, 0,
                       g_list_model_get_n_items (G_LIST_MODEL (self->contacts)),
                       objects->pdata, objects->len);
}

static gboolean
save (EsCallHistory *self,
      GError       **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autofree char *dir = NULL;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->calls));

  if (self->path == NULL)
    return TRUE;

  json_builder_begin_array (builder);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(EsHistoryItem) item = g_list_model_get_item (G_LIST_MODEL (self->calls), i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "call_id");
      json_builder_add_string_value (builder, item->call_id);
      json_builder_set_member_name (builder, "peer_user");
      json_builder_add_string_value (builder, item->peer_user);
      json_builder_set_member_name (builder, "direction");
      json_builder_add_int_value (builder, item->direction);
      json_builder_set_member_name (builder, "end_reason");
      json_builder_add_int_value (builder, item->end_reason);
      json_builder_set_member_name (builder, "started");
      json_builder_add_int_value (builder, item->started);
      json_builder_set_member_name (builder, "duration_ms");
      json_builder_add_int_value (builder, item->duration_ms);
      json_builder_set_member_name (builder, "video");
      json_builder_add_boolean_value (builder, item->video);
      json_builder_set_member_name (builder, "verified");
      json_builder_add_boolean_value (builder, item->verified);
      if (item->elsewhere_device != NULL)
        {
          json_builder_set_member_name (builder, "elsewhere_device");
          json_builder_add_string_value (builder, item->elsewhere_device);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);

  dir = g_path_get_dirname (self->path);
  g_mkdir_with_parents (dir, 0700);

  return g_file_set_contents_full (self->path, text, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

static EsHistoryItem *
item_new (const char      *call_id,
          const char      *peer_user,
          EsCallDirection  direction,
          EsCallEndReason  end_reason,
          gint64           started,
          gint64           duration_ms,
          gboolean         video,
          gboolean         verified,
          const char      *elsewhere_device)
{
  EsHistoryItem *item = g_object_new (ES_TYPE_HISTORY_ITEM, NULL);

  item->call_id = g_strdup (call_id);
  item->peer_user = g_strdup (peer_user);
  item->direction = direction;
  item->end_reason = end_reason;
  item->started = started;
  item->duration_ms = duration_ms;
  item->video = !!video;
  item->verified = !!verified;
  item->elsewhere_device = g_strdup (elsewhere_device);

  return item;
}

gboolean
es_call_history_load (EsCallHistory *self,
                      GError       **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  JsonNode *root;
  JsonArray *array;

  g_return_val_if_fail (ES_IS_CALL_HISTORY (self), FALSE);

  if (self->path == NULL || !g_file_test (self->path, G_FILE_TEST_EXISTS))
    return TRUE;

  if (!json_parser_load_from_file (parser, self->path, error))
    return FALSE;

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: not a list of calls", self->path);
      return FALSE;
    }

  array = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (array) && i < MAX_ITEMS; i++)
    {
      JsonObject *o = json_array_get_object_element (array, i);

      if (o == NULL || !json_object_has_member (o, "peer_user"))
        continue;

      g_ptr_array_add (items,
                       item_new (json_object_get_string_member_with_default (o, "call_id", ""),
                                 json_object_get_string_member_with_default (o, "peer_user", ""),
                                 CLAMP (json_object_get_int_member_with_default (o, "direction", 0),
                                        ES_CALL_DIRECTION_OUTGOING, ES_CALL_DIRECTION_INCOMING),
                                 CLAMP (json_object_get_int_member_with_default (o, "end_reason", 0),
                                        ES_CALL_END_REASON_NONE, ES_CALL_END_REASON_FAILED),
                                 json_object_get_int_member_with_default (o, "started", 0),
                                 json_object_get_int_member_with_default (o, "duration_ms", 0),
                                 json_object_get_boolean_member_with_default (o, "video", FALSE),
                                 json_object_get_boolean_member_with_default (o, "verified", FALSE),
                                 json_object_get_string_member_with_default (o, "elsewhere_device", NULL)));
    }

  g_list_store_splice (self->calls, 0, g_list_model_get_n_items (G_LIST_MODEL (self->calls)),
                       items->pdata, items->len);
  rebuild_contacts (self);

  return TRUE;
}

void
es_call_history_add (EsCallHistory   *self,
                     const char      *call_id,
                     const char      *peer_user,
                     EsCallDirection  direction,
                     EsCallEndReason  end_reason,
                     gint64           started,
                     gint64           duration_ms,
                     gboolean         video,
                     gboolean         verified,
                     const char      *elsewhere_device)
{
  g_autoptr(EsHistoryItem) item = NULL;
  g_autoptr(GError) error = NULL;
  guint n;

  g_return_if_fail (ES_IS_CALL_HISTORY (self));
  g_return_if_fail (peer_user != NULL);

  item = item_new (call_id, peer_user, direction, end_reason, started, duration_ms,
                   video, verified, elsewhere_device);
  g_list_store_insert (self->calls, 0, item);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->calls));
  if (n > MAX_ITEMS)
    g_list_store_splice (self->calls, MAX_ITEMS, n - MAX_ITEMS, NULL, 0);

  rebuild_contacts (self);

  if (!save (self, &error))
    g_warning ("Cannot save the call history: %s", error->message);
}

void
es_call_history_add_call (EsCallHistory *self,
                          EsCall        *call,
                          gboolean       verified)
{
  gint64 duration_ms;

  g_return_if_fail (ES_IS_CALL (call));

  duration_ms = MAX (es_call_get_duration_ms (call), 0);
  es_call_history_add (self,
                       es_call_get_id (call),
                       es_call_get_peer_user (call),
                       es_call_get_direction (call),
                       es_call_get_end_reason (call),
                       g_get_real_time () - duration_ms * 1000,
                       duration_ms,
                       !es_call_get_audio_only (call),
                       verified,
                       es_call_get_elsewhere_device_name (call));
}
