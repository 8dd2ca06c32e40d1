/* es-signaling-client.h: one device's WebSocket link to the signaling server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "es-client-store.h"
#include "es-protocol.h"

G_BEGIN_DECLS

#define ES_SIGNALING_ERROR (es_signaling_error_quark ())

typedef enum
{
  ES_SIGNALING_ERROR_NOT_CONFIGURED, /* the profile has no server, device or token */
  ES_SIGNALING_ERROR_AUTH,           /* the server refused the token or the device (401, 4001) */
  ES_SIGNALING_ERROR_TOO_LARGE,      /* a frame to send is over 64 KiB */
  ES_SIGNALING_ERROR_INVALID,        /* a frame to send is not valid */
} EsSignalingError;

typedef enum
{
  ES_SIGNALING_STATE_DISCONNECTED,
  ES_SIGNALING_STATE_CONNECTING,
  ES_SIGNALING_STATE_CONNECTED,
} EsSignalingState;

#define ES_SIGNALING_DEFAULT_HEARTBEAT_MS 10000
/* Below the server's 500 frames/s so that a fast sender never trips its limit. */
#define ES_SIGNALING_MAX_FRAMES_PER_SECOND 400

#define ES_TYPE_SIGNALING_STATE (es_signaling_state_get_type ())
#define ES_TYPE_SIGNALING_CLIENT (es_signaling_client_get_type ())

GType es_signaling_state_get_type (void);

G_DECLARE_FINAL_TYPE (EsSignalingClient, es_signaling_client, ES, SIGNALING_CLIENT, GObject)

GQuark             es_signaling_error_quark                (void);

EsSignalingClient *es_signaling_client_new                 (EsClientStore     *store);
EsClientStore     *es_signaling_client_get_store           (EsSignalingClient *self);
EsSignalingState   es_signaling_client_get_state           (EsSignalingClient *self);
const GError      *es_signaling_client_get_error           (EsSignalingClient *self);
guint              es_signaling_client_get_heartbeat_interval (EsSignalingClient *self);
void               es_signaling_client_set_heartbeat_interval (EsSignalingClient *self,
                                                              guint              interval_ms);

void               es_signaling_client_start               (EsSignalingClient *self);
void               es_signaling_client_stop                (EsSignalingClient *self);

gint64             es_signaling_client_send                (EsSignalingClient *self,
                                                            EsMessageType      type,
                                                            const char        *call_id,
                                                            const char        *to_device,
                                                            JsonObject        *body,
                                                            GError           **error);

G_END_DECLS
