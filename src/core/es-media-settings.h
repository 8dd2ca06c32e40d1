/* es-media-settings.h: what a call branch sends and how
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define ES_MEDIA_SETTINGS_DEFAULT_VIDEO_MIN_KBPS    150
#define ES_MEDIA_SETTINGS_DEFAULT_VIDEO_START_KBPS  800
#define ES_MEDIA_SETTINGS_DEFAULT_VIDEO_MAX_KBPS   2500
#define ES_MEDIA_SETTINGS_DEFAULT_AUDIO_KBPS         32
/* See es_media_settings_new() for why 40 and not webrtcbin's 200. */
#define ES_MEDIA_SETTINGS_DEFAULT_LATENCY_MS         40

#define ES_TYPE_MEDIA_SETTINGS (es_media_settings_get_type ())

/**
 * EsMediaSettings:
 * @video_codecs: codec names in priority order, first preferred ("VP8", "H264")
 * @audio_only: send and accept no video
 * @video_min_kbps: lowest video bitrate the adaptation may go to
 * @video_start_kbps: encoder bitrate at the start of a call
 * @video_max_kbps: cap for the encoder, also advertised as b=AS / b=TIAS
 * @audio_kbps: Opus bitrate
 * @latency_ms: jitterbuffer latency (webrtcbin `latency`)
 * @stun_server: "stun://host:port" or %NULL
 * @turn_servers: "turn(s)://user:password@host:port[?transport=udp|tcp]" URIs,
 *   user and password may hold ':' and base64 as they come from the server
 * @relay_only: ICE transport policy "relay" (hide the host address)
 * @test_media: audiotestsrc / videotestsrc instead of devices
 * @audio_device_id: device seam for later (GstDeviceMonitor display name or
 *   object path); %NULL = default device
 * @video_device_id: likewise for the camera
 *
 * A plain copyable value. A branch copies the settings it is given, so changing
 * them later does not affect a running call (use the branch methods for that).
 */
typedef struct _EsMediaSettings EsMediaSettings;

struct _EsMediaSettings
{
  GStrv     video_codecs;
  gboolean  audio_only;
  guint     video_min_kbps;
  guint     video_start_kbps;
  guint     video_max_kbps;
  guint     audio_kbps;
  guint     latency_ms;
  char     *stun_server;
  GStrv     turn_servers;
  gboolean  relay_only;
  gboolean  test_media;
  char     *audio_device_id;
  char     *video_device_id;
};

GType            es_media_settings_get_type          (void) G_GNUC_CONST;
EsMediaSettings *es_media_settings_new               (void);
EsMediaSettings *es_media_settings_copy              (const EsMediaSettings  *self);
void             es_media_settings_free              (EsMediaSettings        *self);
void             es_media_settings_set_video_codecs  (EsMediaSettings        *self,
                                                      const char * const     *codecs);
void             es_media_settings_set_turn_servers  (EsMediaSettings        *self,
                                                      const char * const     *uris);
void             es_media_settings_set_stun_server   (EsMediaSettings        *self,
                                                      const char             *uri);
gboolean         es_media_settings_validate          (const EsMediaSettings  *self,
                                                      GError                **error);
char            *es_media_settings_make_turn_uri     (const char             *server,
                                                      const char             *username,
                                                      const char             *password);
guint            es_media_settings_clamp_video_kbps  (const EsMediaSettings  *self,
                                                      guint                   kbps);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsMediaSettings, es_media_settings_free)

G_END_DECLS
