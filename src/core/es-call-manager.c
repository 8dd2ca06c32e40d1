/* es-call-manager.c: a device's calls, fed by its signaling client
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-call"

#include "es-call-manager.h"
#include "es-call-private.h"

/* Routes every durable frame with a call_id to its EsCall, makes an EsCall
 * for each `incoming`, and drops frames of calls it does not know or that have
 * ended (a late candidate, a second accept), which is normal and not an
 * error. It also carries out glare: when the server folds our outgoing call
 * into the peer's incoming one, that one is accepted by itself. */

/* Ended calls remembered so their late frames are dropped quietly. */
#define MAX_ENDED_IDS 1024

struct _EsCallManager
{
  GObject            parent_instance;

  /* Owned */
  EsSignalingClient *client;
  EsMediaSettings   *incoming_settings;
  char              *profile_dir;
  EsIdentity        *identity;
  EsTrustStore      *trust_store;
  GError            *identity_error;
  GHashTable        *calls;          /* call_id → EsCall, live ones */
  GHashTable        *ended;          /* call_id set */
  GQueue             ended_order;    /* call_ids, oldest first, owned by ended */
  GHashTable        *folds;          /* incoming call_id → the folded outgoing EsCall */
  GPtrArray         *unannounced;    /* incoming EsCalls not started yet */

  guint              announce_id;
};

