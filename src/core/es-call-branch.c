/* es-call-branch.c: one peer connection of a call, on webrtcbin
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-branch"

#define GST_USE_UNSTABLE_API 1

#include <string.h>

#include <gst/app/gstappsink.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <json-glib/json-glib.h>

#include "es-call-branch.h"
#include "es-media-codec.h"
#include "es-media-source.h"
#include "es-sas.h"

/* Threads. Every public function runs on the thread that owns the GMainContext
 * that was the thread default when the branch was made ("the owner"). webrtcbin
 * calls us from its own task thread (promises, ICE candidates), from the SCTP
 * thread (data channel) and from streaming threads (pads, probes, appsink).
 * Those callbacks touch only atomics and the sample lock, and hand everything
 * else to the owner with invoke() as an idle source holding a strong ref. They
 * never drop the last reference themselves: dispose would then stop the
 * pipeline from inside one of its own threads and deadlock. */

G_DEFINE_QUARK (es-call-error-quark, es_call_error)

G_DEFINE_ENUM_TYPE (EsCallBranchRole, es_call_branch_role,
  G_DEFINE_ENUM_VALUE (ES_CALL_BRANCH_ROLE_OFFERER, "offerer"),
  G_DEFINE_ENUM_VALUE (ES_CALL_BRANCH_ROLE_ANSWERER, "answerer"))

G_DEFINE_ENUM_TYPE (EsCallBranchState, es_call_branch_state,
  G_DEFINE_ENUM_VALUE (ES_CALL_BRANCH_STATE_NEW, "new"),
  G_DEFINE_ENUM_VALUE (ES_CALL_BRANCH_STATE_CONNECTING, "connecting"),
  G_DEFINE_ENUM_VALUE (ES_CALL_BRANCH_STATE_CONNECTED, "connected"),
  G_DEFINE_ENUM_VALUE (ES_CALL_BRANCH_STATE_FAILED, "failed"),
  G_DEFINE_ENUM_VALUE (ES_CALL_BRANCH_STATE_CLOSED, "closed"))

#define STATS_INTERVAL_MS 1000
/* A peer that is killed or loses its network says nothing, and ICE never
 * notices: webrtcbin's libnice agent runs without consent freshness (RFC 7675).
 * So each side says it is alive on the control channel every ALIVE_INTERVAL_MS,
 * and a branch that hears nothing for PEER_SILENT_MS fails as a lost transport. */
#define ALIVE_INTERVAL_MS 2000
#define PEER_SILENT_MS    20000
#define ALIVE_MESSAGE     "{\"type\":\"alive\"}"
#define MAX_CANDIDATE_LEN 1024
#define MAX_SDP_LEN       (64 * 1024)
#define MAX_MLINE         16

struct _EsCallBranch
{
  GObject                parent_instance;

  /* Owned */
  EsMediaSettings       *settings;
  char                  *peer_device_id;
  GMainContext          *context;
  GstElement            *pipeline;
  GstElement            *webrtc;
  GstWebRTCDataChannel  *channel;
  GstElement            *senders[ES_MEDIA_N_KINDS];
  GstPad                *send_pads[ES_MEDIA_N_KINDS];
  GstSDPMessage         *local_sdp;
  char                  *video_codec;
  char                  *audio_codec;
  EsCallStats           *stats;
  GError                *error;
  GError                *answer_error;
  GPtrArray             *pending_candidates;
  GSource               *bus_source;
  GMutex                 sample_lock;
  GstSample             *last_video_sample;
  EsVerification        *verification;

  /* Written by streaming threads: counters atomically, the rest under
   * sample_lock. */
  gint                   decoded[ES_MEDIA_N_KINDS];
  gint                   rtp_sent[ES_MEDIA_N_KINDS];
  gint64                 started_us[ES_MEDIA_N_KINDS];
  gint64                 peer_heard_us; /* last control message, as it arrived */

  gint                   mlines[ES_MEDIA_N_KINDS];
  gboolean               paused[ES_MEDIA_N_KINDS]; /* muted microphone, camera off */
  guint                  video_kbps;
  guint                  remote_video_max_kbps;
  guint                  stats_id;
  guint                  alive_id;
  guint                  cert_poll_id;
  guint                  cert_polls;
  guint                  reveal_timeout_id;
  guint                  verify_fail_id;
  char                  *peer_reveal;   /* held until ours is sent */
  EsCallBranchRole       role;
  EsCallBranchState      state;

  guint                  started : 1;
  guint                  gates_open : 1;
  guint                  checks_released : 1;
  guint                  remote_set : 1;
  guint                  remote_pending : 1;
  guint                  transport_connected : 1;
  guint                  channel_open : 1;
  guint                  torn_down : 1;
  guint                  stats_pending : 1;
  guint                  certificates_read : 1;
  guint                  reveal_sent : 1;
  guint                  closed_with_reveal : 1; /* see STEP_CHANNEL_STATE */
};

G_DEFINE_FINAL_TYPE (EsCallBranch, es_call_branch, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ROLE,
  PROP_SETTINGS,
  PROP_PEER_DEVICE_ID,
  PROP_STATE,
  PROP_VIDEO_CODEC,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  LOCAL_DESCRIPTION,
  LOCAL_CANDIDATE,
  CONTROL_MESSAGE,
  MEDIA_STARTED,
  STATS,
  FAILED,
  VIDEO_SAMPLE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void es_call_branch_fail       (EsCallBranch *self,
                                       GError       *error);
static void es_call_branch_teardown   (EsCallBranch *self);
static void es_call_branch_set_state  (EsCallBranch      *self,
                                       EsCallBranchState  state);

/* Hand-over from webrtcbin threads to the owner. */

typedef enum
{
  STEP_OFFER_CREATED,
  STEP_ANSWER_CREATED,
  STEP_REMOTE_SET,
  STEP_STATS,
  STEP_LOCAL_CANDIDATE,
  STEP_ICE_STATE,
  STEP_CONNECTION_STATE,
  STEP_CHANNEL,
  STEP_CHANNEL_STATE,
  STEP_CHANNEL_ERROR,
  STEP_CONTROL_MESSAGE,
  STEP_MEDIA_STARTED,
  STEP_ERROR,
} Step;

typedef struct
{
  EsCallBranch *self;
  Step          step;
  guint         number;
  char         *text;
  GstPromise   *promise;
  GObject      *object;
  GError       *error;
} Invocation;

static void
invocation_free (gpointer data)
{
  Invocation *inv = data;

  g_clear_object (&inv->self);
  g_clear_pointer (&inv->text, g_free);
  g_clear_pointer (&inv->promise, gst_promise_unref);
  g_clear_object (&inv->object);
  g_clear_error (&inv->error);
  g_free (inv);
}

static gboolean dispatch_cb (gpointer data);

/* Takes @self_ref, a strong reference the caller already holds for us. */
static void
invoke_full (EsCallBranch *self_ref,
             Invocation   *inv)
{
  GSource *source = g_idle_source_new ();

  inv->self = self_ref;
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, dispatch_cb, inv, invocation_free);
  g_source_set_static_name (source, "[earshot] branch invoke");
  g_source_attach (source, inv->self->context);
  g_source_unref (source);
}

static Invocation *
invocation_new (Step step)
{
  Invocation *inv = g_new0 (Invocation, 1);

  inv->step = step;
  return inv;
}

static void
invoke (EsCallBranch *self,
        Invocation   *inv)
{
  invoke_full (g_object_ref (self), inv);
}

/* Promises may outlive the branch (webrtcbin drops pending ones on shutdown
 * without replying), so they hold a weak reference. */
typedef struct
{
  GWeakRef weak;
  Step     step;
} PromiseData;

static void
promise_data_free (gpointer data)
{
  PromiseData *pd = data;

  g_weak_ref_clear (&pd->weak);
  g_free (pd);
}

static void
promise_changed_cb (GstPromise *promise,
                    gpointer    user_data)
{
  PromiseData *pd = user_data;
  EsCallBranch *self = g_weak_ref_get (&pd->weak);
  Invocation *inv;

  if (self == NULL)
    return;

  inv = invocation_new (pd->step);
  inv->promise = gst_promise_ref (promise);
  invoke_full (self, inv);
}

static GstPromise *
es_call_branch_new_promise (EsCallBranch *self,
                            Step          step)
{
  PromiseData *pd = g_new0 (PromiseData, 1);

  g_weak_ref_init (&pd->weak, self);
  pd->step = step;
  return gst_promise_new_with_change_func (promise_changed_cb, pd, promise_data_free);
}

/* Reads a promise reply on the owner. Returns a borrowed structure, or NULL
 * and an error. */
static const GstStructure *
promise_get_reply (GstPromise  *promise,
                   const char  *what,
                   GError     **error)
{
  const GstStructure *reply;
  GError *gst_error = NULL;

  if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_PIPELINE,
                   "webrtcbin did not answer %s", what);
      return NULL;
    }

  reply = gst_promise_get_reply (promise);
  if (reply != NULL && gst_structure_has_field (reply, "error"))
    {
      gst_structure_get (reply, "error", G_TYPE_ERROR, &gst_error, NULL);
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_PIPELINE, "%s failed: %s", what,
                   gst_error != NULL ? gst_error->message : "unknown error");
      g_clear_error (&gst_error);
      return NULL;
    }

  return reply;
}

/* SDP helpers */

static const char *
media_kind_of (const GstSDPMedia *media)
{
  return gst_sdp_media_get_media (media);
}

static GString *
join_codecs (GPtrArray *names)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < names->len; i++)
    {
      if (i > 0)
        g_string_append (s, ", ");
      g_string_append (s, g_ptr_array_index (names, i));
    }
  if (names->len == 0)
    g_string_append (s, "nothing");

  return s;
}

/* Our video codecs in preference order, restricted to what is installed. */
static GPtrArray *
es_call_branch_dup_video_codecs (EsCallBranch *self)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; self->settings->video_codecs[i] != NULL; i++)
    {
      const EsMediaCodec *codec = es_media_codec_lookup (self->settings->video_codecs[i]);

      if (codec != NULL && codec->kind == ES_MEDIA_KIND_VIDEO &&
          es_media_codec_is_available (codec) &&
          !g_ptr_array_find_with_equal_func (names, codec->name, g_str_equal, NULL))
        g_ptr_array_add (names, g_strdup (codec->name));
    }

  return names;
}

static void
sdp_set_video_bandwidth (GstSDPMessage *sdp,
                         guint          kbps)
{
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    {
      GstSDPMedia *media = (GstSDPMedia *) gst_sdp_message_get_media (sdp, i);

      if (g_strcmp0 (gst_sdp_media_get_media (media), "video") != 0)
        continue;

      while (gst_sdp_media_bandwidths_len (media) > 0)
        gst_sdp_media_remove_bandwidth (media, 0);
      /* AS for the old world, TIAS (bit/s, without IP/UDP) for the new one. */
      gst_sdp_media_add_bandwidth (media, "AS", kbps);
      gst_sdp_media_add_bandwidth (media, "TIAS", kbps * 1000);
    }
}

static guint
sdp_media_get_max_kbps (const GstSDPMedia *media)
{
  guint kbps = 0;

  for (guint i = 0; i < gst_sdp_media_bandwidths_len (media); i++)
    {
      const GstSDPBandwidth *bw = gst_sdp_media_get_bandwidth (media, i);

      if (g_strcmp0 (bw->bwtype, "TIAS") == 0 && bw->bandwidth > 0)
        return MAX (1, bw->bandwidth / 1000);
      if (g_strcmp0 (bw->bwtype, "AS") == 0 && bw->bandwidth > 0)
        kbps = bw->bandwidth;
    }

  return kbps;
}

