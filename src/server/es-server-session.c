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
message_cb (EsServerLink *link,
            GBytes       *message,
            gboolean      is_text,
            gpointer      user_data)
{
  EsServerSession *self = user_data;
  g_autoptr(EsServerSession) hold = g_object_ref (self);

  if (self->closing)
    return;

  es_server_session_message (self->server, self, message, is_text);
}

static void
closed_cb (EsServerLink *link,
           gushort       code,
           gpointer      user_data)
{
  EsServerSession *self = user_data;
  g_autoptr(EsServerSession) hold = g_object_ref (self);

  self->closing = TRUE;
  es_server_session_closed (self->server, self);
}

static void
es_server_session_dispose (GObject *object)
{
  EsServerSession *self = (EsServerSession *) object;

  if (self->link != NULL)
    {
      es_server_link_set_handlers (self->link, NULL, NULL, NULL);
      es_server_link_close (self->link, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
    }
  g_clear_pointer (&self->link, es_server_link_unref);

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
es_server_session_new (EsServer       *server,
                       EsServerLink   *link,
                       EsServerDevice *device)
{
  EsServerSession *self;

  g_return_val_if_fail (ES_IS_SERVER (server), NULL);
  g_return_val_if_fail (link != NULL, NULL);
  g_return_val_if_fail (device != NULL, NULL);

  self = g_object_new (ES_TYPE_SERVER_SESSION, NULL);
  self->server = server;
  self->link = es_server_link_ref (link);
  self->device = device;
  self->last_activity = g_get_monotonic_time () / G_USEC_PER_SEC;
  es_server_link_set_handlers (link, message_cb, closed_cb, self);

  return self;
}

gboolean
es_server_session_is_open (EsServerSession *self)
{
  g_return_val_if_fail (ES_IS_SERVER_SESSION (self), FALSE);

  return !self->closing && es_server_link_is_open (self->link);
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

  es_server_link_send_text (self->link, g_steal_pointer (&text));
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

  es_server_link_send_text (self->link, g_steal_pointer (&stamped));
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
  es_server_link_close (self->link, code, reason);
}
