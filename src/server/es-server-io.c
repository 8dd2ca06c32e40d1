/* es-server-io.c: WebSocket connections served on I/O threads
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Why: GLib's main loop (2.74) walks every source and polls every file descriptor on each
 * iteration. With thousands of connected devices on one context, that walk was about half of the
 * server's CPU and every relayed frame waited behind it. The server's logic stays on the main
 * thread, whose context now holds only the listening socket, HTTP requests, timers and a
 * mailbox; the sockets move to a few I/O threads that learn which connections are ready from
 * epoll, so a wake-up costs what is ready, not what is connected (see "I/O threads" below).
 *
 * Each connection is an EsServerLink. Its SoupWebsocketConnection is created, used and dropped
 * on its I/O thread only; the main thread sends and closes through the thread's command mailbox
 * and hears of frames and the close through the event mailbox, in order. A mailbox wakes its
 * context only when it goes from empty to not empty, so a busy thread drains many items per
 * wake-up.
 */

#include "config.h"

#include "es-server-io.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* How long stopping waits for close handshakes before dropping the sockets. */
#define STOP_GRACE_MS 500

typedef enum
{
  /* Main thread → I/O thread */
  ITEM_ADOPT,
  ITEM_SEND,
  ITEM_CLOSE,
  ITEM_QUIT,
  /* I/O thread → main thread */
  ITEM_MESSAGE,
  ITEM_CLOSED,
} ItemKind;

typedef struct
{
  ItemKind      kind;
  gushort       code;
  gboolean      is_text;
  EsServerLink *link;     /* owned */
  char         *text;     /* ITEM_SEND: the frame; ITEM_CLOSE: the reason */
  GBytes       *message;  /* ITEM_MESSAGE */
  GIOStream    *stream;   /* ITEM_ADOPT */
  GUri         *uri;      /* ITEM_ADOPT */
} Item;

typedef struct _Mailbox Mailbox;
typedef void (*MailboxHandler) (gpointer owner,
                                Item    *item);

struct _Mailbox
{
  GSource        source;
  GMutex         lock;
  GArray        *items;  /* Item; guarded by lock */
  GArray        *spare;  /* the consumer's, swapped with items on each dispatch */
  MailboxHandler handler;
  gpointer       owner;
};

typedef struct
{
  EsServerIo   *io;
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  Mailbox      *commands;
  int           epoll_fd;
  GSource      *epoll_source;
  /* This thread's only */
  GHashTable   *links; /* EsServerLink (owned): those with a connection context */
  gboolean      quitting;
} IoThread;

typedef struct
{
  GSource   source;
  IoThread *thread;
} EpollSource;

/* Descriptors a connection context polls: its socket and its GWakeup. A power of two. */
#define MAX_WATCHES 4
G_STATIC_ASSERT (MAX_WATCHES <= G_MEM_ALIGN);
/* In Watch.events: the descriptor is in the epoll set (it may wait for nothing else). */
#define WATCHED     (1u << 31)

typedef struct
{
  int     fd;     /* -1: a free slot */
  guint32 events; /* as registered, with WATCHED; 0 if not registered */
} Watch;

struct _EsServerIo
{
  gatomicrefcount ref_count;
  gsize           max_payload;
  IoThread       *threads;
  guint           n_threads;
  guint           next_thread;
  Mailbox        *events;
  gboolean        stopped;
};

struct _EsServerLink
{
  gatomicrefcount ref_count;
  EsServerIo     *io;     /* owned */
  IoThread       *thread;

  /* The I/O thread's */
  SoupWebsocketConnection *conn;
  GMainContext            *conn_context;
  Watch                    watches[MAX_WATCHES];
  GSource                 *timer;
  gboolean                 io_closed;

  /* The main thread's */
  EsServerLinkMessageFunc message_func;
  EsServerLinkClosedFunc  closed_func;
  gpointer                user_data;
  gushort                 close_code;
  guint                   close_requested : 1;
  guint                   closed : 1;
};

static void
item_clear (gpointer data)
{
  Item *item = data;

  g_clear_pointer (&item->link, es_server_link_unref);
  g_clear_pointer (&item->text, g_free);
  g_clear_pointer (&item->message, g_bytes_unref);
  g_clear_object (&item->stream);
  g_clear_pointer (&item->uri, g_uri_unref);
}

