/* es-signaling-client.c: one device's WebSocket link to the signaling server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-signaling"

#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <libsoup/soup.h>

#include "es-backoff.h"
#include "es-signaling-client.h"

#define CLOSE_AUTH_MISMATCH 4001
#define CLOSE_PROTOCOL      4002
/* How many frames may leave at once after a pause; well below the server's burst of 1000. */
#define TOKEN_BUCKET_CAPACITY 50.0

struct _EsSignalingClient
{
  GObject                  parent_instance;

  /* Owned */
  EsClientStore           *store;
  SoupSession             *session;
  SoupWebsocketConnection *conn;
  GCancellable            *connect_cancellable;
  EsBackoff               *backoff;
  GQueue                   pending;  /* EsFrame*: committed, not yet sent on this connection */
  GPtrArray               *received; /* EsFrame*: recorded in the open batch, not yet emitted */
  GError                  *error;

  EsSignalingState         state;
  guint                    heartbeat_interval;
  gint64                   connected_at; /* monotonic µs when welcome came, 0 before */
  gint64                   last_rx;      /* monotonic µs of the last frame from the server */
  gint64                   ack_sent;     /* highest ack the server has from us on this link */
  gint64                   server_ack;   /* highest ack the server sent us */
  gint64                   server_ack_applied;
  double                   tokens;
  gint64                   tokens_at;

  guint                    reconnect_source;
  guint                    ping_source;
  guint                    liveness_source;
  guint                    pump_source;
  guint                    flush_source;

  guint                    running : 1;
  guint                    welcomed : 1;
  guint                    batch_open : 1;
  guint                    force_ack : 1;
};

enum {
  PROP_0,
  PROP_STORE,
  PROP_STATE,
  PROP_HEARTBEAT_INTERVAL,
  PROP_ERROR,
  N_PROPS
};

