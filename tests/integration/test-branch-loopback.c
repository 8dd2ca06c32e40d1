/* test-branch-loopback.c: two call branches in one process, wired to each other
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The signaling is a direct function call: each branch's local-description
 * and local-candidate feed the other's set_remote_description and
 * add_remote_candidate. Media is test media; ICE finds host candidates.
 */

#include <string.h>

#include <gst/gst.h>

#include "es-call-branch.h"

#define CONNECT_TIMEOUT_MS 15000
#define MEDIA_TIMEOUT_MS   10000

/* Iterates the default main context until @cond holds or @timeout_ms pass;
 * a short timer keeps the loop waking up so @cond is re-checked. */
#define WAIT_UNTIL(cond, timeout_ms)                                           \
  G_STMT_START {                                                               \
    gint64 _deadline = g_get_monotonic_time () + (gint64) (timeout_ms) * 1000; \
    guint _tick = g_timeout_add (10, tick_cb, NULL);                           \
    while (!(cond) && g_get_monotonic_time () < _deadline)                     \
      g_main_context_iteration (NULL, TRUE);                                   \
    g_source_remove (_tick);                                                   \
  } G_STMT_END

static gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  WAIT_UNTIL (g_get_monotonic_time () >= end, ms + 100);
}

typedef struct
{
  EsCallBranch *offerer;
  EsCallBranch *answerer;
  GError       *offerer_error;
  GError       *answerer_error;
  char         *offerer_message;
  char         *answerer_message;
  EsCallStats  *offerer_stats;
  EsCallStats  *answerer_stats;
  GArray       *offerer_video_bytes;   /* (gint64 time_us, guint64 bytes) pairs */
  guint         stats_count;
} Pair;

static EsCallBranch *
other (Pair         *pair,
       EsCallBranch *branch)
{
  return branch == pair->offerer ? pair->answerer : pair->offerer;
}

static void
local_description_cb (EsCallBranch *branch,
                      const char   *type,
                      const char   *sdp,
                      Pair         *pair)
{
  g_autoptr(GError) error = NULL;
  EsCallBranch *peer = other (pair, branch);

  if (g_getenv ("ES_TEST_DUMP_SDP"))
    g_printerr ("%s\n", sdp);

  /* Failures also arrive as ::failed, which the tests check. */
  if (!es_call_branch_set_remote_description (peer, type, sdp, &error))
    g_test_message ("set_remote_description(%s): %s", type, error->message);
}

static void
local_candidate_cb (EsCallBranch *branch,
                    guint         mline,
                    const char   *candidate,
                    Pair         *pair)
{
  g_autoptr(GError) error = NULL;

  if (!es_call_branch_add_remote_candidate (other (pair, branch), mline, candidate, &error))
    g_test_message ("add_remote_candidate: %s", error->message);
}

static void
failed_cb (EsCallBranch *branch,
           const GError *error,
           Pair         *pair)
{
  GError **slot = branch == pair->offerer ? &pair->offerer_error : &pair->answerer_error;

  g_test_message ("%s failed: %s", branch == pair->offerer ? "offerer" : "answerer",
                  error->message);
  g_clear_error (slot);
  *slot = g_error_copy (error);
}

static void
control_message_cb (EsCallBranch *branch,
                    const char   *json,
                    Pair         *pair)
{
  char **slot = branch == pair->offerer ? &pair->offerer_message : &pair->answerer_message;

  g_free (*slot);
  *slot = g_strdup (json);
}

static void
stats_cb (EsCallBranch      *branch,
          const EsCallStats *stats,
          Pair              *pair)
{
  EsCallStats **slot = branch == pair->offerer ? &pair->offerer_stats : &pair->answerer_stats;

  g_clear_pointer (slot, es_call_stats_free);
  *slot = es_call_stats_copy (stats);
  pair->stats_count++;

  if (branch == pair->offerer)
    {
      gint64 t = stats->timestamp_us;
      guint64 b = stats->video_bytes_sent;

      g_array_append_val (pair->offerer_video_bytes, t);
      g_array_append_val (pair->offerer_video_bytes, b);
    }
}

static EsMediaSettings *
make_settings (const char *codecs)
{
  EsMediaSettings *settings = es_media_settings_new ();
  g_auto(GStrv) list = g_strsplit (codecs, ",", -1);

  settings->test_media = TRUE;
  es_media_settings_set_video_codecs (settings, (const char * const *) list);

  return settings;
}

