/* es-media-codec.c: the codecs a branch can send and receive, and their GStreamer chains
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-media"

#include <string.h>

#include "es-media-codec.h"
#include "es-call-branch.h"

static const EsMediaCodec codecs[] = {
  { "OPUS", ES_MEDIA_KIND_AUDIO, 48000, 111 },
  { "VP8",  ES_MEDIA_KIND_VIDEO, 90000,  96 },
  { "H264", ES_MEDIA_KIND_VIDEO, 90000, 102 },
};

const char *
es_media_kind_to_string (EsMediaKind kind)
{
  return kind == ES_MEDIA_KIND_AUDIO ? "audio" : "video";
}

const EsMediaCodec *
es_media_codec_lookup (const char *name)
{
  if (name == NULL)
    return NULL;

  for (guint i = 0; i < G_N_ELEMENTS (codecs); i++)
    if (g_ascii_strcasecmp (codecs[i].name, name) == 0)
      return &codecs[i];

  return NULL;
}

static const char *
first_available (const char * const *factories)
{
  for (guint i = 0; factories[i] != NULL; i++)
    {
      g_autoptr(GstElementFactory) factory = gst_element_factory_find (factories[i]);

      if (factory != NULL)
        return factories[i];
    }

  return NULL;
}

static const char * const h264_encoders[] = { "x264enc", "openh264enc", NULL };
static const char * const h264_decoders[] = { "avdec_h264", "openh264dec", NULL };

gboolean
es_media_codec_is_available (const EsMediaCodec *codec)
{
  g_return_val_if_fail (codec != NULL, FALSE);

  if (g_str_equal (codec->name, "H264"))
    return first_available (h264_encoders) != NULL && first_available (h264_decoders) != NULL;

  return TRUE;
}

/* One structure of a transceiver's codec-preferences; webrtcbin turns the
 * rtcp-fb-* and string fields into a=rtcp-fb and a=fmtp lines. */
GstStructure *
es_media_codec_new_rtp_structure (const EsMediaCodec *codec,
                                  guint               pt)
{
  GstStructure *s;

  g_return_val_if_fail (codec != NULL, NULL);

  s = gst_structure_new ("application/x-rtp",
                         "media", G_TYPE_STRING, es_media_kind_to_string (codec->kind),
                         "encoding-name", G_TYPE_STRING, codec->name,
                         "clock-rate", G_TYPE_INT, (int) codec->clock_rate,
                         "payload", G_TYPE_INT, (int) pt,
                         NULL);

  if (codec->kind == ES_MEDIA_KIND_VIDEO)
    gst_structure_set (s,
                       "rtcp-fb-nack-pli", G_TYPE_BOOLEAN, TRUE,
                       "rtcp-fb-ccm-fir", G_TYPE_BOOLEAN, TRUE,
                       NULL);

  if (g_str_equal (codec->name, "OPUS"))
    gst_structure_set (s,
                       "encoding-params", G_TYPE_STRING, "2",
                       "useinbandfec", G_TYPE_STRING, "1",
                       "minptime", G_TYPE_STRING, "10",
                       NULL);
  else if (g_str_equal (codec->name, "H264"))
    /* Constrained Baseline 3.1, the profile every WebRTC endpoint decodes. */
    gst_structure_set (s,
                       "packetization-mode", G_TYPE_STRING, "1",
                       "profile-level-id", G_TYPE_STRING, "42e01f",
                       "level-asymmetry-allowed", G_TYPE_STRING, "1",
                       NULL);

  return s;
}

static GstElement *
make_element (const char  *factory,
              const char  *name,
              GError     **error)
{
  GstElement *element = gst_element_factory_make (factory, name);

  if (element == NULL)
    g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_MISSING_ELEMENT,
                 "GStreamer element “%s” is not installed", factory);

  return element;
}

/* Links @elements in order inside a new bin and ghosts the first sink and the
 * last src pad. Takes the floating references. */
static GstElement *
make_chain_bin (const char  *name,
                GstElement **elements,
                guint        n_elements,
                GError     **error)
{
  g_autoptr(GstPad) sink = NULL;
  g_autoptr(GstPad) src = NULL;
  GstElement *bin = gst_bin_new (name);

  for (guint i = 0; i < n_elements; i++)
    gst_bin_add (GST_BIN (bin), elements[i]);

  for (guint i = 0; i + 1 < n_elements; i++)
    if (!gst_element_link (elements[i], elements[i + 1]))
      {
        g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_PIPELINE,
                     "Cannot link %s to %s",
                     GST_ELEMENT_NAME (elements[i]), GST_ELEMENT_NAME (elements[i + 1]));
        gst_object_unref (gst_object_ref_sink (bin));
        return NULL;
      }

  sink = gst_element_get_static_pad (elements[0], "sink");
  src = gst_element_get_static_pad (elements[n_elements - 1], "src");
  gst_element_add_pad (bin, gst_ghost_pad_new ("sink", sink));
  gst_element_add_pad (bin, gst_ghost_pad_new ("src", src));

  return bin;
}