enum {
  FRAME_RECEIVED,
  ERROR_RECEIVED,
  ACKED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (EsSignalingClient, es_signaling_client, G_TYPE_OBJECT)
G_DEFINE_ENUM_TYPE (EsSignalingState, es_signaling_state,
                    G_DEFINE_ENUM_VALUE (ES_SIGNALING_STATE_DISCONNECTED, "disconnected"),
                    G_DEFINE_ENUM_VALUE (ES_SIGNALING_STATE_CONNECTING, "connecting"),
                    G_DEFINE_ENUM_VALUE (ES_SIGNALING_STATE_CONNECTED, "connected"))
G_DEFINE_QUARK (es-signaling-error-quark, es_signaling_error)

static void connect_now        (EsSignalingClient *self);
static void drop_connection    (EsSignalingClient *self,
                                gushort            code,
                                const char        *reason);
static void schedule_reconnect (EsSignalingClient *self);
static void schedule_pump      (EsSignalingClient *self,
                                guint              delay_ms);
static void schedule_flush     (EsSignalingClient *self);
static void flush              (EsSignalingClient *self);

static void
set_state (EsSignalingClient *self,
           EsSignalingState   state)
{
  if (self->state == state)
    return;

  g_debug ("State %s → %s",
           g_enum_get_value (g_type_class_peek (ES_TYPE_SIGNALING_STATE), self->state)->value_nick,
           g_enum_get_value (g_type_class_peek (ES_TYPE_SIGNALING_STATE), state)->value_nick);
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_error (EsSignalingClient *self,
           GError            *error)
{
  g_clear_error (&self->error);
  self->error = error;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
}

/* A failure that reconnecting cannot fix: stop, and say why. */
static void
fail (EsSignalingClient *self,
      GError            *error)
{
  g_message ("%s", error->message);
  g_object_ref (self);
  /* The error first, so that whoever watches the state sees why it went down. */
  set_error (self, error);
  es_signaling_client_stop (self);
  g_object_unref (self);
}

static gboolean
send_text (EsSignalingClient *self,
           const EsFrame     *frame)
{
  g_autofree char *text = NULL;
  gsize len = 0;

  g_assert (self->conn != NULL);

  if (soup_websocket_connection_get_state (self->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return FALSE;

  text = es_frame_serialize (frame, &len);
  if (text == NULL)
    {
      g_warning ("Cannot serialize a %s frame", es_message_type_to_string (frame->type));
      return FALSE;
    }

  soup_websocket_connection_send_text (self->conn, text);
  self->tokens -= 1.0;
  if (frame->ack > self->ack_sent)
    self->ack_sent = frame->ack;

  return TRUE;
}

/* Control frames go out at once; the token bucket still counts them. */
static void
send_control (EsSignalingClient *self,
              EsMessageType      type,
              JsonObject        *body)
{
  g_autoptr(EsFrame) frame = es_frame_new (type);

  if (body != NULL)
    {
      json_object_unref (frame->body);
      frame->body = json_object_ref (body);
    }
  frame->ack = es_client_store_get_last_received_seq (self->store);
  send_text (self, frame);
}

static void
refill_tokens (EsSignalingClient *self)
{
  gint64 now = g_get_monotonic_time ();

  self->tokens += (now - self->tokens_at) * ES_SIGNALING_MAX_FRAMES_PER_SECOND / (double)G_USEC_PER_SEC;
  self->tokens = MIN (self->tokens, TOKEN_BUCKET_CAPACITY);
  self->tokens_at = now;
}

static gboolean
ack_needed (EsSignalingClient *self)
{
  return self->force_ack ||
         es_client_store_get_last_received_seq (self->store) > self->ack_sent;
}

/* Sends what is waiting, as fast as the token bucket allows. Only committed frames leave:
 * a seq the server has seen must never be given to another message after a crash. */
static void
pump (EsSignalingClient *self)
{
  if (self->conn == NULL || !self->welcomed)
    return;

  if (es_client_store_in_transaction (self->store))
    {
      schedule_pump (self, 2);
      return;
    }

  refill_tokens (self);

  while (self->tokens >= 1.0 && !g_queue_is_empty (&self->pending))
    {
      g_autoptr(EsFrame) frame = g_queue_pop_head (&self->pending);

      /* A frame whose batch was rolled back after send() must not leave: its seq is free
       * again and will name another message. */
      if (frame->seq >= es_client_store_get_next_seq (self->store))
        {
          g_debug ("Dropping rolled back seq %" G_GINT64_FORMAT, frame->seq);
          continue;
        }

      frame->ack = es_client_store_get_last_received_seq (self->store);
      if (!send_text (self, frame))
        return;
    }

  if (g_queue_is_empty (&self->pending) && ack_needed (self) && self->tokens >= 1.0)
    {
      self->force_ack = FALSE;
      send_control (self, ES_MESSAGE_ACK, NULL);
    }

  if (!g_queue_is_empty (&self->pending) || ack_needed (self))
    {
      double missing = 1.0 - self->tokens;
      guint delay = (guint)(missing * 1000.0 / ES_SIGNALING_MAX_FRAMES_PER_SECOND) + 1;

      schedule_pump (self, delay);
    }
}

static gboolean
pump_cb (gpointer user_data)
{
  EsSignalingClient *self = user_data;

  self->pump_source = 0;
  pump (self);

  return G_SOURCE_REMOVE;
}

static void
schedule_pump (EsSignalingClient *self,
               guint              delay_ms)
{
  if (self->pump_source != 0)
    return;

  if (delay_ms == 0)
    self->pump_source = g_idle_add_full (G_PRIORITY_DEFAULT, pump_cb, self, NULL);
  else
    self->pump_source = g_timeout_add_full (G_PRIORITY_DEFAULT, delay_ms, pump_cb, self, NULL);
}

/* Commits the receive batch and what the server acked, then tells the application about the
 * new frames: they are on disk before anyone sees them and before the server hears an ack. */
static void
flush (EsSignalingClient *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) received = NULL;
  gint64 acked = 0;

  g_clear_handle_id (&self->flush_source, g_source_remove);

  if (self->server_ack > self->server_ack_applied)
    {
      if (es_client_store_ack (self->store, self->server_ack, &error))
        {
          acked = self->server_ack;
          self->server_ack_applied = self->server_ack;
        }
      else
        {
          g_warning ("Cannot drop acked frames from the outbox: %s", error->message);
          g_clear_error (&error);
        }
    }

  if (self->batch_open)
    {
      self->batch_open = FALSE;
      if (!es_client_store_commit (self->store, &error))
        {
          /* Nothing of the batch was acked, so the server sends it again. */
          g_warning ("Cannot persist received frames: %s", error->message);
          g_ptr_array_set_size (self->received, 0);
          self->server_ack_applied = 0;
          if (self->conn != NULL)
            {
              drop_connection (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "storage failure");
              schedule_reconnect (self);
            }
          return;
        }
    }

  received = g_steal_pointer (&self->received);
  self->received = g_ptr_array_new_with_free_func ((GDestroyNotify)es_frame_free);

  g_object_ref (self);

  for (guint i = 0; i < received->len; i++)
    g_signal_emit (self, signals[FRAME_RECEIVED], 0, received->pdata[i]);

  if (acked > 0)
    g_signal_emit (self, signals[ACKED], 0, acked);

  if (self->conn != NULL)
    pump (self);

  g_object_unref (self);
}

static gboolean
flush_cb (gpointer user_data)
{
  EsSignalingClient *self = user_data;

  self->flush_source = 0;
  flush (self);

  return G_SOURCE_REMOVE;
}

/* Once per main-loop turn: every frame that arrived in this turn shares one commit and one
 * ack. Default priority, so that a busy socket cannot starve it. */
static void
schedule_flush (EsSignalingClient *self)
{
  if (self->flush_source == 0)
    self->flush_source = g_idle_add_full (G_PRIORITY_DEFAULT, flush_cb, self, NULL);
}

static gboolean
ping_cb (gpointer user_data)
{
  EsSignalingClient *self = user_data;

  if (self->conn != NULL)
    send_control (self, ES_MESSAGE_PING, NULL);

  return G_SOURCE_CONTINUE;
}

static gint64
liveness_timeout_us (EsSignalingClient *self)
{
  return (gint64)self->heartbeat_interval * 2500;
}

static gboolean
liveness_cb (gpointer user_data)
{
  EsSignalingClient *self = user_data;
  gint64 silent = g_get_monotonic_time () - self->last_rx;
  gint64 limit = liveness_timeout_us (self);

  self->liveness_source = 0;

  if (silent >= limit)
    {
      g_message ("Nothing from the server for %" G_GINT64_FORMAT " ms; reconnecting",
                 silent / 1000);
      drop_connection (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "heartbeat timeout");
      schedule_reconnect (self);
      return G_SOURCE_REMOVE;
    }

  self->liveness_source = g_timeout_add_full (G_PRIORITY_DEFAULT,
                                              (limit - silent) / 1000 + 1,
                                              liveness_cb, self, NULL);
  return G_SOURCE_REMOVE;
}

static void
handle_welcome (EsSignalingClient *self,
                EsFrame           *frame)
{
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *device_id = NULL;
  const char *welcome_device;
  gint64 resume_ack;

  if (self->welcomed)
    {
      g_message ("Ignoring a second welcome from the server");
      return;
    }

  resume_ack = json_object_get_int_member_with_default (frame->body, "resume_ack", 0);
  welcome_device = json_object_get_string_member_with_default (frame->body, "device_id", NULL);
  device_id = es_client_store_dup_setting (self->store, ES_SETTING_DEVICE_ID);
  if (welcome_device != NULL && g_strcmp0 (welcome_device, device_id) != 0)
    g_message ("The server welcomed device %s, but this profile is device %s",
               welcome_device, device_id);

  if (resume_ack >= es_client_store_get_next_seq (self->store))
    g_message ("The server claims to have seq %" G_GINT64_FORMAT " from this device, which "
               "has only written up to %" G_GINT64_FORMAT,
               resume_ack, es_client_store_get_next_seq (self->store) - 1);

  self->server_ack = MAX (self->server_ack, resume_ack);
  if (self->server_ack > self->server_ack_applied)
    schedule_flush (self);

  outbox = es_client_store_list_outbox (self->store, resume_ack, &error);
  if (outbox == NULL)
    {
      g_warning ("Cannot read the outbox: %s", error->message);
      drop_connection (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "storage failure");
      schedule_reconnect (self);
      return;
    }

  g_queue_clear_full (&self->pending, (GDestroyNotify)es_frame_free);
  for (guint i = 0; i < outbox->len; i++)
    g_queue_push_tail (&self->pending, g_steal_pointer (&outbox->pdata[i]));
  g_ptr_array_set_free_func (outbox, NULL);

  g_debug ("Welcome: server has our seq ≤ %" G_GINT64_FORMAT ", resending %u",
           resume_ack, g_queue_get_length (&self->pending));

  self->welcomed = TRUE;
  self->connected_at = g_get_monotonic_time ();
  set_state (self, ES_SIGNALING_STATE_CONNECTED);
  schedule_pump (self, 0);
}

static void
handle_durable (EsSignalingClient *self,
                EsFrame           *frame)
{
  g_autoptr(GError) error = NULL;
  gint64 last = es_client_store_get_last_received_seq (self->store);

  if (frame->seq <= last)
    {
      g_debug ("Dropping duplicate seq %" G_GINT64_FORMAT, frame->seq);
      self->force_ack = TRUE;
      schedule_flush (self);
      return;
    }

  if (frame->seq != last + 1)
    {
      g_message ("Gap in the server's seq: expected %" G_GINT64_FORMAT ", got %" G_GINT64_FORMAT
                 "; reconnecting", last + 1, frame->seq);
      drop_connection (self, CLOSE_PROTOCOL, "gap in seq");
      schedule_reconnect (self);
      return;
    }

  if (!self->batch_open)
    {
      if (!es_client_store_begin (self->store, &error))
        {
          g_warning ("Cannot persist a received frame: %s", error->message);
          drop_connection (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "storage failure");
          schedule_reconnect (self);
          return;
        }
      self->batch_open = TRUE;
    }

  switch (es_client_store_record_received (self->store, frame, &error))
    {
    case ES_RECEIVE_NEW:
      g_ptr_array_add (self->received, es_frame_copy (frame));
      break;

    case ES_RECEIVE_DUPLICATE:
      break;

    case ES_RECEIVE_ERROR:
    default:
      g_warning ("Cannot persist a received frame: %s", error->message);
      self->batch_open = FALSE;
      es_client_store_rollback (self->store);
      g_ptr_array_set_size (self->received, 0);
      drop_connection (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "storage failure");
      schedule_reconnect (self);
      return;
    }

  schedule_flush (self);
}

static void
on_message_cb (SoupWebsocketConnection *conn,
               gint                     type,
               GBytes                  *message,
               gpointer                 user_data)
{
  EsSignalingClient *self = user_data;
  g_autoptr(EsFrame) frame = NULL;
  g_autoptr(GError) error = NULL;
  const char *data;
  gsize len;

  self->last_rx = g_get_monotonic_time ();

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      g_message ("Ignoring a binary frame from the server");
      return;
    }

  data = g_bytes_get_data (message, &len);
  frame = es_frame_parse (data, len, &error);
  if (frame == NULL)
    {
      g_message ("Ignoring a bad frame from the server: %s", error->message);
      return;
    }

  if (frame->ack > self->server_ack)
    {
      if (frame->ack >= es_client_store_get_next_seq (self->store))
        g_message ("The server acks seq %" G_GINT64_FORMAT ", which this device has not written",
                   frame->ack);
      self->server_ack = frame->ack;
      schedule_flush (self);
    }

  switch (frame->type)
    {
    case ES_MESSAGE_WELCOME:
      handle_welcome (self, frame);
      break;

    case ES_MESSAGE_PING:
      send_control (self, ES_MESSAGE_PONG, NULL);
      break;

    case ES_MESSAGE_PONG:
    case ES_MESSAGE_ACK:
      break;

    case ES_MESSAGE_HELLO:
      g_message ("Ignoring a hello from the server");
      break;

    case ES_MESSAGE_ERROR:
      g_message ("Server error %s: %s (seq %" G_GINT64_FORMAT ")",
                 json_object_get_string_member_with_default (frame->body, "code", "?"),
                 json_object_get_string_member_with_default (frame->body, "message", "?"),
                 json_object_get_int_member_with_default (frame->body, "ref_seq", 0));
      g_signal_emit (self, signals[ERROR_RECEIVED], 0, frame);
      break;

    default:
      if (es_message_type_is_durable (frame->type))
        handle_durable (self, frame);
      else
        g_message ("Ignoring an unexpected %s frame", es_message_type_to_string (frame->type));
      break;
    }
}

static void
on_closed_cb (SoupWebsocketConnection *conn,
              gpointer                 user_data)
{
  EsSignalingClient *self = user_data;
  gushort code = soup_websocket_connection_get_close_code (conn);
  const char *reason = soup_websocket_connection_get_close_data (conn);

  g_message ("Server closed the connection (%u%s%s)", code,
             reason && *reason ? ": " : "", reason && *reason ? reason : "");

  drop_connection (self, 0, NULL);

  if (code == CLOSE_AUTH_MISMATCH)
    {
      fail (self, g_error_new (ES_SIGNALING_ERROR, ES_SIGNALING_ERROR_AUTH,
                               "The server refused this device (close code 4001: the token "
                               "belongs to another device). Log in again."));
      return;
    }

  schedule_reconnect (self);
}

static void
on_error_cb (SoupWebsocketConnection *conn,
             GError                  *error,
             gpointer                 user_data)
{
  g_debug ("WebSocket error: %s", error->message);
}

/* Forgets the current connection, politely if it is still open. */
static void
drop_connection (EsSignalingClient *self,
                 gushort            code,
                 const char        *reason)
{
  g_autoptr(SoupWebsocketConnection) conn = g_steal_pointer (&self->conn);
  gint64 now = g_get_monotonic_time ();

  g_clear_handle_id (&self->ping_source, g_source_remove);
  g_clear_handle_id (&self->liveness_source, g_source_remove);
  g_clear_handle_id (&self->pump_source, g_source_remove);
  g_queue_clear_full (&self->pending, (GDestroyNotify)es_frame_free);

  if (self->welcomed && now - self->connected_at >= (gint64)self->heartbeat_interval * 1000)
    es_backoff_reset (self->backoff);
  self->welcomed = FALSE;
  self->connected_at = 0;
  self->force_ack = FALSE;

  if (conn != NULL)
    {
      g_signal_handlers_disconnect_by_data (conn, self);
      if (code != 0 && soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (conn, code, reason);
      /* Dropping the last reference closes the socket without waiting for the peer. */
    }

  /* What was received is persisted and shown even if the link died before the next turn. */
  if (self->batch_open || self->received->len > 0 || self->server_ack > self->server_ack_applied)
    flush (self);
}

static gboolean
reconnect_cb (gpointer user_data)
{
  EsSignalingClient *self = user_data;

  self->reconnect_source = 0;
  connect_now (self);

  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (EsSignalingClient *self)
{
  guint delay;

  if (!self->running || self->reconnect_source != 0 || self->connect_cancellable != NULL)
    return;

  delay = es_backoff_next_delay (self->backoff);
  g_debug ("Reconnecting in %u ms", delay);
  set_state (self, ES_SIGNALING_STATE_CONNECTING);
  self->reconnect_source = g_timeout_add_full (G_PRIORITY_DEFAULT, delay, reconnect_cb, self, NULL);
}

static void
connect_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  SoupSession *session = SOUP_SESSION (object);
  g_autoptr(EsSignalingClient) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) hello = NULL;
  g_autofree char *device_id = NULL;
  SoupWebsocketConnection *conn;
  SoupMessage *message;
  guint status;

  message = soup_session_get_async_result_message (session, result);
  status = message ? soup_message_get_status (message) : 0;
  conn = soup_session_websocket_connect_finish (session, result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  g_clear_object (&self->connect_cancellable);

  if (!self->running)
    {
      g_clear_object (&conn);
      return;
    }

  if (conn == NULL)
    {
      if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
        {
          fail (self, g_error_new (ES_SIGNALING_ERROR, ES_SIGNALING_ERROR_AUTH,
                                   "The server refused this device's token (HTTP %u). "
                                   "Log in again.", status));
          return;
        }

      g_message ("Cannot connect to the server: %s", error->message);
      schedule_reconnect (self);
      return;
    }

  self->conn = conn;
  /* The server never sends more than 64 KiB in a frame; leave room for its own framing. */
  soup_websocket_connection_set_max_incoming_payload_size (conn, 2 * ES_PROTOCOL_MAX_FRAME_SIZE);
  g_signal_connect (conn, "message", G_CALLBACK (on_message_cb), self);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed_cb), self);
  g_signal_connect (conn, "error", G_CALLBACK (on_error_cb), self);

  self->last_rx = g_get_monotonic_time ();
  self->tokens = TOKEN_BUCKET_CAPACITY;
  self->tokens_at = self->last_rx;
  self->welcomed = FALSE;
  self->ack_sent = es_client_store_get_last_received_seq (self->store);
  self->force_ack = FALSE;

  device_id = es_client_store_dup_setting (self->store, ES_SETTING_DEVICE_ID);
  hello = json_object_new ();
  json_object_set_string_member (hello, "device_id", device_id);
  json_object_set_int_member (hello, "resume_ack", self->ack_sent);
  send_control (self, ES_MESSAGE_HELLO, hello);

  self->ping_source = g_timeout_add_full (G_PRIORITY_DEFAULT, self->heartbeat_interval,
                                          ping_cb, self, NULL);
  self->liveness_source = g_timeout_add_full (G_PRIORITY_DEFAULT,
                                              liveness_timeout_us (self) / 1000 + 1,
                                              liveness_cb, self, NULL);
}

static char *
dup_websocket_url (const char *server_url)
{
  g_autofree char *base = NULL;
  gsize len;

  if (g_ascii_strncasecmp (server_url, "http://", 7) == 0)
    base = g_strconcat ("ws://", server_url + 7, NULL);
  else if (g_ascii_strncasecmp (server_url, "https://", 8) == 0)
    base = g_strconcat ("wss://", server_url + 8, NULL);
  else
    return NULL;

  len = strlen (base);
  while (len > 0 && base[len - 1] == '/')
    base[--len] = '\0';

  return g_strconcat (base, "/v1/ws", NULL);
}

static void
no_delay_network_event_cb (SoupMessage        *message,
                           GSocketClientEvent  event,
                           GIOStream          *connection,
                           gpointer            user_data)
{
  GSocket *socket;

  if (event != G_SOCKET_CLIENT_CONNECTED || !G_IS_SOCKET_CONNECTION (connection))
    return;

  socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (connection));
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
}