G_DEFINE_FINAL_TYPE (EsCallManager, es_call_manager, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_PROFILE_DIR,
  PROP_IDENTITY,
  PROP_TRUST_STORE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  INCOMING_CALL,
  MISSED_CALL,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
es_call_manager_remember_ended (EsCallManager *self,
                                const char    *call_id)
{
  char *id;

  if (g_hash_table_contains (self->ended, call_id))
    return;

  id = g_strdup (call_id);
  g_hash_table_add (self->ended, id);
  g_queue_push_tail (&self->ended_order, id);

  while (self->ended_order.length > MAX_ENDED_IDS)
    g_hash_table_remove (self->ended, g_queue_pop_head (&self->ended_order));
}

/* Glare: @into replaces @folded; pick it up. */
static void
es_call_manager_complete_fold (EsCallManager *self,
                               EsCall        *folded,
                               EsCall        *into)
{
  g_autoptr(GError) error = NULL;

  g_debug ("Call %s folded into %s: accepting it", es_call_get_id (folded), es_call_get_id (into));

  if (es_call_get_state (into) == ES_CALL_STATE_RINGING &&
      !es_call_accept (into, &error))
    g_debug ("Cannot accept %s: %s", es_call_get_id (into), error->message);

  es_call_emit_folded (folded, into);
}

static void
call_notify_state_cb (EsCall        *call,
                      GParamSpec    *pspec,
                      EsCallManager *self)
{
  const char *id = es_call_get_id (call);
  const char *into;
  EsCall *replacement;

  if (es_call_get_state (call) != ES_CALL_STATE_ENDED)
    return;

  g_signal_handlers_disconnect_by_func (call, call_notify_state_cb, self);
  es_call_manager_remember_ended (self, id);

  into = es_call_get_folded_into (call);
  if (es_call_get_end_reason (call) == ES_CALL_END_REASON_FOLDED && into != NULL)
    {
      replacement = g_hash_table_lookup (self->calls, into);

      /* Not yet announced: es_call_manager_announce_cb() completes it. */
      if (replacement != NULL && !g_ptr_array_find (self->unannounced, replacement, NULL))
        es_call_manager_complete_fold (self, call, replacement);
      else if (!g_hash_table_contains (self->ended, into))
        g_hash_table_insert (self->folds, g_strdup (into), g_object_ref (call));
    }

  /* Last: may drop the last reference. */
  g_hash_table_remove (self->calls, id);
}

static void
es_call_manager_track (EsCallManager *self,
                       EsCall        *call)
{
  g_hash_table_insert (self->calls, g_strdup (es_call_get_id (call)), g_object_ref (call));
  g_signal_connect (call, "notify::state", G_CALLBACK (call_notify_state_cb), self);
}

static gboolean
es_call_manager_announce_cb (gpointer user_data)
{
  EsCallManager *self = user_data;
  g_autoptr(GPtrArray) calls = g_steal_pointer (&self->unannounced);

  self->announce_id = 0;
  self->unannounced = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < calls->len; i++)
    {
      EsCall *call = g_ptr_array_index (calls, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(EsCall) folded = NULL;

      if (es_call_get_state (call) == ES_CALL_STATE_ENDED)
        {
          g_debug ("Call %s from %s ended before it rang here (%s)", es_call_get_id (call),
                   es_call_get_peer_user (call),
                   es_call_end_reason_to_string (es_call_get_end_reason (call)));
          g_signal_emit (self, signals[MISSED_CALL], 0, call);
          continue;
        }

      if (!es_call_start (call, &error))
        {
          g_warning ("Cannot take call %s: %s", es_call_get_id (call), error->message);
          continue;
        }

      g_hash_table_steal_extended (self->folds, es_call_get_id (call), NULL,
                                   (gpointer *) &folded);

      g_signal_emit (self, signals[INCOMING_CALL], 0, call);

      if (folded != NULL && es_call_get_state (call) != ES_CALL_STATE_ENDED)
        es_call_manager_complete_fold (self, folded, call);
    }

  return G_SOURCE_REMOVE;
}

static void
es_call_manager_handle_incoming (EsCallManager *self,
                                 const EsFrame *frame)
{
  g_autoptr(EsCall) call = NULL;

  if (g_hash_table_contains (self->calls, frame->call_id) ||
      g_hash_table_contains (self->ended, frame->call_id))
    {
      g_debug ("Dropping a repeated incoming for call %s", frame->call_id);
      return;
    }

  call = es_call_new_incoming (self->client, frame, self->incoming_settings);
  es_call_set_identity (call, self->identity, self->trust_store);
  es_call_manager_track (self, call);
  g_ptr_array_add (self->unannounced, g_object_ref (call));

  /* After the rest of this batch of frames: see es_call_handle_frame(). */
  if (self->announce_id == 0)
    self->announce_id = g_idle_add (es_call_manager_announce_cb, self);
}

static void
frame_received_cb (EsSignalingClient *client,
                   gpointer           frame_ptr,
                   EsCallManager     *self)
{
  const EsFrame *frame = frame_ptr;
  EsCall *call;

  if (frame->call_id == NULL)
    return;

  if (frame->type == ES_MESSAGE_INCOMING)
    {
      es_call_manager_handle_incoming (self, frame);
      return;
    }

  call = g_hash_table_lookup (self->calls, frame->call_id);
  if (call == NULL)
    {
      g_debug ("Dropping %s for %s call %s", es_message_type_to_string (frame->type),
               g_hash_table_contains (self->ended, frame->call_id) ? "ended" : "unknown",
               frame->call_id);
      return;
    }

  es_call_handle_frame (call, frame);
}

static void
error_received_cb (EsSignalingClient *client,
                   gpointer           frame_ptr,
                   EsCallManager     *self)
{
  const EsFrame *frame = frame_ptr;
  g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->calls);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (calls, g_object_ref (value));

  for (guint i = 0; i < calls->len; i++)
    if (es_call_handle_error (g_ptr_array_index (calls, i), frame))
      break;
}

/* Public API */

EsCallManager *
es_call_manager_new (EsSignalingClient *client)
{
  g_return_val_if_fail (ES_IS_SIGNALING_CLIENT (client), NULL);

  return g_object_new (ES_TYPE_CALL_MANAGER, "client", client, NULL);
}

/**
 * es_call_manager_new_for_profile:
 * @profile_dir: (nullable): where identity.key and trust.db live
 */
EsCallManager *
es_call_manager_new_for_profile (EsSignalingClient *client,
                                 const char        *profile_dir)
{
  g_return_val_if_fail (ES_IS_SIGNALING_CLIENT (client), NULL);

  return g_object_new (ES_TYPE_CALL_MANAGER, "client", client, "profile-dir", profile_dir, NULL);
}

EsIdentity *
es_call_manager_get_identity (EsCallManager *self)
{
  g_return_val_if_fail (ES_IS_CALL_MANAGER (self), NULL);
  return self->identity;
}

EsTrustStore *
es_call_manager_get_trust_store (EsCallManager *self)
{
  g_return_val_if_fail (ES_IS_CALL_MANAGER (self), NULL);
  return self->trust_store;
}