static void
clear_elements (GstElement **elements,
                guint        n_elements)
{
  for (guint i = 0; i < n_elements; i++)
    if (elements[i] != NULL)
      gst_object_unref (gst_object_ref_sink (elements[i]));
}

#define MAX_CHAIN 8

/**
 * es_media_codec_make_sender:
 *
 * Raw audio or video in, RTP out: queue → convert → encoder → valve “valve”
 * → payloader “pay”. The encoder is named “encoder”.
 *
 * The valve starts closed in forward-sticky-events mode: the default drop-all
 * mode also drops the caps and segment events, and the payloader and webrtcbin
 * then never learn their caps, so negotiation and the later gate opening both
 * stall.
 */
GstElement *
es_media_codec_make_sender (const EsMediaCodec     *codec,
                            const EsMediaSettings  *settings,
                            guint                   pt,
                            guint                   video_kbps,
                            GError                **error)
{
  GstElement *e[MAX_CHAIN] = { NULL, };
  guint n = 0;
  GstElement *bin;

  g_return_val_if_fail (codec != NULL, NULL);
  g_return_val_if_fail (settings != NULL, NULL);

  /* A leaky queue: when the encoder cannot keep up, frames are dropped before
   * it instead of piling up as delay. */
  if (!(e[n++] = make_element ("queue", NULL, error)))
    goto fail;
  g_object_set (e[n - 1], "max-size-buffers", 3, "max-size-bytes", 0,
                "max-size-time", (guint64) 0, NULL);
  gst_util_set_object_arg (G_OBJECT (e[n - 1]), "leaky", "downstream");

  if (g_str_equal (codec->name, "OPUS"))
    {
      if (!(e[n++] = make_element ("audioconvert", NULL, error)) ||
          !(e[n++] = make_element ("audioresample", NULL, error)) ||
          !(e[n++] = make_element ("opusenc", "encoder", error)))
        goto fail;
      g_object_set (e[n - 1],
                    "bitrate", (int) settings->audio_kbps * 1000,
                    "frame-size", 20,
                    "inband-fec", TRUE,
                    /* FEC only kicks in when the encoder expects loss. */
                    "packet-loss-percentage", 10,
                    NULL);
      gst_util_set_object_arg (G_OBJECT (e[n - 1]), "audio-type", "voice");
      gst_util_set_object_arg (G_OBJECT (e[n - 1]), "bitrate-type", "cbr");
    }
  else if (g_str_equal (codec->name, "VP8"))
    {
      if (!(e[n++] = make_element ("videoconvert", NULL, error)) ||
          !(e[n++] = make_element ("vp8enc", "encoder", error)))
        goto fail;
      /* deadline=1 is realtime mode: the default deadline (1 s per frame, "good")
       * encodes at a few frames per second. No lookahead, bounded keyframe
       * interval (keyframes on PLI/FIR and on gate opening come on top). */
      g_object_set (e[n - 1],
                    "deadline", (gint64) 1,
                    "target-bitrate", (int) video_kbps * 1000,
                    "cpu-used", 16,
                    "threads", MAX (1, MIN (4, (int) g_get_num_processors () / 2)),
                    "lag-in-frames", 0,
                    "keyframe-max-dist", 300,
                    "buffer-size", 1000,
                    "buffer-initial-size", 500,
                    "buffer-optimal-size", 600,
                    "undershoot", 95,
                    /* libwebrtc's quantizer cap for realtime VP8. */
                    "max-quantizer", 56,
                    NULL);
      gst_util_set_object_arg (G_OBJECT (e[n - 1]), "end-usage", "cbr");
      gst_util_set_object_arg (G_OBJECT (e[n - 1]), "error-resilient", "default");
    }
  else if (g_str_equal (codec->name, "H264"))
    {
      const char *factory = first_available (h264_encoders);
      GstCaps *caps;

      if (factory == NULL)
        {
          g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_MISSING_ELEMENT,
                       "No H.264 encoder installed (x264enc or openh264enc)");
          goto fail;
        }
      if (!(e[n++] = make_element ("videoconvert", NULL, error)) ||
          !(e[n++] = make_element (factory, "encoder", error)))
        goto fail;
      if (g_str_equal (factory, "x264enc"))
        {
          g_object_set (e[n - 1],
                        "bitrate", video_kbps,
                        "key-int-max", 300,
                        "bframes", 0,
                        NULL);
          gst_util_set_object_arg (G_OBJECT (e[n - 1]), "tune", "zerolatency");
          gst_util_set_object_arg (G_OBJECT (e[n - 1]), "speed-preset", "ultrafast");
        }
      else
        {
          g_object_set (e[n - 1], "bitrate", video_kbps * 1000, "gop-size", 300, NULL);
          gst_util_set_object_arg (G_OBJECT (e[n - 1]), "rate-control", "bitrate");
        }
      if (!(e[n++] = make_element ("capsfilter", NULL, error)))
        goto fail;
      caps = gst_caps_from_string ("video/x-h264,profile=constrained-baseline,"
                                   "stream-format=byte-stream,alignment=au");
      g_object_set (e[n - 1], "caps", caps, NULL);
      gst_caps_unref (caps);
    }
  else
    g_assert_not_reached ();

  if (!(e[n++] = make_element ("valve", "valve", error)))
    goto fail;
  g_object_set (e[n - 1], "drop", TRUE, NULL);
  gst_util_set_object_arg (G_OBJECT (e[n - 1]), "drop-mode", "forward-sticky-events");

  if (g_str_equal (codec->name, "OPUS"))
    {
      if (!(e[n++] = make_element ("rtpopuspay", "pay", error)))
        goto fail;
    }
  else if (g_str_equal (codec->name, "VP8"))
    {
      if (!(e[n++] = make_element ("rtpvp8pay", "pay", error)))
        goto fail;
      gst_util_set_object_arg (G_OBJECT (e[n - 1]), "picture-id-mode", "15-bit");
    }
  else
    {
      if (!(e[n++] = make_element ("rtph264pay", "pay", error)))
        goto fail;
      /* SPS/PPS before every IDR, so a keyframe alone starts a decoder. */
      g_object_set (e[n - 1], "config-interval", -1, NULL);
      gst_util_set_object_arg (G_OBJECT (e[n - 1]), "aggregate-mode", "zero-latency");
    }
  g_object_set (e[n - 1], "pt", pt, "mtu", 1200, NULL);

  g_assert (n <= MAX_CHAIN);
  bin = make_chain_bin (NULL, e, n, error);
  return bin;

