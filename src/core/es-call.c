/* es-call.c: one call, outgoing or incoming, over one or more call branches
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-call"

#include <string.h>

#include <json-glib/json-glib.h>

#include "es-call-private.h"
#include "es-identity.h"

/* How it works (PROTOCOL.md, "Calls"). The caller opens one offerer branch per
 * callee device that reports `ringing`; the callee opens one answerer branch
 * for the caller's offer. Media is gated shut on both ends until pickup. The
 * callee's `accept` comes twice, on the branch's control channel and through
 * the server; the caller opens its gate on the first one it sees and closes the
 * other branches. Everything here runs on the thread of the main context that
 * was the thread default when the call was made (the branches demand it). */

/* A branch that loses its transport or control channel usually does so
 * because the peer hung up, cancelled or picked up elsewhere, and the server's
 * word on that is a moment behind. Wait that long before calling it a failure. */
#define GRACE_MS          3000
/* The control channel carries our last word (hangup, decline) only if the
 * branch stays up a little after it was written. */
#define LINGER_MS         300
/* Picked up but never connected: give up. */
#define CONNECT_TIMEOUT_MS 20000
/* The server times out ringing (60 s by default); this is the backstop for a
 * server that never says anything. */
#define RING_GUARD_MS     (180 * 1000)

G_DEFINE_ENUM_TYPE (EsCallDirection, es_call_direction,
  G_DEFINE_ENUM_VALUE (ES_CALL_DIRECTION_OUTGOING, "outgoing"),
  G_DEFINE_ENUM_VALUE (ES_CALL_DIRECTION_INCOMING, "incoming"))

G_DEFINE_ENUM_TYPE (EsCallState, es_call_state,
  G_DEFINE_ENUM_VALUE (ES_CALL_STATE_DIALING, "dialing"),
  G_DEFINE_ENUM_VALUE (ES_CALL_STATE_RINGING, "ringing"),
  G_DEFINE_ENUM_VALUE (ES_CALL_STATE_CONNECTING, "connecting"),
  G_DEFINE_ENUM_VALUE (ES_CALL_STATE_ACTIVE, "active"),
  G_DEFINE_ENUM_VALUE (ES_CALL_STATE_ENDED, "ended"))

G_DEFINE_ENUM_TYPE (EsCallEndReason, es_call_end_reason,
  G_DEFINE_ENUM_VALUE (ES_CALL_END_REASON_NONE, "none"),
  G_DEFINE_ENUM_VALUE (ES_CALL_END_REASON_HANGUP, "hangup"),
  G_DEFINE_ENUM_VALUE (ES_CALL_END_REASON_REMOTE_HANGUP, "remote_hangup"),
  G_DEFINE_ENUM_VALUE (ES_CALL_END_REASON_CANCELLED, "cancelled"),
  G_DEFINE_ENUM_VALUE (ES_CALL_END_REASON_DECLINED, "declined"),
  G_DEFINE_ENUM_VALUE (ES_CALL_END_REASON_DECLINED_ELSEWHERE, "declined_elsewhere"),
  G_DEFINE_ENUM_VALUE (ES_CALL_END_REASON_ANSWERED_ELSEWHERE, "answered_elsewhere"),
  G_DEFINE_ENUM_VALUE (ES_CALL_END_REASON_MISSED, "missed"),
  G_DEFINE_ENUM_VALUE (ES_CALL_END_REASON_NO_ANSWER, "no_answer"),
  G_DEFINE_ENUM_VALUE (ES_CALL_END_REASON_BUSY, "busy"),
  G_DEFINE_ENUM_VALUE (ES_CALL_END_REASON_FOLDED, "folded"),
  G_DEFINE_ENUM_VALUE (ES_CALL_END_REASON_FAILED, "failed"))

struct _EsCall
{
  GObject            parent_instance;

  /* Owned */
  EsSignalingClient *client;
  EsMediaSettings   *settings;
  char              *id;
  char              *media;
  char              *peer_user;
  char              *peer_device_id;
  char              *peer_device_name;
  char              *elsewhere_device_name;
  char              *folded_into;
  char              *own_device_id;
  char              *own_device_name;
  GPtrArray         *branches;       /* every branch made, closed ones too (counters) */
  GHashTable        *device_names;   /* callee device id → name, from `ringing` */
  GHashTable        *sent;           /* seq → EsMessageType of what we sent */
  GPtrArray         *early_frames;   /* incoming, before es_call_start(): offer, ice */
  EsCallStats       *last_stats;
  EsIdentity        *identity;
  EsTrustStore      *trust_store;
  GBytes            *sas;            /* the shown verification's five emoji indices */
  char              *peer_key;       /* its peer identity key, formatted */
  char              *verification_reason;
  GError            *error;
  GError            *branch_error;   /* the first branch failure, while others live on */

  /* Borrowed */
  EsCallBranch      *active_branch;  /* in branches */

  gint64             pickup_us;
  gint64             active_us;
  gint64             ended_us;
  guint              grace_id;
  guint              linger_id;
  guint              guard_id;

  EsCallDirection    direction;
  EsCallState        state;
  EsCallEndReason    end_reason;
  EsVerificationState verification_state;

  guint              started : 1;
  guint              accepted : 1;
  guint              control_accept_sent : 1;
  guint              audio_reported : 1;
  guint              video_reported : 1;
  guint              muted : 1;
  guint              camera_off : 1;
  guint              peer_muted : 1;
  guint              peer_camera_off : 1;
};