static GstSDPMessage *
parse_sdp (const char  *sdp,
           GError     **error)
{
  g_autoptr(GstSDPMessage) msg = NULL;

  if (sdp == NULL || *sdp == '\0' || strlen (sdp) > MAX_SDP_LEN || !g_utf8_validate (sdp, -1, NULL))
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SDP,
                   "Session description is empty, too long or not UTF-8");
      return NULL;
    }

  if (gst_sdp_message_new_from_text (sdp, &msg) != GST_SDP_OK ||
      gst_sdp_message_medias_len (msg) == 0)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SDP,
                   "Session description has no media");
      return NULL;
    }

  if (gst_sdp_message_medias_len (msg) > MAX_MLINE)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SDP,
                   "Session description has too many media sections");
      return NULL;
    }

  return g_steal_pointer (&msg);
}

/* Pipeline */

static void
es_call_branch_update_state (EsCallBranch *self)
{
  if (self->state == ES_CALL_BRANCH_STATE_FAILED || self->state == ES_CALL_BRANCH_STATE_CLOSED)
    return;

  if (self->transport_connected && self->channel_open)
    es_call_branch_set_state (self, ES_CALL_BRANCH_STATE_CONNECTED);
  else if (self->started)
    es_call_branch_set_state (self, ES_CALL_BRANCH_STATE_CONNECTING);
}

/* Verification (DESIGN.md §4). The branch feeds its EsVerification what only it
 * can see: its own SDP fingerprint, the peer's SDP, the certificates the DTLS
 * handshake showed, and the reveal on the control channel. It sends our reveal
 * as soon as the verification allows it, and a failed check fails the branch:
 * nothing of a connection that may be intercepted is worth keeping. */

#define CERT_POLL_MS  50
#define CERT_POLL_MAX 200 /* 10 s */
/* From our reveal to the emoji. The peer's reveal is one data channel message
 * behind ours; a peer that never sends it must not leave a call that merely
 * looks like it is still being verified. */
#define REVEAL_TIMEOUT_MS 15000
#define VERIFY_FAIL_LINGER_MS 300

static void es_call_branch_feed_reveal (EsCallBranch *self);

static GError *
es_call_branch_new_verification_error (EsCallBranch *self)
{
  const char *reason = es_verification_get_failure_reason (self->verification);

  return g_error_new_literal (ES_CALL_ERROR, ES_CALL_ERROR_VERIFICATION,
                              reason ? reason : "The call could not be verified");
}

static void
es_call_branch_fail_verification (EsCallBranch *self)
{
  es_call_branch_fail (self, es_call_branch_new_verification_error (self));
}

/* The branch's timers run on its context, which need not be the thread default
 * of whoever calls into the branch later. */
static guint
es_call_branch_add_timeout (EsCallBranch *self,
                            guint         interval_ms,
                            GSourceFunc   func,
                            const char   *name)
{
  GSource *source = g_timeout_source_new (interval_ms);
  guint id;

  g_source_set_callback (source, func, self, NULL);
  g_source_set_static_name (source, name);
  id = g_source_attach (source, self->context);
  g_source_unref (source);
  return id;
}

static void
es_call_branch_clear_timeout (EsCallBranch *self,
                              guint        *id)
{
  GSource *source;

  if (*id == 0)
    return;

  source = g_main_context_find_source_by_id (self->context, *id);
  if (source != NULL)
    g_source_destroy (source);
  *id = 0;
}

static gboolean
verify_fail_cb (gpointer user_data)
{
  EsCallBranch *self = user_data;

  self->verify_fail_id = 0;
  es_call_branch_fail_verification (self);
  return G_SOURCE_REMOVE;
}

static gboolean es_call_branch_checks_passed (EsCallBranch *self);
static void     es_call_branch_apply_gate    (EsCallBranch *self,
                                              EsMediaKind   kind);

static void
verification_notify_state_cb (EsVerification *verification,
                              GParamSpec     *pspec,
                              EsCallBranch   *self)
{
  if (!self->checks_released && !self->torn_down && es_call_branch_checks_passed (self))
    {
      /* Gates opened by a pickup that came before the checks finished open now. */
      self->checks_released = TRUE;
      for (guint kind = 0; kind < ES_MEDIA_N_KINDS; kind++)
        es_call_branch_apply_gate (self, kind);
    }

  if (es_verification_get_state (verification) != ES_VERIFICATION_STATE_FAILED ||
      self->verify_fail_id != 0 || self->torn_down)
    return;

  /* Our reveal may be in the data channel's queue still: let it reach the
   * peer, which then finds the attack for itself, and says why. */
  self->verify_fail_id = es_call_branch_add_timeout (self, VERIFY_FAIL_LINGER_MS, verify_fail_cb,
                                                     "[earshot] branch verification failed");
}

static gboolean
reveal_timeout_cb (gpointer user_data)
{
  EsCallBranch *self = user_data;

  self->reveal_timeout_id = 0;
  if (self->verification != NULL &&
      es_verification_get_state (self->verification) == ES_VERIFICATION_STATE_WAITING)
    es_call_branch_fail (self, g_error_new_literal (ES_CALL_ERROR, ES_CALL_ERROR_VERIFICATION,
                                                    "The peer did not send its verification "
                                                    "data: someone may be intercepting this "
                                                    "call"));
  return G_SOURCE_REMOVE;
}

static void
es_call_branch_maybe_reveal (EsCallBranch *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;

  if (self->verification == NULL || self->reveal_sent || !self->channel_open ||
      !self->certificates_read || !es_verification_can_reveal (self->verification))
    return;

  json = es_verification_dup_reveal_json (self->verification, &error);
  if (json == NULL)
    {
      g_debug ("Branch to %s: cannot reveal yet: %s", self->peer_device_id, error->message);
      return;
    }

  if (!es_call_branch_send_control (self, json, &error))
    {
      g_debug ("Branch to %s: cannot send the reveal: %s", self->peer_device_id, error->message);
      return;
    }

  g_debug ("Branch to %s: reveal sent", self->peer_device_id);
  self->reveal_sent = TRUE;

  if (self->reveal_timeout_id == 0)
    self->reveal_timeout_id = es_call_branch_add_timeout (self, REVEAL_TIMEOUT_MS,
                                                          reveal_timeout_cb,
                                                          "[earshot] branch reveal timeout");

  es_call_branch_feed_reveal (self);
}

static GstWebRTCDTLSTransport *
es_call_branch_dup_dtls_transport (EsCallBranch *self)
{
  GstWebRTCDTLSTransport *dtls = NULL;
  g_autoptr(GObject) sctp = NULL;
  g_autoptr(GArray) transceivers = NULL;

  if (self->webrtc == NULL)
    return NULL;

  /* With max-bundle every m-line and the data channel share one transport;
   * the data channel's is the one the reveal travels on. */
  g_object_get (self->webrtc, "sctp-transport", &sctp, NULL);
  if (sctp != NULL)
    g_object_get (sctp, "transport", &dtls, NULL);
  if (dtls != NULL)
    return dtls;

  g_signal_emit_by_name (self->webrtc, "get-transceivers", &transceivers);
  for (guint i = 0; transceivers != NULL && i < transceivers->len && dtls == NULL; i++)
    {
      GstWebRTCRTPTransceiver *transceiver = g_array_index (transceivers,
                                                            GstWebRTCRTPTransceiver *, i);
      g_autoptr(GstWebRTCRTPSender) sender = NULL;

      g_object_get (transceiver, "sender", &sender, NULL);
      if (sender != NULL)
        g_object_get (sender, "transport", &dtls, NULL);
    }

  return dtls;
}

/* Returns TRUE when done (read, or given up). */
static gboolean
es_call_branch_read_certificates (EsCallBranch *self)
{
  g_autoptr(GstWebRTCDTLSTransport) dtls = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *local_pem = NULL;
  g_autofree char *remote_pem = NULL;

  if (self->verification == NULL || self->certificates_read || self->torn_down)
    return TRUE;

  dtls = es_call_branch_dup_dtls_transport (self);
  if (dtls != NULL)
    g_object_get (dtls, "certificate", &local_pem, "remote-certificate", &remote_pem, NULL);

  if (local_pem == NULL || *local_pem == '\0' || remote_pem == NULL || *remote_pem == '\0')
    {
      if (++self->cert_polls < CERT_POLL_MAX)
        return FALSE;

      es_call_branch_fail (self, g_error_new_literal (ES_CALL_ERROR, ES_CALL_ERROR_VERIFICATION,
                                                      "The connection shows no DTLS "
                                                      "certificates, so the call cannot be "
                                                      "verified"));
      return TRUE;
    }

  self->certificates_read = TRUE;
  g_debug ("Branch to %s: DTLS certificates read", self->peer_device_id);

  /* A failure shows as the verification's state (and fails the branch). */
  if (!es_verification_set_certificates_pem (self->verification, local_pem, remote_pem, &error))
    {
      g_debug ("Branch to %s: certificates: %s", self->peer_device_id, error->message);
      if (es_verification_get_state (self->verification) != ES_VERIFICATION_STATE_FAILED)
        es_call_branch_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_VERIFICATION,
                                                "Cannot verify the call: %s", error->message));
      return TRUE;
    }

  if (self->closed_with_reveal)
    {
      /* Ours can no longer go out; the peer's reveal is judged all the same, and a check
       * it fails is what the branch ends with (es_call_branch_fail()). */
      es_call_branch_feed_reveal (self);
      es_call_branch_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_CHANNEL,
                                              "The peer closed the control channel"));
      return TRUE;
    }

  es_call_branch_maybe_reveal (self);
  return TRUE;
}

static gboolean
cert_poll_cb (gpointer user_data)
{
  EsCallBranch *self = user_data;

  if (!es_call_branch_read_certificates (self))
    return G_SOURCE_CONTINUE;

  self->cert_poll_id = 0;
  return G_SOURCE_REMOVE;
}

static void
es_call_branch_start_certificates (EsCallBranch *self)
{
  if (self->verification == NULL || self->certificates_read || self->cert_poll_id != 0)
    return;

  if (es_call_branch_read_certificates (self))
    return;

  /* The transport reports connected a moment before the handshake's peer
   * certificate is readable. */
  self->cert_poll_id = es_call_branch_add_timeout (self, CERT_POLL_MS, cert_poll_cb,
                                                   "[earshot] branch certificates");
}

static void
es_call_branch_stop_certificates (EsCallBranch *self)
{
  es_call_branch_clear_timeout (self, &self->verify_fail_id);
  es_call_branch_clear_timeout (self, &self->reveal_timeout_id);
  es_call_branch_clear_timeout (self, &self->cert_poll_id);
}

/* TRUE when @json was a reveal, which the verification takes. */
static gboolean
es_call_branch_take_reveal (EsCallBranch *self,
                            const char   *json)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *root;
  const char *type = NULL;

  if (self->verification == NULL || strstr (json, ES_VERIFICATION_REVEAL_TYPE) == NULL)
    return FALSE;

  parser = json_parser_new_immutable ();
  if (strlen (json) > ES_VERIFICATION_REVEAL_MAX_LEN ||
      !json_parser_load_from_data (parser, json, -1, NULL))
    return FALSE;
  root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    type = json_object_get_string_member_with_default (json_node_get_object (root), "type", NULL);
  if (g_strcmp0 (type, ES_VERIFICATION_REVEAL_TYPE) != 0)
    return FALSE;

  g_debug ("Branch to %s: reveal received", self->peer_device_id);

  /* Judged once ours is out (es_call_branch_feed_reveal()). */
  if (!self->reveal_sent && self->peer_reveal == NULL)
    {
      self->peer_reveal = g_strdup (json);
      return TRUE;
    }

  /* Ours is out, or this is a second reveal, which the verification refuses
   * unless it is the same. */
  es_call_branch_feed_reveal (self);
  if (!self->torn_down &&
      !es_verification_receive_reveal_json (self->verification, json, &error))
    g_debug ("Branch to %s: reveal: %s", self->peer_device_id, error->message);

  return TRUE;
}