/* Mailbox ----------------------------------------------------------------------------------- */

static gboolean
mailbox_dispatch (GSource     *source,
                  GSourceFunc  callback,
                  gpointer     user_data)
{
  Mailbox *box = (Mailbox *) source;
  GArray *items;

  /* Before taking the items: a post after the swap must wake us again. */
  g_source_set_ready_time (source, -1);

  g_mutex_lock (&box->lock);
  items = box->items;
  box->items = box->spare;
  g_mutex_unlock (&box->lock);

  for (guint i = 0; i < items->len; i++)
    box->handler (box->owner, &g_array_index (items, Item, i));
  g_array_set_size (items, 0);
  box->spare = items;

  return G_SOURCE_CONTINUE;
}

static void
mailbox_finalize (GSource *source)
{
  Mailbox *box = (Mailbox *) source;

  g_clear_pointer (&box->items, g_array_unref);
  g_clear_pointer (&box->spare, g_array_unref);
  g_mutex_clear (&box->lock);
}

static GSourceFuncs mailbox_funcs = {
  .dispatch = mailbox_dispatch,
  .finalize = mailbox_finalize,
};

static GArray *
item_array_new (void)
{
  GArray *items = g_array_new (FALSE, TRUE, sizeof (Item));

  g_array_set_clear_func (items, item_clear);
  return items;
}

static Mailbox *
mailbox_new (const char     *name,
             GMainContext   *context,
             MailboxHandler  handler,
             gpointer        owner)
{
  Mailbox *box = (Mailbox *) g_source_new (&mailbox_funcs, sizeof (Mailbox));

  g_mutex_init (&box->lock);
  box->items = item_array_new ();
  box->spare = item_array_new ();
  box->handler = handler;
  box->owner = owner;
  g_source_set_name (&box->source, name);
  /* Before timers and idles: frames that arrived are what a commit is waiting to batch. */
  g_source_set_priority (&box->source, G_PRIORITY_DEFAULT);
  g_source_attach (&box->source, context);

  return box;
}

/* Takes what @item holds. Any thread. */
static void
mailbox_post (Mailbox *box,
              Item    *item)
{
  gboolean was_empty;

  g_mutex_lock (&box->lock);
  was_empty = box->items->len == 0;
  g_array_append_vals (box->items, item, 1);
  g_mutex_unlock (&box->lock);

  /* Thread-safe, and wakes the context. */
  if (was_empty)
    g_source_set_ready_time (&box->source, 0);
}

/* Drops what is left, without handling it. */
static void
mailbox_destroy (Mailbox *box)
{
  g_source_destroy (&box->source);
  g_mutex_lock (&box->lock);
  g_array_set_size (box->items, 0);
  g_mutex_unlock (&box->lock);
  g_source_unref (&box->source);
}

/* I/O threads ------------------------------------------------------------------------------- */

/* One GMainContext per connection, driven from the thread's epoll set: libsoup's WebSocket code
 * attaches its sources (input, output while a write is pending, close timeout, completions of
 * async closes) to the thread-default context, and a context holding one connection's sources
 * costs nothing to iterate. The thread's own context holds the epoll fd, the command mailbox and
 * the few timers of closing connections: its cost per wake-up no longer grows with the number of
 * connections. Each connection context is acquired by the I/O thread for its whole life. */

#define MAX_ROUNDS 16  /* dispatches per readiness before others get a turn */

static void link_drive (EsServerLink *link,
                        int           ready_fd,
                        guint32       ready_events);

static guint32
epoll_events_from_poll (gushort events)
{
  guint32 out = 0;

  if (events & G_IO_IN)
    out |= EPOLLIN;
  if (events & G_IO_OUT)
    out |= EPOLLOUT;
  if (events & G_IO_PRI)
    out |= EPOLLPRI;
  return out;
}

static gboolean
link_timer_cb (gpointer user_data)
{
  EsServerLink *link = user_data;

  g_clear_pointer (&link->timer, g_source_unref);
  link_drive (link, -1, 0);
  return G_SOURCE_REMOVE;
}