EsSignalingClient *
es_call_manager_get_client (EsCallManager *self)
{
  g_return_val_if_fail (ES_IS_CALL_MANAGER (self), NULL);
  return self->client;
}

const EsMediaSettings *
es_call_manager_get_incoming_settings (EsCallManager *self)
{
  g_return_val_if_fail (ES_IS_CALL_MANAGER (self), NULL);
  return self->incoming_settings;
}

/**
 * es_call_manager_set_incoming_settings:
 *
 * What calls that ring here from now on are answered with (each call copies
 * them; a call invited as audio is audio-only whatever they say).
 */
void
es_call_manager_set_incoming_settings (EsCallManager         *self,
                                       const EsMediaSettings *settings)
{
  g_return_if_fail (ES_IS_CALL_MANAGER (self));
  g_return_if_fail (settings != NULL);

  g_clear_pointer (&self->incoming_settings, es_media_settings_free);
  self->incoming_settings = es_media_settings_copy (settings);
}

/**
 * es_call_manager_place_call:
 * @user: who to call
 * @media: "audio" or "video"
 * @settings: media settings for this call (copied)
 *
 * Makes the call id and writes the invite at once; the returned call can be
 * cancelled right away.
 *
 * Returns: (transfer full): the call, or %NULL with @error for a bad argument
 */
EsCall *
es_call_manager_place_call (EsCallManager          *self,
                            const char             *user,
                            const char             *media,
                            const EsMediaSettings  *settings,
                            GError                **error)
{
  g_autoptr(EsCall) call = NULL;
  g_autofree char *call_id = NULL;

  g_return_val_if_fail (ES_IS_CALL_MANAGER (self), NULL);
  g_return_val_if_fail (settings != NULL, NULL);

  if (user == NULL || !es_protocol_is_valid_id (user))
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SETTINGS,
                   "“%s” is not a user name", user ? user : "");
      return NULL;
    }

  if (media == NULL)
    media = settings->audio_only ? "audio" : "video";
  if (g_strcmp0 (media, "audio") != 0 && g_strcmp0 (media, "video") != 0)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SETTINGS,
                   "Media is “audio” or “video”, not “%s”", media);
      return NULL;
    }

  if (!es_media_settings_validate (settings, error))
    return NULL;

  if (self->identity == NULL)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_VERIFICATION,
                   "Calls cannot be verified without this device's identity key: %s",
                   self->identity_error ? self->identity_error->message : "not loaded");
      return NULL;
    }

  call_id = g_uuid_string_random ();
  call = es_call_new_outgoing (self->client, call_id, user, media, settings);
  es_call_set_identity (call, self->identity, self->trust_store);
  es_call_manager_track (self, call);

  if (!es_call_start (call, error))
    return NULL;

  return g_steal_pointer (&call);
}

/* Returns: (transfer none) (nullable): a live call */
EsCall *
es_call_manager_lookup_call (EsCallManager *self,
                             const char    *call_id)
{
  g_return_val_if_fail (ES_IS_CALL_MANAGER (self), NULL);
  g_return_val_if_fail (call_id != NULL, NULL);

  return g_hash_table_lookup (self->calls, call_id);
}

guint
es_call_manager_get_n_calls (EsCallManager *self)
{
  g_return_val_if_fail (ES_IS_CALL_MANAGER (self), 0);
  return g_hash_table_size (self->calls);
}

/* GObject */

static void
es_call_manager_constructed (GObject *object)
{
  EsCallManager *self = ES_CALL_MANAGER (object);

  G_OBJECT_CLASS (es_call_manager_parent_class)->constructed (object);

  if (self->profile_dir == NULL)
    self->profile_dir =
      g_strdup (es_client_store_get_profile_dir (es_signaling_client_get_store (self->client)));

  /* The identity key (PROFILE_DIR/identity.key, 0600) is made on first use. */
  self->identity = es_identity_load_or_create (self->profile_dir, &self->identity_error);
  if (self->identity == NULL)
    g_warning ("Cannot load this device's identity key: %s", self->identity_error->message);
  else
    {
      g_autoptr(GError) error = NULL;

      /* Without the store every call compares the emoji; nothing is trusted. */
      self->trust_store = es_trust_store_new (self->profile_dir, &error);
      if (self->trust_store == NULL)
        g_warning ("Cannot open the trust store: %s", error->message);
    }

  g_signal_connect (self->client, "frame-received", G_CALLBACK (frame_received_cb), self);
  g_signal_connect (self->client, "error-received", G_CALLBACK (error_received_cb), self);
}