/* The peer's reveal is judged once ours is out, so that the peer learns of a
 * failed check on its own side too, whichever check fails first here. */
static void
es_call_branch_feed_reveal (EsCallBranch *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;

  if (self->verification == NULL || self->peer_reveal == NULL || self->torn_down)
    return;

  json = g_steal_pointer (&self->peer_reveal);
  if (!es_verification_receive_reveal_json (self->verification, json, &error))
    g_debug ("Branch to %s: reveal: %s", self->peer_device_id, error->message);
}

/**
 * es_call_branch_set_verification:
 * @verification: (nullable): checks this branch's connection; set before
 *   es_call_branch_start()
 *
 * With a verification, the branch finds its own fingerprint in its local
 * description before ::local-description (so a handler can take the
 * commitment), gives the verification the peer's SDP, the DTLS certificates
 * and the peer's reveal, sends our reveal on the control channel, and fails
 * with %ES_CALL_ERROR_VERIFICATION when a check fails. The peer's commitment
 * is the owner's to set.
 */
void
es_call_branch_set_verification (EsCallBranch   *self,
                                 EsVerification *verification)
{
  g_return_if_fail (ES_IS_CALL_BRANCH (self));
  g_return_if_fail (verification == NULL || ES_IS_VERIFICATION (verification));

  if (self->verification == verification)
    return;

  if (self->verification != NULL)
    g_signal_handlers_disconnect_by_data (self->verification, self);
  g_set_object (&self->verification, verification);
  if (verification != NULL)
    g_signal_connect (verification, "notify::state", G_CALLBACK (verification_notify_state_cb),
                      self);
}

EsVerification *
es_call_branch_get_verification (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), NULL);
  return self->verification;
}

/**
 * es_call_branch_dup_local_fingerprint:
 *
 * Returns: (transfer full) (nullable): our certificate's sha-256 fingerprint
 *   as our local description announced it ("AB:CD:…"), or %NULL before it
 */
char *
es_call_branch_dup_local_fingerprint (EsCallBranch *self)
{
  g_autofree char *text = NULL;
  guint8 hash[ES_SAS_HASH_LEN];

  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), NULL);

  if (self->local_sdp == NULL)
    return NULL;
  text = gst_sdp_message_as_text (self->local_sdp);
  if (!es_sas_find_sdp_fingerprint (text, hash, NULL))
    return NULL;
  return es_sas_format_fingerprint (hash);
}

static gboolean
bus_message_cb (GstBus     *bus,
                GstMessage *message,
                gpointer    user_data)
{
  EsCallBranch *self = user_data;

  switch (GST_MESSAGE_TYPE (message))
    {
    case GST_MESSAGE_ERROR:
      {
        g_autoptr(GError) gst_error = NULL;
        g_autofree char *debug = NULL;

        gst_message_parse_error (message, &gst_error, &debug);
        g_debug ("Pipeline error from %s: %s (%s)", GST_MESSAGE_SRC_NAME (message),
                 gst_error->message, debug ? debug : "");
        es_call_branch_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_PIPELINE,
                                                "Media pipeline failed: %s", gst_error->message));
        break;
      }

    case GST_MESSAGE_WARNING:
      {
        g_autoptr(GError) gst_error = NULL;
        g_autofree char *debug = NULL;

        gst_message_parse_warning (message, &gst_error, &debug);
        g_debug ("Pipeline warning from %s: %s (%s)", GST_MESSAGE_SRC_NAME (message),
                 gst_error->message, debug ? debug : "");
        break;
      }

    case GST_MESSAGE_LATENCY:
      if (self->pipeline != NULL)
        gst_bin_recalculate_latency (GST_BIN (self->pipeline));
      break;

    default:
      break;
    }

  return G_SOURCE_CONTINUE;
}

static void
on_ice_candidate_cb (GstElement *webrtc,
                     guint       mline,
                     const char *candidate,
                     gpointer    user_data)
{
  EsCallBranch *self = user_data;
  Invocation *inv;

  /* webrtcbin 1.22 signals the end of gathering with an empty candidate;
   * signaling has no use for it. */
  if (candidate == NULL || *candidate == '\0')
    return;

  inv = invocation_new (STEP_LOCAL_CANDIDATE);
  inv->number = mline;
  inv->text = g_strdup (candidate);
  invoke (self, inv);
}

static void
notify_ice_state_cb (GObject    *object,
                     GParamSpec *pspec,
                     gpointer    user_data)
{
  GstWebRTCICEConnectionState state;
  Invocation *inv = invocation_new (STEP_ICE_STATE);

  g_object_get (object, "ice-connection-state", &state, NULL);
  inv->number = state;
  invoke (user_data, inv);
}

static void
notify_connection_state_cb (GObject    *object,
                            GParamSpec *pspec,
                            gpointer    user_data)
{
  GstWebRTCPeerConnectionState state;
  Invocation *inv = invocation_new (STEP_CONNECTION_STATE);

  g_object_get (object, "connection-state", &state, NULL);
  inv->number = state;
  invoke (user_data, inv);
}

/* Peer liveness (see ALIVE_INTERVAL_MS) */

/* Any thread: a control message arrived. Stamped as it arrives, not when the
 * main context gets to it, so that a busy main context is not taken for a
 * silent peer. */
static void
es_call_branch_note_peer_heard (EsCallBranch *self)
{
  g_mutex_lock (&self->sample_lock);
  self->peer_heard_us = g_get_monotonic_time ();
  g_mutex_unlock (&self->sample_lock);
}

static gboolean
alive_timeout_cb (gpointer user_data)
{
  EsCallBranch *self = user_data;
  g_autoptr(GError) error = NULL;
  gint64 silent_us;

  g_mutex_lock (&self->sample_lock);
  silent_us = g_get_monotonic_time () - self->peer_heard_us;
  g_mutex_unlock (&self->sample_lock);

  if (silent_us > (gint64) PEER_SILENT_MS * 1000)
    {
      self->alive_id = 0;
      es_call_branch_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_CHANNEL,
                                              "Lost the connection: nothing heard from the "
                                              "other side for %d s", PEER_SILENT_MS / 1000));
      return G_SOURCE_REMOVE;
    }

  if (!es_call_branch_send_control (self, ALIVE_MESSAGE, &error))
    g_debug ("Branch to %s: %s", self->peer_device_id, error->message);

  return G_SOURCE_CONTINUE;
}

/* From the moment the control channel opens: what the peer said before it is
 * not needed to know it is there. */
static void
es_call_branch_start_alive (EsCallBranch *self)
{
  if (self->alive_id != 0 || self->torn_down)
    return;

  es_call_branch_note_peer_heard (self);
  self->alive_id = es_call_branch_add_timeout (self, ALIVE_INTERVAL_MS, alive_timeout_cb,
                                               "[earshot] branch alive");
}

static void
channel_notify_ready_state_cb (GObject    *object,
                               GParamSpec *pspec,
                               gpointer    user_data)
{
  GstWebRTCDataChannelState state;
  Invocation *inv = invocation_new (STEP_CHANNEL_STATE);

  g_object_get (object, "ready-state", &state, NULL);
  inv->number = state;
  invoke (user_data, inv);
}

static void
channel_on_error_cb (GstWebRTCDataChannel *channel,
                     GError               *error,
                     gpointer              user_data)
{
  Invocation *inv = invocation_new (STEP_CHANNEL_ERROR);

  inv->error = g_error_copy (error);
  invoke (user_data, inv);
}

static void
channel_on_message_string_cb (GstWebRTCDataChannel *channel,
                              const char           *text,
                              gpointer              user_data)
{
  Invocation *inv;

  if (text == NULL)
    return;

  es_call_branch_note_peer_heard (user_data);
  if (g_str_equal (text, ALIVE_MESSAGE))
    return;

  inv = invocation_new (STEP_CONTROL_MESSAGE);
  inv->text = g_strdup (text);
  invoke (user_data, inv);
}

/* Called on the thread that created or received the channel. */
static void
es_call_branch_watch_channel (EsCallBranch         *self,
                              GstWebRTCDataChannel *channel)
{
  g_signal_connect (channel, "notify::ready-state",
                    G_CALLBACK (channel_notify_ready_state_cb), self);
  g_signal_connect (channel, "on-error", G_CALLBACK (channel_on_error_cb), self);
  g_signal_connect (channel, "on-message-string",
                    G_CALLBACK (channel_on_message_string_cb), self);
}

static void
on_data_channel_cb (GstElement           *webrtc,
                    GstWebRTCDataChannel *channel,
                    gpointer              user_data)
{
  EsCallBranch *self = user_data;
  g_autofree char *label = NULL;
  GstWebRTCDataChannelState state;
  Invocation *inv;

  g_object_get (channel, "label", &label, NULL);
  if (g_strcmp0 (label, ES_CALL_BRANCH_CONTROL_LABEL) != 0)
    {
      g_debug ("Ignoring data channel “%s” from the peer", label);
      return;
    }

  /* Connect before returning so no message is missed; a channel the peer
   * opened may already be open when it is announced. */
  es_call_branch_watch_channel (self, channel);

  inv = invocation_new (STEP_CHANNEL);
  inv->object = g_object_ref (G_OBJECT (channel));
  invoke (self, inv);

  g_object_get (channel, "ready-state", &state, NULL);
  inv = invocation_new (STEP_CHANNEL_STATE);
  inv->number = state;
  invoke (self, inv);
}

static void
note_media_started (EsCallBranch *self,
                    EsMediaKind   kind)
{
  Invocation *inv;

  gboolean first;

  g_mutex_lock (&self->sample_lock);
  first = self->started_us[kind] == 0;
  if (first)
    self->started_us[kind] = g_get_monotonic_time ();
  g_mutex_unlock (&self->sample_lock);

  if (!first)
    return;

  inv = invocation_new (STEP_MEDIA_STARTED);
  inv->number = kind;
  invoke (self, inv);
}

static GstPadProbeReturn
count_decoded_audio_cb (GstPad          *pad,
                        GstPadProbeInfo *info,
                        gpointer         user_data)
{
  EsCallBranch *self = user_data;

  g_atomic_int_inc (&self->decoded[ES_MEDIA_KIND_AUDIO]);
  note_media_started (self, ES_MEDIA_KIND_AUDIO);

  return GST_PAD_PROBE_OK;
}

static GstFlowReturn
appsink_new_sample_cb (GstAppSink *appsink,
                       gpointer    user_data)
{
  EsCallBranch *self = user_data;
  GstSample *sample = gst_app_sink_pull_sample (appsink);
  GstSample *old;

  if (sample == NULL)
    return GST_FLOW_OK;

  g_atomic_int_inc (&self->decoded[ES_MEDIA_KIND_VIDEO]);
  note_media_started (self, ES_MEDIA_KIND_VIDEO);

  g_signal_emit (self, signals[VIDEO_SAMPLE], 0, sample);

  g_mutex_lock (&self->sample_lock);
  old = self->last_video_sample;
  self->last_video_sample = sample;
  g_mutex_unlock (&self->sample_lock);
  g_clear_pointer (&old, gst_sample_unref);

  return GST_FLOW_OK;
}

static GstPadProbeReturn
count_sent_rtp_cb (GstPad          *pad,
                   GstPadProbeInfo *info,
                   gpointer         user_data)
{
  EsCallBranch *self = g_object_get_data (G_OBJECT (pad), "es-branch");
  EsMediaKind kind = GPOINTER_TO_UINT (user_data);
  guint n = 1;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    n = gst_buffer_list_length (GST_PAD_PROBE_INFO_BUFFER_LIST (info));

  g_atomic_int_add (&self->rtp_sent[kind], (gint) n);

  return GST_PAD_PROBE_OK;
}