fail:
  clear_elements (e, n);
  return NULL;
}

/**
 * es_media_codec_make_receiver:
 *
 * RTP in, raw out: depayloader → decoder “decoder” → convert. Video leaves
 * as BGRA, ready for GdkMemoryTexture.
 */
GstElement *
es_media_codec_make_receiver (const EsMediaCodec  *codec,
                              GError             **error)
{
  GstElement *e[MAX_CHAIN] = { NULL, };
  guint n = 0;

  g_return_val_if_fail (codec != NULL, NULL);

  if (g_str_equal (codec->name, "OPUS"))
    {
      if (!(e[n++] = make_element ("rtpopusdepay", NULL, error)) ||
          !(e[n++] = make_element ("opusdec", "decoder", error)))
        goto fail;
      g_object_set (e[n - 1], "plc", TRUE, "use-inband-fec", TRUE, NULL);
      if (!(e[n++] = make_element ("audioconvert", NULL, error)))
        goto fail;
    }
  else
    {
      GstCaps *caps;

      if (g_str_equal (codec->name, "VP8"))
        {
          if (!(e[n++] = make_element ("rtpvp8depay", NULL, error)))
            goto fail;
        }
      else
        {
          if (!(e[n++] = make_element ("rtph264depay", NULL, error)))
            goto fail;
        }
      /* Drop what follows a loss until the next keyframe and ask for one (PLI)
       * instead of decoding garbage. */
      g_object_set (e[n - 1], "request-keyframe", TRUE, "wait-for-keyframe", TRUE, NULL);

      if (g_str_equal (codec->name, "VP8"))
        {
          if (!(e[n++] = make_element ("vp8dec", "decoder", error)))
            goto fail;
        }
      else
        {
          const char *factory = first_available (h264_decoders);

          if (factory == NULL)
            {
              g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_MISSING_ELEMENT,
                           "No H.264 decoder installed (avdec_h264 or openh264dec)");
              goto fail;
            }
          if (!(e[n++] = make_element ("h264parse", NULL, error)) ||
              !(e[n++] = make_element (factory, "decoder", error)))
            goto fail;
        }

      if (!(e[n++] = make_element ("videoconvert", NULL, error)) ||
          !(e[n++] = make_element ("capsfilter", NULL, error)))
        goto fail;
      caps = gst_caps_from_string ("video/x-raw,format=BGRA");
      g_object_set (e[n - 1], "caps", caps, NULL);
      gst_caps_unref (caps);
    }

  g_assert (n <= MAX_CHAIN);
  return make_chain_bin (NULL, e, n, error);