/* An epoll event says which link and which of its watch slots (links are 8-byte aligned). */
static guint64
watch_key (EsServerLink *link,
           guint         slot)
{
  return (guint64) (guintptr) link | slot;
}

static EsServerLink *
link_for_event (const struct epoll_event *event)
{
  return (EsServerLink *) (guintptr) (event->data.u64 & ~(guint64) (MAX_WATCHES - 1));
}

static int
link_fd_for_event (EsServerLink             *link,
                   const struct epoll_event *event)
{
  return link->watches[event->data.u64 & (MAX_WATCHES - 1)].fd;
}

/* Makes the epoll set watch what the connection's context polls, and wakes us for its timers.
 * A descriptor keeps its slot while it is watched. */
static void
link_sync_watches (EsServerLink *link,
                   GPollFD      *fds,
                   guint         n_fds,
                   gint          timeout)
{
  IoThread *thread = link->thread;
  guint32 wanted[MAX_WATCHES] = { 0 };

  /* What each watched descriptor should wait for now; new descriptors get free slots. */
  for (guint i = 0; i < n_fds; i++)
    {
      guint slot, free_slot = MAX_WATCHES;

      for (slot = 0; slot < MAX_WATCHES && link->watches[slot].fd != fds[i].fd; slot++)
        if (link->watches[slot].fd < 0 && free_slot == MAX_WATCHES)
          free_slot = slot;
      if (slot == MAX_WATCHES)
        {
          if (free_slot == MAX_WATCHES)
            {
              g_critical ("A WebSocket connection polls more than %d descriptors", MAX_WATCHES);
              continue;
            }
          slot = free_slot;
          link->watches[slot].fd = fds[i].fd;
          link->watches[slot].events = 0;
        }
      wanted[slot] |= epoll_events_from_poll (fds[i].events) | WATCHED;
    }

  for (guint slot = 0; slot < MAX_WATCHES; slot++)
    {
      Watch *watch = &link->watches[slot];
      struct epoll_event event = { .events = wanted[slot] & ~WATCHED,
                                   .data.u64 = watch_key (link, slot) };

      if (watch->fd < 0)
        continue;
      if (wanted[slot] == 0)
        {
          /* Its descriptor may already be closed, and with it gone from the set. */
          if (watch->events != 0)
            epoll_ctl (thread->epoll_fd, EPOLL_CTL_DEL, watch->fd, NULL);
          watch->fd = -1;
          watch->events = 0;
          continue;
        }
      if (watch->events == wanted[slot])
        continue;

      if (epoll_ctl (thread->epoll_fd, watch->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
                          watch->fd, &event) != 0)
        {
          g_warning ("Could not watch descriptor %d: %s", watch->fd, g_strerror (errno));
        }
      watch->events = wanted[slot];
    }

  if (link->timer != NULL)
    {
      g_source_destroy (link->timer);
      g_clear_pointer (&link->timer, g_source_unref);
    }
  if (timeout >= 0)
    {
      link->timer = g_timeout_source_new (timeout);
      g_source_set_callback (link->timer, link_timer_cb, link, NULL);
      g_source_attach (link->timer, thread->context);
    }
}

/* The connection is closed and its "closed" has been posted: nothing of it stays. */
static void
link_teardown (EsServerLink *link)
{
  IoThread *thread = link->thread;

  link_sync_watches (link, NULL, 0, -1);
  if (link->conn != NULL)
    {
      g_main_context_push_thread_default (link->conn_context);
      g_signal_handlers_disconnect_by_data (link->conn, link);
      g_clear_object (&link->conn);
      g_main_context_pop_thread_default (link->conn_context);
    }
  g_main_context_release (link->conn_context);
  g_clear_pointer (&link->conn_context, g_main_context_unref);

  /* Drops the thread's reference: last, as it may free @link. */
  g_hash_table_remove (thread->links, link);

  if (thread->quitting && g_hash_table_size (thread->links) == 0)
    g_main_loop_quit (thread->loop);
}

static gushort
poll_events_from_epoll (guint32 events)
{
  gushort out = 0;

  if (events & EPOLLIN)
    out |= G_IO_IN;
  if (events & EPOLLOUT)
    out |= G_IO_OUT;
  if (events & EPOLLPRI)
    out |= G_IO_PRI;
  if (events & EPOLLERR)
    out |= G_IO_ERR;
  if (events & EPOLLHUP)
    out |= G_IO_HUP;
  return out;
}