/* An incoming stream: depayload and decode it into a counting sink. Runs on a
 * streaming thread; building the chain here is what webrtcbin expects. */
static void
pad_added_cb (GstElement *webrtc,
              GstPad     *pad,
              gpointer    user_data)
{
  EsCallBranch *self = user_data;
  g_autoptr(GstCaps) caps = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GstPad) sink_pad = NULL;
  const EsMediaCodec *codec = NULL;
  GstElement *receiver = NULL;
  GstElement *sink;
  const GstStructure *s;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;

  caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  if (caps != NULL && gst_caps_get_size (caps) > 0)
    {
      s = gst_caps_get_structure (caps, 0);
      codec = es_media_codec_lookup (gst_structure_get_string (s, "encoding-name"));
    }

  if (codec != NULL)
    receiver = es_media_codec_make_receiver (codec, &error);

  if (receiver == NULL)
    {
      g_autofree char *str = caps ? gst_caps_to_string (caps) : NULL;
      Invocation *inv = invocation_new (STEP_ERROR);

      inv->error = error != NULL
        ? g_steal_pointer (&error)
        : g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_NO_COMMON_CODEC,
                       "Peer sends a stream we cannot decode: %s", str ? str : "no caps");
      invoke (self, inv);

      sink = gst_element_factory_make ("fakesink", NULL);
      g_object_set (sink, "async", FALSE, "sync", FALSE, NULL);
      gst_bin_add (GST_BIN (self->pipeline), sink);
      gst_element_sync_state_with_parent (sink);
      sink_pad = gst_element_get_static_pad (sink, "sink");
      gst_pad_link (pad, sink_pad);
      return;
    }

  if (codec->kind == ES_MEDIA_KIND_VIDEO)
    {
      GstAppSinkCallbacks callbacks = { NULL, NULL, appsink_new_sample_cb, };

      sink = gst_element_factory_make ("appsink", "video-sink");
      g_object_set (sink, "sync", FALSE, "async", FALSE, "max-buffers", 1, "drop", TRUE,
                    "enable-last-sample", FALSE, NULL);
      gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, self, NULL);
    }
  else
    {
      g_autoptr(GstElement) decoder = gst_bin_get_by_name (GST_BIN (receiver), "decoder");
      g_autoptr(GstPad) decoder_src = gst_element_get_static_pad (decoder, "src");

      gst_pad_add_probe (decoder_src, GST_PAD_PROBE_TYPE_BUFFER, count_decoded_audio_cb,
                         self, NULL);
      /* TODO: autoaudiosink (with webrtcechoprobe) outside test media. */
      sink = gst_element_factory_make ("fakesink", "audio-sink");
      g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
    }

  gst_bin_add_many (GST_BIN (self->pipeline), receiver, sink, NULL);
  gst_element_link (receiver, sink);
  gst_element_sync_state_with_parent (sink);
  gst_element_sync_state_with_parent (receiver);

  sink_pad = gst_element_get_static_pad (receiver, "sink");
  if (gst_pad_link (pad, sink_pad) != GST_PAD_LINK_OK)
    {
      Invocation *inv = invocation_new (STEP_ERROR);

      inv->error = g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_PIPELINE,
                                "Cannot link the incoming %s stream", codec->name);
      invoke (self, inv);
    }

  g_debug ("Receiving %s", codec->name);
}

/* libnice maps ports through UPnP by default. That announces us on the LAN,
 * buys nothing TURN does not, and gupnp g_warning()s "Address already in use"
 * when two agents in one process race for a port (fatal under
 * G_DEBUG=fatal-warnings). webrtcbin 1.22 exposes the NiceAgent as the
 * "agent" property of its "ice-agent". */
static void
es_call_branch_disable_upnp (EsCallBranch *self)
{
  g_autoptr(GObject) ice = NULL;
  g_autoptr(GObject) agent = NULL;

  g_object_get (self->webrtc, "ice-agent", &ice, NULL);
  if (ice == NULL || g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "agent") == NULL)
    return;

  g_object_get (ice, "agent", &agent, NULL);
  if (agent != NULL && g_object_class_find_property (G_OBJECT_GET_CLASS (agent), "upnp") != NULL)
    g_object_set (agent, "upnp", FALSE, NULL);
}

static gboolean
es_call_branch_ensure_pipeline (EsCallBranch  *self,
                                GError       **error)
{
  g_autoptr(GstBus) bus = NULL;

  if (self->pipeline != NULL)
    return TRUE;

  self->pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  self->webrtc = gst_element_factory_make ("webrtcbin", "webrtc");
  if (self->webrtc == NULL)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_MISSING_ELEMENT,
                   "GStreamer element “webrtcbin” is not installed");
      return FALSE;
    }
  gst_object_ref_sink (self->webrtc);
  gst_bin_add (GST_BIN (self->pipeline), self->webrtc);

  gst_util_set_object_arg (G_OBJECT (self->webrtc), "bundle-policy", "max-bundle");
  es_call_branch_disable_upnp (self);
  g_object_set (self->webrtc, "latency", self->settings->latency_ms, NULL);
  if (self->settings->stun_server != NULL)
    g_object_set (self->webrtc, "stun-server", self->settings->stun_server, NULL);
  if (self->settings->relay_only)
    gst_util_set_object_arg (G_OBJECT (self->webrtc), "ice-transport-policy", "relay");

  /* add-turn-server parses the URI itself and takes the first ':' of the user
   * info as the separator; coturn REST usernames ("<expiry>:<user>") and
   * base64 passwords must therefore arrive percent-escaped (see
   * es_media_settings_make_turn_uri()). */
  for (guint i = 0; self->settings->turn_servers && self->settings->turn_servers[i]; i++)
    {
      gboolean ok = FALSE;

      g_signal_emit_by_name (self->webrtc, "add-turn-server",
                             self->settings->turn_servers[i], &ok);
      if (!ok)
        {
          g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SETTINGS,
                       "webrtcbin rejected TURN server %s", self->settings->turn_servers[i]);
          return FALSE;
        }
    }

  g_signal_connect (self->webrtc, "on-ice-candidate", G_CALLBACK (on_ice_candidate_cb), self);
  g_signal_connect (self->webrtc, "pad-added", G_CALLBACK (pad_added_cb), self);
  g_signal_connect (self->webrtc, "on-data-channel", G_CALLBACK (on_data_channel_cb), self);
  g_signal_connect (self->webrtc, "notify::ice-connection-state",
                    G_CALLBACK (notify_ice_state_cb), self);
  g_signal_connect (self->webrtc, "notify::connection-state",
                    G_CALLBACK (notify_connection_state_cb), self);

  bus = gst_pipeline_get_bus (GST_PIPELINE (self->pipeline));
  self->bus_source = gst_bus_create_watch (bus);
  g_source_set_callback (self->bus_source, (GSourceFunc) bus_message_cb, self, NULL);
  g_source_attach (self->bus_source, self->context);

  if (gst_element_set_state (self->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_PIPELINE,
                   "Cannot start the media pipeline");
      return FALSE;
    }

  return TRUE;
}

static GstPad *
es_call_branch_request_sink_pad (EsCallBranch *self,
                                 guint         mline,
                                 GstCaps      *caps)
{
  g_autoptr(GstWebRTCRTPTransceiver) transceiver = NULL;
  g_autofree char *name = g_strdup_printf ("sink_%u", mline);
  GstPadTemplate *templ;
  GstPad *pad;

  templ = gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (self->webrtc), "sink_%u");
  pad = gst_element_request_pad (self->webrtc, templ, name, caps);
  if (pad == NULL)
    return NULL;

  g_object_get (pad, "transceiver", &transceiver, NULL);
  g_object_set (transceiver,
                "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV,
                "codec-preferences", caps,
                NULL);

  return pad;
}

static void
es_call_branch_apply_gate (EsCallBranch *self,
                           EsMediaKind   kind);

/* Builds source → encoder → valve → payloader for @codec and links it to the
 * already requested webrtcbin sink pad. */
static gboolean
es_call_branch_add_sender (EsCallBranch        *self,
                           const EsMediaCodec  *codec,
                           guint                pt,
                           GError             **error)
{
  EsMediaKind kind = codec->kind;
  g_autoptr(GstElement) pay = NULL;
  g_autoptr(GstPad) pay_src = NULL;
  g_autoptr(GstPad) sender_src = NULL;
  GstElement *source;
  GstElement *sender;

  g_assert (self->senders[kind] == NULL);
  g_assert (self->send_pads[kind] != NULL);

  source = es_media_source_make (kind, self->settings, error);
  if (source == NULL)
    return FALSE;

  sender = es_media_codec_make_sender (codec, self->settings, pt, self->video_kbps, error);
  if (sender == NULL)
    {
      gst_object_unref (gst_object_ref_sink (source));
      return FALSE;
    }

  pay = gst_bin_get_by_name (GST_BIN (sender), "pay");
  pay_src = gst_element_get_static_pad (pay, "src");
  g_object_set_data (G_OBJECT (pay_src), "es-branch", self);
  gst_pad_add_probe (pay_src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                     count_sent_rtp_cb, GUINT_TO_POINTER (kind), NULL);

  gst_bin_add_many (GST_BIN (self->pipeline), source, sender, NULL);
  self->senders[kind] = gst_object_ref (sender);

  sender_src = gst_element_get_static_pad (sender, "src");
  if (!gst_element_link (source, sender) ||
      gst_pad_link (sender_src, self->send_pads[kind]) != GST_PAD_LINK_OK)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_PIPELINE,
                   "Cannot link the %s sender", codec->name);
      return FALSE;
    }

  es_call_branch_apply_gate (self, kind);

  gst_element_sync_state_with_parent (sender);
  gst_element_sync_state_with_parent (source);

  g_debug ("Sending %s with payload type %u", codec->name, pt);

  return TRUE;
}

/* Gates */

static GstPadProbeReturn
open_on_keyframe_cb (GstPad          *pad,
                     GstPadProbeInfo *info,
                     gpointer         user_data)
{
  GstElement *valve = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);

  if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT))
    return GST_PAD_PROBE_OK;

  /* The valve reads "drop" atomically in its chain function, which runs
   * right after this probe: this keyframe is the first buffer through. */
  g_object_set (valve, "drop", FALSE, NULL);
  return GST_PAD_PROBE_REMOVE;
}

static gboolean
es_call_branch_checks_passed (EsCallBranch *self)
{
  EsVerificationState state;

  if (self->verification == NULL)
    return TRUE;

  state = es_verification_get_state (self->verification);
  return state != ES_VERIFICATION_STATE_WAITING && state != ES_VERIFICATION_STATE_FAILED;
}

static void
es_call_branch_apply_gate (EsCallBranch *self,
                           EsMediaKind   kind)
{
  g_autoptr(GstElement) valve = NULL;
  g_autoptr(GstPad) valve_sink = NULL;

  if (!self->gates_open || self->senders[kind] == NULL)
    return;

  /* Nothing leaves before the peer has shown that its certificate, commitment and signature are
   * the ones it announced: a middleman that those checks catch gets no media at all. The checks
   * finish while the call rings, so an ordinary pickup waits for nothing. */
  if (!es_call_branch_checks_passed (self))
    return;

  valve = gst_bin_get_by_name (GST_BIN (self->senders[kind]), "valve");
  if (self->paused[kind])
    {
      g_object_set (valve, "drop", TRUE, NULL);
      return;
    }

  if (kind == ES_MEDIA_KIND_AUDIO)
    {
      g_object_set (valve, "drop", FALSE, NULL);
      return;
    }

  /* Video opens on a keyframe, which it asks for right away: a decoder
   * given delta frames first only shows garbage or errors until the next
   * periodic keyframe. */
  valve_sink = gst_element_get_static_pad (valve, "sink");
  gst_pad_add_probe (valve_sink, GST_PAD_PROBE_TYPE_BUFFER, open_on_keyframe_cb,
                     gst_object_ref (valve), gst_object_unref);
  es_media_codec_request_keyframe (self->senders[kind]);
}

