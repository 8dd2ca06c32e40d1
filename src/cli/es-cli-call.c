/* es-cli-call.c: `call` and `answer`, the headless calling peer
 *
 * Every event is one JSON object per line on stdout with an "event" member.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#include <gst/gst.h>

#include "es-call-manager.h"
#include "es-cli.h"
#include "es-sas-emoji.h"
#include "es-signaling-client.h"

/* How long a folded call waits for the call that replaces it. */
#define FOLD_TIMEOUT_MS 30000

typedef struct _Peer Peer;

typedef struct
{
  Peer    *peer;
  EsCall  *call;
  guint    action_id;    /* accept / decline after --after, hang up after --duration */
  guint    accepted_printed : 1;
  guint    connected_printed : 1;
  guint    ended_printed : 1;
  guint    sas_answered : 1;
  EsVerificationState sas_printed_state;
  guint8   sas_printed[ES_SAS_N_INDICES];
  gboolean sas_printed_any;
  /* For video_out_kbps_avg: the active phase's outbound video bytes. */
  gint64   active_first_us;
  guint64  active_first_bytes;
  gint64   active_last_us;
  guint64  active_last_bytes;
} Tracked;

struct _Peer
{
  GMainLoop         *loop;
  EsClientStore     *store;
  EsSignalingClient *client;
  EsCallManager     *manager;
  EsMediaSettings   *settings;
  GPtrArray         *tracked;   /* Tracked */

  /* call */
  Tracked           *current;
  guint              fold_timeout_id;
  guint              cancel_id;

  /* answer */
  gboolean           answering;
  gboolean           auto_accept;
  gboolean           decline;
  double             after_s;
  int                count;
  int                ended;
  gboolean           any_failed;

  /* --confirm-sas / --deny-sas */
  gboolean           confirm_sas;
  gboolean           deny_sas;

  /* --mute / --camera-off */
  gboolean           mute;
  gboolean           camera_off;

  double             duration_s; /* < 0: until the other side hangs up */
  int                ret;
  guint              done : 1;
};

static void
finish (Peer *peer,
        int   ret)
{
  if (peer->done)
    return;

  peer->done = TRUE;
  peer->ret = ret;
  g_main_loop_quit (peer->loop);
}

/* JSON */

static JsonBuilder *
begin_event (const char *event,
             EsCall     *call)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, event);
  if (call != NULL)
    {
      json_builder_set_member_name (builder, "call_id");
      json_builder_add_string_value (builder, es_call_get_id (call));
    }

  return builder;
}