/* Runs what is ready in the connection's context, then watches what it waits for. epoll has
 * said that @ready_fd (or none, -1) is ready with @ready_events; no poll() of our own, as
 * system calls are what a relayed frame costs most. Whatever else is ready, epoll (level
 * triggered) reports on its next round, and a ready source without a descriptor makes the
 * context's timeout 0. */
static void
link_drive (EsServerLink *link,
            int           ready_fd,
            guint32       ready_events)
{
  GPollFD fds_stack[MAX_WATCHES];
  g_autofree GPollFD *fds_heap = NULL;
  GPollFD *fds = fds_stack;
  gint n_fds = 0, capacity = G_N_ELEMENTS (fds_stack);
  gint priority, timeout = -1;

  if (link->conn_context == NULL)
    return;

  g_main_context_push_thread_default (link->conn_context);
  for (guint round = 0;; round++)
    {
      g_main_context_prepare (link->conn_context, &priority);
      while ((n_fds = g_main_context_query (link->conn_context, priority, &timeout, fds,
                                            capacity)) > capacity)
        {
          capacity = n_fds;
          fds = fds_heap = g_renew (GPollFD, fds_heap, capacity);
        }
      for (gint i = 0; i < n_fds; i++)
        fds[i].revents = round == 0 && fds[i].fd == ready_fd ?
                         poll_events_from_epoll (ready_events) & (fds[i].events | G_IO_ERR | G_IO_HUP) :
                         0;
      if (!g_main_context_check (link->conn_context, priority, fds, n_fds) || round == MAX_ROUNDS)
        break;
      g_main_context_dispatch (link->conn_context);
    }
  g_main_context_pop_thread_default (link->conn_context);

  if (link->io_closed)
    link_teardown (link);
  else
    link_sync_watches (link, fds, n_fds, timeout);
}

static gboolean
epoll_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  IoThread *thread = ((EpollSource *) source)->thread;
  struct epoll_event events[64];
  int n;

  n = epoll_wait (thread->epoll_fd, events, G_N_ELEMENTS (events), 0);
  for (int i = 0; i < n; i++)
    {
      /* Driving one link never frees another, but a link's two descriptors can both be ready:
       * the second drive may find it torn down and gone from the table. */
      EsServerLink *link = link_for_event (&events[i]);

      if (g_hash_table_contains (thread->links, link))
        link_drive (link, link_fd_for_event (link, &events[i]), events[i].events);
    }

  return G_SOURCE_CONTINUE;
}

static GSourceFuncs epoll_funcs = {
  .dispatch = epoll_dispatch,
};

static void
post_event (EsServerLink *link,
            Item         *item)
{
  item->link = es_server_link_ref (link);
  mailbox_post (link->io->events, item);
}

static void
conn_message_cb (SoupWebsocketConnection *conn,
                 SoupWebsocketDataType    type,
                 GBytes                  *message,
                 EsServerLink            *link)
{
  Item item = {
    .kind = ITEM_MESSAGE,
    .message = g_bytes_ref (message),
    .is_text = type == SOUP_WEBSOCKET_DATA_TEXT,
  };

  post_event (link, &item);
}

/* libsoup 3.2 drops the socket without a close frame when a frame is over the maximum size;
 * the protocol promises 1009. The error comes before the stream closes, so say it here. */
static void
conn_error_cb (SoupWebsocketConnection *conn,
               GError                  *error,
               EsServerLink            *link)
{
  if (g_error_matches (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG) &&
      soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_TOO_BIG, "frame over 64 KiB");
}

/* Emitted from within link_drive(), which tears the link down when it returns. */
static void
conn_closed_cb (SoupWebsocketConnection *conn,
                EsServerLink            *link)
{
  Item item = {
    .kind = ITEM_CLOSED,
    .code = soup_websocket_connection_get_close_code (conn),
  };

  link->io_closed = TRUE;
  post_event (link, &item);
}