G_DEFINE_FINAL_TYPE (EsCall, es_call, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_DIRECTION,
  PROP_STATE,
  PROP_END_REASON,
  PROP_MEDIA,
  PROP_PEER_USER,
  PROP_PEER_DEVICE_ID,
  PROP_PEER_DEVICE_NAME,
  PROP_VIDEO_CODEC,
  PROP_PATH,
  PROP_VERIFICATION_STATE,
  PROP_SAS,
  PROP_PEER_KEY,
  PROP_VERIFICATION_REASON,
  PROP_MUTED,
  PROP_CAMERA_ENABLED,
  PROP_PEER_MUTED,
  PROP_PEER_CAMERA_ENABLED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  MEDIA_STARTED,
  STATS,
  RINGING_DEVICE,
  FOLDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void es_call_end (EsCall          *self,
                         EsCallEndReason  reason,
                         GError          *error);

/* Small helpers */

static void
set_string (char       **slot,
            const char  *value)
{
  if (g_strcmp0 (*slot, value) == 0)
    return;
  g_free (*slot);
  *slot = g_strdup (value);
}

static gboolean
branch_is_live (EsCallBranch *branch)
{
  EsCallBranchState state = es_call_branch_get_state (branch);

  return state != ES_CALL_BRANCH_STATE_FAILED && state != ES_CALL_BRANCH_STATE_CLOSED;
}

static EsCallBranch *
es_call_find_branch (EsCall     *self,
                     const char *device_id)
{
  if (device_id == NULL)
    return NULL;

  /* The newest branch to a device wins. */
  for (guint i = self->branches->len; i > 0; i--)
    {
      EsCallBranch *branch = g_ptr_array_index (self->branches, i - 1);

      if (g_strcmp0 (es_call_branch_get_peer_device_id (branch), device_id) == 0)
        return branch;
    }

  return NULL;
}

static gboolean
es_call_has_live_branch (EsCall *self)
{
  for (guint i = 0; i < self->branches->len; i++)
    if (branch_is_live (g_ptr_array_index (self->branches, i)))
      return TRUE;

  return FALSE;
}

static void
es_call_set_state (EsCall      *self,
                   EsCallState  state)
{
  if (self->state == state)
    return;

  g_debug ("Call %s: %s → %s", self->id, es_call_state_to_string (self->state),
           es_call_state_to_string (state));
  self->state = state;
  if (state == ES_CALL_STATE_ACTIVE && self->active_us == 0)
    self->active_us = g_get_monotonic_time ();

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static gboolean
es_call_send (EsCall        *self,
              EsMessageType  type,
              const char    *to_device,
              JsonObject    *body)
{
  g_autoptr(GError) error = NULL;
  gint64 seq;

  seq = es_signaling_client_send (self->client, type, self->id, to_device, body, &error);
  if (seq <= 0)
    {
      g_warning ("Call %s: cannot send %s: %s", self->id, es_message_type_to_string (type),
                 error ? error->message : "unknown error");
      return FALSE;
    }

  g_hash_table_insert (self->sent, g_memdup2 (&seq, sizeof seq), GINT_TO_POINTER (type));
  return TRUE;
}

static void
es_call_send_control (EsCall       *self,
                      EsCallBranch *branch,
                      const char   *type)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;

  if (branch == NULL || es_call_branch_get_state (branch) != ES_CALL_BRANCH_STATE_CONNECTED)
    return;

  json = g_strdup_printf ("{\"type\":\"%s\"}", type);
  if (!es_call_branch_send_control (branch, json, &error))
    g_debug ("Call %s: %s on the control channel: %s", self->id, type, error->message);
}

/* Verification */

/* The verification the users compare: the branch that picked up, or before
 * that the only live branch (several ringing devices would show different
 * emoji; none is the peer yet). */
EsVerification *
es_call_get_verification (EsCall *self)
{
  EsCallBranch *branch = NULL;

  g_return_val_if_fail (ES_IS_CALL (self), NULL);

  if (self->active_branch != NULL)
    branch = self->active_branch;
  else
    {
      for (guint i = 0; i < self->branches->len; i++)
        {
          EsCallBranch *candidate = g_ptr_array_index (self->branches, i);

          if (!branch_is_live (candidate))
            continue;
          if (branch != NULL)
            return NULL;
          branch = candidate;
        }
    }

  return branch ? es_call_branch_get_verification (branch) : NULL;
}

static void
es_call_sync_verification (EsCall *self)
{
  EsVerification *verification = es_call_get_verification (self);
  EsVerificationState state = ES_VERIFICATION_STATE_WAITING;
  const guint8 *sas = NULL;
  const guint8 *peer_key = NULL;
  const char *reason = NULL;
  g_autofree char *key_text = NULL;
  g_autoptr(GBytes) sas_bytes = NULL;

  /* An ended call keeps what it showed last. */
  if (verification == NULL && self->state == ES_CALL_STATE_ENDED)
    return;

  if (verification != NULL)
    {
      state = es_verification_get_state (verification);
      sas = es_verification_get_sas (verification);
      peer_key = es_verification_get_peer_identity_key (verification);
      reason = es_verification_get_failure_reason (verification);
    }

  if (sas != NULL)
    sas_bytes = g_bytes_new (sas, ES_SAS_N_INDICES);
  if (peer_key != NULL)
    key_text = es_identity_format_fingerprint (peer_key);

  g_object_freeze_notify (G_OBJECT (self));

  if (!(sas_bytes == NULL && self->sas == NULL) &&
      (sas_bytes == NULL || self->sas == NULL || !g_bytes_equal (sas_bytes, self->sas)))
    {
      g_clear_pointer (&self->sas, g_bytes_unref);
      self->sas = g_steal_pointer (&sas_bytes);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SAS]);
    }

  if (g_strcmp0 (key_text, self->peer_key) != 0)
    {
      g_free (self->peer_key);
      self->peer_key = g_steal_pointer (&key_text);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_KEY]);
    }

  if (g_strcmp0 (reason, self->verification_reason) != 0)
    {
      set_string (&self->verification_reason, reason);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERIFICATION_REASON]);
    }

  if (state != self->verification_state)
    {
      g_debug ("Call %s: verification %d → %d", self->id, self->verification_state, state);
      self->verification_state = state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERIFICATION_STATE]);
    }

  g_object_thaw_notify (G_OBJECT (self));
}

static void
verification_notify_cb (EsVerification *verification,
                        GParamSpec     *pspec,
                        EsCall         *self)
{
  es_call_sync_verification (self);
}

/* Media and stats */

static guint64
sum_counter (EsCall   *self,
             guint64 (*get) (EsCallBranch *))
{
  guint64 total = 0;

  for (guint i = 0; i < self->branches->len; i++)
    total += get (g_ptr_array_index (self->branches, i));

  return total;
}

static void
es_call_report_media (EsCall     *self,
                      const char *kind)
{
  gint64 started;
  gint64 ms;

  /* Reported once active, so that "connected" comes first; the figure is
   * the decoder's own timestamp either way. */
  if (!self->accepted || self->active_branch == NULL || self->state != ES_CALL_STATE_ACTIVE)
    return;

  if (g_str_equal (kind, "audio"))
    {
      if (self->audio_reported)
        return;
    }
  else if (self->video_reported)
    return;

  started = es_call_branch_get_media_started_time (self->active_branch, kind);
  if (started <= 0)
    return;

  if (g_str_equal (kind, "audio"))
    self->audio_reported = TRUE;
  else
    self->video_reported = TRUE;

  /* The caller may decode the callee's first packets before the accept that
   * opened them reaches it: that is 0 ms after pickup as far as it knows. */
  ms = MAX (0, (started - self->pickup_us) / 1000);
  g_debug ("Call %s: first %s %" G_GINT64_FORMAT " ms after pickup", self->id, kind, ms);
  g_signal_emit (self, signals[MEDIA_STARTED], 0, kind, ms);
}

static void
es_call_report_started_media (EsCall *self)
{
  es_call_report_media (self, "audio");
  es_call_report_media (self, "video");
}

static EsCallBranch *
es_call_get_primary_branch (EsCall *self)
{
  if (self->active_branch != NULL)
    return self->active_branch;

  for (guint i = 0; i < self->branches->len; i++)
    {
      EsCallBranch *branch = g_ptr_array_index (self->branches, i);

      if (es_call_branch_get_state (branch) == ES_CALL_BRANCH_STATE_CONNECTED)
        return branch;
    }

  return NULL;
}

static void
branch_stats_cb (EsCallBranch      *branch,
                 const EsCallStats *stats,
                 EsCall            *self)
{
  gboolean path_changed;
  gboolean codec_changed;
  EsCallStats *copy;

  if (self->state == ES_CALL_STATE_ENDED || branch != es_call_get_primary_branch (self))
    return;

  /* The counters cover every branch of the call, so that a ringing caller
   * with several branches shows honestly that nothing flows on any. */
  copy = es_call_stats_copy (stats);
  copy->audio_packets_sent = sum_counter (self, es_call_branch_get_audio_packets_sent);
  copy->video_packets_sent = sum_counter (self, es_call_branch_get_video_packets_sent);
  copy->audio_buffers_decoded = sum_counter (self, es_call_branch_get_audio_buffers_decoded);
  copy->video_frames_decoded = sum_counter (self, es_call_branch_get_video_frames_decoded);

  path_changed = self->last_stats == NULL || self->last_stats->relayed != copy->relayed ||
                 g_strcmp0 (self->last_stats->local_candidate_type,
                            copy->local_candidate_type) != 0;
  codec_changed = self->last_stats == NULL ||
                  g_strcmp0 (self->last_stats->video_codec, copy->video_codec) != 0;

  g_clear_pointer (&self->last_stats, es_call_stats_free);
  self->last_stats = copy;

  if (path_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH]);
  if (codec_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VIDEO_CODEC]);

  g_signal_emit (self, signals[STATS], 0, copy);
}

static void
branch_media_started_cb (EsCallBranch *branch,
                         const char   *kind,
                         EsCall       *self)
{
  if (branch == self->active_branch)
    es_call_report_media (self, kind);
}

/* Progress */

static void es_call_send_media_state (EsCall *self);

static void
es_call_update_active (EsCall *self)
{
  if (self->state == ES_CALL_STATE_ENDED || !self->accepted)
    return;

  if (self->active_branch != NULL &&
      es_call_branch_get_state (self->active_branch) == ES_CALL_BRANCH_STATE_CONNECTED)
    {
      g_clear_handle_id (&self->guard_id, g_source_remove);
      if (self->state != ES_CALL_STATE_ACTIVE && (self->muted || self->camera_off))
        es_call_send_media_state (self);
      es_call_set_state (self, ES_CALL_STATE_ACTIVE);
      es_call_report_started_media (self);
    }
  else
    es_call_set_state (self, ES_CALL_STATE_CONNECTING);
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  EsCall *self = user_data;

  self->guard_id = 0;
  es_call_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_ICE_FAILED,
                                   "Picked up, but could not connect to the peer within %d s",
                                   CONNECT_TIMEOUT_MS / 1000));
  return G_SOURCE_REMOVE;
}

