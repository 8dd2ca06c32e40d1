/* es-media-source.c: where a branch's audio and video come from
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-media"

#include "es-media-source.h"
#include "es-call-branch.h"

#define TEST_VIDEO_CAPS "capsfilter caps=video/x-raw,width=640,height=480,framerate=30/1"
#define TEST_AUDIO_CAPS "capsfilter caps=audio/x-raw,rate=48000,channels=1"

/**
 * es_media_source_make:
 *
 * Returns a bin with one always "src" pad giving raw audio or video.
 *
 * This is the seam for real devices: with @settings->test_media unset it takes
 * the device named by @settings->audio_device_id / video_device_id, which the
 * preferences fill from a GstDeviceMonitor (hot-plug included), and otherwise
 * the desktop default (PipeWire or PulseAudio, V4L2). Echo cancellation
 * (webrtcdsp + a webrtcechoprobe on the playback side) belongs on the audio
 * path here as well, once playback exists.
 */
GstElement *
es_media_source_make (EsMediaKind             kind,
                      const EsMediaSettings  *settings,
                      GError                **error)
{
  g_autofree char *description = NULL;
  GstElement *bin;

  g_return_val_if_fail (settings != NULL, NULL);

  if (settings->test_media && kind == ES_MEDIA_KIND_AUDIO)
    description = g_strdup ("audiotestsrc is-live=true wave=sine freq=440 volume=0.3 "
                            "samplesperbuffer=960 ! " TEST_AUDIO_CAPS);
  else if (settings->test_media)
    /* Moving rings: hard enough that a bitrate cap matters (about 1.4 Mbit/s
     * uncapped VP8), easy enough to hold 300 kbit/s. Not "smpte": it has a
     * patch of random noise that no encoder compresses, so it overshoots
     * every cap. */
    description = g_strdup ("videotestsrc is-live=true pattern=circular horizontal-speed=4 ! "
                            TEST_VIDEO_CAPS);
  else if (kind == ES_MEDIA_KIND_AUDIO)
    /* TODO: build from the GstDevice matching audio_device_id. */
    description = g_strdup ("autoaudiosrc ! audioconvert ! audioresample ! "
                            TEST_AUDIO_CAPS);
  else
    /* TODO: build from the GstDevice matching video_device_id. */
    description = g_strdup ("autovideosrc ! videoconvert ! videoscale ! videorate ! "
                            "capsfilter caps=video/x-raw,width=640,height=480,framerate=30/1");

  bin = gst_parse_bin_from_description (description, TRUE, error);
  if (bin == NULL)
    {
      g_prefix_error (error, "Cannot open the %s source: ", es_media_kind_to_string (kind));
      return NULL;
    }

  return bin;
}