static void
pair_init (Pair                  *pair,
           const EsMediaSettings *offerer_settings,
           const EsMediaSettings *answerer_settings)
{
  memset (pair, 0, sizeof *pair);

  pair->offerer_video_bytes = g_array_new (FALSE, FALSE, sizeof (gint64));
  pair->offerer = es_call_branch_new (ES_CALL_BRANCH_ROLE_OFFERER, offerer_settings, "callee-1");
  pair->answerer = es_call_branch_new (ES_CALL_BRANCH_ROLE_ANSWERER, answerer_settings, "caller");

  for (guint i = 0; i < 2; i++)
    {
      EsCallBranch *b = i == 0 ? pair->offerer : pair->answerer;

      g_signal_connect (b, "local-description", G_CALLBACK (local_description_cb), pair);
      g_signal_connect (b, "local-candidate", G_CALLBACK (local_candidate_cb), pair);
      g_signal_connect (b, "failed", G_CALLBACK (failed_cb), pair);
      g_signal_connect (b, "control-message", G_CALLBACK (control_message_cb), pair);
      g_signal_connect (b, "stats", G_CALLBACK (stats_cb), pair);
    }
}

static void
pair_start (Pair *pair)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = es_call_branch_start (pair->answerer, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = es_call_branch_start (pair->offerer, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

#define BOTH_CONNECTED(pair)                                                         \
  (es_call_branch_get_state ((pair)->offerer) == ES_CALL_BRANCH_STATE_CONNECTED &&   \
   es_call_branch_get_state ((pair)->answerer) == ES_CALL_BRANCH_STATE_CONNECTED)

static void
pair_wait_connected (Pair *pair)
{
  gint64 t0 = g_get_monotonic_time ();

  WAIT_UNTIL (BOTH_CONNECTED (pair) || pair->offerer_error || pair->answerer_error,
              CONNECT_TIMEOUT_MS);
  g_assert_no_error (pair->offerer_error);
  g_assert_no_error (pair->answerer_error);
  g_assert_true (BOTH_CONNECTED (pair));
  g_test_message ("connected after %.0f ms", (g_get_monotonic_time () - t0) / 1000.0);
}

/* Closes both branches and checks that nothing keeps them alive. */
static void
pair_clear (Pair *pair)
{
  EsCallBranch *offerer = pair->offerer;
  EsCallBranch *answerer = pair->answerer;

  es_call_branch_close (offerer);
  es_call_branch_close (answerer);
  es_call_branch_close (offerer);
  g_assert_cmpint (es_call_branch_get_state (offerer), ==, ES_CALL_BRANCH_STATE_CLOSED);

  g_object_add_weak_pointer (G_OBJECT (offerer), (gpointer *) &pair->offerer);
  g_object_add_weak_pointer (G_OBJECT (answerer), (gpointer *) &pair->answerer);
  g_object_unref (offerer);
  g_object_unref (answerer);
  /* Invocations queued by streaming threads before close still hold refs. */
  WAIT_UNTIL (pair->offerer == NULL && pair->answerer == NULL, 2000);
  g_assert_null (pair->offerer);
  g_assert_null (pair->answerer);

  g_clear_error (&pair->offerer_error);
  g_clear_error (&pair->answerer_error);
  g_clear_pointer (&pair->offerer_message, g_free);
  g_clear_pointer (&pair->answerer_message, g_free);
  g_clear_pointer (&pair->offerer_stats, es_call_stats_free);
  g_clear_pointer (&pair->answerer_stats, es_call_stats_free);
  g_clear_pointer (&pair->offerer_video_bytes, g_array_unref);
}

static double
ms_since (gint64 t0,
          gint64 t)
{
  return t > 0 ? (t - t0) / 1000.0 : -1;
}

/* Opens both gates and waits until each side decoded @frames video frames
 * (or only audio when @frames is 0). */
static void
pair_open_and_flow (Pair  *pair,
                    guint  frames)
{
  gint64 t0 = g_get_monotonic_time ();

  es_call_branch_open_gates (pair->offerer);
  es_call_branch_open_gates (pair->answerer);

  WAIT_UNTIL ((es_call_branch_get_video_frames_decoded (pair->offerer) >= frames &&
               es_call_branch_get_video_frames_decoded (pair->answerer) >= frames &&
               es_call_branch_get_audio_buffers_decoded (pair->offerer) > 0 &&
               es_call_branch_get_audio_buffers_decoded (pair->answerer) > 0) ||
              pair->offerer_error || pair->answerer_error,
              MEDIA_TIMEOUT_MS);
  g_assert_no_error (pair->offerer_error);
  g_assert_no_error (pair->answerer_error);

  g_test_message ("open_gates → first decoded: audio at answerer %.0f ms, at offerer %.0f ms; "
                  "video at answerer %.0f ms, at offerer %.0f ms",
                  ms_since (t0, es_call_branch_get_media_started_time (pair->answerer, "audio")),
                  ms_since (t0, es_call_branch_get_media_started_time (pair->offerer, "audio")),
                  ms_since (t0, es_call_branch_get_media_started_time (pair->answerer, "video")),
                  ms_since (t0, es_call_branch_get_media_started_time (pair->offerer, "video")));
  if (g_test_verbose () || g_getenv ("ES_TEST_TIMINGS"))
    g_printerr ("# open_gates → first decoded audio %.0f/%.0f ms, video %.0f/%.0f ms "
                "(answerer/offerer)\n",
                ms_since (t0, es_call_branch_get_media_started_time (pair->answerer, "audio")),
                ms_since (t0, es_call_branch_get_media_started_time (pair->offerer, "audio")),
                ms_since (t0, es_call_branch_get_media_started_time (pair->answerer, "video")),
                ms_since (t0, es_call_branch_get_media_started_time (pair->offerer, "video")));

  g_assert_cmpuint (es_call_branch_get_audio_buffers_decoded (pair->offerer), >, 0);
  g_assert_cmpuint (es_call_branch_get_audio_buffers_decoded (pair->answerer), >, 0);
  g_assert_cmpuint (es_call_branch_get_video_frames_decoded (pair->offerer), >=, frames);
  g_assert_cmpuint (es_call_branch_get_video_frames_decoded (pair->answerer), >=, frames);
}

static void
run_codec_case (const char *offerer_codecs,
                const char *answerer_codecs,
                const char *expected)
{
  g_autoptr(EsMediaSettings) so = make_settings (offerer_codecs);
  g_autoptr(EsMediaSettings) sa = make_settings (answerer_codecs);
  g_autoptr(GError) error = NULL;
  g_autoptr(GstSample) sample = NULL;
  Pair pair;

  pair_init (&pair, so, sa);
  pair_start (&pair);
  pair_wait_connected (&pair);

  g_assert_cmpstr (es_call_branch_get_video_codec (pair.offerer), ==, expected);
  g_assert_cmpstr (es_call_branch_get_video_codec (pair.answerer), ==, expected);

  /* The control channel works both ways before any media. */
  g_assert_true (es_call_branch_send_control (pair.answerer, "{\"type\":\"accept\"}", &error));
  g_assert_no_error (error);
  g_assert_true (es_call_branch_send_control (pair.offerer, "{\"type\":\"ping\"}", &error));
  g_assert_no_error (error);
  WAIT_UNTIL (pair.offerer_message && pair.answerer_message, 3000);
  g_assert_cmpstr (pair.offerer_message, ==, "{\"type\":\"accept\"}");
  g_assert_cmpstr (pair.answerer_message, ==, "{\"type\":\"ping\"}");

  pair_open_and_flow (&pair, 30);

  sample = es_call_branch_dup_last_video_sample (pair.answerer);
  g_assert_nonnull (sample);
  {
    GstCaps *caps = gst_sample_get_caps (sample);
    const GstStructure *s = gst_caps_get_structure (caps, 0);
    int width = 0;

    g_assert_cmpstr (gst_structure_get_string (s, "format"), ==, "BGRA");
    g_assert_true (gst_structure_get_int (s, "width", &width));
    g_assert_cmpint (width, ==, 640);
  }

  /* Stats flow once a second while connected. */
  WAIT_UNTIL (pair.offerer_stats && pair.answerer_stats &&
              pair.offerer_stats->video_packets_sent > 0 &&
              pair.offerer_stats->local_candidate_type != NULL, 4000);
  g_assert_nonnull (pair.offerer_stats);
  g_assert_cmpstr (pair.offerer_stats->video_codec, ==, expected);
  g_assert_cmpstr (pair.offerer_stats->audio_codec, ==, "OPUS");
  g_assert_cmpuint (pair.offerer_stats->video_packets_sent, >, 0);
  g_assert_cmpuint (pair.offerer_stats->audio_packets_sent, >, 0);
  g_assert_cmpstr (pair.offerer_stats->local_candidate_type, ==, "host");
  g_assert_cmpstr (pair.offerer_stats->remote_candidate_type, ==, "host");
  g_assert_false (pair.offerer_stats->relayed);
  {
    g_autoptr(JsonObject) json = es_call_stats_to_json (pair.offerer_stats);
    g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), json);
    g_autofree char *text = json_to_string (node, FALSE);

    g_test_message ("offerer stats: %s", text);
    if (g_getenv ("ES_TEST_TIMINGS"))
      g_printerr ("# offerer stats: %s\n", text);
  }

  pair_clear (&pair);
}