static gboolean
ring_guard_cb (gpointer user_data)
{
  EsCall *self = user_data;

  self->guard_id = 0;
  if (self->direction == ES_CALL_DIRECTION_OUTGOING)
    {
      es_call_send (self, ES_MESSAGE_CANCEL, NULL, NULL);
      es_call_end (self, ES_CALL_END_REASON_NO_ANSWER, NULL);
    }
  else
    es_call_end (self, ES_CALL_END_REASON_MISSED, NULL);

  return G_SOURCE_REMOVE;
}

static void
es_call_start_connect_guard (EsCall *self)
{
  g_clear_handle_id (&self->guard_id, g_source_remove);
  self->guard_id = g_timeout_add (CONNECT_TIMEOUT_MS, connect_timeout_cb, self);
}

static void
es_call_close_other_branches (EsCall *self)
{
  for (guint i = 0; i < self->branches->len; i++)
    {
      EsCallBranch *branch = g_ptr_array_index (self->branches, i);

      if (branch != self->active_branch)
        es_call_branch_close (branch);
    }
}

/* Caller: @device_id picked up (the first word of it, from either path). */
static void
es_call_accepted_by (EsCall     *self,
                     const char *device_id,
                     const char *via)
{
  if (self->state == ES_CALL_STATE_ENDED || self->accepted || device_id == NULL)
    return;

  g_debug ("Call %s: accepted by %s (%s)", self->id, device_id, via);

  self->accepted = TRUE;
  self->pickup_us = g_get_monotonic_time ();
  self->active_branch = es_call_find_branch (self, device_id);
  g_clear_error (&self->branch_error);
  g_clear_handle_id (&self->grace_id, g_source_remove);

  set_string (&self->peer_device_id, device_id);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_DEVICE_ID]);
  set_string (&self->peer_device_name, g_hash_table_lookup (self->device_names, device_id));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_DEVICE_NAME]);

  es_call_close_other_branches (self);
  es_call_sync_verification (self);

  if (self->active_branch != NULL && !branch_is_live (self->active_branch))
    {
      const GError *error = es_call_branch_get_error (self->active_branch);

      es_call_fail (self, error ? g_error_copy (error)
                                : g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_FAILED,
                                               "The connection to the device that picked up "
                                               "is gone"));
      return;
    }

  if (self->active_branch != NULL)
    es_call_branch_open_gates (self->active_branch);

  es_call_start_connect_guard (self);
  es_call_update_active (self);
}

/* Branch signals */

static void
branch_local_description_cb (EsCallBranch *branch,
                             const char   *type,
                             const char   *sdp,
                             EsCall       *self)
{
  g_autoptr(JsonObject) body = json_object_new ();
  EsMessageType message = g_str_equal (type, "offer") ? ES_MESSAGE_OFFER : ES_MESSAGE_ANSWER;

  if (self->state == ES_CALL_STATE_ENDED)
    return;

  json_object_set_string_member (body, "sdp", sdp);
  if (es_call_branch_get_verification (branch) != NULL)
    {
      g_autofree char *commit =
        es_verification_dup_commitment_b64 (es_call_branch_get_verification (branch));

      /* Fixed before the peer can see anything of ours (DESIGN.md §4). */
      json_object_set_string_member (body, "commit", commit);
    }
  if (!es_call_send (self, message, es_call_branch_get_peer_device_id (branch), body))
    es_call_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SDP,
                                     "Cannot send our session description (%zu bytes)",
                                     strlen (sdp)));
}

static void
branch_local_candidate_cb (EsCallBranch *branch,
                           guint         mline,
                           const char   *candidate,
                           EsCall       *self)
{
  g_autoptr(JsonObject) body = json_object_new ();

  if (self->state == ES_CALL_STATE_ENDED || !branch_is_live (branch))
    return;

  json_object_set_int_member (body, "mline", mline);
  json_object_set_string_member (body, "candidate", candidate);
  es_call_send (self, ES_MESSAGE_ICE, es_call_branch_get_peer_device_id (branch), body);
}

static void
branch_control_message_cb (EsCallBranch *branch,
                           const char   *json,
                           EsCall       *self)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;
  const char *type = NULL;

  if (self->state == ES_CALL_STATE_ENDED)
    return;

  /* From the network: anything may come. */
  if (strlen (json) > 4096 || !json_parser_load_from_data (parser, json, -1, NULL))
    {
      g_debug ("Call %s: ignoring a bad control message", self->id);
      return;
    }
  root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    type = json_object_get_string_member_with_default (json_node_get_object (root), "type", NULL);
  if (type == NULL)
    return;

  g_debug ("Call %s: control message “%s” from %s", self->id, type,
           es_call_branch_get_peer_device_id (branch));

  if (g_str_equal (type, "accept") && self->direction == ES_CALL_DIRECTION_OUTGOING)
    es_call_accepted_by (self, es_call_branch_get_peer_device_id (branch), "control channel");
  else if (g_str_equal (type, "hangup") && self->accepted && branch == self->active_branch)
    es_call_end (self, ES_CALL_END_REASON_REMOTE_HANGUP, NULL);
  else if (g_str_equal (type, "decline") && self->direction == ES_CALL_DIRECTION_OUTGOING &&
           !self->accepted)
    es_call_end (self, ES_CALL_END_REASON_DECLINED, NULL);
  else if (g_str_equal (type, "media-state") && branch == self->active_branch)
    {
      JsonObject *object = json_node_get_object (root);
      gboolean muted = !json_object_get_boolean_member_with_default (object, "audio", TRUE);
      gboolean camera_off = !json_object_get_boolean_member_with_default (object, "video", TRUE);

      if (self->peer_muted != muted)
        {
          self->peer_muted = muted;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_MUTED]);
        }
      if (self->peer_camera_off != camera_off)
        {
          self->peer_camera_off = camera_off;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_CAMERA_ENABLED]);
        }
    }
}

/* Tells the peer on the picked-up branch what we send, so its screen can say
 * "muted" or "camera off" rather than show a frozen picture. */
static void
es_call_send_media_state (EsCall *self)
{
  g_autofree char *json = NULL;

  if (self->active_branch == NULL)
    return;

  json = g_strdup_printf ("{\"type\":\"media-state\",\"audio\":%s,\"video\":%s}",
                          self->muted ? "false" : "true", self->camera_off ? "false" : "true");
  es_call_branch_send_control (self->active_branch, json, NULL);
}

static gboolean
grace_cb (gpointer user_data)
{
  EsCall *self = user_data;
  GError *error = g_steal_pointer (&self->branch_error);

  self->grace_id = 0;
  if (error == NULL)
    error = g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_FAILED, "Lost the connection to the peer");
  es_call_fail (self, error);

  return G_SOURCE_REMOVE;
}

static gboolean
error_is_transport (const GError *error)
{
  return g_error_matches (error, ES_CALL_ERROR, ES_CALL_ERROR_CHANNEL) ||
         g_error_matches (error, ES_CALL_ERROR, ES_CALL_ERROR_ICE_FAILED);
}

static void
branch_failed_cb (EsCallBranch *branch,
                  const GError *error,
                  EsCall       *self)
{
  gboolean matters;

  if (self->state == ES_CALL_STATE_ENDED)
    return;

  g_debug ("Call %s: branch to %s failed: %s", self->id,
           es_call_branch_get_peer_device_id (branch), error->message);

  if (self->accepted)
    matters = branch == self->active_branch;
  else if (self->direction == ES_CALL_DIRECTION_OUTGOING)
    /* One callee device that cannot connect does not end the call while
     * others still ring. */
    matters = !es_call_has_live_branch (self);
  else
    matters = TRUE;

  if (!matters)
    {
      if (self->branch_error == NULL)
        self->branch_error = g_error_copy (error);
      return;
    }

  if (error_is_transport (error))
    {
      if (self->grace_id == 0)
        {
          g_clear_error (&self->branch_error);
          self->branch_error = g_error_copy (error);
          self->grace_id = g_timeout_add (GRACE_MS, grace_cb, self);
        }
      return;
    }

  es_call_fail (self, g_error_copy (error));
}

static void
branch_notify_state_cb (EsCallBranch *branch,
                        GParamSpec   *pspec,
                        EsCall       *self)
{
  /* Which branch's emoji are shown depends on which branches live. */
  es_call_sync_verification (self);

  if (self->state == ES_CALL_STATE_ENDED ||
      es_call_branch_get_state (branch) != ES_CALL_BRANCH_STATE_CONNECTED)
    return;

  if (self->direction == ES_CALL_DIRECTION_INCOMING && self->accepted &&
      branch == self->active_branch && !self->control_accept_sent)
    {
      self->control_accept_sent = TRUE;
      es_call_send_control (self, branch, "accept");
    }

  if (branch == self->active_branch)
    es_call_update_active (self);
}