static void
es_call_manager_dispose (GObject *object)
{
  EsCallManager *self = ES_CALL_MANAGER (object);
  GHashTableIter iter;
  gpointer value;

  g_clear_handle_id (&self->announce_id, g_source_remove);

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);

  g_hash_table_iter_init (&iter, self->calls);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_signal_handlers_disconnect_by_data (value, self);
  g_hash_table_remove_all (self->calls);
  g_hash_table_remove_all (self->folds);
  g_ptr_array_set_size (self->unannounced, 0);

  g_clear_object (&self->client);
  g_clear_object (&self->identity);
  g_clear_object (&self->trust_store);

  G_OBJECT_CLASS (es_call_manager_parent_class)->dispose (object);
}

static void
es_call_manager_finalize (GObject *object)
{
  EsCallManager *self = ES_CALL_MANAGER (object);

  g_clear_pointer (&self->incoming_settings, es_media_settings_free);
  g_clear_pointer (&self->profile_dir, g_free);
  g_clear_error (&self->identity_error);
  g_clear_pointer (&self->calls, g_hash_table_unref);
  g_clear_pointer (&self->folds, g_hash_table_unref);
  g_clear_pointer (&self->unannounced, g_ptr_array_unref);
  g_queue_clear (&self->ended_order);
  g_clear_pointer (&self->ended, g_hash_table_unref);

  G_OBJECT_CLASS (es_call_manager_parent_class)->finalize (object);
}

static void
es_call_manager_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  EsCallManager *self = ES_CALL_MANAGER (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;

    case PROP_PROFILE_DIR:
      g_value_set_string (value, self->profile_dir);
      break;

    case PROP_IDENTITY:
      g_value_set_object (value, self->identity);
      break;

    case PROP_TRUST_STORE:
      g_value_set_object (value, self->trust_store);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_call_manager_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  EsCallManager *self = ES_CALL_MANAGER (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;

    case PROP_PROFILE_DIR:
      self->profile_dir = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_call_manager_class_init (EsCallManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = es_call_manager_constructed;
  object_class->dispose = es_call_manager_dispose;
  object_class->finalize = es_call_manager_finalize;
  object_class->get_property = es_call_manager_get_property;
  object_class->set_property = es_call_manager_set_property;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL,
                         ES_TYPE_SIGNALING_CLIENT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * EsCallManager:profile-dir:
   *
   * Where this device's identity key (identity.key) and trust store
   * (trust.db) live; by default the client store's profile directory.
   */
  properties[PROP_PROFILE_DIR] =
    g_param_spec_string ("profile-dir", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * EsCallManager:identity:
   *
   * This device's identity key, or %NULL when it cannot be loaded (then no
   * call can be placed or taken).
   */
  properties[PROP_IDENTITY] =
    g_param_spec_object ("identity", NULL, NULL, ES_TYPE_IDENTITY,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  properties[PROP_TRUST_STORE] =
    g_param_spec_object ("trust-store", NULL, NULL, ES_TYPE_TRUST_STORE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * EsCallManager::incoming-call:
   * @call: a new incoming call; it rings (the caller has been told)
   *
   * A call that the server folded ours into (glare) comes here too, and is
   * accepted right after this signal.
   */
  signals[INCOMING_CALL] =
    g_signal_new ("incoming-call", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, ES_TYPE_CALL);

  /**
   * EsCallManager::missed-call:
   * @call: an incoming call that had ended before this device could ring,
   *   because it was offline or the caller gave up at once; its end reason
   *   says how (cancelled, missed, answered_elsewhere, …). For call history.
   */
  signals[MISSED_CALL] =
    g_signal_new ("missed-call", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, ES_TYPE_CALL);
}

static void
es_call_manager_init (EsCallManager *self)
{
  self->incoming_settings = es_media_settings_new ();
  self->calls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->ended = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->ended_order);
  self->folds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->unannounced = g_ptr_array_new_with_free_func (g_object_unref);
}