static void
test_vp8 (void)
{
  run_codec_case ("VP8,H264", "VP8,H264", "VP8");
}

static void
test_h264 (void)
{
  run_codec_case ("H264,VP8", "H264,VP8", "H264");
}

static void
test_answerer_order_wins (void)
{
  g_autoptr(EsMediaSettings) so = make_settings ("VP8,H264");
  g_autoptr(EsMediaSettings) sa = make_settings ("H264,VP8");
  Pair pair;

  pair_init (&pair, so, sa);
  pair_start (&pair);
  pair_wait_connected (&pair);
  g_assert_cmpstr (es_call_branch_get_video_codec (pair.offerer), ==, "H264");
  g_assert_cmpstr (es_call_branch_get_video_codec (pair.answerer), ==, "H264");
  pair_clear (&pair);
}

static void
test_no_common_codec (void)
{
  g_autoptr(EsMediaSettings) so = make_settings ("VP8");
  g_autoptr(EsMediaSettings) sa = make_settings ("H264");
  gint64 t0 = g_get_monotonic_time ();
  Pair pair;

  pair_init (&pair, so, sa);
  pair_start (&pair);

  WAIT_UNTIL (pair.offerer_error && pair.answerer_error, 5000);
  g_test_message ("both failed after %.0f ms", (g_get_monotonic_time () - t0) / 1000.0);

  g_assert_error (pair.offerer_error, ES_CALL_ERROR, ES_CALL_ERROR_NO_COMMON_CODEC);
  g_assert_error (pair.answerer_error, ES_CALL_ERROR, ES_CALL_ERROR_NO_COMMON_CODEC);
  g_assert_cmpstr (pair.offerer_error->message, ==,
                   "No common video codec: we offer VP8, they offer H264");
  g_assert_cmpstr (pair.answerer_error->message, ==,
                   "No common video codec: we offer H264, they offer VP8");
  g_assert_cmpint (es_call_branch_get_state (pair.offerer), ==, ES_CALL_BRANCH_STATE_FAILED);
  g_assert_cmpint (es_call_branch_get_state (pair.answerer), ==, ES_CALL_BRANCH_STATE_FAILED);

  pair_clear (&pair);
}