/* Negotiation */

static void
es_call_branch_send_description (EsCallBranch                *self,
                                 GstWebRTCSessionDescription *desc,
                                 gboolean                     apply)
{
  g_autofree char *text = NULL;
  const char *type = desc->type == GST_WEBRTC_SDP_TYPE_OFFER ? "offer" : "answer";

  if (!self->settings->audio_only)
    sdp_set_video_bandwidth (desc->sdp, self->settings->video_max_kbps);

  g_clear_pointer (&self->local_sdp, gst_sdp_message_free);
  gst_sdp_message_copy (desc->sdp, &self->local_sdp);

  if (apply)
    g_signal_emit_by_name (self->webrtc, "set-local-description", desc, NULL);

  text = gst_sdp_message_as_text (desc->sdp);
  g_debug ("Local %s:\n%s", type, text);

  if (self->verification != NULL)
    {
      g_autoptr(GError) error = NULL;
      guint8 hash[ES_SAS_HASH_LEN];

      /* What our commitment binds: the certificate we announce. */
      if (!es_sas_find_sdp_fingerprint (text, hash, &error) ||
          !es_verification_set_local_fingerprint (self->verification, hash, &error))
        {
          es_call_branch_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_VERIFICATION,
                                                  "Cannot verify the call: %s",
                                                  error->message));
          return;
        }
    }

  g_signal_emit (self, signals[LOCAL_DESCRIPTION], 0, type, text);
}

static void
es_call_branch_flush_candidates (EsCallBranch *self)
{
  if (self->pending_candidates == NULL)
    return;

  for (guint i = 0; i < self->pending_candidates->len; i += 2)
    {
      guint mline = GPOINTER_TO_UINT (g_ptr_array_index (self->pending_candidates, i));
      const char *candidate = g_ptr_array_index (self->pending_candidates, i + 1);

      g_signal_emit_by_name (self->webrtc, "add-ice-candidate", mline, candidate);
    }
  g_clear_pointer (&self->pending_candidates, g_ptr_array_unref);
}

static void
es_call_branch_set_video_codec (EsCallBranch *self,
                                const char   *name)
{
  if (g_strcmp0 (self->video_codec, name) == 0)
    return;

  g_free (self->video_codec);
  self->video_codec = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VIDEO_CODEC]);
}

/* Checks an answer (ours or the peer's) against the offer it answers. On
 * success fills the codecs and payload types to send with. */
static gboolean
check_answer (const GstSDPMessage  *offer,
              const GstSDPMessage  *answer,
              gboolean              offer_is_ours,
              const EsMediaCodec  **codecs,
              guint                *pts,
              gint                 *mlines,
              guint                *video_max_kbps,
              GError              **error)
{
  if (gst_sdp_message_medias_len (answer) != gst_sdp_message_medias_len (offer))
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SDP,
                   "Answer has %u media sections, the offer %u",
                   gst_sdp_message_medias_len (answer), gst_sdp_message_medias_len (offer));
      return FALSE;
    }

  for (guint i = 0; i < gst_sdp_message_medias_len (offer); i++)
    {
      const GstSDPMedia *om = gst_sdp_message_get_media (offer, i);
      const GstSDPMedia *am = gst_sdp_message_get_media (answer, i);
      const char *kind_name = media_kind_of (om);
      EsMediaKind kind;
      g_autoptr(GPtrArray) offered = NULL;
      g_autoptr(GPtrArray) answered = NULL;
      const EsMediaCodec *chosen = NULL;

      if (g_strcmp0 (kind_name, "audio") == 0)
        kind = ES_MEDIA_KIND_AUDIO;
      else if (g_strcmp0 (kind_name, "video") == 0)
        kind = ES_MEDIA_KIND_VIDEO;
      else
        continue;

      if (g_strcmp0 (media_kind_of (am), kind_name) != 0)
        {
          g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SDP,
                       "Answer media section %u is not %s", i, kind_name);
          return FALSE;
        }

      offered = es_media_sdp_list_codecs (om);
      answered = es_media_sdp_list_codecs (am);

      /* The answer lists the chosen codec first. webrtcbin 1.22 also answers
       * when nothing matches (then it echoes its own codecs), so this check is
       * what turns a silent black screen into an error. */
      if (gst_sdp_media_get_port (am) != 0)
        for (guint j = 0; j < answered->len && chosen == NULL; j++)
          if (g_ptr_array_find_with_equal_func (offered, answered->pdata[j], g_str_equal, NULL))
            chosen = es_media_codec_lookup (answered->pdata[j]);

      if (chosen == NULL || chosen->kind != kind)
        {
          g_autoptr(GString) ours = join_codecs (offer_is_ours ? offered : answered);
          g_autoptr(GString) theirs = join_codecs (offer_is_ours ? answered : offered);

          g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_NO_COMMON_CODEC,
                       "No common %s codec: we offer %s, they offer %s",
                       kind_name, ours->str, theirs->str);
          return FALSE;
        }

      /* Payload types follow the offer. */
      codecs[kind] = chosen;
      pts[kind] = (guint) es_media_sdp_find_pt (om, chosen->name);
      mlines[kind] = (gint) i;
      if (kind == ES_MEDIA_KIND_VIDEO && video_max_kbps != NULL)
        *video_max_kbps = sdp_media_get_max_kbps (offer_is_ours ? am : om);
    }

  return TRUE;
}

static void
es_call_branch_offer_created (EsCallBranch *self,
                              GstPromise   *promise)
{
  g_autoptr(GstWebRTCSessionDescription) offer = NULL;
  g_autoptr(GError) error = NULL;
  const GstStructure *reply;

  reply = promise_get_reply (promise, "create-offer", &error);
  if (reply == NULL || !gst_structure_get (reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
                                           &offer, NULL))
    {
      if (error == NULL)
        error = g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_PIPELINE, "webrtcbin made no offer");
      es_call_branch_fail (self, g_steal_pointer (&error));
      return;
    }

  es_call_branch_send_description (self, offer, TRUE);
}

static void
reject_video (GstSDPMessage *sdp,
              EsCallBranch  *self)
{
  static const char * const drop[] = {
    "rtpmap", "fmtp", "rtcp-fb", "sendrecv", "sendonly", "recvonly", "ssrc", NULL
  };
  g_autoptr(GPtrArray) names = es_call_branch_dup_video_codecs (self);

  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    {
      GstSDPMedia *media = (GstSDPMedia *) gst_sdp_message_get_media (sdp, i);

      if (g_strcmp0 (gst_sdp_media_get_media (media), "video") != 0)
        continue;

      gst_sdp_media_set_port_info (media, 0, 1);
      while (gst_sdp_media_formats_len (media) > 0)
        gst_sdp_media_remove_format (media, 0);
      for (guint j = gst_sdp_media_attributes_len (media); j > 0; j--)
        if (g_strv_contains (drop, gst_sdp_media_get_attribute (media, j - 1)->key))
          gst_sdp_media_remove_attribute (media, j - 1);

      for (guint j = 0; j < names->len; j++)
        {
          const EsMediaCodec *codec = es_media_codec_lookup (names->pdata[j]);
          g_autofree char *pt = g_strdup_printf ("%u", codec->default_pt);
          g_autofree char *rtpmap = g_strdup_printf ("%u %s/%u", codec->default_pt,
                                                     codec->name, codec->clock_rate);

          gst_sdp_media_add_format (media, pt);
          gst_sdp_media_add_attribute (media, "rtpmap", rtpmap);
        }
      gst_sdp_media_add_attribute (media, "inactive", NULL);
    }
}

static void
es_call_branch_answer_created (EsCallBranch *self,
                               GstPromise   *promise)
{
  g_autoptr(GstWebRTCSessionDescription) answer = NULL;
  g_autoptr(GError) error = NULL;
  GstWebRTCSessionDescription *remote = NULL;
  const EsMediaCodec *codecs[ES_MEDIA_N_KINDS] = { NULL, };
  guint pts[ES_MEDIA_N_KINDS] = { 0, };
  gint mlines[ES_MEDIA_N_KINDS] = { -1, -1 };
  const GstStructure *reply;

  reply = promise_get_reply (promise, "create-answer", &error);
  if (reply == NULL || !gst_structure_get (reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
                                           &answer, NULL))
    {
      if (error == NULL)
        error = g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_PIPELINE, "webrtcbin made no answer");
      es_call_branch_fail (self, g_steal_pointer (&error));
      return;
    }

  if (self->answer_error != NULL)
    {
      /* webrtcbin ignores the codec preferences it cannot meet and answers
       * with the offer's codec, recvonly. Reject the section instead, list
       * what we have so the offerer can say so, and fail. The answer is not
       * applied: the branch ends here. */
      reject_video (answer->sdp, self);
      es_call_branch_send_description (self, answer, FALSE);
      es_call_branch_fail (self, g_steal_pointer (&self->answer_error));
      return;
    }

  g_object_get (self->webrtc, "remote-description", &remote, NULL);
  if (remote == NULL ||
      !check_answer (remote->sdp, answer->sdp, FALSE, codecs, pts, mlines, NULL, &error))
    {
      g_clear_pointer (&remote, gst_webrtc_session_description_free);
      es_call_branch_send_description (self, answer, FALSE);
      if (error == NULL)
        error = g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_PIPELINE, "No remote description");
      es_call_branch_fail (self, g_steal_pointer (&error));
      return;
    }
  g_clear_pointer (&remote, gst_webrtc_session_description_free);

  es_call_branch_send_description (self, answer, TRUE);
}

static void
es_call_branch_remote_set (EsCallBranch *self,
                           GstPromise   *promise)
{
  g_autoptr(GError) error = NULL;

  if (promise_get_reply (promise, "set-remote-description", &error) == NULL && error != NULL)
    {
      es_call_branch_fail (self, g_steal_pointer (&error));
      return;
    }

  self->remote_set = TRUE;
  es_call_branch_flush_candidates (self);

  if (self->role == ES_CALL_BRANCH_ROLE_ANSWERER)
    g_signal_emit_by_name (self->webrtc, "create-answer", NULL,
                           es_call_branch_new_promise (self, STEP_ANSWER_CREATED));
}

/* Stats */

static void
es_call_branch_stats_received (EsCallBranch *self,
                               GstPromise   *promise)
{
  g_autoptr(GError) error = NULL;
  const GstStructure *reply;
  EsCallStats *stats;

  self->stats_pending = FALSE;
  reply = promise_get_reply (promise, "get-stats", &error);
  if (reply == NULL)
    {
      g_debug ("%s", error ? error->message : "No stats");
      return;
    }

  stats = es_call_stats_parse (reply, self->stats, g_get_monotonic_time ());
  stats->audio_buffers_decoded = es_call_branch_get_audio_buffers_decoded (self);
  stats->video_frames_decoded = es_call_branch_get_video_frames_decoded (self);
  if (stats->video_codec == NULL && self->video_codec != NULL)
    stats->video_codec = g_strdup (self->video_codec);
  if (stats->audio_codec == NULL && self->audio_codec != NULL)
    stats->audio_codec = g_strdup (self->audio_codec);

  g_clear_pointer (&self->stats, es_call_stats_free);
  self->stats = stats;

  g_signal_emit (self, signals[STATS], 0, stats);
}