static void
adopt (IoThread *thread,
       Item     *item)
{
  EsServerLink *link = item->link;

  link->conn_context = g_main_context_new ();
  g_main_context_acquire (link->conn_context);
  for (guint slot = 0; slot < MAX_WATCHES; slot++)
    link->watches[slot].fd = -1;
  g_hash_table_add (thread->links, es_server_link_ref (link));

  g_main_context_push_thread_default (link->conn_context);
  link->conn = soup_websocket_connection_new (item->stream, item->uri,
                                              SOUP_WEBSOCKET_CONNECTION_SERVER, NULL, NULL, NULL);
  soup_websocket_connection_set_max_incoming_payload_size (link->conn, thread->io->max_payload);
  /* The protocol has its own heartbeat (ping/pong frames). */
  soup_websocket_connection_set_keepalive_interval (link->conn, 0);
  g_signal_connect (link->conn, "message", G_CALLBACK (conn_message_cb), link);
  g_signal_connect (link->conn, "error", G_CALLBACK (conn_error_cb), link);
  g_signal_connect (link->conn, "closed", G_CALLBACK (conn_closed_cb), link);
  if (thread->quitting)
    soup_websocket_connection_close (link->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                                     "server shutting down");
  g_main_context_pop_thread_default (link->conn_context);

  link_drive (link, -1, 0);
}

static gboolean
quit_timeout_cb (gpointer user_data)
{
  IoThread *thread = user_data;

  g_main_loop_quit (thread->loop);
  return G_SOURCE_REMOVE;
}