static void
test_gates (void)
{
  g_autoptr(EsMediaSettings) so = make_settings ("VP8,H264");
  g_autoptr(EsMediaSettings) sa = make_settings ("VP8,H264");
  gint64 t0;
  Pair pair;

  pair_init (&pair, so, sa);
  pair_start (&pair);
  pair_wait_connected (&pair);

  /* Connected and encoding, but nothing leaves either side. */
  spin (1500);
  g_assert_cmpuint (es_call_branch_get_video_packets_sent (pair.offerer), ==, 0);
  g_assert_cmpuint (es_call_branch_get_audio_packets_sent (pair.offerer), ==, 0);
  g_assert_cmpuint (es_call_branch_get_video_packets_sent (pair.answerer), ==, 0);
  g_assert_cmpuint (es_call_branch_get_audio_packets_sent (pair.answerer), ==, 0);
  g_assert_cmpuint (es_call_branch_get_video_frames_decoded (pair.answerer), ==, 0);
  g_assert_cmpuint (es_call_branch_get_audio_buffers_decoded (pair.answerer), ==, 0);
  g_assert_cmpuint (es_call_branch_get_video_frames_decoded (pair.offerer), ==, 0);
  g_assert_cmpuint (es_call_branch_get_audio_buffers_decoded (pair.offerer), ==, 0);

  /* The callee picks up: only its gate opens; the caller's stays shut. */
  t0 = g_get_monotonic_time ();
  es_call_branch_open_gates (pair.answerer);
  WAIT_UNTIL (es_call_branch_get_video_frames_decoded (pair.offerer) >= 10 &&
              es_call_branch_get_audio_buffers_decoded (pair.offerer) > 0, MEDIA_TIMEOUT_MS);
  g_assert_cmpuint (es_call_branch_get_video_frames_decoded (pair.offerer), >=, 10);
  g_assert_cmpuint (es_call_branch_get_audio_buffers_decoded (pair.offerer), >, 0);
  g_assert_cmpuint (es_call_branch_get_video_packets_sent (pair.answerer), >, 0);
  g_assert_cmpuint (es_call_branch_get_video_packets_sent (pair.offerer), ==, 0);
  g_assert_cmpuint (es_call_branch_get_audio_packets_sent (pair.offerer), ==, 0);
  g_assert_cmpuint (es_call_branch_get_video_frames_decoded (pair.answerer), ==, 0);
  g_test_message ("callee gate → caller decodes: audio %.0f ms, video %.0f ms",
                  ms_since (t0, es_call_branch_get_media_started_time (pair.offerer, "audio")),
                  ms_since (t0, es_call_branch_get_media_started_time (pair.offerer, "video")));
  if (g_getenv ("ES_TEST_TIMINGS"))
    g_printerr ("# warm branch, gate → first decoded: audio %.0f ms, video %.0f ms\n",
                ms_since (t0, es_call_branch_get_media_started_time (pair.offerer, "audio")),
                ms_since (t0, es_call_branch_get_media_started_time (pair.offerer, "video")));

  es_call_branch_open_gates (pair.offerer);
  WAIT_UNTIL (es_call_branch_get_video_frames_decoded (pair.answerer) >= 10, MEDIA_TIMEOUT_MS);
  g_assert_cmpuint (es_call_branch_get_video_frames_decoded (pair.answerer), >=, 10);
  g_assert_cmpuint (es_call_branch_get_audio_buffers_decoded (pair.answerer), >, 0);

  pair_clear (&pair);
}