static gboolean
stats_timeout_cb (gpointer user_data)
{
  EsCallBranch *self = user_data;

  if (self->webrtc != NULL && !self->stats_pending)
    {
      self->stats_pending = TRUE;
      g_signal_emit_by_name (self->webrtc, "get-stats", NULL,
                             es_call_branch_new_promise (self, STEP_STATS));
    }

  return G_SOURCE_CONTINUE;
}

static void
es_call_branch_set_state (EsCallBranch      *self,
                          EsCallBranchState  state)
{
  if (self->state == state)
    return;

  g_debug ("Branch to %s: %s → %s", self->peer_device_id,
           g_enum_get_value (g_type_class_peek (ES_TYPE_CALL_BRANCH_STATE), self->state)->value_nick,
           g_enum_get_value (g_type_class_peek (ES_TYPE_CALL_BRANCH_STATE), state)->value_nick);

  self->state = state;

  if (state == ES_CALL_BRANCH_STATE_CONNECTED && self->stats_id == 0)
    self->stats_id = es_call_branch_add_timeout (self, STATS_INTERVAL_MS, stats_timeout_cb,
                                                 "[earshot] branch stats");
  else if (state != ES_CALL_BRANCH_STATE_CONNECTED)
    es_call_branch_clear_timeout (self, &self->stats_id);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static gboolean
dispatch_cb (gpointer data)
{
  Invocation *inv = data;
  EsCallBranch *self = inv->self;

  /* Everything queued before teardown is moot afterwards. */
  if (self->torn_down)
    return G_SOURCE_REMOVE;

  switch (inv->step)
    {
    case STEP_OFFER_CREATED:
      es_call_branch_offer_created (self, inv->promise);
      break;

    case STEP_ANSWER_CREATED:
      es_call_branch_answer_created (self, inv->promise);
      break;

    case STEP_REMOTE_SET:
      es_call_branch_remote_set (self, inv->promise);
      break;

    case STEP_STATS:
      es_call_branch_stats_received (self, inv->promise);
      break;

    case STEP_LOCAL_CANDIDATE:
      g_signal_emit (self, signals[LOCAL_CANDIDATE], 0, inv->number, inv->text);
      break;

    case STEP_ICE_STATE:
      g_debug ("ICE connection state %u", inv->number);
      if (inv->number == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED)
        es_call_branch_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_ICE_FAILED,
                                                "No network path to the peer (ICE failed)"));
      break;

    case STEP_CONNECTION_STATE:
      g_debug ("Peer connection state %u", inv->number);
      if (inv->number == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED)
        es_call_branch_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_ICE_FAILED,
                                                "The connection to the peer failed"));
      self->transport_connected = inv->number == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED;
      if (self->transport_connected)
        es_call_branch_start_certificates (self);
      es_call_branch_update_state (self);
      break;

    case STEP_CHANNEL:
      if (self->channel == NULL)
        self->channel = GST_WEBRTC_DATA_CHANNEL (g_object_ref (inv->object));
      break;

    case STEP_CHANNEL_STATE:
      g_debug ("Data channel state %u", inv->number);
      if (inv->number == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN)
        {
          self->channel_open = TRUE;
          es_call_branch_start_alive (self);
          es_call_branch_maybe_reveal (self);
        }
      else if (inv->number == GST_WEBRTC_DATA_CHANNEL_STATE_CLOSED && self->channel_open)
        {
          self->channel_open = FALSE;
          es_call_branch_clear_timeout (self, &self->alive_id);
          /* The peer closing the control channel is a hangup without words. But a reveal
           * that came before it and waits for our certificates is judged first: a middleman
           * caught by its own checks hangs up at once, and what our user must hear is why
           * our checks fail, not that the peer went away (es_call_branch_read_certificates()). */
          if (self->state == ES_CALL_BRANCH_STATE_CONNECTED && self->peer_reveal != NULL &&
              !self->certificates_read && self->verification != NULL)
            self->closed_with_reveal = TRUE;
          else if (self->state == ES_CALL_BRANCH_STATE_CONNECTED)
            es_call_branch_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_CHANNEL,
                                                    "The peer closed the control channel"));
        }
      es_call_branch_update_state (self);
      break;

    case STEP_CHANNEL_ERROR:
      es_call_branch_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_CHANNEL,
                                              "Control channel failed: %s",
                                              inv->error->message));
      break;

    case STEP_CONTROL_MESSAGE:
      if (!es_call_branch_take_reveal (self, inv->text))
        g_signal_emit (self, signals[CONTROL_MESSAGE], 0, inv->text);
      break;

    case STEP_MEDIA_STARTED:
      g_signal_emit (self, signals[MEDIA_STARTED], 0,
                     es_media_kind_to_string (inv->number));
      break;

    case STEP_ERROR:
      es_call_branch_fail (self, g_steal_pointer (&inv->error));
      break;

    default:
      g_assert_not_reached ();
    }

  return G_SOURCE_REMOVE;
}

/* Public API */

EsCallBranch *
es_call_branch_new (EsCallBranchRole        role,
                    const EsMediaSettings  *settings,
                    const char             *peer_device_id)
{
  g_return_val_if_fail (settings != NULL, NULL);
  g_return_val_if_fail (peer_device_id != NULL, NULL);

  return g_object_new (ES_TYPE_CALL_BRANCH,
                       "role", role,
                       "settings", settings,
                       "peer-device-id", peer_device_id,
                       NULL);
}

/**
 * es_call_branch_start:
 *
 * Offerer: builds the pipeline, adds an audio and (unless audio-only) a video
 * transceiver whose codec-preferences follow the settings' order, creates the
 * "earshot-verify" data channel and then the offer, which arrives as
 * #EsCallBranch::local-description.
 *
 * Answerer: builds the pipeline only; es_call_branch_set_remote_description()
 * with the offer does the rest (and starts the branch itself if needed).
 */
gboolean
es_call_branch_start (EsCallBranch  *self,
                      GError       **error)
{
  GstWebRTCDataChannel *channel = NULL;
  GstStructure *options;

  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), FALSE);

  if (self->started)
    return TRUE;

  if (self->state != ES_CALL_BRANCH_STATE_NEW)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_STATE,
                   "The branch has already ended");
      return FALSE;
    }

  if (!es_media_settings_validate (self->settings, error))
    return FALSE;

  if (!es_call_branch_ensure_pipeline (self, error))
    {
      es_call_branch_teardown (self);
      return FALSE;
    }

  self->started = TRUE;
  es_call_branch_update_state (self);

  if (self->role == ES_CALL_BRANCH_ROLE_ANSWERER)
    return TRUE;

  /* Audio on m-line 0, video on m-line 1. */
  {
    const EsMediaCodec *opus = es_media_codec_lookup ("OPUS");
    g_autoptr(GstCaps) caps = gst_caps_new_empty ();

    gst_caps_append_structure (caps, es_media_codec_new_rtp_structure (opus, opus->default_pt));
    self->send_pads[ES_MEDIA_KIND_AUDIO] = es_call_branch_request_sink_pad (self, 0, caps);
    if (self->send_pads[ES_MEDIA_KIND_AUDIO] == NULL ||
        !es_call_branch_add_sender (self, opus, opus->default_pt, error))
      goto fail;
    g_free (self->audio_codec);
    self->audio_codec = g_strdup (opus->name);
  }

  if (!self->settings->audio_only)
    {
      g_autoptr(GPtrArray) names = es_call_branch_dup_video_codecs (self);
      g_autoptr(GstCaps) caps = gst_caps_new_empty ();

      if (names->len == 0)
        {
          g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_MISSING_ELEMENT,
                       "None of the preferred video codecs is installed");
          goto fail;
        }

      for (guint i = 0; i < names->len; i++)
        {
          const EsMediaCodec *codec = es_media_codec_lookup (names->pdata[i]);

          gst_caps_append_structure (caps, es_media_codec_new_rtp_structure (codec,
                                                                             codec->default_pt));
        }

      /* The video sender is built when the answer says which codec won. */
      self->send_pads[ES_MEDIA_KIND_VIDEO] = es_call_branch_request_sink_pad (self, 1, caps);
      if (self->send_pads[ES_MEDIA_KIND_VIDEO] == NULL)
        goto fail;
    }

  /* Reliable and ordered: no max-retransmits, no max-packet-lifetime. The
   * channel has to be created after the pipeline left NULL, or webrtcbin
   * never opens it. */
  options = gst_structure_new ("options", "ordered", G_TYPE_BOOLEAN, TRUE, NULL);
  g_signal_emit_by_name (self->webrtc, "create-data-channel", ES_CALL_BRANCH_CONTROL_LABEL,
                         options, &channel);
  gst_structure_free (options);
  if (channel == NULL)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_CHANNEL,
                   "Cannot create the control data channel");
      goto fail;
    }
  self->channel = channel;
  es_call_branch_watch_channel (self, channel);

  g_signal_emit_by_name (self->webrtc, "create-offer", NULL,
                         es_call_branch_new_promise (self, STEP_OFFER_CREATED));

  return TRUE;

fail:
  if (error != NULL && *error == NULL)
    g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_PIPELINE, "Cannot set up the transceivers");
  es_call_branch_teardown (self);
  es_call_branch_set_state (self, ES_CALL_BRANCH_STATE_FAILED);
  return FALSE;
}

/* Answerer: one send transceiver per offered m-line we can serve, in our
 * codec order among the offered ones, with the offer's payload types.
 * webrtcbin makes no send transceivers from an offer by itself. */
static gboolean
es_call_branch_prepare_answer (EsCallBranch   *self,
                               GstSDPMessage  *offer,
                               GError        **error)
{
  for (guint i = 0; i < gst_sdp_message_medias_len (offer); i++)
    {
      const GstSDPMedia *media = gst_sdp_message_get_media (offer, i);
      const char *kind_name = media_kind_of (media);
      g_autoptr(GstCaps) caps = gst_caps_new_empty ();
      const EsMediaCodec *chosen = NULL;
      gint pt = -1;
      EsMediaKind kind;

      if (g_strcmp0 (kind_name, "audio") == 0)
        kind = ES_MEDIA_KIND_AUDIO;
      else if (g_strcmp0 (kind_name, "video") == 0 && !self->settings->audio_only)
        kind = ES_MEDIA_KIND_VIDEO;
      else
        continue;

      if (self->send_pads[kind] != NULL)
        {
          g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SDP,
                       "The offer has more than one %s section", kind_name);
          return FALSE;
        }

      if (kind == ES_MEDIA_KIND_AUDIO)
        {
          chosen = es_media_codec_lookup ("OPUS");
          pt = es_media_sdp_find_pt (media, chosen->name);
        }
      else
        {
          g_autoptr(GPtrArray) names = es_call_branch_dup_video_codecs (self);

          for (guint j = 0; j < names->len && pt < 0; j++)
            {
              pt = es_media_sdp_find_pt (media, names->pdata[j]);
              if (pt >= 0)
                chosen = es_media_codec_lookup (names->pdata[j]);
            }

          if (pt < 0)
            {
              g_autoptr(GPtrArray) offered = es_media_sdp_list_codecs (media);
              g_autoptr(GString) ours = join_codecs (names);
              g_autoptr(GString) theirs = join_codecs (offered);

              /* Answered anyway (see answer_created) so that both ends fail
               * at once with the same clear reason. */
              g_clear_error (&self->answer_error);
              self->answer_error = g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_NO_COMMON_CODEC,
                                                "No common video codec: we offer %s, they offer %s",
                                                ours->str, theirs->str);
              continue;
            }
        }

      if (pt < 0)
        {
          /* No Opus: let the answer check say so. */
          gst_caps_append_structure (caps, es_media_codec_new_rtp_structure (chosen,
                                                                             chosen->default_pt));
          self->send_pads[kind] = es_call_branch_request_sink_pad (self, i, caps);
          continue;
        }

      gst_caps_append_structure (caps, es_media_codec_new_rtp_structure (chosen, (guint) pt));
      self->send_pads[kind] = es_call_branch_request_sink_pad (self, i, caps);
      if (self->send_pads[kind] == NULL)
        {
          g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_PIPELINE,
                       "webrtcbin refused a %s transceiver", kind_name);
          return FALSE;
        }

      self->remote_video_max_kbps = kind == ES_MEDIA_KIND_VIDEO ? sdp_media_get_max_kbps (media)
                                                                : self->remote_video_max_kbps;
      if (kind == ES_MEDIA_KIND_VIDEO && self->remote_video_max_kbps > 0)
        self->video_kbps = MIN (self->video_kbps, MAX (self->remote_video_max_kbps,
                                                       self->settings->video_min_kbps));

      if (!es_call_branch_add_sender (self, chosen, (guint) pt, error))
        return FALSE;

      if (kind == ES_MEDIA_KIND_VIDEO)
        es_call_branch_set_video_codec (self, chosen->name);
      else
        {
          g_free (self->audio_codec);
          self->audio_codec = g_strdup (chosen->name);
        }
    }

  return TRUE;
}

