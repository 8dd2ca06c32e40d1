/* es-server-session.c: one connected device
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "es-server-private.h"

G_DEFINE_FINAL_TYPE (EsServerSession, es_server_session, G_TYPE_OBJECT)

EsServerDevice *
es_server_device_new_from_record (const EsServerDeviceRecord *record)
{
  EsServerDevice *device;

  g_return_val_if_fail (record != NULL, NULL);

  device = g_new0 (EsServerDevice, 1);
  device->id = g_strdup (record->id);
  device->user = g_strdup (record->user);
  device->name = g_strdup (record->name);
  device->last_recv_seq = record->last_recv_seq;
  device->persisted_recv_seq = record->last_recv_seq;
  device->next_seq = record->next_seq;

  return device;
}

void
es_server_device_free (EsServerDevice *device)
{
  if (device == NULL)
    return;

  g_free (device->id);
  g_free (device->user);
  g_free (device->name);
  g_free (device);
}

static void
message_cb (SoupWebsocketConnection *conn,
            SoupWebsocketDataType    type,
            GBytes                  *message,
            EsServerSession         *self)
{
  g_autoptr(EsServerSession) hold = g_object_ref (self);

  if (self->closing)
    return;

  es_server_session_message (self->server, self, message, type == SOUP_WEBSOCKET_DATA_TEXT);
}

/* libsoup 3.2 drops the socket without a close frame when a frame is over the maximum size;
 * the protocol promises 1009. The error comes before the stream closes, so say it here. */
static void
error_cb (SoupWebsocketConnection *conn,
          GError                  *error,
          EsServerSession         *self)
{
  if (g_error_matches (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG) &&
      soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_OPEN)
    {
      self->closing = TRUE;
      soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_TOO_BIG, "frame over 64 KiB");
    }
}

static void
closed_cb (SoupWebsocketConnection *conn,
           EsServerSession         *self)
{
  g_autoptr(EsServerSession) hold = g_object_ref (self);

  self->closing = TRUE;
  es_server_session_closed (self->server, self);
}