static void
quit (IoThread *thread)
{
  g_autoptr(GPtrArray) links = NULL;
  g_autoptr(GSource) timeout = NULL;
  GHashTableIter iter;
  gpointer key;

  thread->quitting = TRUE;
  if (g_hash_table_size (thread->links) == 0)
    {
      g_main_loop_quit (thread->loop);
      return;
    }

  /* A copy: closing a broken connection may end it, and take it out of the table, at once. */
  links = g_ptr_array_new_with_free_func ((GDestroyNotify) es_server_link_unref);
  g_hash_table_iter_init (&iter, thread->links);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (links, es_server_link_ref (key));
  for (guint i = 0; i < links->len; i++)
    {
      EsServerLink *link = g_ptr_array_index (links, i);

      if (link->conn == NULL)
        continue;
      g_main_context_push_thread_default (link->conn_context);
      if (soup_websocket_connection_get_state (link->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (link->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                                         "server shutting down");
      g_main_context_pop_thread_default (link->conn_context);
      link_drive (link, -1, 0);
    }

  timeout = g_timeout_source_new (STOP_GRACE_MS);
  g_source_set_callback (timeout, quit_timeout_cb, thread, NULL);
  g_source_attach (timeout, thread->context);
}

static void
handle_command (gpointer owner,
                Item    *item)
{
  IoThread *thread = owner;
  EsServerLink *link = item->link;
  SoupWebsocketConnection *conn = link != NULL && !link->io_closed ? link->conn : NULL;

  if (item->kind == ITEM_ADOPT)
    {
      adopt (thread, item);
      return;
    }
  if (item->kind == ITEM_QUIT)
    {
      quit (thread);
      return;
    }
  if (conn == NULL || soup_websocket_connection_get_state (conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;

  g_main_context_push_thread_default (link->conn_context);
  switch (item->kind)
    {
    case ITEM_SEND:
      soup_websocket_connection_send_text (conn, item->text);
      break;

    case ITEM_CLOSE:
      soup_websocket_connection_close (conn, item->code, item->text);
      break;

    case ITEM_ADOPT:
    case ITEM_QUIT:
    case ITEM_MESSAGE:
    case ITEM_CLOSED:
    default:
      g_assert_not_reached ();
    }
  g_main_context_pop_thread_default (link->conn_context);

  link_drive (link, -1, 0);
}

static gpointer
io_thread_main (gpointer data)
{
  IoThread *thread = data;
  g_autoptr(GPtrArray) links = NULL;
  GHashTableIter iter;
  gpointer key;

  g_main_context_push_thread_default (thread->context);
  g_main_loop_run (thread->loop);

  /* Whatever did not finish its close handshake in time is dropped. */
  links = g_ptr_array_new_with_free_func ((GDestroyNotify) es_server_link_unref);
  g_hash_table_iter_init (&iter, thread->links);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (links, es_server_link_ref (key));
  for (guint i = 0; i < links->len; i++)
    link_teardown (g_ptr_array_index (links, i));

  g_main_context_pop_thread_default (thread->context);

  return NULL;
}

/* Main thread ------------------------------------------------------------------------------- */

static void
handle_event (gpointer owner,
              Item    *item)
{
  EsServerLink *link = item->link;

  switch (item->kind)
    {
    case ITEM_MESSAGE:
      if (!link->closed && link->message_func != NULL)
        link->message_func (link, item->message, item->is_text, link->user_data);
      break;

    case ITEM_CLOSED:
      if (link->closed)
        break;
      link->closed = TRUE;
      link->close_code = item->code;
      if (link->closed_func != NULL)
        link->closed_func (link, item->code, link->user_data);
      break;

    case ITEM_ADOPT:
    case ITEM_SEND:
    case ITEM_CLOSE:
    case ITEM_QUIT:
    default:
      g_assert_not_reached ();
    }
}

/**
 * es_server_io_new:
 * @n_threads: how many I/O threads to start (at least 1)
 * @max_incoming_payload: the largest frame a peer may send; larger ones close with 1009
 * @error: where to say why the threads could not start
 *
 * Starts the I/O threads. Events reach the thread-default main context of the caller, which
 * is then the "main thread" every other call of this file is made on.
 */
EsServerIo *
es_server_io_new (guint    n_threads,
                  gsize    max_incoming_payload,
                  GError **error)
{
  EsServerIo *io = g_new0 (EsServerIo, 1);

  g_atomic_ref_count_init (&io->ref_count);
  io->max_payload = max_incoming_payload;
  io->n_threads = MAX (n_threads, 1);
  io->threads = g_new0 (IoThread, io->n_threads);
  io->events = mailbox_new ("es-io-events", g_main_context_get_thread_default (), handle_event, io);

  for (guint i = 0; i < io->n_threads; i++)
    {
      IoThread *thread = &io->threads[i];
      g_autofree char *name = g_strdup_printf ("es-io-%u", i);

      thread->io = io;
      thread->context = g_main_context_new ();
      thread->loop = g_main_loop_new (thread->context, FALSE);
      thread->links = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) es_server_link_unref,
                                             NULL);
      thread->commands = mailbox_new ("es-io-commands", thread->context, handle_command, thread);
      thread->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
      if (thread->epoll_fd < 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "Could not create an epoll set: %s", g_strerror (saved_errno));
          io->n_threads = i + 1;  /* this one has no thread yet; stopping copes */
          es_server_io_unref (io);
          return NULL;
        }
      thread->epoll_source = g_source_new (&epoll_funcs, sizeof (EpollSource));
      ((EpollSource *) thread->epoll_source)->thread = thread;
      g_source_set_name (thread->epoll_source, "es-io-epoll");
      g_source_add_unix_fd (thread->epoll_source, thread->epoll_fd, G_IO_IN);
      g_source_attach (thread->epoll_source, thread->context);
      thread->thread = g_thread_new (name, io_thread_main, thread);
    }

  return io;
}

/* Says goodbye (1001) on every open connection, waits a little for the close handshakes, and
 * stops the threads. Links go on existing; what they are told to do from now on is dropped. */
void
es_server_io_stop (EsServerIo *io)
{
  g_return_if_fail (io != NULL);

  if (io->stopped)
    return;
  io->stopped = TRUE;

  for (guint i = 0; i < io->n_threads; i++)
    {
      Item item = { .kind = ITEM_QUIT };

      mailbox_post (io->threads[i].commands, &item);
    }

  for (guint i = 0; i < io->n_threads; i++)
    {
      IoThread *thread = &io->threads[i];

      g_clear_pointer (&thread->thread, g_thread_join);
      g_clear_pointer (&thread->commands, mailbox_destroy);
      g_clear_pointer (&thread->links, g_hash_table_unref);
      if (thread->epoll_source != NULL)
        g_source_destroy (thread->epoll_source);
      g_clear_pointer (&thread->epoll_source, g_source_unref);
      if (thread->epoll_fd >= 0)
        close (thread->epoll_fd);
      thread->epoll_fd = -1;
      g_clear_pointer (&thread->loop, g_main_loop_unref);
      g_clear_pointer (&thread->context, g_main_context_unref);
    }

  /* The events that were not handled hold links, which hold @io. */
  g_clear_pointer (&io->events, mailbox_destroy);
}

EsServerIo *
es_server_io_ref (EsServerIo *io)
{
  g_return_val_if_fail (io != NULL, NULL);

  g_atomic_ref_count_inc (&io->ref_count);
  return io;
}

void
es_server_io_unref (EsServerIo *io)
{
  g_return_if_fail (io != NULL);

  if (!g_atomic_ref_count_dec (&io->ref_count))
    return;

  es_server_io_stop (io);
  g_free (io->threads);
  g_free (io);
}

/**
 * es_server_io_adopt:
 * @io: the I/O threads
 * @stream: a connection whose WebSocket handshake (server side) has been written
 * @uri: the request's URI
 *
 * Hands @stream to one of the I/O threads, which serves it as a WebSocket connection.
 *
 * Returns: (transfer full): the link to the connection
 */
EsServerLink *
es_server_io_adopt (EsServerIo *io,
                    GIOStream  *stream,
                    GUri       *uri)
{
  EsServerLink *link;
  Item item = { .kind = ITEM_ADOPT };

  g_return_val_if_fail (io != NULL, NULL);
  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);

  link = g_new0 (EsServerLink, 1);
  g_atomic_ref_count_init (&link->ref_count);
  link->io = es_server_io_ref (io);
  link->thread = &io->threads[io->next_thread];
  io->next_thread = (io->next_thread + 1) % io->n_threads;

  if (io->stopped)
    {
      link->closed = TRUE;
      return link;
    }

  item.link = es_server_link_ref (link);
  item.stream = g_object_ref (stream);
  item.uri = uri != NULL ? g_uri_ref (uri) : NULL;
  mailbox_post (link->thread->commands, &item);

  return link;
}