/* Turns Nagle's algorithm off on the connection @message opens. Frames are small and often
 * come in bursts (an offer, then its ICE candidates); with Nagle a frame written while the
 * previous one is unacknowledged waits for the server's TCP ACK, which the server may delay. */
static void
set_no_delay (SoupMessage *message)
{
  g_signal_connect (message, "network-event", G_CALLBACK (no_delay_network_event_cb), NULL);
}

static void
connect_now (EsSignalingClient *self)
{
  g_autofree char *server_url = es_client_store_dup_setting (self->store, ES_SETTING_SERVER_URL);
  g_autofree char *token = es_client_store_dup_setting (self->store, ES_SETTING_TOKEN);
  g_autofree char *device_id = es_client_store_dup_setting (self->store, ES_SETTING_DEVICE_ID);
  g_autofree char *ws_url = NULL;
  g_autofree char *authorization = NULL;
  g_autoptr(SoupMessage) message = NULL;

  if (server_url == NULL || token == NULL || device_id == NULL)
    {
      fail (self, g_error_new (ES_SIGNALING_ERROR, ES_SIGNALING_ERROR_NOT_CONFIGURED,
                               "This profile has no account yet: register or log in first"));
      return;
    }

  ws_url = dup_websocket_url (server_url);
  if (ws_url != NULL)
    message = soup_message_new (SOUP_METHOD_GET, ws_url);
  if (message == NULL)
    {
      fail (self, g_error_new (ES_SIGNALING_ERROR, ES_SIGNALING_ERROR_NOT_CONFIGURED,
                               "The profile's server URL “%s” is not valid", server_url));
      return;
    }

  authorization = g_strconcat ("Bearer ", token, NULL);
  soup_message_headers_replace (soup_message_get_request_headers (message),
                                "Authorization", authorization);

  set_no_delay (message);

  set_state (self, ES_SIGNALING_STATE_CONNECTING);
  g_debug ("Connecting to %s", ws_url);

  /* A handshake that hangs must not outlive the heartbeat by much. */
  g_object_set (self->session, "timeout", MAX (5u, self->heartbeat_interval * 3 / 1000), NULL);

  self->connect_cancellable = g_cancellable_new ();
  soup_session_websocket_connect_async (self->session, message, NULL, NULL,
                                        G_PRIORITY_DEFAULT, self->connect_cancellable,
                                        connect_cb, g_object_ref (self));
}

