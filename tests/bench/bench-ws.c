/* bench-ws.c: a lean WebSocket client for the load generator
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Why not libsoup: the load generator shares the machine's two cores with the server it
 * measures. With libsoup every connection is a GSource, and GLib's main loop walks all of them on
 * each wake-up; the load generator then took most of a core, and the server's latency figures
 * measured the competition for CPU as much as the server. Here every socket sits in one epoll
 * set and a wake-up costs what is ready. The server is unchanged and speaks to this client as to
 * any other (RFC 6455: masked client frames, a real handshake); this is test code that only
 * needs the subset a benchmark uses: plain HTTP, text messages, close and ping.
 */

#include "config.h"

#include "bench-ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

#define READ_CHUNK      65536
#define MAX_MESSAGE     (1024 * 1024)
#define CLOSE_ABNORMAL  1006
#define CLOSE_PROTOCOL  1002

typedef enum
{
  WS_CONNECTING,
  WS_HANDSHAKE,
  WS_OPEN,
  WS_CLOSED,
} WsState;

struct _BenchWsPool
{
  GSource source;
  int     epoll_fd;
};

struct _BenchWs
{
  BenchWsPool            *pool;
  BenchWsCallbacks        callbacks;
  gpointer                user_data;
  int                     fd;
  WsState                 state;
  GByteArray             *in;
  GByteArray             *out;
  GByteArray             *fragments;  /* a text message that came in pieces */
  gboolean                want_write;
};

/* Pool ---------------------------------------------------------------------------------------- */

static void ws_ready (BenchWs *ws, guint32 events);

static gboolean
pool_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  BenchWsPool *pool = (BenchWsPool *) source;
  struct epoll_event events[256];
  int n;

  n = epoll_wait (pool->epoll_fd, events, G_N_ELEMENTS (events), 0);
  for (int i = 0; i < n; i++)
    ws_ready (events[i].data.ptr, events[i].events);

  return G_SOURCE_CONTINUE;
}

static void
pool_finalize (GSource *source)
{
  BenchWsPool *pool = (BenchWsPool *) source;

  if (pool->epoll_fd >= 0)
    close (pool->epoll_fd);
}

static GSourceFuncs pool_funcs = {
  .dispatch = pool_dispatch,
  .finalize = pool_finalize,
};

/* One epoll set in the thread-default main context. */
BenchWsPool *
bench_ws_pool_new (void)
{
  BenchWsPool *pool = (BenchWsPool *) g_source_new (&pool_funcs, sizeof (BenchWsPool));

  pool->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (pool->epoll_fd < 0)
    g_error ("epoll_create1: %s", g_strerror (errno));
  g_source_add_unix_fd (&pool->source, pool->epoll_fd, G_IO_IN);
  g_source_set_name (&pool->source, "bench-ws-pool");
  g_source_attach (&pool->source, g_main_context_get_thread_default ());

  return pool;
}

void
bench_ws_pool_free (BenchWsPool *pool)
{
  g_source_destroy (&pool->source);
  g_source_unref (&pool->source);
}

/* Connection ---------------------------------------------------------------------------------- */

static void
ws_watch (BenchWs *ws)
{
  struct epoll_event event = {
    .events = (ws->state == WS_CONNECTING || ws->want_write ? EPOLLOUT : 0) |
              (ws->state == WS_CONNECTING ? 0 : EPOLLIN),
    .data.ptr = ws,
  };

  epoll_ctl (ws->pool->epoll_fd, EPOLL_CTL_MOD, ws->fd, &event);
}

static void
ws_end (BenchWs *ws,
        gushort  code)
{
  WsState was = ws->state;

  if (ws->state == WS_CLOSED)
    return;

  ws->state = WS_CLOSED;
  epoll_ctl (ws->pool->epoll_fd, EPOLL_CTL_DEL, ws->fd, NULL);
  close (ws->fd);
  ws->fd = -1;

  if (was == WS_OPEN)
    ws->callbacks.closed (ws, code, ws->user_data);
  else
    {
      g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                             "connection ended during the handshake");
      ws->callbacks.opened (ws, error, ws->user_data);
    }
}

/* Writes what is queued; waits for EPOLLOUT when the socket is full. */
static void
ws_flush (BenchWs *ws)
{
  gboolean wanted = ws->want_write;

  while (ws->out->len > 0)
    {
      ssize_t n = send (ws->fd, ws->out->data, ws->out->len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n < 0)
        {
          ws_end (ws, CLOSE_ABNORMAL);
          return;
        }
      g_byte_array_remove_range (ws->out, 0, n);
    }

  ws->want_write = ws->out->len > 0;
  if (ws->want_write != wanted)
    ws_watch (ws);
}

