/* es-call-stats.h: one second of a call branch, parsed from webrtcbin's get-stats
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gst/gst.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define ES_TYPE_CALL_STATS (es_call_stats_get_type ())

/**
 * EsCallStats:
 * @timestamp_us: monotonic time of the sample
 * @rtt_ms: round-trip time from RTCP receiver reports (remote-inbound-rtp), -1 unknown
 * @fraction_lost: what the peer reports it lost of our stream, 0..1, -1 unknown
 * @jitter_ms: interarrival jitter of what we receive, -1 unknown
 * @in_kbps: received RTP payload bitrate since the previous sample, all kinds
 * @out_kbps: sent RTP payload bitrate since the previous sample, all kinds
 * @out_video_kbps: the video part of @out_kbps
 * @audio_codec: negotiated audio codec ("OPUS"), or %NULL
 * @video_codec: negotiated video codec ("VP8", "H264"), or %NULL
 * @audio_packets_sent / @video_packets_sent: outbound RTP packets
 * @audio_bytes_sent / @video_bytes_sent: outbound RTP payload bytes
 * @packets_received / @bytes_received: inbound RTP, all kinds
 * @packets_lost: inbound RTP packets lost, all kinds
 * @audio_buffers_decoded / @video_frames_decoded: filled in by the branch
 * @local_candidate_type / @remote_candidate_type: "host", "srflx", "prflx", "relay"
 * @relayed: %TRUE when either end of the selected pair is a TURN relay
 * @video_bytes_received: the video part of @bytes_received
 * @in_video_kbps: the video part of @in_kbps
 */
typedef struct _EsCallStats EsCallStats;

struct _EsCallStats
{
  gint64   timestamp_us;
  double   rtt_ms;
  double   fraction_lost;
  double   jitter_ms;
  double   in_kbps;
  double   out_kbps;
  double   out_video_kbps;
  char    *audio_codec;
  char    *video_codec;
  guint64  audio_packets_sent;
  guint64  video_packets_sent;
  guint64  audio_bytes_sent;
  guint64  video_bytes_sent;
  guint64  packets_received;
  guint64  bytes_received;
  gint64   packets_lost;
  guint64  audio_buffers_decoded;
  guint64  video_frames_decoded;
  char    *local_candidate_type;
  char    *remote_candidate_type;
  gboolean relayed;
  guint64  video_bytes_received;
  double   in_video_kbps;
};

GType        es_call_stats_get_type (void) G_GNUC_CONST;
EsCallStats *es_call_stats_new      (void);
EsCallStats *es_call_stats_copy     (const EsCallStats  *self);
void         es_call_stats_free     (EsCallStats        *self);
EsCallStats *es_call_stats_parse    (const GstStructure *report,
                                     const EsCallStats  *previous,
                                     gint64              timestamp_us);
JsonObject  *es_call_stats_to_json  (const EsCallStats  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsCallStats, es_call_stats_free)

G_END_DECLS
