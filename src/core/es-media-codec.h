/* es-media-codec.h: the codecs a branch can send and receive, and their GStreamer chains
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

#include "es-media-settings.h"

G_BEGIN_DECLS

typedef enum
{
  ES_MEDIA_KIND_AUDIO,
  ES_MEDIA_KIND_VIDEO,
} EsMediaKind;

#define ES_MEDIA_N_KINDS 2

typedef struct _EsMediaCodec EsMediaCodec;

struct _EsMediaCodec
{
  const char  *name;          /* SDP encoding name, upper case: "OPUS", "VP8", "H264" */
  EsMediaKind  kind;
  guint        clock_rate;
  guint        default_pt;    /* what we offer; an answer follows the offer's */
};

const char         *es_media_kind_to_string           (EsMediaKind              kind);
const EsMediaCodec *es_media_codec_lookup             (const char              *name);
gboolean            es_media_codec_is_available       (const EsMediaCodec      *codec);
GstStructure       *es_media_codec_new_rtp_structure  (const EsMediaCodec      *codec,
                                                       guint                    pt);
GstElement         *es_media_codec_make_sender        (const EsMediaCodec      *codec,
                                                       const EsMediaSettings   *settings,
                                                       guint                    pt,
                                                       guint                    video_kbps,
                                                       GError                 **error);
GstElement         *es_media_codec_make_receiver      (const EsMediaCodec      *codec,
                                                       GError                 **error);
void                es_media_codec_set_video_bitrate  (GstElement              *sender,
                                                       guint                    kbps);
void                es_media_codec_request_keyframe   (GstElement              *sender);

/* SDP helpers shared by offer and answer checks. */
char               *es_media_sdp_dup_encoding_name    (const GstSDPMedia       *media,
                                                       guint                    pt);
GPtrArray          *es_media_sdp_list_codecs          (const GstSDPMedia       *media);
gint                es_media_sdp_find_pt              (const GstSDPMedia       *media,
                                                       const char              *encoding_name);

G_END_DECLS