static void
ws_queue_frame (BenchWs    *ws,
                guint8      opcode,
                const void *payload,
                gsize       length)
{
  guint8 header[14];
  gsize header_len = 2;
  guint32 mask = g_random_int ();
  guint8 *mask_bytes = (guint8 *) &mask;
  guint start;

  header[0] = 0x80 | opcode;
  if (length < 126)
    header[1] = 0x80 | length;
  else if (length < 65536)
    {
      header[1] = 0x80 | 126;
      header[2] = length >> 8;
      header[3] = length & 0xff;
      header_len = 4;
    }
  else
    {
      header[1] = 0x80 | 127;
      for (int i = 0; i < 8; i++)
        header[2 + i] = ((guint64) length >> (56 - 8 * i)) & 0xff;
      header_len = 10;
    }
  memcpy (header + header_len, mask_bytes, 4);
  header_len += 4;

  g_byte_array_append (ws->out, header, header_len);
  start = ws->out->len;
  g_byte_array_append (ws->out, payload, length);
  for (gsize i = 0; i < length; i++)
    ws->out->data[start + i] ^= mask_bytes[i % 4];
}

static void
ws_send_handshake (BenchWs    *ws,
                   const char *host,
                   const char *path,
                   const char *token)
{
  guint8 nonce[16];
  g_autofree char *key = NULL;
  g_autofree char *request = NULL;

  for (guint i = 0; i < sizeof nonce; i++)
    nonce[i] = g_random_int_range (0, 256);
  key = g_base64_encode (nonce, sizeof nonce);
  request = g_strdup_printf ("GET %s HTTP/1.1\r\n"
                             "Host: %s\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Key: %s\r\n"
                             "Sec-WebSocket-Version: 13\r\n"
                             "Authorization: Bearer %s\r\n"
                             "\r\n",
                             path, host, key, token);
  g_byte_array_append (ws->out, (const guint8 *) request, strlen (request));
}

/* Consumes the HTTP response once it is whole; FALSE while it is not. */
static gboolean
ws_read_handshake (BenchWs *ws)
{
  const char *data = (const char *) ws->in->data;
  const char *end = g_strstr_len (data, ws->in->len, "\r\n\r\n");
  gsize head_len;

  if (end == NULL)
    {
      if (ws->in->len > 16384)
        ws_end (ws, CLOSE_PROTOCOL);
      return FALSE;
    }

  head_len = end + 4 - data;
  if (ws->in->len < 12 || strncmp (data, "HTTP/1.1 101", 12) != 0)
    {
      g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                             "handshake refused: %.*s", (int) MIN (head_len, 40u),
                                             data);
      /* Not open yet: report the refusal itself, not a bare close. */
      ws->state = WS_CLOSED;
      epoll_ctl (ws->pool->epoll_fd, EPOLL_CTL_DEL, ws->fd, NULL);
      close (ws->fd);
      ws->fd = -1;
      ws->callbacks.opened (ws, error, ws->user_data);
      return FALSE;
    }

  g_byte_array_remove_range (ws->in, 0, head_len);
  ws->state = WS_OPEN;
  ws->callbacks.opened (ws, NULL, ws->user_data);
  return TRUE;
}

static void
ws_handle_frame (BenchWs      *ws,
                 gboolean      fin,
                 guint8        opcode,
                 const guint8 *payload,
                 gsize         length)
{
  switch (opcode)
    {
    case 0x0: /* continuation */
    case 0x1: /* text */
      if (opcode == 0x1 && fin && ws->fragments->len == 0)
        {
          ws->callbacks.message (ws, (const char *) payload, length, ws->user_data);
          break;
        }
      g_byte_array_append (ws->fragments, payload, length);
      if (fin)
        {
          ws->callbacks.message (ws, (const char *) ws->fragments->data, ws->fragments->len,
                                 ws->user_data);
          g_byte_array_set_size (ws->fragments, 0);
        }
      break;

    case 0x8: /* close: answer it, then end */
      {
        gushort code = length >= 2 ? (payload[0] << 8 | payload[1]) : CLOSE_ABNORMAL;

        ws_queue_frame (ws, 0x8, payload, MIN (length, 2u));
        ws_flush (ws);
        ws_end (ws, code);
      }
      break;

    case 0x9: /* ping */
      ws_queue_frame (ws, 0xA, payload, length);
      ws_flush (ws);
      break;

    case 0xA: /* pong */
    default:
      break;
    }
}

/* Handles every whole frame in the input buffer. */
static void
ws_read_frames (BenchWs *ws)
{
  gsize offset = 0;

  while (ws->state == WS_OPEN)
    {
      const guint8 *p = ws->in->data + offset;
      gsize available = ws->in->len - offset;
      gsize header = 2;
      guint64 length;

      if (available < 2)
        break;
      length = p[1] & 0x7f;
      if (p[1] & 0x80)
        {
          /* Servers never mask. */
          ws_end (ws, CLOSE_PROTOCOL);
          return;
        }
      if (length == 126)
        {
          if (available < 4)
            break;
          length = (p[2] << 8) | p[3];
          header = 4;
        }
      else if (length == 127)
        {
          if (available < 10)
            break;
          length = 0;
          for (int i = 0; i < 8; i++)
            length = (length << 8) | p[2 + i];
          header = 10;
        }
      if (length > MAX_MESSAGE)
        {
          ws_end (ws, CLOSE_PROTOCOL);
          return;
        }
      if (available < header + length)
        break;

      ws_handle_frame (ws, (p[0] & 0x80) != 0, p[0] & 0x0f, p + header, length);
      offset += header + length;
    }

  if (ws->state != WS_CLOSED && offset > 0)
    g_byte_array_remove_range (ws->in, 0, offset);
}

