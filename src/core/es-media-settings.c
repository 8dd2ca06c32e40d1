/* es-media-settings.c: what a call branch sends and how
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-media"

#include <string.h>

#include "es-media-settings.h"
#include "es-call-branch.h"

G_DEFINE_BOXED_TYPE (EsMediaSettings, es_media_settings,
                     es_media_settings_copy, es_media_settings_free)

static const char * const default_codecs[] = { "VP8", "H264", NULL };

/**
 * es_media_settings_new:
 *
 * Defaults: VP8 before H.264, video 150/800/2500 kbit/s, Opus at 32 kbit/s,
 * no STUN or TURN, test media off.
 *
 * The jitterbuffer latency defaults to 40 ms instead of webrtcbin's 200 ms. The
 * jitterbuffer holds every packet for that long before it hands it on, so it
 * adds directly to time-to-first-frame and to mouth-to-ear delay on every
 * packet. 40 ms still absorbs the jitter of ordinary home links and covers two
 * Opus frames or a video frame at 30 fps; packets later than that are
 * concealed (Opus PLC/FEC) or repaired by a keyframe request. Measured across a
 * 100 ms round trip (tests/bench/run-call-bench.py), 60 ms put first audio at
 * 150–170 ms after pickup and 40 ms at 137–147 ms, inside the 150 ms goal.
 * Raise it for bad links (the "latency" setting), never lower it below ~40 ms.
 */
EsMediaSettings *
es_media_settings_new (void)
{
  EsMediaSettings *self = g_new0 (EsMediaSettings, 1);

  self->video_codecs = g_strdupv ((GStrv) default_codecs);
  self->video_min_kbps = ES_MEDIA_SETTINGS_DEFAULT_VIDEO_MIN_KBPS;
  self->video_start_kbps = ES_MEDIA_SETTINGS_DEFAULT_VIDEO_START_KBPS;
  self->video_max_kbps = ES_MEDIA_SETTINGS_DEFAULT_VIDEO_MAX_KBPS;
  self->audio_kbps = ES_MEDIA_SETTINGS_DEFAULT_AUDIO_KBPS;
  self->latency_ms = ES_MEDIA_SETTINGS_DEFAULT_LATENCY_MS;

  return self;
}

EsMediaSettings *
es_media_settings_copy (const EsMediaSettings *self)
{
  EsMediaSettings *copy;

  g_return_val_if_fail (self != NULL, NULL);

  copy = g_new0 (EsMediaSettings, 1);
  *copy = *self;
  copy->video_codecs = g_strdupv (self->video_codecs);
  copy->stun_server = g_strdup (self->stun_server);
  copy->turn_servers = g_strdupv (self->turn_servers);
  copy->audio_device_id = g_strdup (self->audio_device_id);
  copy->video_device_id = g_strdup (self->video_device_id);

  return copy;
}

void
es_media_settings_free (EsMediaSettings *self)
{
  if (self == NULL)
    return;

  g_strfreev (self->video_codecs);
  g_free (self->stun_server);
  g_strfreev (self->turn_servers);
  g_free (self->audio_device_id);
  g_free (self->video_device_id);
  g_free (self);
}

void
es_media_settings_set_video_codecs (EsMediaSettings    *self,
                                    const char * const *codecs)
{
  g_return_if_fail (self != NULL);

  g_strfreev (self->video_codecs);
  self->video_codecs = g_strdupv ((GStrv) codecs);
}

void
es_media_settings_set_turn_servers (EsMediaSettings    *self,
                                    const char * const *uris)
{
  g_return_if_fail (self != NULL);

  g_strfreev (self->turn_servers);
  self->turn_servers = g_strdupv ((GStrv) uris);
}

void
es_media_settings_set_stun_server (EsMediaSettings *self,
                                   const char      *uri)
{
  g_return_if_fail (self != NULL);

  g_free (self->stun_server);
  self->stun_server = g_strdup (uri);
}

static gboolean
is_known_codec (const char *name)
{
  return g_ascii_strcasecmp (name, "VP8") == 0 || g_ascii_strcasecmp (name, "H264") == 0;
}