static void
branch_notify_codec_cb (EsCallBranch *branch,
                        GParamSpec   *pspec,
                        EsCall       *self)
{
  if (branch == es_call_get_primary_branch (self) || self->branches->len == 1)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VIDEO_CODEC]);
}

static EsCallBranch *
es_call_add_branch (EsCall           *self,
                    EsCallBranchRole  role,
                    const char       *device_id)
{
  EsCallBranch *branch = es_call_branch_new (role, self->settings, device_id);

  g_ptr_array_add (self->branches, branch);

  if (self->identity != NULL)
    {
      g_autoptr(EsVerification) verification = NULL;

      verification = es_verification_new (role == ES_CALL_BRANCH_ROLE_OFFERER
                                            ? ES_SAS_ROLE_OFFERER : ES_SAS_ROLE_ANSWERER,
                                          self->identity, self->trust_store, device_id,
                                          self->peer_user ? self->peer_user : "");
      /* Ours first, so that the call shows a failed check before the
       * branch's failure ends it. */
      g_signal_connect (verification, "notify::state", G_CALLBACK (verification_notify_cb), self);
      es_call_branch_set_verification (branch, verification);
    }

  es_call_branch_set_sending (branch, !self->muted, !self->camera_off);

  g_signal_connect (branch, "local-description", G_CALLBACK (branch_local_description_cb), self);
  g_signal_connect (branch, "local-candidate", G_CALLBACK (branch_local_candidate_cb), self);
  g_signal_connect (branch, "control-message", G_CALLBACK (branch_control_message_cb), self);
  g_signal_connect (branch, "media-started", G_CALLBACK (branch_media_started_cb), self);
  g_signal_connect (branch, "stats", G_CALLBACK (branch_stats_cb), self);
  g_signal_connect (branch, "failed", G_CALLBACK (branch_failed_cb), self);
  g_signal_connect (branch, "notify::state", G_CALLBACK (branch_notify_state_cb), self);
  g_signal_connect (branch, "notify::video-codec", G_CALLBACK (branch_notify_codec_cb), self);

  return branch;
}

static void
es_call_start_branch (EsCall       *self,
                      EsCallBranch *branch)
{
  g_autoptr(GError) error = NULL;

  /* A start that fails sets the state but emits no ::failed. */
  if (!es_call_branch_start (branch, &error))
    branch_failed_cb (branch, error, self);
}

/* Ending */

static void
es_call_close_branches (EsCall *self)
{
  for (guint i = 0; i < self->branches->len; i++)
    {
      EsCallBranch *branch = g_ptr_array_index (self->branches, i);

      es_call_branch_close (branch);
    }
}

static gboolean
linger_cb (gpointer user_data)
{
  EsCall *self = user_data;

  self->linger_id = 0;
  es_call_close_branches (self);
  g_object_unref (self);

  return G_SOURCE_REMOVE;
}

/* Takes @error. Closes the branches (after LINGER_MS when a last word went out
 * on a control channel) and moves to ended. */
static void
es_call_end_full (EsCall          *self,
                  EsCallEndReason  reason,
                  GError          *error,
                  gboolean         linger)
{
  g_autoptr(GError) owned = error;

  if (self->state == ES_CALL_STATE_ENDED)
    return;

  g_debug ("Call %s ends: %s%s%s", self->id, es_call_end_reason_to_string (reason),
           error ? ": " : "", error ? error->message : "");

  g_clear_handle_id (&self->grace_id, g_source_remove);
  g_clear_handle_id (&self->guard_id, g_source_remove);
  g_clear_error (&self->branch_error);

  self->end_reason = reason;
  g_clear_error (&self->error);
  self->error = g_steal_pointer (&owned);
  self->ended_us = g_get_monotonic_time ();

  if (linger && self->linger_id == 0)
    self->linger_id = g_timeout_add (LINGER_MS, linger_cb, g_object_ref (self));
  else if (self->linger_id == 0)
    es_call_close_branches (self);

  g_object_ref (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_END_REASON]);
  es_call_set_state (self, ES_CALL_STATE_ENDED);
  g_object_unref (self);
}

static void
es_call_end (EsCall          *self,
             EsCallEndReason  reason,
             GError          *error)
{
  es_call_end_full (self, reason, error, FALSE);
}

/**
 * es_call_fail:
 * @error: (transfer full): why
 *
 * Ends the call as failed and tells the server in the words that fit the
 * state: cancel (caller before pickup), hangup (after pickup). A ringing
 * callee device says nothing: its failure is its own, and the caller's branch
 * to it fails likewise.
 */
void
es_call_fail (EsCall *self,
              GError *error)
{
  g_autoptr(GError) owned = error;

  g_return_if_fail (ES_IS_CALL (self));

  if (self->state == ES_CALL_STATE_ENDED)
    return;

  if (self->direction == ES_CALL_DIRECTION_OUTGOING && !self->accepted)
    es_call_send (self, ES_MESSAGE_CANCEL, NULL, NULL);
  else if (self->accepted)
    {
      g_autoptr(JsonObject) body = json_object_new ();

      json_object_set_string_member (body, "reason", "failed");
      es_call_send_control (self, self->active_branch, "hangup");
      es_call_send (self, ES_MESSAGE_HANGUP, NULL, body);
    }

  es_call_end_full (self, ES_CALL_END_REASON_FAILED, g_steal_pointer (&owned), self->accepted);
}

/* Frames from the server */

static const char *
body_string (const EsFrame *frame,
             const char    *name)
{
  return json_object_get_string_member_with_default (frame->body, name, NULL);
}

static void
es_call_handle_ringing (EsCall        *self,
                        const EsFrame *frame)
{
  const char *device_id = body_string (frame, "device_id");
  const char *device_name = body_string (frame, "device_name");
  EsCallBranch *branch;

  if (device_id == NULL || !es_protocol_is_valid_id (device_id))
    return;
  if (device_name == NULL || *device_name == '\0')
    device_name = device_id;

  if (g_hash_table_contains (self->device_names, device_id))
    return;
  g_hash_table_insert (self->device_names, g_strdup (device_id), g_strdup (device_name));

  /* After pickup only the device that picked up gets a branch. */
  if (self->accepted && g_strcmp0 (device_id, self->peer_device_id) != 0)
    return;

  if (self->state == ES_CALL_STATE_DIALING)
    es_call_set_state (self, ES_CALL_STATE_RINGING);
  g_signal_emit (self, signals[RINGING_DEVICE], 0, device_id, device_name);
  if (self->state == ES_CALL_STATE_ENDED)
    return;

  branch = es_call_add_branch (self, ES_CALL_BRANCH_ROLE_OFFERER, device_id);
  if (self->accepted)
    {
      /* The accept overtook the ringing (it cannot, through one server, but
       * a client should not rely on it). */
      self->active_branch = branch;
      set_string (&self->peer_device_name, device_name);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_DEVICE_NAME]);
      es_call_branch_open_gates (branch);
    }
  es_call_start_branch (self, branch);
}

static void
es_call_handle_description (EsCall        *self,
                            const EsFrame *frame)
{
  g_autoptr(GError) error = NULL;
  const char *sdp = body_string (frame, "sdp");
  EsCallBranch *branch;
  const char *type;

  if (self->direction == ES_CALL_DIRECTION_OUTGOING)
    {
      if (frame->type != ES_MESSAGE_ANSWER)
        return;
      type = "answer";
    }
  else
    {
      if (frame->type != ES_MESSAGE_OFFER)
        return;
      type = "offer";
    }

  branch = es_call_find_branch (self, frame->from_device);
  if (branch == NULL || !branch_is_live (branch))
    {
      g_debug ("Call %s: dropping an %s from %s, which has no live branch", self->id, type,
               frame->from_device ? frame->from_device : "(nobody)");
      return;
    }

  {
    EsVerification *verification = es_call_branch_get_verification (branch);

    /* A missing or malformed commitment fails the verification, and with it
     * the branch (see es_call_branch_set_verification()). */
    if (verification != NULL &&
        !es_verification_set_peer_commitment_b64 (verification, body_string (frame, "commit"),
                                                  &error))
      {
        g_debug ("Call %s: the %s from %s: %s", self->id, type, frame->from_device,
                 error->message);
        return;
      }
  }

  if (!es_call_branch_set_remote_description (branch, type, sdp, &error))
    {
      /* A fatal one already came as ::failed; the rest means the branch
       * cannot go on either. */
      if (branch_is_live (branch))
        {
          es_call_branch_close (branch);
          branch_failed_cb (branch, error, self);
        }
    }
}