static void
test_max_bitrate (void)
{
  g_autoptr(EsMediaSettings) so = make_settings ("VP8,H264");
  g_autoptr(EsMediaSettings) sa = make_settings ("VP8,H264");
  g_autofree char *offer = NULL;
  GArray *samples;
  gint64 t_first, t_last;
  guint64 b_first, b_last;
  double kbps;
  guint first;
  Pair pair;

  so->video_max_kbps = 300;
  sa->video_max_kbps = 300;

  pair_init (&pair, so, sa);
  pair_start (&pair);
  pair_wait_connected (&pair);
  g_assert_cmpuint (es_call_branch_get_video_bitrate (pair.offerer), ==, 300);
  pair_open_and_flow (&pair, 1);

  /* Skip the first sample (it spans the gate opening), then measure 5 s. */
  WAIT_UNTIL (pair.offerer_video_bytes->len >= 2 * 7, 10000);
  samples = pair.offerer_video_bytes;
  g_assert_cmpuint (samples->len, >=, 2 * 7);
  first = samples->len - 2 * 6;
  t_first = g_array_index (samples, gint64, first);
  b_first = (guint64) g_array_index (samples, gint64, first + 1);
  t_last = g_array_index (samples, gint64, samples->len - 2);
  b_last = (guint64) g_array_index (samples, gint64, samples->len - 1);
  kbps = (double) (b_last - b_first) * 8.0 * 1000.0 / (double) (t_last - t_first);

  g_test_message ("VP8 capped at 300 kbit/s: %.1f kbit/s over %.1f s",
                  kbps, (t_last - t_first) / 1e6);
  if (g_getenv ("ES_TEST_TIMINGS"))
    g_printerr ("# VP8 capped at 300 kbit/s sends %.1f kbit/s over %.1f s\n",
                kbps, (t_last - t_first) / 1e6);
  g_assert_cmpfloat (kbps, >, 50);
  g_assert_cmpfloat (kbps, <=, 330);

  pair_clear (&pair);
}

static void
test_close_while_connecting (void)
{
  g_autoptr(EsMediaSettings) so = make_settings ("VP8,H264");
  g_autoptr(EsMediaSettings) sa = make_settings ("VP8,H264");
  Pair pair;

  /* Right after start: the offer is still being made. */
  pair_init (&pair, so, sa);
  pair_start (&pair);
  pair_clear (&pair);

  /* Mid-ICE: descriptions exchanged, not yet connected. */
  pair_init (&pair, so, sa);
  pair_start (&pair);
  WAIT_UNTIL (es_call_branch_get_video_codec (pair.offerer) != NULL, 5000);
  g_assert_cmpint (es_call_branch_get_state (pair.offerer), !=, ES_CALL_BRANCH_STATE_FAILED);
  pair_clear (&pair);
}

