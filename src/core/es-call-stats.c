/* es-call-stats.c: one second of a call branch, parsed from webrtcbin's get-stats
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-stats"

#define GST_USE_UNSTABLE_API 1

#include <string.h>

#include <gst/webrtc/webrtc.h>

#include "es-call-stats.h"

G_DEFINE_BOXED_TYPE (EsCallStats, es_call_stats, es_call_stats_copy, es_call_stats_free)

EsCallStats *
es_call_stats_new (void)
{
  EsCallStats *self = g_new0 (EsCallStats, 1);

  self->rtt_ms = -1;
  self->fraction_lost = -1;
  self->jitter_ms = -1;

  return self;
}

EsCallStats *
es_call_stats_copy (const EsCallStats *self)
{
  EsCallStats *copy;

  g_return_val_if_fail (self != NULL, NULL);

  copy = g_new0 (EsCallStats, 1);
  *copy = *self;
  copy->audio_codec = g_strdup (self->audio_codec);
  copy->video_codec = g_strdup (self->video_codec);
  copy->local_candidate_type = g_strdup (self->local_candidate_type);
  copy->remote_candidate_type = g_strdup (self->remote_candidate_type);

  return copy;
}

void
es_call_stats_free (EsCallStats *self)
{
  if (self == NULL)
    return;

  g_free (self->audio_codec);
  g_free (self->video_codec);
  g_free (self->local_candidate_type);
  g_free (self->remote_candidate_type);
  g_free (self);
}

typedef struct
{
  const GstStructure *report;
  GHashTable         *by_id;   /* id → const GstStructure * */
} Index;

static GstWebRTCStatsType
stats_type (const GstStructure *s)
{
  GstWebRTCStatsType type = 0;

  gst_structure_get (s, "type", GST_TYPE_WEBRTC_STATS_TYPE, &type, NULL);
  return type;
}

static gboolean
index_field_cb (GQuark        field_id,
                const GValue *value,
                gpointer      user_data)
{
  Index *index = user_data;
  const GstStructure *s;
  const char *id;

  if (!GST_VALUE_HOLDS_STRUCTURE (value))
    return TRUE;

  s = gst_value_get_structure (value);
  id = gst_structure_get_string (s, "id");
  g_hash_table_insert (index->by_id, g_strdup (id ? id : g_quark_to_string (field_id)),
                       (gpointer) s);

  if (stats_type (s) == GST_WEBRTC_STATS_CODEC && gst_structure_has_field (s, "mime-type"))
    {
      guint ssrc;

      if (gst_structure_get_uint (s, "ssrc", &ssrc))
        g_hash_table_insert (index->by_id, g_strdup_printf ("ssrc:%u", ssrc), (gpointer) s);
    }

  return TRUE;
}

static const GstStructure *
lookup (Index              *index,
        const GstStructure *s,
        const char         *field)
{
  const char *id = gst_structure_get_string (s, field);

  return id != NULL ? g_hash_table_lookup (index->by_id, id) : NULL;
}

static guint64
get_u64 (const GstStructure *s,
         const char         *field)
{
  const GValue *v = gst_structure_get_value (s, field);

  if (v == NULL)
    return 0;
  if (G_VALUE_HOLDS_UINT64 (v))
    return g_value_get_uint64 (v);
  if (G_VALUE_HOLDS_INT64 (v))
    return (guint64) MAX (0, g_value_get_int64 (v));
  if (G_VALUE_HOLDS_UINT (v))
    return g_value_get_uint (v);
  if (G_VALUE_HOLDS_INT (v))
    return (guint64) MAX (0, g_value_get_int (v));
  return 0;
}

static gint64
get_i64 (const GstStructure *s,
         const char         *field)
{
  const GValue *v = gst_structure_get_value (s, field);

  if (v == NULL)
    return 0;
  if (G_VALUE_HOLDS_INT64 (v))
    return g_value_get_int64 (v);
  if (G_VALUE_HOLDS_INT (v))
    return g_value_get_int (v);
  if (G_VALUE_HOLDS_UINT64 (v))
    return (gint64) g_value_get_uint64 (v);
  if (G_VALUE_HOLDS_UINT (v))
    return g_value_get_uint (v);
  return 0;
}

static gboolean
get_double (const GstStructure *s,
            const char         *field,
            double             *out)
{
  const GValue *v = gst_structure_get_value (s, field);

  if (v == NULL || !G_VALUE_HOLDS_DOUBLE (v))
    return FALSE;
  *out = g_value_get_double (v);
  return TRUE;
}

/* "video/VP8" → "VP8", "audio/OPUS" → "OPUS" */
static char *
mime_to_codec (const char *mime,
               gboolean   *is_video)
{
  const char *slash = strchr (mime, '/');

  *is_video = g_str_has_prefix (mime, "video/");
  return g_ascii_strup (slash ? slash + 1 : mime, -1);
}