static void
es_call_handle_ice (EsCall        *self,
                    const EsFrame *frame)
{
  g_autoptr(GError) error = NULL;
  EsCallBranch *branch = es_call_find_branch (self, frame->from_device);
  gint64 mline = json_object_get_int_member_with_default (frame->body, "mline", -1);

  if (branch == NULL || !branch_is_live (branch) || mline < 0 || mline > G_MAXUINT)
    return;

  if (!es_call_branch_add_remote_candidate (branch, (guint) mline,
                                            body_string (frame, "candidate"), &error))
    g_debug ("Call %s: ignoring a candidate from %s: %s", self->id, frame->from_device,
             error->message);
}

void
es_call_handle_frame (EsCall        *self,
                      const EsFrame *frame)
{
  g_return_if_fail (ES_IS_CALL (self));
  g_return_if_fail (frame != NULL);

  if (self->state == ES_CALL_STATE_ENDED)
    return;

  /* The manager starts an incoming call once the batch of frames that brought
   * it is through, so that one that ended meanwhile (a device that was
   * offline) costs no pipeline. Keep what the branch will need. */
  if (!self->started && (frame->type == ES_MESSAGE_OFFER || frame->type == ES_MESSAGE_ICE))
    {
      if (self->early_frames->len < 512)
        g_ptr_array_add (self->early_frames, es_frame_copy (frame));
      return;
    }

  g_debug ("Call %s: %s from %s", self->id, es_message_type_to_string (frame->type),
           frame->from_device ? frame->from_device : "the server");

  /* Keep ourselves alive: handlers of our signals may drop the last ref. */
  g_object_ref (self);

  if (self->direction == ES_CALL_DIRECTION_OUTGOING)
    {
      switch (frame->type)
        {
        case ES_MESSAGE_RINGING:
          es_call_handle_ringing (self, frame);
          break;

        case ES_MESSAGE_ANSWER:
          es_call_handle_description (self, frame);
          break;

        case ES_MESSAGE_ICE:
          es_call_handle_ice (self, frame);
          break;

        case ES_MESSAGE_ACCEPT:
          es_call_accepted_by (self, frame->from_device, "server");
          break;

        case ES_MESSAGE_DECLINE:
          es_call_end (self, ES_CALL_END_REASON_DECLINED, NULL);
          break;

        case ES_MESSAGE_BUSY:
          es_call_end (self, ES_CALL_END_REASON_BUSY, NULL);
          break;

        case ES_MESSAGE_NO_ANSWER:
          es_call_end (self, ES_CALL_END_REASON_NO_ANSWER, NULL);
          break;

        case ES_MESSAGE_CANCEL:
          if (g_strcmp0 (body_string (frame, "reason"), "folded") == 0 &&
              es_protocol_is_valid_id (body_string (frame, "into")))
            {
              set_string (&self->folded_into, body_string (frame, "into"));
              es_call_end (self, ES_CALL_END_REASON_FOLDED, NULL);
            }
          else
            es_call_end (self, ES_CALL_END_REASON_CANCELLED, NULL);
          break;

        case ES_MESSAGE_HANGUP:
          es_call_end (self, ES_CALL_END_REASON_REMOTE_HANGUP, NULL);
          break;

        default:
          g_debug ("Call %s: ignoring %s", self->id, es_message_type_to_string (frame->type));
          break;
        }
    }
  else
    {
      switch (frame->type)
        {
        case ES_MESSAGE_OFFER:
          if (g_strcmp0 (frame->from_device, self->peer_device_id) == 0)
            es_call_handle_description (self, frame);
          break;

        case ES_MESSAGE_ICE:
          if (g_strcmp0 (frame->from_device, self->peer_device_id) == 0)
            es_call_handle_ice (self, frame);
          break;

        case ES_MESSAGE_CANCEL:
          es_call_end (self, ES_CALL_END_REASON_CANCELLED, NULL);
          break;

        case ES_MESSAGE_ANSWERED_ELSEWHERE:
          set_string (&self->elsewhere_device_name, body_string (frame, "device_name"));
          es_call_end (self, ES_CALL_END_REASON_ANSWERED_ELSEWHERE, NULL);
          break;

        case ES_MESSAGE_DECLINED_ELSEWHERE:
          es_call_end (self, ES_CALL_END_REASON_DECLINED_ELSEWHERE, NULL);
          break;

        case ES_MESSAGE_MISSED:
          es_call_end (self, ES_CALL_END_REASON_MISSED, NULL);
          break;

        case ES_MESSAGE_HANGUP:
          es_call_end (self, self->accepted ? ES_CALL_END_REASON_REMOTE_HANGUP
                                            : ES_CALL_END_REASON_CANCELLED, NULL);
          break;

        default:
          g_debug ("Call %s: ignoring %s", self->id, es_message_type_to_string (frame->type));
          break;
        }
    }

  g_object_unref (self);
}

/**
 * es_call_handle_error:
 *
 * Returns: %TRUE when @frame (an `error`) was about this call: its `call_id`
 *   names it, or its `ref_seq` is a frame this call sent.
 */
gboolean
es_call_handle_error (EsCall        *self,
                      const EsFrame *frame)
{
  gint64 ref_seq = json_object_get_int_member_with_default (frame->body, "ref_seq", 0);
  const char *code = body_string (frame, "code");
  const char *message = body_string (frame, "message");
  gpointer type_ptr = NULL;
  EsMessageType type;

  g_return_val_if_fail (ES_IS_CALL (self), FALSE);

  if (ref_seq > 0 && g_hash_table_lookup_extended (self->sent, &ref_seq, NULL, &type_ptr))
    type = GPOINTER_TO_INT (type_ptr);
  else if (frame->call_id != NULL && g_str_equal (frame->call_id, self->id))
    type = ES_MESSAGE_N_TYPES;
  else
    return FALSE;

  g_debug ("Call %s: server error %s on our %s: %s", self->id, code ? code : "?",
           type < ES_MESSAGE_N_TYPES ? es_message_type_to_string (type) : "frame",
           message ? message : "");

  /* Refusals of what is a matter of course while a call winds down (a late
   * candidate, a ringing after the call was taken) change nothing. What
   * starts or takes the call does. */
  if (type == ES_MESSAGE_INVITE || type == ES_MESSAGE_ACCEPT ||
      (type == ES_MESSAGE_N_TYPES && self->state == ES_CALL_STATE_DIALING))
    {
      if (g_strcmp0 (code, "call_ended") == 0 && type == ES_MESSAGE_ACCEPT)
        es_call_end (self, ES_CALL_END_REASON_CANCELLED, NULL);
      else
        es_call_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_FAILED,
                                         "The server refused the call (%s): %s",
                                         code ? code : "error",
                                         message ? message : "no reason given"));
    }

  return TRUE;
}

void
es_call_emit_folded (EsCall *self,
                     EsCall *into)
{
  g_return_if_fail (ES_IS_CALL (self));
  g_return_if_fail (ES_IS_CALL (into));

  g_signal_emit (self, signals[FOLDED], 0, into);
}

/* Construction */

static char *
dup_own_setting (EsSignalingClient *client,
                 const char        *key)
{
  return es_client_store_dup_setting (es_signaling_client_get_store (client), key);
}

static EsCall *
es_call_new (EsSignalingClient      *client,
             EsCallDirection         direction,
             const char             *call_id,
             const char             *media,
             const EsMediaSettings  *settings)
{
  EsCall *self = g_object_new (ES_TYPE_CALL, NULL);

  self->client = g_object_ref (client);
  self->direction = direction;
  self->id = g_strdup (call_id);
  self->media = g_strdup (g_strcmp0 (media, "audio") == 0 ? "audio" : "video");
  self->settings = es_media_settings_copy (settings);
  if (g_str_equal (self->media, "audio"))
    self->settings->audio_only = TRUE;
  self->own_device_id = dup_own_setting (client, ES_SETTING_DEVICE_ID);
  self->own_device_name = dup_own_setting (client, ES_SETTING_DEVICE_NAME);
  if (self->own_device_name == NULL || *self->own_device_name == '\0')
    set_string (&self->own_device_name, self->own_device_id);

  return self;
}