static void
add_string (JsonBuilder *builder,
            const char  *name,
            const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_int (JsonBuilder *builder,
         const char  *name,
         gint64       value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static void
add_double (JsonBuilder *builder,
            const char  *name,
            double       value)
{
  json_builder_set_member_name (builder, name);
  /* Four decimals are plenty (loss is a fraction) and keep the lines short. */
  json_builder_add_double_value (builder,
                                 (double) (gint64) (value * 10000 + (value < 0 ? -0.5 : 0.5)) / 10000);
}

/* json-glib writes doubles with 17 significant digits (4.1799999999999997);
 * the values here are rounded already, so print them short. */
static gboolean
shorten_number_cb (const GMatchInfo *info,
                   GString          *result,
                   gpointer          user_data)
{
  g_autofree char *number = g_match_info_fetch (info, 0);
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  gsize len;

  g_ascii_formatd (buf, sizeof buf, "%.4f", g_ascii_strtod (number, NULL));
  len = strlen (buf);
  while (len > 2 && buf[len - 1] == '0' && buf[len - 2] != '.')
    buf[--len] = '\0';
  g_string_append (result, buf);

  return FALSE;
}

static void
end_event (JsonBuilder *builder)
{
  static GRegex *long_number;
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autofree char *shortened = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  g_object_unref (builder);

  if (long_number == NULL)
    long_number = g_regex_new ("(?<=[:,\\[])-?[0-9]+\\.[0-9]{5,}(?=[,}\\]])", G_REGEX_OPTIMIZE,
                               0, NULL);

  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  shortened = g_regex_replace_eval (long_number, text, -1, 0, 0, shorten_number_cb, NULL, NULL);
  fputs (shortened ? shortened : text, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

static void
print_simple (const char *event,
              EsCall     *call)
{
  end_event (begin_event (event, call));
}

/* Call events */

static void tracked_hangup_later (Tracked *t);

static void
print_accepted (Tracked *t)
{
  JsonBuilder *b;

  if (t->accepted_printed)
    return;
  t->accepted_printed = TRUE;

  b = begin_event ("accepted", t->call);
  if (es_call_get_direction (t->call) == ES_CALL_DIRECTION_OUTGOING)
    {
      add_string (b, "device_id", es_call_get_peer_device_id (t->call));
      add_string (b, "device_name", es_call_get_peer_device_name (t->call));
    }
  else
    {
      g_autofree char *device_id = es_client_store_dup_setting (t->peer->store,
                                                                ES_SETTING_DEVICE_ID);
      g_autofree char *device_name = es_client_store_dup_setting (t->peer->store,
                                                                  ES_SETTING_DEVICE_NAME);

      add_string (b, "device_id", device_id);
      add_string (b, "device_name", device_name ? device_name : device_id);
    }
  end_event (b);
}

static void
print_connected (Tracked *t)
{
  JsonBuilder *b;

  if (t->connected_printed)
    return;
  t->connected_printed = TRUE;

  b = begin_event ("connected", t->call);
  add_string (b, "device_id", es_call_get_peer_device_id (t->call));
  add_string (b, "device_name", es_call_get_peer_device_name (t->call));
  add_string (b, "codec", es_call_get_audio_only (t->call) ? "OPUS"
                                                            : es_call_get_video_codec (t->call));
  end_event (b);
}

static void
print_ended (Tracked *t)
{
  EsCall *call = t->call;
  EsCallEndReason reason = es_call_get_end_reason (call);
  const GError *error = es_call_get_error (call);
  JsonBuilder *b;
  double avg = 0;

  if (t->ended_printed)
    return;
  t->ended_printed = TRUE;

  if (reason == ES_CALL_END_REASON_FAILED && error != NULL)
    {
      b = begin_event ("error", call);
      add_string (b, "code", g_error_matches (error, ES_CALL_ERROR, ES_CALL_ERROR_NO_COMMON_CODEC)
                             ? "no_common_codec" : "failed");
      add_string (b, "message", error->message);
      end_event (b);
    }

  switch (reason)
    {
    case ES_CALL_END_REASON_CANCELLED:
      if (es_call_get_direction (call) == ES_CALL_DIRECTION_INCOMING)
        print_simple ("cancelled", call);
      break;

    case ES_CALL_END_REASON_ANSWERED_ELSEWHERE:
      b = begin_event ("answered_elsewhere", call);
      add_string (b, "device_name", es_call_get_elsewhere_device_name (call));
      end_event (b);
      break;

    case ES_CALL_END_REASON_DECLINED_ELSEWHERE:
      print_simple ("declined_elsewhere", call);
      break;

    case ES_CALL_END_REASON_MISSED:
      print_simple ("missed", call);
      break;

    default:
      break;
    }

  if (t->active_last_us > t->active_first_us && t->active_last_bytes >= t->active_first_bytes)
    avg = (double) (t->active_last_bytes - t->active_first_bytes) * 8.0 * 1000.0 /
          (double) (t->active_last_us - t->active_first_us);

  b = begin_event ("ended", call);
  add_string (b, "reason", es_call_end_reason_to_string (reason));
  if (error != NULL)
    add_string (b, "message", error->message);
  add_int (b, "duration_ms", es_call_get_duration_ms (call));
  add_int (b, "audio_buffers_decoded", (gint64) es_call_get_audio_buffers_decoded (call));
  add_int (b, "video_frames_decoded", (gint64) es_call_get_video_frames_decoded (call));
  add_int (b, "audio_packets_sent", (gint64) es_call_get_audio_packets_sent (call));
  add_int (b, "video_packets_sent", (gint64) es_call_get_video_packets_sent (call));
  add_double (b, "video_out_kbps_avg", avg);
  end_event (b);
}

static void
call_stats_cb (EsCall            *call,
               const EsCallStats *stats,
               Tracked           *t)
{
  EsCallState state = es_call_get_state (call);
  gboolean active = state == ES_CALL_STATE_CONNECTING || state == ES_CALL_STATE_ACTIVE;
  JsonBuilder *b;

  if (state == ES_CALL_STATE_ACTIVE)
    {
      if (t->active_first_us == 0)
        {
          t->active_first_us = stats->timestamp_us;
          t->active_first_bytes = stats->video_bytes_sent;
        }
      t->active_last_us = stats->timestamp_us;
      t->active_last_bytes = stats->video_bytes_sent;
    }

  b = begin_event ("stats", call);
  add_string (b, "phase", active ? "active" : "ringing");
  add_double (b, "rtt_ms", stats->rtt_ms);
  add_double (b, "loss", stats->fraction_lost);
  add_double (b, "jitter_ms", stats->jitter_ms);
  add_double (b, "audio_out_kbps", MAX (0, stats->out_kbps - stats->out_video_kbps));
  add_double (b, "video_out_kbps", stats->out_video_kbps);
  add_double (b, "video_in_kbps", stats->in_video_kbps);
  add_double (b, "in_kbps", stats->in_kbps);
  add_string (b, "codec", stats->video_codec ? stats->video_codec : stats->audio_codec);
  add_string (b, "path", stats->local_candidate_type == NULL ? NULL
                         : stats->relayed ? "relayed" : "direct");
  add_int (b, "audio_packets_sent", (gint64) stats->audio_packets_sent);
  add_int (b, "video_packets_sent", (gint64) stats->video_packets_sent);
  add_int (b, "audio_buffers_decoded", (gint64) stats->audio_buffers_decoded);
  add_int (b, "video_frames_decoded", (gint64) stats->video_frames_decoded);
  end_event (b);
}

static void
call_media_started_cb (EsCall     *call,
                       const char *kind,
                       gint64      ms,
                       Tracked    *t)
{
  JsonBuilder *b = begin_event ("media", call);

  add_string (b, "kind", kind);
  add_int (b, "ms_since_pickup", ms);
  end_event (b);
}

static void
call_ringing_device_cb (EsCall     *call,
                        const char *device_id,
                        const char *device_name,
                        Tracked    *t)
{
  JsonBuilder *b = begin_event ("ringing", call);

  add_string (b, "device_id", device_id);
  add_string (b, "device_name", device_name);
  end_event (b);
}

/* `sas`: the emoji to compare, again whenever the verification state changes. */
static void
print_sas (Tracked *t)
{
  EsVerificationState state = es_call_get_verification_state (t->call);
  const guint8 *sas = es_call_get_sas (t->call);
  g_autofree char *state_name = NULL;
  JsonBuilder *b;

  if (sas == NULL)
    return;
  if (t->sas_printed_any && t->sas_printed_state == state &&
      memcmp (t->sas_printed, sas, ES_SAS_N_INDICES) == 0)
    return;

  t->sas_printed_any = TRUE;
  t->sas_printed_state = state;
  memcpy (t->sas_printed, sas, ES_SAS_N_INDICES);

  b = begin_event ("sas", t->call);
  json_builder_set_member_name (b, "emoji");
  json_builder_begin_array (b);
  for (guint i = 0; i < ES_SAS_N_INDICES; i++)
    json_builder_add_string_value (b, es_sas_emoji_get_name (sas[i]));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "indices");
  json_builder_begin_array (b);
  for (guint i = 0; i < ES_SAS_N_INDICES; i++)
    json_builder_add_int_value (b, sas[i]);
  json_builder_end_array (b);
  /* The CLI's JSON names use underscores ("key_changed"), as PROTOCOL.md documents. */
  state_name = g_strdelimit (g_strdup (es_verification_state_to_string (state)), "-", '_');
  add_string (b, "state", state_name);
  add_string (b, "peer_key", es_call_get_peer_key (t->call));
  end_event (b);
}

static void
call_notify_verification_cb (EsCall     *call,
                             GParamSpec *pspec,
                             Tracked    *t)
{
  EsVerificationState state = es_call_get_verification_state (call);
  g_autoptr(GError) error = NULL;

  print_sas (t);

  if (t->sas_answered || es_call_get_state (call) == ES_CALL_STATE_ENDED ||
      (state != ES_VERIFICATION_STATE_COMPARING && state != ES_VERIFICATION_STATE_KEY_CHANGED))
    return;

  if (t->peer->deny_sas)
    {
      t->sas_answered = TRUE;
      if (!es_call_deny_sas (call, &error))
        g_debug ("Cannot deny the emoji: %s", error->message);
    }
  else if (t->peer->confirm_sas)
    {
      t->sas_answered = TRUE;
      if (!es_call_confirm_sas (call, &error))
        g_debug ("Cannot confirm the emoji: %s", error->message);
    }
}

static void call_ended (Tracked *t);

static void
call_notify_state_cb (EsCall     *call,
                      GParamSpec *pspec,
                      Tracked    *t)
{
  switch (es_call_get_state (call))
    {
    case ES_CALL_STATE_CONNECTING:
      print_accepted (t);
      break;

    case ES_CALL_STATE_ACTIVE:
      print_accepted (t);
      print_connected (t);
      tracked_hangup_later (t);
      break;

    case ES_CALL_STATE_ENDED:
      call_ended (t);
      break;

    default:
      break;
    }
}

static void
tracked_free (gpointer data)
{
  Tracked *t = data;

  g_clear_handle_id (&t->action_id, g_source_remove);
  g_signal_handlers_disconnect_by_data (t->call, t);
  g_clear_object (&t->call);
  g_free (t);
}

static void
call_notify_peer_media_cb (EsCall     *call,
                           GParamSpec *pspec,
                           Tracked    *t)
{
  JsonBuilder *b = begin_event ("peer_media", call);
  gboolean muted, camera;

  g_object_get (call, "peer-muted", &muted, "peer-camera-enabled", &camera, NULL);
  json_builder_set_member_name (b, "audio");
  json_builder_add_boolean_value (b, !muted);
  json_builder_set_member_name (b, "video");
  json_builder_add_boolean_value (b, camera);
  end_event (b);
}

static Tracked *
track (Peer   *peer,
       EsCall *call)
{
  Tracked *t = g_new0 (Tracked, 1);

  t->peer = peer;
  t->call = g_object_ref (call);
  g_ptr_array_add (peer->tracked, t);

  g_signal_connect (call, "notify::state", G_CALLBACK (call_notify_state_cb), t);
  g_signal_connect (call, "stats", G_CALLBACK (call_stats_cb), t);
  g_signal_connect (call, "media-started", G_CALLBACK (call_media_started_cb), t);
  g_signal_connect (call, "ringing-device", G_CALLBACK (call_ringing_device_cb), t);
  g_signal_connect (call, "notify::verification-state",
                    G_CALLBACK (call_notify_verification_cb), t);
  g_signal_connect (call, "notify::sas", G_CALLBACK (call_notify_verification_cb), t);
  g_signal_connect (call, "notify::peer-muted", G_CALLBACK (call_notify_peer_media_cb), t);
  g_signal_connect (call, "notify::peer-camera-enabled", G_CALLBACK (call_notify_peer_media_cb), t);

  es_call_set_muted (call, peer->mute);
  es_call_set_camera_enabled (call, !peer->camera_off);

  return t;
}

static gboolean
hangup_cb (gpointer user_data)
{
  Tracked *t = user_data;

  t->action_id = 0;
  es_call_hangup (t->call);

  return G_SOURCE_REMOVE;
}

static void
tracked_hangup_later (Tracked *t)
{
  if (t->peer->duration_s < 0 || t->action_id != 0)
    return;

  t->action_id = g_timeout_add ((guint) (t->peer->duration_s * 1000), hangup_cb, t);
}

static gboolean
fold_timeout_cb (gpointer user_data)
{
  Peer *peer = user_data;

  peer->fold_timeout_id = 0;
  es_cli_fail ("the call was folded into another one, which never arrived");
  finish (peer, 1);

  return G_SOURCE_REMOVE;
}

static void
call_ended (Tracked *t)
{
  Peer *peer = t->peer;
  EsCallEndReason reason = es_call_get_end_reason (t->call);

  g_clear_handle_id (&t->action_id, g_source_remove);

  if (!peer->answering)
    {
      if (t != peer->current)
        return;

      if (reason == ES_CALL_END_REASON_FOLDED)
        {
          /* The replacement arrives through ::folded. */
          if (peer->fold_timeout_id == 0)
            peer->fold_timeout_id = g_timeout_add (FOLD_TIMEOUT_MS, fold_timeout_cb, peer);
          return;
        }

      print_ended (t);
      finish (peer, reason == ES_CALL_END_REASON_FAILED ? 1 : 0);
      return;
    }

  print_ended (t);
  if (reason == ES_CALL_END_REASON_FAILED)
    peer->any_failed = TRUE;
  peer->ended++;
  if (peer->ended >= peer->count)
    finish (peer, peer->any_failed ? 1 : 0);
}

static void
call_folded_cb (EsCall  *call,
                EsCall  *into,
                Tracked *t)
{
  Peer *peer = t->peer;
  JsonBuilder *b;
  Tracked *nt;

  if (t != peer->current)
    return;

  g_clear_handle_id (&peer->fold_timeout_id, g_source_remove);

  b = begin_event ("folded", call);
  add_string (b, "into", es_call_get_id (into));
  add_string (b, "from_user", es_call_get_peer_user (into));
  add_string (b, "from_device", es_call_get_peer_device_id (into));
  add_string (b, "from_device_name", es_call_get_peer_device_name (into));
  end_event (b);

  nt = track (peer, into);
  peer->current = nt;
  call_notify_verification_cb (into, NULL, nt);

  /* The manager accepted it already; report what happened so far. */
  switch (es_call_get_state (into))
    {
    case ES_CALL_STATE_CONNECTING:
      print_accepted (nt);
      break;

    case ES_CALL_STATE_ACTIVE:
      print_accepted (nt);
      print_connected (nt);
      tracked_hangup_later (nt);
      break;

    case ES_CALL_STATE_ENDED:
      call_ended (nt);
      break;

    default:
      break;
    }
}

/* answer */

static gboolean
answer_action_cb (gpointer user_data)
{
  Tracked *t = user_data;
  g_autoptr(GError) error = NULL;

  t->action_id = 0;

  if (t->peer->decline)
    {
      if (!es_call_decline (t->call, &error))
        g_debug ("Cannot decline: %s", error->message);
      return G_SOURCE_REMOVE;
    }

  if (es_call_get_state (t->call) != ES_CALL_STATE_RINGING)
    return G_SOURCE_REMOVE;

  /* Printed first: the state changes inside es_call_accept(). */
  print_accepted (t);
  if (!es_call_accept (t->call, &error))
    g_debug ("Cannot accept: %s", error->message);

  return G_SOURCE_REMOVE;
}

static void
incoming_call_cb (EsCallManager *manager,
                  EsCall        *call,
                  Peer          *peer)
{
  JsonBuilder *b;
  Tracked *t;

  if (!peer->answering)
    return;

  b = begin_event ("incoming", call);
  add_string (b, "from_user", es_call_get_peer_user (call));
  add_string (b, "from_device", es_call_get_peer_device_id (call));
  add_string (b, "from_device_name", es_call_get_peer_device_name (call));
  add_string (b, "media", es_call_get_media (call));
  if (es_call_get_state (call) == ES_CALL_STATE_ENDED)
    {
      /* It ended before it could ring here (see EsCallManager::missed-call). */
      json_builder_set_member_name (b, "stale");
      json_builder_add_boolean_value (b, TRUE);
    }
  end_event (b);

  t = track (peer, call);

  if (es_call_get_state (call) == ES_CALL_STATE_ENDED)
    {
      call_ended (t);
      return;
    }

  if (peer->auto_accept || peer->decline)
    t->action_id = g_timeout_add ((guint) (peer->after_s * 1000), answer_action_cb, t);
}

/* Common */

static void
client_notify_state_cb (EsSignalingClient *client,
                        GParamSpec        *pspec,
                        Peer              *peer)
{
  const GError *error = es_signaling_client_get_error (client);

  if (es_signaling_client_get_state (client) == ES_SIGNALING_STATE_DISCONNECTED &&
      error != NULL)
    {
      es_cli_fail ("%s", error->message);
      finish (peer, 1);
    }
}

static gboolean
signal_cb (gpointer user_data)
{
  Peer *peer = user_data;

  /* A clean end on Ctrl-C: hang up what is up, then go. */
  for (guint i = 0; i < peer->tracked->len; i++)
    {
      Tracked *t = g_ptr_array_index (peer->tracked, i);

      es_call_hangup (t->call);
    }
  finish (peer, 130);

  return G_SOURCE_CONTINUE;
}

typedef struct
{
  gboolean   test_media;
  gboolean   audio_only;
  gboolean   relay_only;
  gboolean   json;
  char      *codecs;
  int        max_kbps;
  int        min_kbps;
  int        start_kbps;
  int        latency;
  char      *stun;
  char     **turn;
  double     duration;
  gboolean   confirm_sas;
  gboolean   deny_sas;
  gboolean   mute;
  gboolean   camera_off;
} MediaOptions;

static void
media_options_clear (MediaOptions *o)
{
  g_clear_pointer (&o->codecs, g_free);
  g_clear_pointer (&o->stun, g_free);
  g_clear_pointer (&o->turn, g_strfreev);
}

static GOptionGroup *
media_option_group (MediaOptions *o)
{
  const GOptionEntry entries[] = {
    { "test-media", 0, 0, G_OPTION_ARG_NONE, &o->test_media, "Test sources instead of devices", NULL },
    { "audio-only", 0, 0, G_OPTION_ARG_NONE, &o->audio_only, "Send and take no video", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o->json, "JSON lines on stdout (the default)", NULL },
    { "codecs", 0, 0, G_OPTION_ARG_STRING, &o->codecs, "Video codecs, preferred first (default VP8,H264)", "LIST" },
    { "max-video-kbps", 0, 0, G_OPTION_ARG_INT, &o->max_kbps, "Video bitrate cap", "N" },
    { "min-video-kbps", 0, 0, G_OPTION_ARG_INT, &o->min_kbps, "Lowest video bitrate", "N" },
    { "start-video-kbps", 0, 0, G_OPTION_ARG_INT, &o->start_kbps, "Video bitrate at the start", "N" },
    { "latency", 0, 0, G_OPTION_ARG_INT, &o->latency, "Jitterbuffer latency", "MS" },
    { "stun", 0, 0, G_OPTION_ARG_STRING, &o->stun, "STUN server, stun://host:port", "URI" },
    { "turn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->turn, "TURN server (repeatable), turn://user:pass@host:port", "URI" },
    { "relay-only", 0, 0, G_OPTION_ARG_NONE, &o->relay_only, "Only relayed ICE candidates", NULL },
    { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &o->duration, "Hang up S seconds after connecting", "S" },
    { "confirm-sas", 0, 0, G_OPTION_ARG_NONE, &o->confirm_sas, "Say the emoji match as soon as they show", NULL },
    { "mute", 0, 0, G_OPTION_ARG_NONE, &o->mute, "Start with the microphone muted", NULL },
    { "camera-off", 0, 0, G_OPTION_ARG_NONE, &o->camera_off, "Start with the camera off", NULL },
    { "deny-sas", 0, 0, G_OPTION_ARG_NONE, &o->deny_sas, "Say the emoji differ as soon as they show (ends the call)", NULL },
    { NULL }
  };
  GOptionGroup *group = g_option_group_new ("media", "Media options:", "Show media options",
                                            NULL, NULL);

  g_option_group_add_entries (group, entries);
  return group;
}

static EsMediaSettings *
media_options_to_settings (MediaOptions  *o,
                           GError       **error)
{
  g_autoptr(EsMediaSettings) settings = es_media_settings_new ();

  settings->test_media = o->test_media;
  settings->audio_only = o->audio_only;
  settings->relay_only = o->relay_only;

  if (o->codecs != NULL)
    {
      g_auto(GStrv) list = g_strsplit (o->codecs, ",", -1);

      for (guint i = 0; list[i] != NULL; i++)
        {
          char *upper = g_ascii_strup (g_strstrip (list[i]), -1);

          g_free (list[i]);
          list[i] = upper;
        }
      es_media_settings_set_video_codecs (settings, (const char * const *) list);
    }
  if (o->max_kbps > 0)
    settings->video_max_kbps = o->max_kbps;
  if (o->min_kbps > 0)
    settings->video_min_kbps = o->min_kbps;
  if (o->start_kbps > 0)
    settings->video_start_kbps = o->start_kbps;
  else if (o->max_kbps > 0 && settings->video_start_kbps > settings->video_max_kbps)
    settings->video_start_kbps = settings->video_max_kbps;
  if (o->min_kbps > 0 && settings->video_start_kbps < settings->video_min_kbps)
    settings->video_start_kbps = settings->video_min_kbps;
  if (o->latency > 0)
    settings->latency_ms = o->latency;
  if (o->stun != NULL)
    es_media_settings_set_stun_server (settings, o->stun);
  if (o->turn != NULL)
    es_media_settings_set_turn_servers (settings, (const char * const *) o->turn);

  if (o->max_kbps < 0 || o->min_kbps < 0 || o->start_kbps < 0 || o->latency < 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "bitrates and latency must not be negative");
      return NULL;
    }

  if (!es_media_settings_validate (settings, error))
    return NULL;

  return g_steal_pointer (&settings);
}

static int
run_peer (EsCliOptions    *options,
          Peer            *peer,
          const char      *call_user,
          int              cancel_after_ms)
{
  g_autoptr(EsClientStore) store = NULL;
  g_autoptr(EsSignalingClient) client = NULL;
  g_autoptr(EsCallManager) manager = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *device_id = NULL;
  guint sigint_source, sigterm_source;

  gst_init (NULL, NULL);
  /* stdout is for the JSON events only, also with G_MESSAGES_DEBUG set. */
  g_log_writer_default_set_use_stderr (TRUE);

  if (!(store = es_cli_open_store (options)))
    return 1;

  device_id = es_client_store_dup_setting (store, ES_SETTING_DEVICE_ID);
  if (device_id == NULL)
    return es_cli_fail ("profile %s is not registered or logged in", options->profile);

  loop = g_main_loop_new (NULL, FALSE);
  client = es_signaling_client_new (store);
  manager = es_call_manager_new_for_profile (client, options->profile);
  es_call_manager_set_incoming_settings (manager, peer->settings);

  peer->loop = loop;
  peer->store = store;
  peer->client = client;
  peer->manager = manager;
  peer->tracked = g_ptr_array_new_with_free_func (tracked_free);

  g_signal_connect (client, "notify::state", G_CALLBACK (client_notify_state_cb), peer);
  g_signal_connect (manager, "incoming-call", G_CALLBACK (incoming_call_cb), peer);
  g_signal_connect (manager, "missed-call", G_CALLBACK (incoming_call_cb), peer);

  sigint_source = g_unix_signal_add (SIGINT, signal_cb, peer);
  sigterm_source = g_unix_signal_add (SIGTERM, signal_cb, peer);

  es_signaling_client_start (client);

  if (call_user != NULL && !peer->done)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(EsCall) call = NULL;
      Tracked *t;

      call = es_call_manager_place_call (manager, call_user,
                                         peer->settings->audio_only ? "audio" : "video",
                                         peer->settings, &error);
      if (call == NULL)
        {
          JsonBuilder *b = begin_event ("error", NULL);

          add_string (b, "message", error->message);
          end_event (b);
          finish (peer, 1);
        }
      else
        {
          t = track (peer, call);
          peer->current = t;
          g_signal_connect (call, "folded", G_CALLBACK (call_folded_cb), t);
          print_simple ("dialing", call);

          if (cancel_after_ms == 0)
            es_call_cancel (call);
          else if (cancel_after_ms > 0)
            t->action_id = g_timeout_add (cancel_after_ms, hangup_cb, t);

          if (es_call_get_state (call) == ES_CALL_STATE_ENDED)
            call_ended (t);
        }
    }

  if (!peer->done)
    g_main_loop_run (loop);

  /* Let the last words (hangup, cancel) reach the server, and the branches
   * close after their control channels said them. */
  {
    gint64 start = g_get_monotonic_time ();
    gint64 deadline = start + 2 * G_USEC_PER_SEC;

    while (g_get_monotonic_time () < deadline)
      {
        gboolean drained = es_client_store_count_outbox (store, NULL) <= 0 ||
                           es_signaling_client_get_state (client) != ES_SIGNALING_STATE_CONNECTED;

        if (drained && g_get_monotonic_time () - start > 400 * 1000)
          break;
        if (!g_main_context_iteration (NULL, FALSE))
          g_usleep (5000);
      }
  }

  g_clear_handle_id (&peer->fold_timeout_id, g_source_remove);
  g_signal_handlers_disconnect_by_data (client, peer);
  g_signal_handlers_disconnect_by_data (manager, peer);
  g_clear_pointer (&peer->tracked, g_ptr_array_unref);
  g_clear_object (&manager);
  es_signaling_client_stop (client);
  g_source_remove (sigint_source);
  g_source_remove (sigterm_source);

  return peer->ret;
}

int
es_cli_call (EsCliOptions *options,
             int           argc,
             char        **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  MediaOptions media = { 0, };
  int cancel_after = -1;
  Peer peer = { 0, };
  int ret;
  const GOptionEntry entries[] = {
    { "cancel-after", 0, 0, G_OPTION_ARG_INT, &cancel_after, "Cancel MS ms after the invite (0: at once)", "MS" },
    { NULL }
  };

  media.duration = 10;

  context = g_option_context_new ("USER — call USER and print JSON events");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, media_option_group (&media));
  if (!es_cli_parse (context, options, &argc, &argv))
    {
      media_options_clear (&media);
      return 1;
    }

  if (argc != 2)
    {
      media_options_clear (&media);
      return es_cli_usage_error (context, "call takes exactly one USER");
    }
  if (media.duration < 0)
    {
      media_options_clear (&media);
      return es_cli_usage_error (context, "--duration must not be negative");
    }

  peer.settings = media_options_to_settings (&media, &error);
  if (peer.settings == NULL)
    {
      media_options_clear (&media);
      return es_cli_usage_error (context, error->message);
    }
  peer.duration_s = media.duration;
  peer.confirm_sas = media.confirm_sas;
  peer.mute = media.mute;
  peer.camera_off = media.camera_off;
  peer.deny_sas = media.deny_sas;
  if (media.confirm_sas && media.deny_sas)
    {
      g_clear_pointer (&peer.settings, es_media_settings_free);
      media_options_clear (&media);
      return es_cli_usage_error (context, "--confirm-sas or --deny-sas, not both");
    }

  ret = run_peer (options, &peer, argv[1], cancel_after);

  g_clear_pointer (&peer.settings, es_media_settings_free);
  media_options_clear (&media);
  return ret;
}

int
es_cli_answer (EsCliOptions *options,
               int           argc,
               char        **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  MediaOptions media = { 0, };
  gboolean auto_accept = FALSE;
  gboolean decline = FALSE;
  double after = 0;
  int count = 1;
  Peer peer = { 0, };
  int ret;
  const GOptionEntry entries[] = {
    { "auto", 0, 0, G_OPTION_ARG_NONE, &auto_accept, "Pick up each call", NULL },
    { "decline", 0, 0, G_OPTION_ARG_NONE, &decline, "Decline each call", NULL },
    { "after", 0, 0, G_OPTION_ARG_DOUBLE, &after, "Pick up or decline after S seconds (default 0)", "S" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "Exit after N calls ended (default 1)", "N" },
    { NULL }
  };

  media.duration = -1;

  context = g_option_context_new ("— take incoming calls and print JSON events");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, media_option_group (&media));
  if (!es_cli_parse (context, options, &argc, &argv))
    {
      media_options_clear (&media);
      return 1;
    }

  if (argc != 1 || (auto_accept && decline) || after < 0 || count < 1)
    {
      media_options_clear (&media);
      return es_cli_usage_error (context, argc != 1 ? "answer takes no positional arguments"
                                          : auto_accept && decline ? "--auto or --decline, not both"
                                          : "--after must not be negative, --count at least 1");
    }

  peer.settings = media_options_to_settings (&media, &error);
  if (peer.settings == NULL)
    {
      media_options_clear (&media);
      return es_cli_usage_error (context, error->message);
    }
  peer.answering = TRUE;
  peer.auto_accept = auto_accept;
  peer.decline = decline;
  peer.after_s = after;
  peer.count = count;
  peer.duration_s = media.duration;
  peer.confirm_sas = media.confirm_sas;
  peer.mute = media.mute;
  peer.camera_off = media.camera_off;
  peer.deny_sas = media.deny_sas;
  if (media.confirm_sas && media.deny_sas)
    {
      g_clear_pointer (&peer.settings, es_media_settings_free);
      media_options_clear (&media);
      return es_cli_usage_error (context, "--confirm-sas or --deny-sas, not both");
    }

  ret = run_peer (options, &peer, NULL, -1);

  g_clear_pointer (&peer.settings, es_media_settings_free);
  media_options_clear (&media);
  return ret;
}