static void
es_server_session_dispose (GObject *object)
{
  EsServerSession *self = (EsServerSession *) object;

  if (self->conn != NULL)
    {
      g_clear_signal_handler (&self->message_id, self->conn);
      g_clear_signal_handler (&self->closed_id, self->conn);
      g_clear_signal_handler (&self->error_id, self->conn);
      if (soup_websocket_connection_get_state (self->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (self->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
    }
  g_clear_object (&self->conn);

  G_OBJECT_CLASS (es_server_session_parent_class)->dispose (object);
}

static void
es_server_session_class_init (EsServerSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = es_server_session_dispose;
}

static void
es_server_session_init (EsServerSession *self)
{
}

EsServerSession *
es_server_session_new (EsServer                *server,
                       SoupWebsocketConnection *conn,
                       EsServerDevice          *device)
{
  EsServerSession *self;

  g_return_val_if_fail (ES_IS_SERVER (server), NULL);
  g_return_val_if_fail (SOUP_IS_WEBSOCKET_CONNECTION (conn), NULL);
  g_return_val_if_fail (device != NULL, NULL);

  self = g_object_new (ES_TYPE_SERVER_SESSION, NULL);
  self->server = server;
  self->conn = g_object_ref (conn);
  self->device = device;
  self->last_activity = g_get_monotonic_time () / G_USEC_PER_SEC;
  self->message_id = g_signal_connect (conn, "message", G_CALLBACK (message_cb), self);
  self->closed_id = g_signal_connect (conn, "closed", G_CALLBACK (closed_cb), self);
  self->error_id = g_signal_connect (conn, "error", G_CALLBACK (error_cb), self);

  return self;
}

gboolean
es_server_session_is_open (EsServerSession *self)
{
  g_return_val_if_fail (ES_IS_SERVER_SESSION (self), FALSE);

  return !self->closing &&
         soup_websocket_connection_get_state (self->conn) == SOUP_WEBSOCKET_STATE_OPEN;
}

/* Sends @frame, stamping it with the device's persisted ack; never anything uncommitted. */
void
es_server_session_send (EsServerSession *self,
                        EsFrame         *frame)
{
  g_autofree char *text = NULL;

  g_return_if_fail (ES_IS_SERVER_SESSION (self));
  g_return_if_fail (frame != NULL);

  if (!es_server_session_is_open (self))
    return;

  frame->ack = self->device->persisted_recv_seq;
  /* The most common frame by far; its text is fixed apart from the number. */
  if (frame->type == ES_MESSAGE_ACK && frame->seq == 0)
    text = g_strdup_printf ("{\"v\":%d,\"seq\":0,\"ack\":%" G_GINT64_FORMAT ",\"type\":\"ack\",\"body\":{}}",
                            ES_PROTOCOL_VERSION, frame->ack);
  else
    text = es_frame_serialize (frame, NULL);
  if (text == NULL)
    return;

  soup_websocket_connection_send_text (self->conn, text);
  self->last_ack_sent = frame->ack;
  if (frame->seq > self->last_sent_seq)
    self->last_sent_seq = frame->seq;
}

/* Sends a durable frame as it was serialized for the queue (with "ack":0), stamping the ack into
 * the text rather than parsing and serializing it again: es_frame_serialize always writes
 * {"v":1,"seq":N,"ack":M,… first, so the first "ack": is the top-level one. */
void
es_server_session_send_queued (EsServerSession *self,
                               gint64           seq,
                               const char      *text,
                               gsize            length)
{
  static const char key[] = "\"ack\":";
  const char *value, *end;
  g_autofree char *stamped = NULL;
  char ack[24];
  int ack_len;
  gsize prefix_len, suffix_len;

  g_return_if_fail (ES_IS_SERVER_SESSION (self));
  g_return_if_fail (text != NULL);

  if (!es_server_session_is_open (self))
    return;

  value = g_strstr_len (text, MIN (length, 64), key);
  g_return_if_fail (value != NULL);
  value += sizeof key - 1;
  end = value;
  while (end < text + length && g_ascii_isdigit (*end))
    end++;

  ack_len = g_snprintf (ack, sizeof ack, "%" G_GINT64_FORMAT, self->device->persisted_recv_seq);
  prefix_len = value - text;
  suffix_len = text + length - end;
  stamped = g_malloc (prefix_len + ack_len + suffix_len + 1);
  memcpy (stamped, text, prefix_len);
  memcpy (stamped + prefix_len, ack, ack_len);
  memcpy (stamped + prefix_len + ack_len, end, suffix_len);
  stamped[prefix_len + ack_len + suffix_len] = '\0';

  soup_websocket_connection_send_text (self->conn, stamped);
  self->last_ack_sent = self->device->persisted_recv_seq;
  if (seq > self->last_sent_seq)
    self->last_sent_seq = seq;
}

EsFrame *
es_server_error_frame_new (const char *code,
                           const char *message,
                           gint64      ref_seq)
{
  EsFrame *frame = es_frame_new (ES_MESSAGE_ERROR);

  if (frame->body == NULL)
    frame->body = json_object_new ();
  json_object_set_string_member (frame->body, "code", code);
  json_object_set_string_member (frame->body, "message", message);
  if (ref_seq > 0)
    json_object_set_int_member (frame->body, "ref_seq", ref_seq);

  return frame;
}

void
es_server_session_send_error (EsServerSession *self,
                              const char      *code,
                              const char      *message,
                              gint64           ref_seq)
{
  g_autoptr(EsFrame) frame = NULL;

  g_return_if_fail (ES_IS_SERVER_SESSION (self));

  frame = es_server_error_frame_new (code, message, ref_seq);
  es_server_session_send (self, frame);
}

void
es_server_session_close (EsServerSession *self,
                         gushort          code,
                         const char      *reason)
{
  g_return_if_fail (ES_IS_SERVER_SESSION (self));

  if (self->closing)
    return;

  self->closing = TRUE;
  if (soup_websocket_connection_get_state (self->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (self->conn, code, reason);
}