/* Links --------------------------------------------------------------------------------------- */

EsServerLink *
es_server_link_ref (EsServerLink *link)
{
  g_return_val_if_fail (link != NULL, NULL);

  g_atomic_ref_count_inc (&link->ref_count);
  return link;
}

void
es_server_link_unref (EsServerLink *link)
{
  g_return_if_fail (link != NULL);

  if (!g_atomic_ref_count_dec (&link->ref_count))
    return;

  es_server_io_unref (link->io);
  g_free (link);
}

/* @message_func and @closed_func are called with @user_data until they are set to NULL. */
void
es_server_link_set_handlers (EsServerLink            *link,
                             EsServerLinkMessageFunc  message_func,
                             EsServerLinkClosedFunc   closed_func,
                             gpointer                 user_data)
{
  g_return_if_fail (link != NULL);

  link->message_func = message_func;
  link->closed_func = closed_func;
  link->user_data = user_data;
}

/* Whether frames sent now can still reach the peer: neither side has started closing. */
gboolean
es_server_link_is_open (EsServerLink *link)
{
  g_return_val_if_fail (link != NULL, FALSE);

  return !link->closed && !link->close_requested && !link->io->stopped;
}

gushort
es_server_link_get_close_code (EsServerLink *link)
{
  g_return_val_if_fail (link != NULL, 0);

  return link->close_code;
}

void
es_server_link_send_text (EsServerLink *link,
                          char         *text)
{
  Item item = { .kind = ITEM_SEND };

  g_return_if_fail (link != NULL);
  g_return_if_fail (text != NULL);

  if (!es_server_link_is_open (link))
    {
      g_free (text);
      return;
    }

  item.link = es_server_link_ref (link);
  item.text = text;
  mailbox_post (link->thread->commands, &item);
}

void
es_server_link_close (EsServerLink *link,
                      gushort       code,
                      const char   *reason)
{
  Item item = { .kind = ITEM_CLOSE };

  g_return_if_fail (link != NULL);

  if (!es_server_link_is_open (link))
    return;

  link->close_requested = TRUE;
  item.link = es_server_link_ref (link);
  item.code = code;
  item.text = g_strdup (reason);
  mailbox_post (link->thread->commands, &item);
}