/* Offerer: the answer decides the video codec; build its sender now. */
static gboolean
es_call_branch_apply_answer (EsCallBranch   *self,
                             GstSDPMessage  *answer,
                             GError        **error)
{
  const EsMediaCodec *codecs[ES_MEDIA_N_KINDS] = { NULL, };
  guint pts[ES_MEDIA_N_KINDS] = { 0, };
  gint mlines[ES_MEDIA_N_KINDS] = { -1, -1 };
  guint remote_kbps = 0;

  if (self->local_sdp == NULL)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_STATE,
                   "Got an answer before making an offer");
      return FALSE;
    }

  if (!check_answer (self->local_sdp, answer, TRUE, codecs, pts, mlines, &remote_kbps, error))
    return FALSE;

  if (remote_kbps > 0)
    {
      self->remote_video_max_kbps = remote_kbps;
      self->video_kbps = MIN (self->video_kbps, MAX (remote_kbps, self->settings->video_min_kbps));
    }

  if (codecs[ES_MEDIA_KIND_VIDEO] != NULL && self->senders[ES_MEDIA_KIND_VIDEO] == NULL)
    {
      if (!es_call_branch_add_sender (self, codecs[ES_MEDIA_KIND_VIDEO],
                                      pts[ES_MEDIA_KIND_VIDEO], error))
        return FALSE;
      es_call_branch_set_video_codec (self, codecs[ES_MEDIA_KIND_VIDEO]->name);
    }

  return TRUE;
}

/**
 * es_call_branch_set_remote_description:
 * @type: "offer" (answerer) or "answer" (offerer)
 * @sdp: the peer's session description
 *
 * Checks what it can at once and returns %FALSE with an error for a bad
 * description; a fatal one (such as no common codec) also fails the branch
 * and emits #EsCallBranch::failed. Later problems arrive through ::failed.
 */
gboolean
es_call_branch_set_remote_description (EsCallBranch  *self,
                                       const char    *type,
                                       const char    *sdp,
                                       GError       **error)
{
  g_autoptr(GstSDPMessage) msg = NULL;
  g_autoptr(GError) local_error = NULL;
  GstWebRTCSessionDescription *desc;
  GstWebRTCSDPType sdp_type;

  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), FALSE);

  if (self->state == ES_CALL_BRANCH_STATE_FAILED || self->state == ES_CALL_BRANCH_STATE_CLOSED)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_STATE,
                   "The branch has already ended");
      return FALSE;
    }

  if (self->remote_set || self->remote_pending)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_STATE,
                   "The branch already has a remote description");
      return FALSE;
    }

  if (self->role == ES_CALL_BRANCH_ROLE_OFFERER && g_strcmp0 (type, "answer") == 0)
    sdp_type = GST_WEBRTC_SDP_TYPE_ANSWER;
  else if (self->role == ES_CALL_BRANCH_ROLE_ANSWERER && g_strcmp0 (type, "offer") == 0)
    sdp_type = GST_WEBRTC_SDP_TYPE_OFFER;
  else
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SDP,
                   "An %s cannot take a remote description of type “%s”",
                   self->role == ES_CALL_BRANCH_ROLE_OFFERER ? "offerer" : "answerer",
                   type ? type : "(null)");
      return FALSE;
    }

  msg = parse_sdp (sdp, error);
  if (msg == NULL)
    return FALSE;

  /* The fingerprint the DTLS handshake will be checked against. */
  if (self->verification != NULL &&
      !es_verification_set_remote_sdp (self->verification, sdp, &local_error))
    {
      if (es_verification_get_state (self->verification) != ES_VERIFICATION_STATE_FAILED)
        es_call_branch_fail (self, g_error_new (ES_CALL_ERROR, ES_CALL_ERROR_VERIFICATION,
                                                "Cannot verify the call: %s",
                                                local_error->message));
      if (error != NULL)
        *error = g_error_copy (self->error ? self->error : local_error);
      return FALSE;
    }

  if (sdp_type == GST_WEBRTC_SDP_TYPE_OFFER)
    {
      if (!es_call_branch_start (self, error))
        return FALSE;
      if (!es_call_branch_prepare_answer (self, msg, &local_error))
        goto fail;
    }
  else if (!es_call_branch_apply_answer (self, msg, &local_error))
    goto fail;

  self->remote_pending = TRUE;
  desc = gst_webrtc_session_description_new (sdp_type, g_steal_pointer (&msg));
  g_signal_emit_by_name (self->webrtc, "set-remote-description", desc,
                         es_call_branch_new_promise (self, STEP_REMOTE_SET));
  gst_webrtc_session_description_free (desc);

  return TRUE;

fail:
  if (error != NULL)
    *error = g_error_copy (local_error);
  es_call_branch_fail (self, g_steal_pointer (&local_error));
  return FALSE;
}

/**
 * es_call_branch_add_remote_candidate:
 *
 * Candidates that arrive before the remote description are kept until it is
 * applied.
 */
gboolean
es_call_branch_add_remote_candidate (EsCallBranch  *self,
                                     guint          mline,
                                     const char    *candidate,
                                     GError       **error)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), FALSE);

  if (candidate != NULL && g_str_has_prefix (candidate, "a="))
    candidate += 2;

  if (candidate == NULL || !g_str_has_prefix (candidate, "candidate:") ||
      strlen (candidate) > MAX_CANDIDATE_LEN || !g_utf8_validate (candidate, -1, NULL) ||
      strpbrk (candidate, "\r\n") != NULL)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_CANDIDATE,
                   "Not an ICE candidate");
      return FALSE;
    }

  if (mline >= MAX_MLINE)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_CANDIDATE,
                   "ICE candidate for media section %u, which does not exist", mline);
      return FALSE;
    }

  if (self->state == ES_CALL_BRANCH_STATE_FAILED || self->state == ES_CALL_BRANCH_STATE_CLOSED)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_STATE,
                   "The branch has already ended");
      return FALSE;
    }

  if (!self->remote_set)
    {
      if (self->pending_candidates == NULL)
        self->pending_candidates = g_ptr_array_new ();
      if (self->pending_candidates->len >= 2 * 256)
        {
          g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_CANDIDATE,
                       "Too many ICE candidates before the session description");
          return FALSE;
        }
      /* Pairs of (mline, owned string); freed in flush or teardown. */
      g_ptr_array_add (self->pending_candidates, GUINT_TO_POINTER (mline));
      g_ptr_array_add (self->pending_candidates, g_strdup (candidate));
      return TRUE;
    }

  g_signal_emit_by_name (self->webrtc, "add-ice-candidate", mline, candidate);
  return TRUE;
}

/**
 * es_call_branch_open_gates:
 *
 * Lets our audio and video reach the peer. Gates start closed, so a ringing
 * callee device sends nothing its camera or microphone sees. Audio opens at
 * once, video on the next keyframe, which is requested now. Idempotent.
 */
void
es_call_branch_open_gates (EsCallBranch *self)
{
  g_return_if_fail (ES_IS_CALL_BRANCH (self));

  if (self->gates_open || self->torn_down)
    return;

  self->gates_open = TRUE;
  g_debug ("Opening the gates to %s", self->peer_device_id);

  for (guint kind = 0; kind < ES_MEDIA_N_KINDS; kind++)
    es_call_branch_apply_gate (self, kind);
}

gboolean
es_call_branch_get_gates_open (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), FALSE);

  return self->gates_open;
}

/**
 * es_call_branch_set_sending:
 * @audio: %FALSE while the microphone is muted
 * @video: %FALSE while the camera is off
 *
 * Pauses or resumes each kind of media behind its gate. A paused kind stays
 * paused when the gates open; video resumes on a fresh keyframe.
 */
void
es_call_branch_set_sending (EsCallBranch *self,
                            gboolean      audio,
                            gboolean      video)
{
  const gboolean sending[ES_MEDIA_N_KINDS] = {
    [ES_MEDIA_KIND_AUDIO] = audio,
    [ES_MEDIA_KIND_VIDEO] = video,
  };

  g_return_if_fail (ES_IS_CALL_BRANCH (self));

  for (guint kind = 0; kind < ES_MEDIA_N_KINDS; kind++)
    {
      if (self->paused[kind] == !sending[kind])
        continue;

      self->paused[kind] = !sending[kind];
      if (!self->torn_down)
        es_call_branch_apply_gate (self, kind);
    }
}

gboolean
es_call_branch_send_control (EsCallBranch  *self,
                             const char    *json,
                             GError       **error)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), FALSE);
  g_return_val_if_fail (json != NULL, FALSE);

  if (self->channel == NULL || !self->channel_open || self->torn_down)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_STATE,
                   "The control channel is not open");
      return FALSE;
    }

  if (!gst_webrtc_data_channel_send_string_full (self->channel, json, error))
    {
      g_prefix_error (error, "Cannot send a control message: ");
      return FALSE;
    }

  return TRUE;
}

/**
 * es_call_branch_set_video_bitrate:
 * @kbps: new encoder target
 *
 * Clamped to the settings' minimum and maximum and to what the peer said it
 * takes (b=AS / b=TIAS). The hook for the RTCP-based controller.
 */
void
es_call_branch_set_video_bitrate (EsCallBranch *self,
                                  guint         kbps)
{
  g_return_if_fail (ES_IS_CALL_BRANCH (self));

  kbps = es_media_settings_clamp_video_kbps (self->settings, kbps);
  if (self->remote_video_max_kbps > 0)
    kbps = MIN (kbps, MAX (self->remote_video_max_kbps, self->settings->video_min_kbps));

  if (kbps == self->video_kbps)
    return;

  self->video_kbps = kbps;
  if (self->senders[ES_MEDIA_KIND_VIDEO] != NULL)
    es_media_codec_set_video_bitrate (self->senders[ES_MEDIA_KIND_VIDEO], kbps);
}

guint
es_call_branch_get_video_bitrate (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), 0);

  return self->video_kbps;
}