EsCall *
es_call_new_outgoing (EsSignalingClient      *client,
                      const char             *call_id,
                      const char             *to_user,
                      const char             *media,
                      const EsMediaSettings  *settings)
{
  EsCall *self;

  g_return_val_if_fail (ES_IS_SIGNALING_CLIENT (client), NULL);
  g_return_val_if_fail (call_id != NULL, NULL);
  g_return_val_if_fail (to_user != NULL, NULL);
  g_return_val_if_fail (settings != NULL, NULL);

  self = es_call_new (client, ES_CALL_DIRECTION_OUTGOING, call_id, media, settings);
  self->peer_user = g_strdup (to_user);
  self->state = ES_CALL_STATE_DIALING;

  return self;
}

EsCall *
es_call_new_incoming (EsSignalingClient      *client,
                      const EsFrame          *incoming,
                      const EsMediaSettings  *settings)
{
  EsCall *self;
  const char *name;

  g_return_val_if_fail (ES_IS_SIGNALING_CLIENT (client), NULL);
  g_return_val_if_fail (incoming != NULL && incoming->call_id != NULL, NULL);
  g_return_val_if_fail (settings != NULL, NULL);

  self = es_call_new (client, ES_CALL_DIRECTION_INCOMING, incoming->call_id,
                      body_string (incoming, "media"), settings);
  self->state = ES_CALL_STATE_RINGING;
  self->peer_user = g_strdup (body_string (incoming, "from_user"));
  self->peer_device_id = g_strdup (body_string (incoming, "from_device"));
  name = body_string (incoming, "from_device_name");
  self->peer_device_name = g_strdup (name && *name ? name : self->peer_device_id);

  return self;
}

/**
 * es_call_set_identity:
 * @identity: this device's identity key
 * @trust_store: (nullable): the peer keys users verified
 *
 * Every branch made afterwards verifies its connection (DESIGN.md §4).
 */
void
es_call_set_identity (EsCall       *self,
                      EsIdentity   *identity,
                      EsTrustStore *trust_store)
{
  g_return_if_fail (ES_IS_CALL (self));
  g_return_if_fail (identity == NULL || ES_IS_IDENTITY (identity));
  g_return_if_fail (trust_store == NULL || ES_IS_TRUST_STORE (trust_store));

  g_set_object (&self->identity, identity);
  g_set_object (&self->trust_store, trust_store);
}

/**
 * es_call_start:
 *
 * Outgoing: writes the `invite`. Incoming: answers `ringing` and builds the
 * answerer branch, which waits for the caller's offer.
 */
gboolean
es_call_start (EsCall  *self,
               GError **error)
{
  g_return_val_if_fail (ES_IS_CALL (self), FALSE);

  if (self->started)
    return TRUE;
  self->started = TRUE;

  if (self->direction == ES_CALL_DIRECTION_OUTGOING)
    {
      g_autoptr(JsonObject) body = json_object_new ();

      json_object_set_string_member (body, "to_user", self->peer_user);
      json_object_set_string_member (body, "media", self->media);
      if (!es_call_send (self, ES_MESSAGE_INVITE, NULL, body))
        {
          GError *local = g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_FAILED,
                                       "Cannot write the invite to %s", self->peer_user);

          if (error != NULL)
            *error = g_error_copy (local);
          es_call_end (self, ES_CALL_END_REASON_FAILED, local);
          return FALSE;
        }
      self->guard_id = g_timeout_add (RING_GUARD_MS, ring_guard_cb, self);
    }
  else
    {
      g_autoptr(JsonObject) body = json_object_new ();
      EsCallBranch *branch;

      if (self->identity == NULL || self->peer_user == NULL ||
          !es_protocol_is_valid_id (self->peer_user))
        {
          GError *local = g_error_new_literal (ES_CALL_ERROR, ES_CALL_ERROR_VERIFICATION,
                                               self->identity == NULL
                                       ? "Calls cannot be verified without this device's "
                                         "identity key"
                                       : "Incoming call without a valid caller");

          if (error != NULL)
            *error = g_error_copy (local);
          es_call_end (self, ES_CALL_END_REASON_FAILED, local);
          return FALSE;
        }

      if (self->peer_device_id == NULL || self->own_device_id == NULL)
        {
          GError *local = g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_INVALID_STATE,
                                       "Incoming call without a caller device, or a profile "
                                       "without a device");

          if (error != NULL)
            *error = g_error_copy (local);
          es_call_end (self, ES_CALL_END_REASON_FAILED, local);
          return FALSE;
        }

      json_object_set_string_member (body, "device_id", self->own_device_id);
      json_object_set_string_member (body, "device_name", self->own_device_name);
      es_call_send (self, ES_MESSAGE_RINGING, NULL, body);

      /* Built now so that the pipeline is warm when the offer arrives. */
      branch = es_call_add_branch (self, ES_CALL_BRANCH_ROLE_ANSWERER, self->peer_device_id);
      self->active_branch = branch;
      es_call_start_branch (self, branch);
      self->guard_id = g_timeout_add (RING_GUARD_MS, ring_guard_cb, self);

      {
        g_autoptr(GPtrArray) early = g_steal_pointer (&self->early_frames);

        self->early_frames = g_ptr_array_new_with_free_func ((GDestroyNotify) es_frame_free);
        for (guint i = 0; i < early->len && self->state != ES_CALL_STATE_ENDED; i++)
          es_call_handle_frame (self, g_ptr_array_index (early, i));
      }
    }

  return TRUE;
}

/* Public API */

const char *
es_call_state_to_string (EsCallState state)
{
  GEnumClass *klass = g_type_class_ref (ES_TYPE_CALL_STATE);
  GEnumValue *value = g_enum_get_value (klass, state);

  g_type_class_unref (klass);
  return value ? value->value_nick : "unknown";
}

const char *
es_call_end_reason_to_string (EsCallEndReason reason)
{
  GEnumClass *klass = g_type_class_ref (ES_TYPE_CALL_END_REASON);
  GEnumValue *value = g_enum_get_value (klass, reason);

  g_type_class_unref (klass);
  return value ? value->value_nick : "unknown";
}

/**
 * es_call_accept:
 *
 * Picks up a ringing incoming call: opens our gates, says `accept` on the
 * branch's control channel (now, or as soon as it is open) and through the
 * server.
 */
gboolean
es_call_accept (EsCall  *self,
                GError **error)
{
  g_return_val_if_fail (ES_IS_CALL (self), FALSE);

  if (self->direction != ES_CALL_DIRECTION_INCOMING || self->state != ES_CALL_STATE_RINGING)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_STATE,
                   "Only a ringing incoming call can be accepted (this one is %s %s)",
                   self->direction == ES_CALL_DIRECTION_INCOMING ? "incoming" : "outgoing",
                   es_call_state_to_string (self->state));
      return FALSE;
    }

  g_debug ("Call %s: accepting", self->id);
  self->accepted = TRUE;
  self->pickup_us = g_get_monotonic_time ();

  if (self->active_branch != NULL && branch_is_live (self->active_branch))
    {
      es_call_branch_open_gates (self->active_branch);
      if (es_call_branch_get_state (self->active_branch) == ES_CALL_BRANCH_STATE_CONNECTED)
        {
          self->control_accept_sent = TRUE;
          es_call_send_control (self, self->active_branch, "accept");
        }
    }

  es_call_send (self, ES_MESSAGE_ACCEPT, NULL, NULL);

  if (self->active_branch == NULL || !branch_is_live (self->active_branch))
    {
      const GError *branch_error = self->active_branch
                                 ? es_call_branch_get_error (self->active_branch) : NULL;

      es_call_fail (self, branch_error ? g_error_copy (branch_error)
                                       : g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_FAILED,
                                                      "No connection to the caller"));
      return TRUE;
    }

  /* A transport failure while it rang no longer waits for the server. */
  if (self->grace_id != 0)
    {
      g_clear_handle_id (&self->grace_id, g_source_remove);
      es_call_fail (self, g_steal_pointer (&self->branch_error));
      return TRUE;
    }

  es_call_start_connect_guard (self);
  es_call_update_active (self);

  return TRUE;
}