static void
es_signaling_client_dispose (GObject *object)
{
  EsSignalingClient *self = (EsSignalingClient *)object;

  if (self->store != NULL)
    es_signaling_client_stop (self);

  g_clear_object (&self->session);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (es_signaling_client_parent_class)->dispose (object);
}

static void
es_signaling_client_finalize (GObject *object)
{
  EsSignalingClient *self = (EsSignalingClient *)object;

  g_queue_clear_full (&self->pending, (GDestroyNotify)es_frame_free);
  g_clear_pointer (&self->received, g_ptr_array_unref);
  g_clear_pointer (&self->backoff, es_backoff_free);
  g_clear_error (&self->error);

  G_OBJECT_CLASS (es_signaling_client_parent_class)->finalize (object);
}

static void
es_signaling_client_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  EsSignalingClient *self = ES_SIGNALING_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;

    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;

    case PROP_HEARTBEAT_INTERVAL:
      g_value_set_uint (value, self->heartbeat_interval);
      break;

    case PROP_ERROR:
      g_value_set_boxed (value, self->error);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_signaling_client_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  EsSignalingClient *self = ES_SIGNALING_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_set_object (&self->store, g_value_get_object (value));
      break;

    case PROP_HEARTBEAT_INTERVAL:
      es_signaling_client_set_heartbeat_interval (self, g_value_get_uint (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_signaling_client_class_init (EsSignalingClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = es_signaling_client_dispose;
  object_class->finalize = es_signaling_client_finalize;
  object_class->get_property = es_signaling_client_get_property;
  object_class->set_property = es_signaling_client_set_property;

  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL,
                         ES_TYPE_CLIENT_STORE,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       ES_TYPE_SIGNALING_STATE,
                       ES_SIGNALING_STATE_DISCONNECTED,
                       (G_PARAM_READABLE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /* Milliseconds between pings; 2.5 intervals of silence end the connection. Applies from the
   * next connection on. */
  properties[PROP_HEARTBEAT_INTERVAL] =
    g_param_spec_uint ("heartbeat-interval", NULL, NULL,
                       50, 3600 * 1000, ES_SIGNALING_DEFAULT_HEARTBEAT_MS,
                       (G_PARAM_READWRITE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /* Why the client stopped by itself (a refused token, say), or %NULL. */
  properties[PROP_ERROR] =
    g_param_spec_boxed ("error", NULL, NULL,
                        G_TYPE_ERROR,
                        (G_PARAM_READABLE |
                         G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * EsSignalingClient::frame-received:
   * @frame: (type gpointer): the #EsFrame, borrowed
   *
   * A durable frame arrived for the first time. It is on disk already; it is never emitted
   * twice, also not across restarts.
   */
  signals[FRAME_RECEIVED] =
    g_signal_new ("frame-received",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_POINTER);

  /**
   * EsSignalingClient::error-received:
   * @frame: (type gpointer): the `error` #EsFrame, borrowed
   *
   * The server refused something. Control frame: not persisted, and a lost one
   * is never sent again. Call errors carry the `call_id`.
   */
  signals[ERROR_RECEIVED] =
    g_signal_new ("error-received",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_POINTER);

  /**
   * EsSignalingClient::acked:
   * @up_to: the highest seq of ours the server has persisted
   *
   * The server acked frames, and they left the outbox.
   */
  signals[ACKED] =
    g_signal_new ("acked",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT64);
}

static void
es_signaling_client_init (EsSignalingClient *self)
{
  self->heartbeat_interval = ES_SIGNALING_DEFAULT_HEARTBEAT_MS;
  self->backoff = es_backoff_new_default ();
  self->received = g_ptr_array_new_with_free_func ((GDestroyNotify)es_frame_free);
  g_queue_init (&self->pending);
  self->session = soup_session_new_with_options ("user-agent", "earshot/" PACKAGE_VERSION,
                                                 "timeout", 30,
                                                 NULL);
}

EsSignalingClient *
es_signaling_client_new (EsClientStore *store)
{
  g_return_val_if_fail (ES_IS_CLIENT_STORE (store), NULL);

  return g_object_new (ES_TYPE_SIGNALING_CLIENT,
                       "store", store,
                       NULL);
}

EsClientStore *
es_signaling_client_get_store (EsSignalingClient *self)
{
  g_return_val_if_fail (ES_IS_SIGNALING_CLIENT (self), NULL);

  return self->store;
}

EsSignalingState
es_signaling_client_get_state (EsSignalingClient *self)
{
  g_return_val_if_fail (ES_IS_SIGNALING_CLIENT (self), ES_SIGNALING_STATE_DISCONNECTED);

  return self->state;
}

const GError *
es_signaling_client_get_error (EsSignalingClient *self)
{
  g_return_val_if_fail (ES_IS_SIGNALING_CLIENT (self), NULL);

  return self->error;
}

guint
es_signaling_client_get_heartbeat_interval (EsSignalingClient *self)
{
  g_return_val_if_fail (ES_IS_SIGNALING_CLIENT (self), 0);

  return self->heartbeat_interval;
}

void
es_signaling_client_set_heartbeat_interval (EsSignalingClient *self,
                                            guint              interval_ms)
{
  g_return_if_fail (ES_IS_SIGNALING_CLIENT (self));
  g_return_if_fail (interval_ms > 0);

  if (self->heartbeat_interval == interval_ms)
    return;

  self->heartbeat_interval = interval_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HEARTBEAT_INTERVAL]);
}

/**
 * es_signaling_client_start:
 *
 * Connects, and keeps reconnecting until es_signaling_client_stop() or a failure that
 * reconnecting cannot fix (see #EsSignalingClient:error).
 */
void
es_signaling_client_start (EsSignalingClient *self)
{
  g_return_if_fail (ES_IS_SIGNALING_CLIENT (self));

  if (self->running)
    return;

  self->running = TRUE;
  if (self->error != NULL)
    set_error (self, NULL);
  es_backoff_reset (self->backoff);
  connect_now (self);
}

void
es_signaling_client_stop (EsSignalingClient *self)
{
  g_return_if_fail (ES_IS_SIGNALING_CLIENT (self));

  self->running = FALSE;

  if (self->connect_cancellable != NULL)
    {
      g_cancellable_cancel (self->connect_cancellable);
      g_clear_object (&self->connect_cancellable);
    }
  g_clear_handle_id (&self->reconnect_source, g_source_remove);

  /* Say goodbye with what we have persisted, so the server can drop it from our queue. */
  if (self->conn != NULL && self->welcomed && !es_client_store_in_transaction (self->store))
    {
      if (self->batch_open)
        flush (self);
      if (self->conn != NULL && ack_needed (self))
        send_control (self, ES_MESSAGE_ACK, NULL);
    }
  drop_connection (self, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_clear_handle_id (&self->flush_source, g_source_remove);

  set_state (self, ES_SIGNALING_STATE_DISCONNECTED);
}

/**
 * es_signaling_client_send:
 * @call_id: (nullable):
 * @to_device: (nullable):
 * @body: (nullable): the body; an empty object when %NULL
 *
 * Writes a durable frame into the outbox, and sends it when connected (now or later, in seq
 * order, paced to ES_SIGNALING_MAX_FRAMES_PER_SECOND). Once this returns, the frame survives
 * a crash.
 *
 * Returns: the frame's seq, or 0 with @error set
 */
gint64
es_signaling_client_send (EsSignalingClient  *self,
                          EsMessageType       type,
                          const char         *call_id,
                          const char         *to_device,
                          JsonObject         *body,
                          GError            **error)
{
  g_autoptr(EsFrame) frame = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  gint64 seq;

  g_return_val_if_fail (ES_IS_SIGNALING_CLIENT (self), 0);

  if (type >= ES_MESSAGE_N_TYPES || !es_message_type_is_durable (type))
    {
      g_set_error (error, ES_SIGNALING_ERROR, ES_SIGNALING_ERROR_INVALID,
                   "Only durable frames can be sent this way");
      return 0;
    }

  frame = es_frame_new (type);
  frame->call_id = g_strdup (call_id);
  frame->to_device = g_strdup (to_device);
  if (body != NULL)
    {
      json_object_unref (frame->body);
      frame->body = json_object_ref (body);
    }

  /* Check size and validity now: the server would close the link on this frame forever. */
  frame->seq = G_MAXINT64 / 2;
  frame->ack = G_MAXINT64 / 2;
  text = es_frame_serialize (frame, &len);
  if (text == NULL || len > ES_PROTOCOL_MAX_FRAME_SIZE)
    {
      g_set_error (error, ES_SIGNALING_ERROR, ES_SIGNALING_ERROR_TOO_LARGE,
                   "A %s frame of %" G_GSIZE_FORMAT " bytes is over the limit of %d",
                   es_message_type_to_string (type), len, ES_PROTOCOL_MAX_FRAME_SIZE);
      return 0;
    }
  else
    {
      g_autoptr(GError) parse_error = NULL;
      g_autoptr(EsFrame) check = es_frame_parse (text, len, &parse_error);

      if (check == NULL)
        {
          g_set_error (error, ES_SIGNALING_ERROR, ES_SIGNALING_ERROR_INVALID,
                       "Invalid %s frame: %s", es_message_type_to_string (type),
                       parse_error->message);
          return 0;
        }
    }

  seq = es_client_store_enqueue (self->store, frame, error);
  if (seq == 0)
    return 0;

  if (self->conn != NULL && self->welcomed)
    {
      g_queue_push_tail (&self->pending, g_steal_pointer (&frame));
      schedule_pump (self, 0);
    }

  return seq;
}