static void
test_close_while_active (void)
{
  g_autoptr(EsMediaSettings) so = make_settings ("VP8,H264");
  g_autoptr(EsMediaSettings) sa = make_settings ("VP8,H264");
  Pair pair;

  pair_init (&pair, so, sa);
  pair_start (&pair);
  pair_wait_connected (&pair);
  pair_open_and_flow (&pair, 5);

  /* The offerer hangs up first; the answerer sees its channel close. */
  es_call_branch_close (pair.offerer);
  WAIT_UNTIL (es_call_branch_get_state (pair.answerer) == ES_CALL_BRANCH_STATE_FAILED, 3000);
  g_test_message ("answerer after the offerer closed: %s",
                  pair.answerer_error ? pair.answerer_error->message : "still up");
  pair_clear (&pair);
}

static void
test_audio_only (void)
{
  g_autoptr(EsMediaSettings) so = make_settings ("VP8,H264");
  g_autoptr(EsMediaSettings) sa = make_settings ("VP8,H264");
  Pair pair;

  so->audio_only = TRUE;
  sa->audio_only = TRUE;

  pair_init (&pair, so, sa);
  pair_start (&pair);
  pair_wait_connected (&pair);
  g_assert_null (es_call_branch_get_video_codec (pair.offerer));
  pair_open_and_flow (&pair, 0);
  g_assert_cmpuint (es_call_branch_get_video_frames_decoded (pair.offerer), ==, 0);
  g_assert_cmpuint (es_call_branch_get_video_packets_sent (pair.offerer), ==, 0);
  pair_clear (&pair);
}

static void
test_bad_input (void)
{
  g_autoptr(EsMediaSettings) settings = make_settings ("VP8");
  g_autoptr(EsCallBranch) answerer = es_call_branch_new (ES_CALL_BRANCH_ROLE_ANSWERER,
                                                         settings, "peer");
  g_autoptr(GError) error = NULL;

  g_assert_false (es_call_branch_set_remote_description (answerer, "answer", "v=0\r\n", &error));
  g_assert_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SDP);
  g_clear_error (&error);

  g_assert_false (es_call_branch_set_remote_description (answerer, "offer", "garbage", &error));
  g_assert_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SDP);
  g_clear_error (&error);

  g_assert_false (es_call_branch_add_remote_candidate (answerer, 0, "not a candidate", &error));
  g_assert_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_CANDIDATE);
  g_clear_error (&error);

  g_assert_false (es_call_branch_send_control (answerer, "{}", &error));
  g_assert_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_STATE);
  g_clear_error (&error);

  es_call_branch_close (answerer);
  es_call_branch_close (answerer);
}

static void
test_turn_uri (void)
{
  g_autofree char *uri = es_media_settings_make_turn_uri ("turn:turn.example.org:3478?transport=udp",
                                                          "1700000000:alice",
                                                          "ab+c/d==");
  g_autoptr(EsMediaSettings) settings = make_settings ("VP8");
  g_autoptr(EsCallBranch) branch = NULL;
  g_autoptr(GError) error = NULL;
  const char *uris[] = { NULL, NULL };

  g_assert_cmpstr (uri, ==,
                   "turn://1700000000%3Aalice:ab%2Bc%2Fd%3D%3D@turn.example.org:3478?transport=udp");

  /* webrtcbin takes it (it only resolves the host when gathering). */
  uris[0] = uri;
  es_media_settings_set_turn_servers (settings, uris);
  branch = es_call_branch_new (ES_CALL_BRANCH_ROLE_ANSWERER, settings, "peer");
  g_assert_true (es_call_branch_start (branch, &error));
  g_assert_no_error (error);
  es_call_branch_close (branch);
}

int
main (int   argc,
      char *argv[])
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/branch/bad-input", test_bad_input);
  g_test_add_func ("/branch/turn-uri", test_turn_uri);
  g_test_add_func ("/branch/vp8", test_vp8);
  g_test_add_func ("/branch/h264", test_h264);
  g_test_add_func ("/branch/answerer-order-wins", test_answerer_order_wins);
  g_test_add_func ("/branch/no-common-codec", test_no_common_codec);
  g_test_add_func ("/branch/gates", test_gates);
  g_test_add_func ("/branch/max-bitrate", test_max_bitrate);
  g_test_add_func ("/branch/close-while-connecting", test_close_while_connecting);
  g_test_add_func ("/branch/close-while-active", test_close_while_active);
  g_test_add_func ("/branch/audio-only", test_audio_only);

  return g_test_run ();
}
