/* es-protocol.h: frames of Earshot's signaling protocol v1
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define ES_PROTOCOL_VERSION        1
#define ES_PROTOCOL_MAX_FRAME_SIZE (64 * 1024)
/* Identifiers (call, device, user) are short and printable so they can go in logs as they are. */
#define ES_PROTOCOL_MAX_ID_LENGTH  64

#define ES_PROTOCOL_ERROR (es_protocol_error_quark ())

typedef enum
{
  ES_PROTOCOL_ERROR_MALFORMED,     /* not JSON, or not a JSON object */
  ES_PROTOCOL_ERROR_TOO_LARGE,     /* over ES_PROTOCOL_MAX_FRAME_SIZE */
  ES_PROTOCOL_ERROR_VERSION,       /* "v" missing or not 1 */
  ES_PROTOCOL_ERROR_UNKNOWN_TYPE,  /* "type" missing or not one we know */
  ES_PROTOCOL_ERROR_INVALID_FIELD, /* a field missing, of the wrong type, or out of range */
} EsProtocolError;

typedef enum
{
  /* Control frames: never queued, "seq" is 0. */
  ES_MESSAGE_HELLO,
  ES_MESSAGE_WELCOME,
  ES_MESSAGE_ACK,
  ES_MESSAGE_PING,
  ES_MESSAGE_PONG,
  ES_MESSAGE_ERROR,
  /* Durable frames: go through an outbox or a server queue, "seq" >= 1. */
  ES_MESSAGE_INVITE,
  ES_MESSAGE_INCOMING,
  ES_MESSAGE_RINGING,
  ES_MESSAGE_OFFER,
  ES_MESSAGE_ANSWER,
  ES_MESSAGE_ICE,
  ES_MESSAGE_ACCEPT,
  ES_MESSAGE_DECLINE,
  ES_MESSAGE_CANCEL,
  ES_MESSAGE_HANGUP,
  ES_MESSAGE_ANSWERED_ELSEWHERE,
  ES_MESSAGE_DECLINED_ELSEWHERE,
  ES_MESSAGE_BUSY,
  ES_MESSAGE_MISSED,
  ES_MESSAGE_NO_ANSWER,
  ES_MESSAGE_DATA, /* opaque body from one device of a user to another of the same user */
  ES_MESSAGE_N_TYPES
} EsMessageType;

/* One frame as it travels. Strings are owned; body is never NULL. */
typedef struct
{
  EsMessageType type;
  gint64        seq;         /* per direction and connection peer; 0 on control frames */
  gint64        ack;         /* highest seq from the other side the sender has persisted */
  char         *call_id;     /* NULL when absent */
  char         *to_device;   /* NULL when absent */
  char         *from_device; /* set by the server on frames it relays */
  char         *from_user;   /* set by the server on frames it relays */
  JsonObject   *body;
} EsFrame;

GQuark         es_protocol_error_quark      (void);

const char    *es_message_type_to_string    (EsMessageType  type);
gboolean       es_message_type_from_string  (const char    *name,
                                             EsMessageType *out_type);
gboolean       es_message_type_is_durable   (EsMessageType  type);

EsFrame       *es_frame_new                 (EsMessageType  type);
EsFrame       *es_frame_copy                (const EsFrame *frame);
void           es_frame_free                (EsFrame       *frame);

EsFrame       *es_frame_parse               (const char    *data,
                                             gsize          length,
                                             GError       **error);
char          *es_frame_serialize           (const EsFrame *frame,
                                             gsize         *out_length);

gboolean       es_protocol_is_valid_id      (const char    *id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsFrame, es_frame_free)

G_END_DECLS
