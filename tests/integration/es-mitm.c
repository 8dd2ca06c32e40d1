/* es-mitm.c: TEST ONLY. A man in the middle of Earshot calls, for test-verify.py
 *
 * Runs as the middleman device of earshot-server-mitm (see src/server/es-server-mitm.c), which
 * diverts every offer, answer and ice between two other devices to it and lets it send frames
 * as either of them. Modes:
 *
 * relay (default): a full middleman. For Alice's offer it answers Alice as "Bob" on one call
 *   branch (leg A) and calls Bob as "Alice" on another (leg B), each with its own webrtcbin,
 *   its own DTLS certificate and its own identity key, and runs the verification honestly on
 *   both legs. It sends its own test media (audiotestsrc) on both legs; it does not forward
 *   Alice's or Bob's. Both calls work; the emoji of the two legs are printed.
 * --swap-fingerprint: forwards everything, but rewrites the a=fingerprint of every offer and
 *   answer to a certificate of its own choosing. DTLS runs end to end between Alice and Bob.
 * --late-cert: like relay, but commits on leg A to Bob's commitment (relayed from leg B's
 *   answer) while terminating leg A's DTLS with its own certificate.
 *
 * Prints JSON lines: {"event":"ready"}, {"event":"leg","call_id","leg":"alice"|"bob","state",
 * "indices":[5],"emoji":[5]}, {"event":"leg_failed","call_id","leg","message"},
 * {"event":"relayed","call_id","type","from","to"}, {"event":"session_ended","call_id"} (when
 * the server tells it the call was hung up; both legs are closed).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include "es-call-branch.h"
#include "es-client-store.h"
#include "es-identity.h"
#include "es-sas-emoji.h"
#include "es-sas.h"
#include "es-signaling-client.h"
#include "es-trust-store.h"
#include "es-verification.h"

typedef enum
{
  MODE_RELAY,
  MODE_SWAP_FINGERPRINT,
  MODE_LATE_CERT,
} Mode;

typedef struct
{
  EsSignalingClient *client;
  EsIdentity        *identity;
  EsTrustStore      *trust_store;
  EsMediaSettings   *settings;
  GHashTable        *sessions; /* call_id → Session */
  GMainLoop         *loop;
  Mode               mode;
  gboolean           ready;
} Mitm;

typedef struct
{
  Mitm         *mitm;
  char         *call_id;
  char         *alice_device;
  char         *alice_user;
  char         *bob_device;
  char         *bob_user;
  EsCallBranch *leg_a; /* answers Alice, as Bob */
  EsCallBranch *leg_b; /* calls Bob, as Alice */
  char         *leg_a_answer;  /* --late-cert: our answer to Alice, until Bob's commitment */
  char         *bob_commit;
  guint         a_printed : 1;
  guint         b_printed : 1;
} Session;

static void
print_json (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  fputs (text, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
  g_object_unref (builder);
}

static JsonBuilder *
begin (const char *event,
       const char *call_id)
{
  JsonBuilder *b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, event);
  if (call_id != NULL)
    {
      json_builder_set_member_name (b, "call_id");
      json_builder_add_string_value (b, call_id);
    }
  return b;
}