gboolean
es_call_decline (EsCall  *self,
                 GError **error)
{
  g_return_val_if_fail (ES_IS_CALL (self), FALSE);

  if (self->direction != ES_CALL_DIRECTION_INCOMING || self->state != ES_CALL_STATE_RINGING)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_STATE,
                   "Only a ringing incoming call can be declined");
      return FALSE;
    }

  es_call_send_control (self, self->active_branch, "decline");
  es_call_send (self, ES_MESSAGE_DECLINE, NULL, NULL);
  es_call_end_full (self, ES_CALL_END_REASON_DECLINED, NULL, TRUE);

  return TRUE;
}

/**
 * es_call_cancel:
 *
 * The caller gives up before pickup. Works at once, even before the server
 * has acknowledged the invite: the outbox keeps the order. After pickup it is
 * a hangup.
 */
void
es_call_cancel (EsCall *self)
{
  g_return_if_fail (ES_IS_CALL (self));

  if (self->state == ES_CALL_STATE_ENDED)
    return;

  if (self->direction == ES_CALL_DIRECTION_OUTGOING && !self->accepted)
    {
      es_call_send (self, ES_MESSAGE_CANCEL, NULL, NULL);
      es_call_end (self, ES_CALL_END_REASON_CANCELLED, NULL);
    }
  else
    es_call_hangup (self);
}

/**
 * es_call_hangup:
 *
 * Ends the call the way that fits its state: hangup when picked up, cancel
 * when we call and nobody picked up yet, decline when it rings here.
 */
void
es_call_hangup (EsCall *self)
{
  g_autoptr(JsonObject) body = NULL;

  g_return_if_fail (ES_IS_CALL (self));

  if (self->state == ES_CALL_STATE_ENDED)
    return;

  if (!self->accepted)
    {
      if (self->direction == ES_CALL_DIRECTION_OUTGOING)
        es_call_cancel (self);
      else
        es_call_decline (self, NULL);
      return;
    }

  body = json_object_new ();
  json_object_set_string_member (body, "reason", "hangup");
  es_call_send_control (self, self->active_branch, "hangup");
  es_call_send (self, ES_MESSAGE_HANGUP, NULL, body);
  es_call_end_full (self, ES_CALL_END_REASON_HANGUP, NULL, TRUE);
}

const char *
es_call_get_id (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->id;
}

EsCallDirection
es_call_get_direction (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), ES_CALL_DIRECTION_OUTGOING);
  return self->direction;
}

EsCallState
es_call_get_state (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), ES_CALL_STATE_ENDED);
  return self->state;
}

EsCallEndReason
es_call_get_end_reason (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), ES_CALL_END_REASON_NONE);
  return self->end_reason;
}

const GError *
es_call_get_error (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->error;
}

/* "audio" or "video", as invited. */
const char *
es_call_get_media (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->media;
}

gboolean
es_call_get_audio_only (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), FALSE);
  return self->settings->audio_only;
}

const char *
es_call_get_peer_user (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->peer_user;
}

/* Incoming: the caller's device. Outgoing: the device that picked up, or
 * %NULL before. */
const char *
es_call_get_peer_device_id (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->peer_device_id;
}

const char *
es_call_get_peer_device_name (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->peer_device_name;
}

/* Which other device of ours picked up (answered_elsewhere), or %NULL. */
const char *
es_call_get_elsewhere_device_name (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->elsewhere_device_name;
}

/* Outgoing call folded by glare: the id of the incoming call that replaces it. */
const char *
es_call_get_folded_into (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->folded_into;
}

const char *
es_call_get_video_codec (EsCall *self)
{
  EsCallBranch *branch;

  g_return_val_if_fail (ES_IS_CALL (self), NULL);

  branch = es_call_get_primary_branch (self);
  if (branch == NULL && self->branches->len > 0)
    branch = g_ptr_array_index (self->branches, self->branches->len - 1);

  return branch ? es_call_branch_get_video_codec (branch) : NULL;
}

/* "direct", "relayed", or %NULL before the first stats. */
const char *
es_call_get_path (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);

  if (self->last_stats == NULL || self->last_stats->local_candidate_type == NULL)
    return NULL;
  return self->last_stats->relayed ? "relayed" : "direct";
}

/* Monotonic time of pickup (ours when incoming, the first accept we saw when
 * outgoing), 0 before. */
gint64
es_call_get_pickup_time (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), 0);
  return self->pickup_us;
}

/* Time in the active state, up to the end. */
gint64
es_call_get_duration_ms (EsCall *self)
{
  gint64 end;

  g_return_val_if_fail (ES_IS_CALL (self), 0);

  if (self->active_us == 0)
    return 0;
  end = self->ended_us != 0 ? self->ended_us : g_get_monotonic_time ();
  return (end - self->active_us) / 1000;
}

const EsCallStats *
es_call_get_last_stats (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->last_stats;
}

/* The branch of the device that picked up (incoming: the only one). */
EsCallBranch *
es_call_get_active_branch (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->accepted || self->direction == ES_CALL_DIRECTION_INCOMING ? self->active_branch
                                                                         : NULL;
}

guint
es_call_get_n_branches (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), 0);
  return self->branches->len;
}

guint64
es_call_get_audio_buffers_decoded (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), 0);
  return sum_counter (self, es_call_branch_get_audio_buffers_decoded);
}

guint64
es_call_get_video_frames_decoded (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), 0);
  return sum_counter (self, es_call_branch_get_video_frames_decoded);
}

guint64
es_call_get_audio_packets_sent (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), 0);
  return sum_counter (self, es_call_branch_get_audio_packets_sent);
}

guint64
es_call_get_video_packets_sent (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), 0);
  return sum_counter (self, es_call_branch_get_video_packets_sent);
}

EsVerificationState
es_call_get_verification_state (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), ES_VERIFICATION_STATE_WAITING);
  return self->verification_state;
}

/* Returns: (nullable) (array fixed-size=5): the emoji indices, or %NULL. */
const guint8 *
es_call_get_sas (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->sas ? g_bytes_get_data (self->sas, NULL) : NULL;
}

const char *
es_call_get_peer_key (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->peer_key;
}

const char *
es_call_get_verification_reason (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), NULL);
  return self->verification_reason;
}

/**
 * es_call_confirm_sas:
 *
 * The users read the same emoji: the peer device's key is stored as verified,
 * and later calls to it show verified at once.
 */
gboolean
es_call_confirm_sas (EsCall  *self,
                     GError **error)
{
  EsVerification *verification;

  g_return_val_if_fail (ES_IS_CALL (self), FALSE);

  verification = es_call_get_verification (self);
  if (verification == NULL || self->state == ES_CALL_STATE_ENDED)
    {
      g_set_error_literal (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_STATE,
                           "There are no emoji to confirm");
      return FALSE;
    }

  return es_verification_user_confirms_match (verification, error);
}

/**
 * es_call_deny_sas:
 *
 * The users read different emoji: someone is in the middle. Ends the call as
 * failed, with the reason.
 */
gboolean
es_call_deny_sas (EsCall  *self,
                  GError **error)
{
  EsVerification *verification;
  const char *reason;

  g_return_val_if_fail (ES_IS_CALL (self), FALSE);

  verification = es_call_get_verification (self);
  if (verification == NULL || self->state == ES_CALL_STATE_ENDED)
    {
      g_set_error_literal (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_STATE,
                           "There are no emoji to deny");
      return FALSE;
    }

  if (!es_verification_user_denies_match (verification, error))
    return FALSE;

  reason = es_verification_get_failure_reason (verification);
  es_call_fail (self, g_error_new_literal (ES_CALL_ERROR, ES_CALL_ERROR_VERIFICATION,
                                           reason ? reason : "The emoji did not match"));
  return TRUE;
}

/* GObject */

static void
es_call_dispose (GObject *object)
{
  EsCall *self = ES_CALL (object);

  g_clear_handle_id (&self->grace_id, g_source_remove);
  g_clear_handle_id (&self->guard_id, g_source_remove);

  if (self->branches != NULL)
    {
      for (guint i = 0; i < self->branches->len; i++)
        {
          EsCallBranch *branch = g_ptr_array_index (self->branches, i);
          EsVerification *verification = es_call_branch_get_verification (branch);

          if (verification != NULL)
            g_signal_handlers_disconnect_by_data (verification, self);
          g_signal_handlers_disconnect_by_data (branch, self);
          es_call_branch_close (branch);
        }
      g_ptr_array_set_size (self->branches, 0);
    }
  self->active_branch = NULL;

  g_clear_object (&self->client);
  g_clear_object (&self->identity);
  g_clear_object (&self->trust_store);

  G_OBJECT_CLASS (es_call_parent_class)->dispose (object);
}