fail:
  clear_elements (e, n);
  return NULL;
}

void
es_media_codec_set_video_bitrate (GstElement *sender,
                                  guint       kbps)
{
  g_autoptr(GstElement) encoder = NULL;
  const char *factory;

  g_return_if_fail (GST_IS_BIN (sender));

  encoder = gst_bin_get_by_name (GST_BIN (sender), "encoder");
  if (encoder == NULL)
    return;

  factory = GST_OBJECT_NAME (gst_element_get_factory (encoder));
  if (g_str_equal (factory, "vp8enc"))
    g_object_set (encoder, "target-bitrate", (int) kbps * 1000, NULL);
  else if (g_str_equal (factory, "x264enc"))
    g_object_set (encoder, "bitrate", kbps, NULL);
  else if (g_str_equal (factory, "openh264enc"))
    g_object_set (encoder, "bitrate", kbps * 1000, NULL);
}

/* The GstForceKeyUnit upstream event, spelled out so core does not need
 * gstreamer-video for one function. */
void
es_media_codec_request_keyframe (GstElement *sender)
{
  g_autoptr(GstElement) encoder = NULL;
  GstStructure *s;

  g_return_if_fail (GST_IS_BIN (sender));

  encoder = gst_bin_get_by_name (GST_BIN (sender), "encoder");
  if (encoder == NULL)
    return;

  s = gst_structure_new ("GstForceKeyUnit",
                         "all-headers", G_TYPE_BOOLEAN, TRUE,
                         "count", G_TYPE_UINT, 0,
                         "running-time", G_TYPE_UINT64, GST_CLOCK_TIME_NONE,
                         NULL);
  gst_element_send_event (encoder, gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, s));
}

char *
es_media_sdp_dup_encoding_name (const GstSDPMedia *media,
                                guint              pt)
{
  g_autofree char *prefix = g_strdup_printf ("%u ", pt);

  for (guint i = 0; i < gst_sdp_media_attributes_len (media); i++)
    {
      const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, i);
      const char *slash;

      if (g_strcmp0 (attr->key, "rtpmap") != 0 || attr->value == NULL ||
          !g_str_has_prefix (attr->value, prefix))
        continue;

      slash = strchr (attr->value + strlen (prefix), '/');
      if (slash == NULL)
        return g_ascii_strup (attr->value + strlen (prefix), -1);
      return g_ascii_strup (attr->value + strlen (prefix), slash - attr->value - strlen (prefix));
    }

  return NULL;
}

/* Encoding names of the formats of @media, in the order the m-line lists
 * them, without duplicates and without helpers (rtx, red, ulpfec). */
GPtrArray *
es_media_sdp_list_codecs (const GstSDPMedia *media)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++)
    {
      const char *fmt = gst_sdp_media_get_format (media, i);
      guint64 pt;
      char *name;

      if (!g_ascii_string_to_unsigned (fmt, 10, 0, 127, &pt, NULL))
        continue;
      name = es_media_sdp_dup_encoding_name (media, (guint) pt);
      if (name == NULL || g_str_equal (name, "RTX") || g_str_equal (name, "RED") ||
          g_str_equal (name, "ULPFEC") ||
          g_ptr_array_find_with_equal_func (names, name, g_str_equal, NULL))
        {
          g_free (name);
          continue;
        }
      g_ptr_array_add (names, name);
    }

  return names;
}

/* The first payload type on the m-line that carries @encoding_name, or -1. */
gint
es_media_sdp_find_pt (const GstSDPMedia *media,
                      const char        *encoding_name)
{
  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++)
    {
      const char *fmt = gst_sdp_media_get_format (media, i);
      g_autofree char *name = NULL;
      guint64 pt;

      if (!g_ascii_string_to_unsigned (fmt, 10, 0, 127, &pt, NULL))
        continue;
      name = es_media_sdp_dup_encoding_name (media, (guint) pt);
      if (name != NULL && g_ascii_strcasecmp (name, encoding_name) == 0)
        return (gint) pt;
    }

  return -1;
}