/* The kind and codec of an RTP stream. webrtcbin 1.22 labels every stream
 * kind=audio and points every codec-id at an empty "codec-stats-src_N"
 * entry, so neither can be trusted. What is right: the sender's codec
 * entries ("codec-stats-sink_N") carry the ssrc and mime type, and the
 * embedded rtpsource stats carry the clock rate (90 kHz for all video). */
static gboolean
rtp_is_video (Index              *index,
              const GstStructure *rtp,
              char              **name)
{
  const GstStructure *codec = lookup (index, rtp, "codec-id");
  const GstStructure *source = NULL;
  const char *mime = NULL;
  const char *kind;
  gboolean is_video = FALSE;
  guint ssrc = 0;
  int clock_rate = 0;

  *name = NULL;

  if (gst_structure_get_uint (rtp, "ssrc", &ssrc))
    {
      g_autofree char *key = g_strdup_printf ("ssrc:%u", ssrc);
      const GstStructure *by_ssrc = g_hash_table_lookup (index->by_id, key);

      if (by_ssrc != NULL)
        mime = gst_structure_get_string (by_ssrc, "mime-type");
    }
  if (mime == NULL && codec != NULL)
    mime = gst_structure_get_string (codec, "mime-type");
  if (mime != NULL)
    {
      *name = mime_to_codec (mime, &is_video);
      return is_video;
    }

  if (gst_structure_get (rtp, "gst-rtpsource-stats", GST_TYPE_STRUCTURE, &source, NULL))
    {
      gboolean found = gst_structure_get_int (source, "clock-rate", &clock_rate);

      gst_structure_free ((GstStructure *) source);
      if (found && clock_rate > 0)
        return clock_rate == 90000;
    }

  kind = gst_structure_get_string (rtp, "kind");
  return g_strcmp0 (kind, "video") == 0;
}

static void
replace_string (char       **dest,
                const char  *value)
{
  if (value == NULL)
    return;
  g_free (*dest);
  *dest = g_strdup (value);
}

typedef struct
{
  Index        index;
  EsCallStats *out;
  double       jitter_sum;
  guint        jitter_n;
  double       rtt_max;
  double       lost_max;
  gboolean     have_pair;
} Parse;

static gboolean
parse_field_cb (GQuark        field_id,
                const GValue *value,
                gpointer      user_data)
{
  Parse *p = user_data;
  EsCallStats *out = p->out;
  const GstStructure *s;
  g_autofree char *name = NULL;
  gboolean is_video;
  double d;

  if (!GST_VALUE_HOLDS_STRUCTURE (value))
    return TRUE;
  s = gst_value_get_structure (value);

  switch (stats_type (s))
    {
    case GST_WEBRTC_STATS_OUTBOUND_RTP:
      is_video = rtp_is_video (&p->index, s, &name);
      if (is_video)
        {
          out->video_packets_sent += get_u64 (s, "packets-sent");
          out->video_bytes_sent += get_u64 (s, "bytes-sent");
          replace_string (&out->video_codec, name);
        }
      else
        {
          out->audio_packets_sent += get_u64 (s, "packets-sent");
          out->audio_bytes_sent += get_u64 (s, "bytes-sent");
          replace_string (&out->audio_codec, name);
        }
      break;

    case GST_WEBRTC_STATS_INBOUND_RTP:
      out->packets_received += get_u64 (s, "packets-received");
      out->bytes_received += get_u64 (s, "bytes-received");
      if (rtp_is_video (&p->index, s, &name))
        out->video_bytes_received += get_u64 (s, "bytes-received");
      out->packets_lost += get_i64 (s, "packets-lost");
      if (get_double (s, "jitter", &d))
        {
          p->jitter_sum += d;
          p->jitter_n++;
        }
      break;

    case GST_WEBRTC_STATS_REMOTE_INBOUND_RTP:
      if (get_double (s, "round-trip-time", &d) && d >= 0)
        p->rtt_max = MAX (p->rtt_max, d);
      if (get_double (s, "fraction-lost", &d) && d >= 0)
        p->lost_max = MAX (p->lost_max, d);
      break;

    case GST_WEBRTC_STATS_CANDIDATE_PAIR:
      {
        /* webrtcbin 1.22 swaps the ids: "local-candidate-id" names the
         * remote-candidate entry and vice versa. Trust the type of the entry
         * an id points at, not the field name. */
        const GstStructure *a = lookup (&p->index, s, "local-candidate-id");
        const GstStructure *b = lookup (&p->index, s, "remote-candidate-id");
        const GstStructure *local = NULL;
        const GstStructure *remote = NULL;

        if (a != NULL && stats_type (a) == GST_WEBRTC_STATS_LOCAL_CANDIDATE)
          local = a;
        else if (a != NULL && stats_type (a) == GST_WEBRTC_STATS_REMOTE_CANDIDATE)
          remote = a;
        if (b != NULL && stats_type (b) == GST_WEBRTC_STATS_LOCAL_CANDIDATE)
          local = b;
        else if (b != NULL && stats_type (b) == GST_WEBRTC_STATS_REMOTE_CANDIDATE)
          remote = b;

        if (local != NULL)
          replace_string (&out->local_candidate_type,
                          gst_structure_get_string (local, "candidate-type"));
        if (remote != NULL)
          replace_string (&out->remote_candidate_type,
                          gst_structure_get_string (remote, "candidate-type"));
        p->have_pair = TRUE;
        break;
      }

    default:
      break;
    }

  return TRUE;
}