/* Settings come from GSettings or the command line, so they are checked
 * with a GError rather than assertions. */
gboolean
es_media_settings_validate (const EsMediaSettings  *self,
                            GError                **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  if (!self->audio_only)
    {
      if (self->video_codecs == NULL || self->video_codecs[0] == NULL)
        {
          g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SETTINGS,
                       "No video codec enabled");
          return FALSE;
        }
      for (guint i = 0; self->video_codecs[i] != NULL; i++)
        if (!is_known_codec (self->video_codecs[i]))
          {
            g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SETTINGS,
                         "Unknown video codec “%s”", self->video_codecs[i]);
            return FALSE;
          }
    }

  if (self->video_min_kbps == 0 || self->video_min_kbps > self->video_max_kbps)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SETTINGS,
                   "Video bitrate range %u–%u kbit/s is empty",
                   self->video_min_kbps, self->video_max_kbps);
      return FALSE;
    }

  if (self->audio_kbps < 6 || self->audio_kbps > 510)
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SETTINGS,
                   "Opus bitrate %u kbit/s is out of range (6–510)", self->audio_kbps);
      return FALSE;
    }

  if (self->stun_server != NULL && !g_str_has_prefix (self->stun_server, "stun://"))
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SETTINGS,
                   "STUN server “%s” is not a stun:// URI", self->stun_server);
      return FALSE;
    }

  for (guint i = 0; self->turn_servers != NULL && self->turn_servers[i] != NULL; i++)
    {
      const char *uri = self->turn_servers[i];

      if (!g_str_has_prefix (uri, "turn://") && !g_str_has_prefix (uri, "turns://"))
        {
          g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SETTINGS,
                       "TURN server “%s” is not a turn:// or turns:// URI", uri);
          return FALSE;
        }
    }

  if (self->relay_only && (self->turn_servers == NULL || self->turn_servers[0] == NULL))
    {
      g_set_error (error, ES_CALL_ERROR, ES_CALL_ERROR_INVALID_SETTINGS,
                   "Relay-only ICE needs at least one TURN server");
      return FALSE;
    }

  return TRUE;
}

guint
es_media_settings_clamp_video_kbps (const EsMediaSettings *self,
                                    guint                  kbps)
{
  g_return_val_if_fail (self != NULL, kbps);

  return CLAMP (kbps, self->video_min_kbps, self->video_max_kbps);
}

/**
 * es_media_settings_make_turn_uri:
 * @server: "turn:host:port[?transport=udp]" (RFC 7065, as coturn REST
 *   and GET /v1/turn give it) or "turn://host:port…"
 * @username: coturn REST username "<expiry>:<user>"
 * @password: base64 HMAC
 *
 * webrtcbin splits the user info at its first ':' and then unescapes both
 * halves, so the ':' in the username and the '+', '/', '=' of base64 must be
 * percent-escaped.
 *
 * Returns: (transfer full): "turn://user:pass@host:port…" for @turn_servers
 */
char *
es_media_settings_make_turn_uri (const char *server,
                                 const char *username,
                                 const char *password)
{
  g_autofree char *user = NULL;
  g_autofree char *pass = NULL;
  const char *scheme;
  const char *rest;

  g_return_val_if_fail (server != NULL, NULL);
  g_return_val_if_fail (username != NULL, NULL);
  g_return_val_if_fail (password != NULL, NULL);

  if (g_str_has_prefix (server, "turns:"))
    {
      scheme = "turns";
      rest = server + strlen ("turns:");
    }
  else if (g_str_has_prefix (server, "turn:"))
    {
      scheme = "turn";
      rest = server + strlen ("turn:");
    }
  else
    return NULL;

  if (g_str_has_prefix (rest, "//"))
    rest += 2;

  user = g_uri_escape_string (username, NULL, FALSE);
  pass = g_uri_escape_string (password, NULL, FALSE);

  return g_strdup_printf ("%s://%s:%s@%s", scheme, user, pass, rest);
}