static void
add_string (JsonBuilder *b,
            const char  *name,
            const char  *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
session_free (gpointer data)
{
  Session *s = data;

  if (s->leg_a != NULL)
    {
      g_signal_handlers_disconnect_by_data (s->leg_a, s);
      if (es_call_branch_get_verification (s->leg_a) != NULL)
        g_signal_handlers_disconnect_by_data (es_call_branch_get_verification (s->leg_a), s);
      es_call_branch_close (s->leg_a);
      g_clear_object (&s->leg_a);
    }
  if (s->leg_b != NULL)
    {
      g_signal_handlers_disconnect_by_data (s->leg_b, s);
      if (es_call_branch_get_verification (s->leg_b) != NULL)
        g_signal_handlers_disconnect_by_data (es_call_branch_get_verification (s->leg_b), s);
      es_call_branch_close (s->leg_b);
      g_clear_object (&s->leg_b);
    }
  g_free (s->call_id);
  g_free (s->alice_device);
  g_free (s->alice_user);
  g_free (s->bob_device);
  g_free (s->bob_user);
  g_free (s->leg_a_answer);
  g_free (s->bob_commit);
  g_free (s);
}

/* Sends @type to @to_device as if @as_device of @as_user sent it. Takes @body. */
static void
send_as (Mitm          *mitm,
         EsMessageType  type,
         const char    *call_id,
         const char    *to_device,
         const char    *as_device,
         const char    *as_user,
         JsonObject    *body)
{
  g_autoptr(JsonObject) owned = body;
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (body, "mitm_as_device", as_device);
  json_object_set_string_member (body, "mitm_as_user", as_user);
  if (es_signaling_client_send (mitm->client, type, call_id, to_device, body, &error) <= 0)
    g_warning ("Cannot send %s: %s", es_message_type_to_string (type), error->message);
}

/* Legs */

static gboolean
is_leg_a (Session      *s,
          EsCallBranch *branch)
{
  return branch == s->leg_a;
}

static void
send_leg_a_answer (Session    *s,
                   const char *commit)
{
  JsonObject *body = json_object_new ();

  json_object_set_string_member (body, "sdp", s->leg_a_answer);
  json_object_set_string_member (body, "commit", commit);
  send_as (s->mitm, ES_MESSAGE_ANSWER, s->call_id, s->alice_device, s->bob_device, s->bob_user,
           body);
}

static void
leg_local_description_cb (EsCallBranch *branch,
                          const char   *type,
                          const char   *sdp,
                          Session      *s)
{
  EsVerification *verification = es_call_branch_get_verification (branch);
  g_autofree char *commit = es_verification_dup_commitment_b64 (verification);

  if (is_leg_a (s, branch))
    {
      g_free (s->leg_a_answer);
      s->leg_a_answer = g_strdup (sdp);
      if (s->mitm->mode == MODE_LATE_CERT)
        {
          /* Committed to Bob's certificate, connected with ours. */
          if (s->bob_commit != NULL)
            send_leg_a_answer (s, s->bob_commit);
        }
      else
        send_leg_a_answer (s, commit);
    }
  else
    {
      JsonObject *body = json_object_new ();

      json_object_set_string_member (body, "sdp", sdp);
      json_object_set_string_member (body, "commit", commit);
      send_as (s->mitm, ES_MESSAGE_OFFER, s->call_id, s->bob_device, s->alice_device,
               s->alice_user, body);
    }
}

static void
leg_local_candidate_cb (EsCallBranch *branch,
                        guint         mline,
                        const char   *candidate,
                        Session      *s)
{
  JsonObject *body = json_object_new ();

  json_object_set_int_member (body, "mline", mline);
  json_object_set_string_member (body, "candidate", candidate);
  if (is_leg_a (s, branch))
    send_as (s->mitm, ES_MESSAGE_ICE, s->call_id, s->alice_device, s->bob_device, s->bob_user,
             body);
  else
    send_as (s->mitm, ES_MESSAGE_ICE, s->call_id, s->bob_device, s->alice_device, s->alice_user,
             body);
}

static void
leg_failed_cb (EsCallBranch *branch,
               const GError *error,
               Session      *s)
{
  JsonBuilder *b = begin ("leg_failed", s->call_id);

  add_string (b, "leg", is_leg_a (s, branch) ? "alice" : "bob");
  add_string (b, "message", error->message);
  print_json (b);

  /* One leg gone is the call gone. */
  if (s->leg_a != NULL)
    es_call_branch_close (s->leg_a);
  if (s->leg_b != NULL)
    es_call_branch_close (s->leg_b);
}

static void
leg_verification_cb (EsVerification *verification,
                     GParamSpec     *pspec,
                     Session        *s)
{
  gboolean a = s->leg_a != NULL && es_call_branch_get_verification (s->leg_a) == verification;
  const guint8 *sas = es_verification_get_sas (verification);
  JsonBuilder *b;

  if (sas == NULL || (a ? s->a_printed : s->b_printed))
    return;
  if (a)
    s->a_printed = TRUE;
  else
    s->b_printed = TRUE;

  b = begin ("leg", s->call_id);
  add_string (b, "leg", a ? "alice" : "bob");
  add_string (b, "state", g_enum_get_value (g_type_class_peek (ES_TYPE_VERIFICATION_STATE),
                                            es_verification_get_state (verification))->value_nick);
  json_builder_set_member_name (b, "indices");
  json_builder_begin_array (b);
  for (guint i = 0; i < ES_SAS_N_INDICES; i++)
    json_builder_add_int_value (b, sas[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "emoji");
  json_builder_begin_array (b);
  for (guint i = 0; i < ES_SAS_N_INDICES; i++)
    json_builder_add_string_value (b, es_sas_emoji_get_name (sas[i]));
  json_builder_end_array (b);
  print_json (b);
}

static EsCallBranch *
make_leg (Session          *s,
          EsCallBranchRole  role,
          const char       *peer_device,
          const char       *peer_user)
{
  EsCallBranch *branch = es_call_branch_new (role, s->mitm->settings, peer_device);
  g_autoptr(EsVerification) verification = NULL;

  verification = es_verification_new (role == ES_CALL_BRANCH_ROLE_OFFERER ? ES_SAS_ROLE_OFFERER
                                                                           : ES_SAS_ROLE_ANSWERER,
                                      s->mitm->identity, s->mitm->trust_store, peer_device,
                                      peer_user);
  g_signal_connect (verification, "notify::state", G_CALLBACK (leg_verification_cb), s);
  es_call_branch_set_verification (branch, verification);

  g_signal_connect (branch, "local-description", G_CALLBACK (leg_local_description_cb), s);
  g_signal_connect (branch, "local-candidate", G_CALLBACK (leg_local_candidate_cb), s);
  g_signal_connect (branch, "failed", G_CALLBACK (leg_failed_cb), s);
  /* Our own test media flows to both of them as soon as they listen. */
  es_call_branch_open_gates (branch);

  return branch;
}

/* Frames */

static char *
swap_fingerprint (const char *sdp)
{
  g_autoptr(GRegex) regex = NULL;
  guint8 random[32];
  guint8 hash[ES_SAS_HASH_LEN];
  g_autofree char *fake = NULL;
  g_autofree char *replacement = NULL;
  gsize len = sizeof hash;
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);

  for (guint i = 0; i < sizeof random; i++)
    random[i] = g_random_int_range (0, 256);
  g_checksum_update (checksum, random, sizeof random);
  g_checksum_get_digest (checksum, hash, &len);
  fake = es_sas_format_fingerprint (hash);

  replacement = g_strdup_printf ("a=fingerprint:sha-256 %s", fake);
  regex = g_regex_new ("a=fingerprint:sha-256 [0-9A-Fa-f:]+", 0, 0, NULL);
  return g_regex_replace_literal (regex, sdp, -1, 0, replacement, 0, NULL);
}

static void
relay_frame (Mitm          *mitm,
             const EsFrame *frame,
             const char    *to_device)
{
  JsonObject *body = json_object_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;
  JsonBuilder *b;

  json_object_iter_init (&iter, frame->body);
  while (json_object_iter_next (&iter, &name, &node))
    {
      if (g_str_has_prefix (name, "mitm_"))
        continue;
      if (g_str_equal (name, "sdp") && JSON_NODE_HOLDS_VALUE (node))
        {
          g_autofree char *swapped = swap_fingerprint (json_node_get_string (node));

          json_object_set_string_member (body, "sdp", swapped);
        }
      else
        json_object_set_member (body, name, json_node_copy (node));
    }

  b = begin ("relayed", frame->call_id);
  add_string (b, "type", es_message_type_to_string (frame->type));
  add_string (b, "from", frame->from_device);
  add_string (b, "to", to_device);
  print_json (b);

  send_as (mitm, frame->type, frame->call_id, to_device, frame->from_device, frame->from_user,
           body);
}

static void
frame_received_cb (EsSignalingClient *client,
                   gpointer           frame_ptr,
                   Mitm              *mitm)
{
  const EsFrame *frame = frame_ptr;
  g_autoptr(GError) error = NULL;
  const char *to_device = json_object_get_string_member_with_default (frame->body,
                                                                      "mitm_to_device", NULL);
  const char *to_user = json_object_get_string_member_with_default (frame->body,
                                                                    "mitm_to_user", NULL);
  const char *sdp = json_object_get_string_member_with_default (frame->body, "sdp", NULL);
  const char *commit = json_object_get_string_member_with_default (frame->body, "commit", NULL);
  Session *s;

  if (frame->call_id == NULL || to_device == NULL || frame->from_device == NULL)
    return;

  /* The server's copy of a hangup: the call is over, and so are both legs and their media. */
  if (frame->type == ES_MESSAGE_HANGUP)
    {
      if (g_hash_table_remove (mitm->sessions, frame->call_id))
        print_json (begin ("session_ended", frame->call_id));
      return;
    }

  if (mitm->mode == MODE_SWAP_FINGERPRINT)
    {
      relay_frame (mitm, frame, to_device);
      return;
    }

  s = g_hash_table_lookup (mitm->sessions, frame->call_id);

  if (frame->type == ES_MESSAGE_OFFER && s == NULL)
    {
      if (sdp == NULL || to_user == NULL)
        return;

      s = g_new0 (Session, 1);
      s->mitm = mitm;
      s->call_id = g_strdup (frame->call_id);
      s->alice_device = g_strdup (frame->from_device);
      s->alice_user = g_strdup (frame->from_user);
      s->bob_device = g_strdup (to_device);
      s->bob_user = g_strdup (to_user);
      g_hash_table_insert (mitm->sessions, g_strdup (frame->call_id), s);

      s->leg_a = make_leg (s, ES_CALL_BRANCH_ROLE_ANSWERER, s->alice_device, s->alice_user);
      s->leg_b = make_leg (s, ES_CALL_BRANCH_ROLE_OFFERER, s->bob_device, s->bob_user);

      if (!es_verification_set_peer_commitment_b64 (es_call_branch_get_verification (s->leg_a),
                                                    commit, &error) ||
          !es_call_branch_set_remote_description (s->leg_a, "offer", sdp, &error))
        g_warning ("Leg A: %s", error->message);
      g_clear_error (&error);
      if (!es_call_branch_start (s->leg_b, &error))
        g_warning ("Leg B: %s", error->message);
      return;
    }

  if (s == NULL)
    return;

  if (frame->type == ES_MESSAGE_ANSWER && g_strcmp0 (frame->from_device, s->bob_device) == 0)
    {
      if (sdp == NULL)
        return;
      if (!es_verification_set_peer_commitment_b64 (es_call_branch_get_verification (s->leg_b),
                                                    commit, &error) ||
          !es_call_branch_set_remote_description (s->leg_b, "answer", sdp, &error))
        g_warning ("Leg B: %s", error->message);

      if (mitm->mode == MODE_LATE_CERT && commit != NULL && s->bob_commit == NULL)
        {
          s->bob_commit = g_strdup (commit);
          if (s->leg_a_answer != NULL)
            send_leg_a_answer (s, s->bob_commit);
        }
      return;
    }

  if (frame->type == ES_MESSAGE_ICE)
    {
      EsCallBranch *leg = g_strcmp0 (frame->from_device, s->alice_device) == 0 ? s->leg_a
                        : g_strcmp0 (frame->from_device, s->bob_device) == 0   ? s->leg_b
                                                                               : NULL;
      gint64 mline = json_object_get_int_member_with_default (frame->body, "mline", -1);
      const char *candidate = json_object_get_string_member_with_default (frame->body,
                                                                          "candidate", NULL);

      if (leg != NULL && mline >= 0 && candidate != NULL &&
          !es_call_branch_add_remote_candidate (leg, (guint) mline, candidate, &error))
        g_debug ("Candidate: %s", error->message);
    }
}

static void
client_notify_state_cb (EsSignalingClient *client,
                        GParamSpec        *pspec,
                        Mitm              *mitm)
{
  if (!mitm->ready && es_signaling_client_get_state (client) == ES_SIGNALING_STATE_CONNECTED)
    {
      mitm->ready = TRUE;
      print_json (begin ("ready", NULL));
    }
}

static gboolean
quit_cb (gpointer user_data)
{
  Mitm *mitm = user_data;

  g_main_loop_quit (mitm->loop);
  return G_SOURCE_REMOVE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(EsClientStore) store = NULL;
  g_autofree char *profile = NULL;
  gboolean swap = FALSE;
  gboolean late = FALSE;
  Mitm mitm = { 0, };
  const GOptionEntry entries[] = {
    { "profile", 0, 0, G_OPTION_ARG_FILENAME, &profile, "The middleman's profile", "DIR" },
    { "swap-fingerprint", 0, 0, G_OPTION_ARG_NONE, &swap, "Only rewrite the SDP fingerprints", NULL },
    { "late-cert", 0, 0, G_OPTION_ARG_NONE, &late, "Commit to Bob's certificate, use our own", NULL },
    { NULL }
  };

  context = g_option_context_new ("— TEST ONLY: a man in the middle of Earshot calls");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || profile == NULL)
    {
      g_printerr ("es-mitm: %s\n", error ? error->message : "--profile is required");
      return 2;
    }

  gst_init (NULL, NULL);
  g_log_writer_default_set_use_stderr (TRUE);

  mitm.mode = swap ? MODE_SWAP_FINGERPRINT : late ? MODE_LATE_CERT : MODE_RELAY;
  store = es_client_store_new (profile, &error);
  if (store == NULL)
    {
      g_printerr ("es-mitm: %s\n", error->message);
      return 1;
    }
  mitm.identity = es_identity_load_or_create (profile, &error);
  if (mitm.identity == NULL)
    {
      g_printerr ("es-mitm: %s\n", error->message);
      return 1;
    }
  mitm.trust_store = es_trust_store_new (profile, NULL);
  mitm.settings = es_media_settings_new ();
  mitm.settings->test_media = TRUE;
  mitm.settings->audio_only = TRUE;
  mitm.sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, session_free);
  mitm.loop = g_main_loop_new (NULL, FALSE);
  mitm.client = es_signaling_client_new (store);

  g_signal_connect (mitm.client, "frame-received", G_CALLBACK (frame_received_cb), &mitm);
  g_signal_connect (mitm.client, "notify::state", G_CALLBACK (client_notify_state_cb), &mitm);
  g_unix_signal_add (SIGINT, quit_cb, &mitm);
  g_unix_signal_add (SIGTERM, quit_cb, &mitm);

  es_signaling_client_start (mitm.client);
  g_main_loop_run (mitm.loop);

  g_hash_table_remove_all (mitm.sessions);
  es_signaling_client_stop (mitm.client);
  g_signal_handlers_disconnect_by_data (mitm.client, &mitm);
  g_clear_object (&mitm.client);
  g_clear_pointer (&mitm.sessions, g_hash_table_unref);
  g_clear_pointer (&mitm.settings, es_media_settings_free);
  g_clear_object (&mitm.identity);
  g_clear_object (&mitm.trust_store);
  g_clear_pointer (&mitm.loop, g_main_loop_unref);

  return 0;
}