static double
kbps_between (guint64 now_bytes,
              guint64 then_bytes,
              gint64  dt_us)
{
  if (dt_us <= 0 || now_bytes < then_bytes)
    return 0;
  return (double) (now_bytes - then_bytes) * 8.0 * 1000.0 / (double) dt_us;
}

/**
 * es_call_stats_parse:
 * @report: the reply of webrtcbin's get-stats
 * @previous: (nullable): the sample before, for bitrates
 * @timestamp_us: monotonic time of @report
 *
 * Returns: (transfer full): a new sample. Never fails: fields that the
 *   report lacks stay unknown (-1) or zero.
 */
EsCallStats *
es_call_stats_parse (const GstStructure *report,
                     const EsCallStats  *previous,
                     gint64              timestamp_us)
{
  Parse p = { { 0, }, };

  g_return_val_if_fail (report != NULL, NULL);

  p.out = es_call_stats_new ();
  p.out->timestamp_us = timestamp_us;
  p.index.report = report;
  p.index.by_id = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  p.rtt_max = -1;
  p.lost_max = -1;

  gst_structure_foreach (report, index_field_cb, &p.index);
  gst_structure_foreach (report, parse_field_cb, &p);

  if (p.rtt_max >= 0)
    p.out->rtt_ms = p.rtt_max * 1000.0;
  if (p.lost_max >= 0)
    p.out->fraction_lost = p.lost_max;
  if (p.jitter_n > 0)
    p.out->jitter_ms = p.jitter_sum / p.jitter_n * 1000.0;

  p.out->relayed = g_strcmp0 (p.out->local_candidate_type, "relay") == 0 ||
                   g_strcmp0 (p.out->remote_candidate_type, "relay") == 0;

  if (previous != NULL)
    {
      gint64 dt = timestamp_us - previous->timestamp_us;
      guint64 out_now = p.out->audio_bytes_sent + p.out->video_bytes_sent;
      guint64 out_then = previous->audio_bytes_sent + previous->video_bytes_sent;

      p.out->out_kbps = kbps_between (out_now, out_then, dt);
      p.out->out_video_kbps = kbps_between (p.out->video_bytes_sent, previous->video_bytes_sent, dt);
      p.out->in_kbps = kbps_between (p.out->bytes_received, previous->bytes_received, dt);
      p.out->in_video_kbps = kbps_between (p.out->video_bytes_received,
                                           previous->video_bytes_received, dt);
    }

  g_hash_table_unref (p.index.by_id);

  return p.out;
}

JsonObject *
es_call_stats_to_json (const EsCallStats *self)
{
  JsonObject *o;

  g_return_val_if_fail (self != NULL, NULL);

  o = json_object_new ();
  json_object_set_double_member (o, "rtt_ms", self->rtt_ms);
  json_object_set_double_member (o, "fraction_lost", self->fraction_lost);
  json_object_set_double_member (o, "jitter_ms", self->jitter_ms);
  json_object_set_double_member (o, "in_kbps", self->in_kbps);
  json_object_set_double_member (o, "out_kbps", self->out_kbps);
  json_object_set_double_member (o, "out_video_kbps", self->out_video_kbps);
  json_object_set_double_member (o, "in_video_kbps", self->in_video_kbps);
  if (self->audio_codec != NULL)
    json_object_set_string_member (o, "audio_codec", self->audio_codec);
  if (self->video_codec != NULL)
    json_object_set_string_member (o, "video_codec", self->video_codec);
  json_object_set_int_member (o, "audio_packets_sent", (gint64) self->audio_packets_sent);
  json_object_set_int_member (o, "video_packets_sent", (gint64) self->video_packets_sent);
  json_object_set_int_member (o, "packets_received", (gint64) self->packets_received);
  json_object_set_int_member (o, "packets_lost", self->packets_lost);
  json_object_set_int_member (o, "audio_buffers_decoded", (gint64) self->audio_buffers_decoded);
  json_object_set_int_member (o, "video_frames_decoded", (gint64) self->video_frames_decoded);
  if (self->local_candidate_type != NULL)
    json_object_set_string_member (o, "local_candidate_type", self->local_candidate_type);
  if (self->remote_candidate_type != NULL)
    json_object_set_string_member (o, "remote_candidate_type", self->remote_candidate_type);
  json_object_set_string_member (o, "path", self->relayed ? "relayed" : "direct");

  return o;
}