static void
ws_read (BenchWs *ws)
{
  for (;;)
    {
      guint old_len = ws->in->len;
      ssize_t n;

      g_byte_array_set_size (ws->in, old_len + READ_CHUNK);
      n = recv (ws->fd, ws->in->data + old_len, READ_CHUNK, 0);
      g_byte_array_set_size (ws->in, old_len + MAX (n, 0));

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n <= 0)
        {
          ws_end (ws, CLOSE_ABNORMAL);
          return;
        }
      if (n < READ_CHUNK)
        break;
    }

  if (ws->state == WS_HANDSHAKE && !ws_read_handshake (ws))
    return;
  ws_read_frames (ws);
}

static void
ws_ready (BenchWs *ws,
          guint32  events)
{
  if (ws->state == WS_CONNECTING)
    {
      int error = 0;
      socklen_t len = sizeof error;

      getsockopt (ws->fd, SOL_SOCKET, SO_ERROR, &error, &len);
      if (error != 0 || (events & (EPOLLERR | EPOLLHUP)))
        {
          ws_end (ws, CLOSE_ABNORMAL);
          return;
        }
      ws->state = WS_HANDSHAKE;
      ws->want_write = TRUE;
      ws_watch (ws);
    }

  if (events & EPOLLOUT)
    ws_flush (ws);
  if (ws->state != WS_CLOSED && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
    ws_read (ws);
}

/**
 * bench_ws_connect:
 * @server_url: http://HOST:PORT (an IPv4 address)
 *
 * Starts connecting; @callbacks->opened says how the handshake went.
 */
BenchWs *
bench_ws_connect (BenchWsPool            *pool,
                  const char             *server_url,
                  const char             *path,
                  const char             *token,
                  const BenchWsCallbacks *callbacks,
                  gpointer                user_data,
                  GError                **error)
{
  g_autoptr(GUri) uri = NULL;
  struct sockaddr_in address = { .sin_family = AF_INET };
  struct epoll_event event;
  g_autofree char *host = NULL;
  BenchWs *ws;
  int one = 1;

  uri = g_uri_parse (server_url, G_URI_FLAGS_NONE, error);
  if (uri == NULL)
    return NULL;
  if (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 ||
      inet_pton (AF_INET, g_uri_get_host (uri), &address.sin_addr) != 1 ||
      g_uri_get_port (uri) <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "the load generator speaks to http://IPv4:PORT only, not %s", server_url);
      return NULL;
    }
  address.sin_port = htons (g_uri_get_port (uri));
  host = g_strdup_printf ("%s:%d", g_uri_get_host (uri), g_uri_get_port (uri));

  ws = g_new0 (BenchWs, 1);
  ws->pool = pool;
  ws->callbacks = *callbacks;
  ws->user_data = user_data;
  ws->in = g_byte_array_new ();
  ws->out = g_byte_array_new ();
  ws->fragments = g_byte_array_new ();
  ws->state = WS_CONNECTING;
  ws->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (ws->fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "socket: %s",
                   g_strerror (errno));
      bench_ws_free (ws);
      return NULL;
    }
  /* As the app's signaling client does. */
  setsockopt (ws->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (ws->fd, (struct sockaddr *) &address, sizeof address) != 0 && errno != EINPROGRESS)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "connect: %s",
                   g_strerror (errno));
      bench_ws_free (ws);
      return NULL;
    }

  ws_send_handshake (ws, host, path, token);
  event.events = EPOLLOUT;
  event.data.ptr = ws;
  epoll_ctl (pool->epoll_fd, EPOLL_CTL_ADD, ws->fd, &event);

  return ws;
}

gboolean
bench_ws_is_open (BenchWs *ws)
{
  return ws != NULL && ws->state == WS_OPEN;
}

void
bench_ws_send_text (BenchWs    *ws,
                    const char *text,
                    gsize       length)
{
  if (ws->state != WS_OPEN)
    return;

  ws_queue_frame (ws, 0x1, text, length);
  ws_flush (ws);
}

/* Closes the socket without a close handshake and without callbacks. */
void
bench_ws_free (BenchWs *ws)
{
  if (ws == NULL)
    return;

  if (ws->fd >= 0)
    {
      epoll_ctl (ws->pool->epoll_fd, EPOLL_CTL_DEL, ws->fd, NULL);
      close (ws->fd);
    }
  g_byte_array_unref (ws->in);
  g_byte_array_unref (ws->out);
  g_byte_array_unref (ws->fragments);
  g_free (ws);
}