static void
es_call_finalize (GObject *object)
{
  EsCall *self = ES_CALL (object);

  g_clear_pointer (&self->settings, es_media_settings_free);
  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->media, g_free);
  g_clear_pointer (&self->peer_user, g_free);
  g_clear_pointer (&self->peer_device_id, g_free);
  g_clear_pointer (&self->peer_device_name, g_free);
  g_clear_pointer (&self->elsewhere_device_name, g_free);
  g_clear_pointer (&self->folded_into, g_free);
  g_clear_pointer (&self->own_device_id, g_free);
  g_clear_pointer (&self->own_device_name, g_free);
  g_clear_pointer (&self->branches, g_ptr_array_unref);
  g_clear_pointer (&self->device_names, g_hash_table_unref);
  g_clear_pointer (&self->sent, g_hash_table_unref);
  g_clear_pointer (&self->early_frames, g_ptr_array_unref);
  g_clear_pointer (&self->last_stats, es_call_stats_free);
  g_clear_pointer (&self->sas, g_bytes_unref);
  g_clear_pointer (&self->peer_key, g_free);
  g_clear_pointer (&self->verification_reason, g_free);
  g_clear_error (&self->error);
  g_clear_error (&self->branch_error);

  G_OBJECT_CLASS (es_call_parent_class)->finalize (object);
}

static void
es_call_get_property (GObject    *object,
                      guint       prop_id,
                      GValue     *value,
                      GParamSpec *pspec)
{
  EsCall *self = ES_CALL (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;

    case PROP_DIRECTION:
      g_value_set_enum (value, self->direction);
      break;

    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;

    case PROP_END_REASON:
      g_value_set_enum (value, self->end_reason);
      break;

    case PROP_MEDIA:
      g_value_set_string (value, self->media);
      break;

    case PROP_PEER_USER:
      g_value_set_string (value, self->peer_user);
      break;

    case PROP_PEER_DEVICE_ID:
      g_value_set_string (value, self->peer_device_id);
      break;

    case PROP_PEER_DEVICE_NAME:
      g_value_set_string (value, self->peer_device_name);
      break;

    case PROP_VIDEO_CODEC:
      g_value_set_string (value, es_call_get_video_codec (self));
      break;

    case PROP_PATH:
      g_value_set_string (value, es_call_get_path (self));
      break;

    case PROP_VERIFICATION_STATE:
      g_value_set_enum (value, self->verification_state);
      break;

    case PROP_SAS:
      g_value_set_boxed (value, self->sas);
      break;

    case PROP_PEER_KEY:
      g_value_set_string (value, self->peer_key);
      break;

    case PROP_VERIFICATION_REASON:
      g_value_set_string (value, self->verification_reason);
      break;

    case PROP_MUTED:
      g_value_set_boolean (value, self->muted);
      break;

    case PROP_CAMERA_ENABLED:
      g_value_set_boolean (value, !self->camera_off);
      break;

    case PROP_PEER_MUTED:
      g_value_set_boolean (value, self->peer_muted);
      break;

    case PROP_PEER_CAMERA_ENABLED:
      g_value_set_boolean (value, !self->peer_camera_off);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_call_class_init (EsCallClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = es_call_dispose;
  object_class->finalize = es_call_finalize;
  object_class->get_property = es_call_get_property;

  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  properties[PROP_DIRECTION] =
    g_param_spec_enum ("direction", NULL, NULL,
                       ES_TYPE_CALL_DIRECTION, ES_CALL_DIRECTION_OUTGOING,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       ES_TYPE_CALL_STATE, ES_CALL_STATE_DIALING,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_END_REASON] =
    g_param_spec_enum ("end-reason", NULL, NULL,
                       ES_TYPE_CALL_END_REASON, ES_CALL_END_REASON_NONE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_MEDIA] =
    g_param_spec_string ("media", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  properties[PROP_PEER_USER] =
    g_param_spec_string ("peer-user", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  properties[PROP_PEER_DEVICE_ID] =
    g_param_spec_string ("peer-device-id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_PEER_DEVICE_NAME] =
    g_param_spec_string ("peer-device-name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_VIDEO_CODEC] =
    g_param_spec_string ("video-codec", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * EsCall:verification-state:
   *
   * The emoji check of the branch that picked up (before pickup: of the only
   * ringing device, else waiting). See DESIGN.md §4.
   */
  properties[PROP_VERIFICATION_STATE] =
    g_param_spec_enum ("verification-state", NULL, NULL,
                       ES_TYPE_VERIFICATION_STATE, ES_VERIFICATION_STATE_WAITING,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * EsCall:sas:
   *
   * The five emoji indices (bytes 0–63, es_sas_emoji_get()), or %NULL until
   * both reveals checked out. Notified before #EsCall:verification-state.
   */
  properties[PROP_SAS] =
    g_param_spec_boxed ("sas", NULL, NULL, G_TYPE_BYTES,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * EsCall:peer-key:
   *
   * The peer device's identity key fingerprint, once its signature verified.
   */
  properties[PROP_PEER_KEY] =
    g_param_spec_string ("peer-key", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * EsCall:verification-reason:
   *
   * Why the verification failed or the users said the emoji differ, for them to read.
   */
  properties[PROP_VERIFICATION_REASON] =
    g_param_spec_string ("verification-reason", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_MUTED] =
    g_param_spec_boolean ("muted", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CAMERA_ENABLED] =
    g_param_spec_boolean ("camera-enabled", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PEER_MUTED] =
    g_param_spec_boolean ("peer-muted", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PEER_CAMERA_ENABLED] =
    g_param_spec_boolean ("peer-camera-enabled", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * EsCall::media-started:
   * @kind: "audio" or "video"
   * @ms_since_pickup: from pickup to the first decoded buffer of @kind
   */
  signals[MEDIA_STARTED] =
    g_signal_new ("media-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_INT64);

  /**
   * EsCall::stats:
   * @stats: (transfer none): the branch that picked up (before pickup: the
   *   first connected branch), with the counters summed over all branches
   */
  signals[STATS] =
    g_signal_new ("stats", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, ES_TYPE_CALL_STATS);

  /**
   * EsCall::ringing-device:
   * @device_id: a callee device that rings
   * @device_name: its name
   */
  signals[RINGING_DEVICE] =
    g_signal_new ("ringing-device", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  /**
   * EsCall::folded:
   * @into: the incoming call that replaces this outgoing one; it has been
   *   accepted already
   *
   * Glare: we called the peer while the peer called us, and the server kept
   * the peer's call.
   */
  signals[FOLDED] =
    g_signal_new ("folded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, ES_TYPE_CALL);
}

static void
es_call_init (EsCall *self)
{
  self->branches = g_ptr_array_new_with_free_func (g_object_unref);
  self->device_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->sent = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->early_frames = g_ptr_array_new_with_free_func ((GDestroyNotify) es_frame_free);
}

/**
 * es_call_set_muted:
 * @muted: %TRUE to stop sending the microphone
 *
 * Works in any state: a call muted before pickup starts muted.
 */
void
es_call_set_muted (EsCall   *self,
                   gboolean  muted)
{
  g_return_if_fail (ES_IS_CALL (self));

  muted = !!muted;
  if (self->muted == (guint) muted)
    return;

  self->muted = muted;
  for (guint i = 0; i < self->branches->len; i++)
    es_call_branch_set_sending (g_ptr_array_index (self->branches, i), !self->muted, !self->camera_off);
  es_call_send_media_state (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MUTED]);
}

gboolean
es_call_get_muted (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), FALSE);

  return self->muted;
}

/**
 * es_call_set_camera_enabled:
 * @enabled: %FALSE to stop sending the camera
 */
void
es_call_set_camera_enabled (EsCall   *self,
                            gboolean  enabled)
{
  g_return_if_fail (ES_IS_CALL (self));

  if (self->camera_off == (guint) !enabled)
    return;

  self->camera_off = !enabled;
  for (guint i = 0; i < self->branches->len; i++)
    es_call_branch_set_sending (g_ptr_array_index (self->branches, i), !self->muted, !self->camera_off);
  es_call_send_media_state (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAMERA_ENABLED]);
}

gboolean
es_call_get_camera_enabled (EsCall *self)
{
  g_return_val_if_fail (ES_IS_CALL (self), TRUE);

  return !self->camera_off;
}