static void
es_call_branch_teardown (EsCallBranch *self)
{
  if (self->torn_down)
    return;

  self->torn_down = TRUE;

  es_call_branch_stop_certificates (self);
  es_call_branch_clear_timeout (self, &self->alive_id);
  es_call_branch_clear_timeout (self, &self->stats_id);

  if (self->bus_source != NULL)
    {
      g_source_destroy (self->bus_source);
      g_clear_pointer (&self->bus_source, g_source_unref);
    }

  if (self->channel != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->channel, self);
      if (self->channel_open)
        gst_webrtc_data_channel_close (self->channel);
      g_clear_object (&self->channel);
    }

  if (self->webrtc != NULL)
    g_signal_handlers_disconnect_by_data (self->webrtc, self);

  /* Joins every streaming thread: after this no callback runs any more. */
  if (self->pipeline != NULL)
    gst_element_set_state (self->pipeline, GST_STATE_NULL);

  for (guint kind = 0; kind < ES_MEDIA_N_KINDS; kind++)
    {
      if (self->send_pads[kind] != NULL && self->webrtc != NULL)
        gst_element_release_request_pad (self->webrtc, self->send_pads[kind]);
      g_clear_object (&self->send_pads[kind]);
      g_clear_object (&self->senders[kind]);
    }

  g_clear_object (&self->webrtc);
  g_clear_object (&self->pipeline);

  if (self->pending_candidates != NULL)
    {
      for (guint i = 1; i < self->pending_candidates->len; i += 2)
        g_free (g_ptr_array_index (self->pending_candidates, i));
      g_clear_pointer (&self->pending_candidates, g_ptr_array_unref);
    }

  self->channel_open = FALSE;
  self->transport_connected = FALSE;
}

static void
es_call_branch_fail (EsCallBranch *self,
                     GError       *error)
{
  g_autoptr(GError) owned = error;

  if (self->state == ES_CALL_BRANCH_STATE_FAILED || self->state == ES_CALL_BRANCH_STATE_CLOSED)
    return;

  /* A failed check is why the branch ends, whatever ends it: during the linger
   * (verification_notify_state_cb()) a middleman caught by checks of its own
   * may close the channel first, and our user must hear what we found. */
  if (self->verification != NULL &&
      es_verification_get_state (self->verification) == ES_VERIFICATION_STATE_FAILED &&
      !g_error_matches (owned, ES_CALL_ERROR, ES_CALL_ERROR_VERIFICATION))
    {
      g_debug ("Branch to %s: %s, after its check failed", self->peer_device_id, owned->message);
      g_clear_error (&owned);
      owned = es_call_branch_new_verification_error (self);
    }

  g_debug ("Branch to %s failed: %s", self->peer_device_id, owned->message);

  g_clear_error (&self->error);
  self->error = g_steal_pointer (&owned);

  /* Keep a ref: a ::failed handler may drop the owner's. */
  g_object_ref (self);
  es_call_branch_teardown (self);
  es_call_branch_set_state (self, ES_CALL_BRANCH_STATE_FAILED);
  g_signal_emit (self, signals[FAILED], 0, self->error);
  g_object_unref (self);
}

/**
 * es_call_branch_close:
 *
 * Stops media, closes the control channel and frees the pipeline. The state
 * becomes closed. Idempotent; also called by dispose.
 */
void
es_call_branch_close (EsCallBranch *self)
{
  g_return_if_fail (ES_IS_CALL_BRANCH (self));

  if (self->state == ES_CALL_BRANCH_STATE_CLOSED)
    return;

  es_call_branch_teardown (self);
  es_call_branch_set_state (self, ES_CALL_BRANCH_STATE_CLOSED);
}

/* Getters */

EsCallBranchRole
es_call_branch_get_role (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), ES_CALL_BRANCH_ROLE_OFFERER);

  return self->role;
}

EsCallBranchState
es_call_branch_get_state (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), ES_CALL_BRANCH_STATE_CLOSED);

  return self->state;
}

const char *
es_call_branch_get_peer_device_id (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), NULL);

  return self->peer_device_id;
}

const EsMediaSettings *
es_call_branch_get_settings (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), NULL);

  return self->settings;
}

const GError *
es_call_branch_get_error (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), NULL);

  return self->error;
}

/**
 * es_call_branch_get_video_codec:
 *
 * Returns: (nullable): the negotiated video codec ("VP8", "H264"), known
 *   once the answer is made (answerer) or applied (offerer)
 */
const char *
es_call_branch_get_video_codec (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), NULL);

  return self->video_codec;
}

guint64
es_call_branch_get_audio_buffers_decoded (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), 0);

  return (guint) g_atomic_int_get (&self->decoded[ES_MEDIA_KIND_AUDIO]);
}

guint64
es_call_branch_get_video_frames_decoded (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), 0);

  return (guint) g_atomic_int_get (&self->decoded[ES_MEDIA_KIND_VIDEO]);
}

/**
 * es_call_branch_get_audio_packets_sent:
 *
 * RTP packets that passed the gate, counted at the payloader. Unlike the
 * outbound-rtp stats this is exact at any moment.
 */
guint64
es_call_branch_get_audio_packets_sent (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), 0);

  return (guint) g_atomic_int_get (&self->rtp_sent[ES_MEDIA_KIND_AUDIO]);
}

guint64
es_call_branch_get_video_packets_sent (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), 0);

  return (guint) g_atomic_int_get (&self->rtp_sent[ES_MEDIA_KIND_VIDEO]);
}

/**
 * es_call_branch_get_media_started_time:
 * @kind: "audio" or "video"
 *
 * Returns: g_get_monotonic_time() when the first @kind buffer was decoded
 *   (on the streaming thread, before ::media-started reaches the owner), or 0
 */
gint64
es_call_branch_get_media_started_time (EsCallBranch *self,
                                       const char   *kind)
{
  EsMediaKind k;
  gint64 t;

  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), 0);
  g_return_val_if_fail (kind != NULL, 0);

  k = g_str_equal (kind, "audio") ? ES_MEDIA_KIND_AUDIO : ES_MEDIA_KIND_VIDEO;
  g_mutex_lock (&self->sample_lock);
  t = self->started_us[k];
  g_mutex_unlock (&self->sample_lock);

  return t;
}

const EsCallStats *
es_call_branch_get_last_stats (EsCallBranch *self)
{
  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), NULL);

  return self->stats;
}

/**
 * es_call_branch_dup_last_video_sample:
 *
 * Returns: (transfer full) (nullable): the latest decoded frame, BGRA
 */
GstSample *
es_call_branch_dup_last_video_sample (EsCallBranch *self)
{
  GstSample *sample = NULL;

  g_return_val_if_fail (ES_IS_CALL_BRANCH (self), NULL);

  g_mutex_lock (&self->sample_lock);
  if (self->last_video_sample != NULL)
    sample = gst_sample_ref (self->last_video_sample);
  g_mutex_unlock (&self->sample_lock);

  return sample;
}

/* GObject */

static void
es_call_branch_constructed (GObject *object)
{
  EsCallBranch *self = ES_CALL_BRANCH (object);

  G_OBJECT_CLASS (es_call_branch_parent_class)->constructed (object);

  if (self->settings == NULL)
    self->settings = es_media_settings_new ();
  if (self->peer_device_id == NULL)
    self->peer_device_id = g_strdup ("");

  self->video_kbps = es_media_settings_clamp_video_kbps (self->settings,
                                                         self->settings->video_start_kbps);
}

static void
es_call_branch_dispose (GObject *object)
{
  EsCallBranch *self = ES_CALL_BRANCH (object);

  es_call_branch_teardown (self);
  es_call_branch_set_verification (self, NULL);

  G_OBJECT_CLASS (es_call_branch_parent_class)->dispose (object);
}

static void
es_call_branch_finalize (GObject *object)
{
  EsCallBranch *self = ES_CALL_BRANCH (object);

  g_clear_pointer (&self->settings, es_media_settings_free);
  g_clear_pointer (&self->peer_device_id, g_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->local_sdp, gst_sdp_message_free);
  g_clear_pointer (&self->video_codec, g_free);
  g_clear_pointer (&self->audio_codec, g_free);
  g_clear_pointer (&self->stats, es_call_stats_free);
  g_clear_error (&self->error);
  g_clear_error (&self->answer_error);
  g_clear_pointer (&self->last_video_sample, gst_sample_unref);
  g_clear_pointer (&self->peer_reveal, g_free);
  g_mutex_clear (&self->sample_lock);

  G_OBJECT_CLASS (es_call_branch_parent_class)->finalize (object);
}

static void
es_call_branch_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  EsCallBranch *self = ES_CALL_BRANCH (object);

  switch (prop_id)
    {
    case PROP_ROLE:
      g_value_set_enum (value, self->role);
      break;

    case PROP_SETTINGS:
      g_value_set_boxed (value, self->settings);
      break;

    case PROP_PEER_DEVICE_ID:
      g_value_set_string (value, self->peer_device_id);
      break;

    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;

    case PROP_VIDEO_CODEC:
      g_value_set_string (value, self->video_codec);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_call_branch_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  EsCallBranch *self = ES_CALL_BRANCH (object);

  switch (prop_id)
    {
    case PROP_ROLE:
      self->role = g_value_get_enum (value);
      break;

    case PROP_SETTINGS:
      self->settings = g_value_dup_boxed (value);
      break;

    case PROP_PEER_DEVICE_ID:
      self->peer_device_id = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_call_branch_class_init (EsCallBranchClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = es_call_branch_constructed;
  object_class->dispose = es_call_branch_dispose;
  object_class->finalize = es_call_branch_finalize;
  object_class->get_property = es_call_branch_get_property;
  object_class->set_property = es_call_branch_set_property;

  properties[PROP_ROLE] =
    g_param_spec_enum ("role", NULL, NULL,
                       ES_TYPE_CALL_BRANCH_ROLE, ES_CALL_BRANCH_ROLE_OFFERER,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  properties[PROP_SETTINGS] =
    g_param_spec_boxed ("settings", NULL, NULL,
                        ES_TYPE_MEDIA_SETTINGS,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  properties[PROP_PEER_DEVICE_ID] =
    g_param_spec_string ("peer-device-id", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       ES_TYPE_CALL_BRANCH_STATE, ES_CALL_BRANCH_STATE_NEW,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_VIDEO_CODEC] =
    g_param_spec_string ("video-codec", NULL, NULL,
                         NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * EsCallBranch::local-description:
   * @type: "offer" or "answer"
   * @sdp: the session description to send to the peer
   */
  signals[LOCAL_DESCRIPTION] =
    g_signal_new ("local-description", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  /**
   * EsCallBranch::local-candidate:
   * @mline: media section index
   * @candidate: "candidate:…" line to send to the peer
   */
  signals[LOCAL_CANDIDATE] =
    g_signal_new ("local-candidate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);

  /**
   * EsCallBranch::control-message:
   * @json: text received on the "earshot-verify" channel, unchecked
   */
  signals[CONTROL_MESSAGE] =
    g_signal_new ("control-message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  /**
   * EsCallBranch::media-started:
   * @kind: "audio" or "video": the first buffer of that kind was decoded
   */
  signals[MEDIA_STARTED] =
    g_signal_new ("media-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  /**
   * EsCallBranch::stats:
   * @stats: (transfer none): the latest sample, every second while connected
   */
  signals[STATS] =
    g_signal_new ("stats", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, ES_TYPE_CALL_STATS);

  /**
   * EsCallBranch::failed:
   * @error: why; the state is already failed and the pipeline gone
   */
  signals[FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);

  /**
   * EsCallBranch::video-sample:
   * @sample: a decoded BGRA frame
   *
   * Emitted ON THE STREAMING THREAD, for every frame. Handlers must be quick
   * and thread-safe: take a ref and hand it to the main thread (GTK turns it
   * into a GdkMemoryTexture there). es_call_branch_dup_last_video_sample()
   * is the polling alternative.
   */
  signals[VIDEO_SAMPLE] =
    g_signal_new ("video-sample", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  GST_TYPE_SAMPLE | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
es_call_branch_init (EsCallBranch *self)
{
  g_mutex_init (&self->sample_lock);
  self->context = g_main_context_ref_thread_default ();
  self->mlines[0] = self->mlines[1] = -1;
}
