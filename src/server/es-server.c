/* es-server.c: the Earshot signaling server (HTTP routes, WebSocket sessions, group commit)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Threads: all of the logic here runs on the main thread. Three kinds of helpers around it
 * touch none of its state: the writer thread commits batches ("Group commit" below), the I/O
 * threads read and write the WebSocket connections (es-server-io.c), and the store's checkpoint
 * thread folds the WAL back into the database.
 */

#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include <libsoup/soup.h>
#include <sodium.h>

#include "es-protocol.h"
#include "es-server-private.h"
#include "es-server-calls.h"

#define TOKEN_SIZE            32
#define MAX_HTTP_BODY         (16 * 1024)
#define MAX_PASSWORD_LENGTH   1024
#define MAX_DEVICE_NAME_BYTES 256
#define LISTEN_BACKLOG        4096
#define IDLE_CHECK_SECONDS    10
/* How long acknowledged frames may stay in the database when nothing else gets committed. */
#define DELETE_DELAY_MS       1000

#define CLOSE_WRONG_DEVICE 4001
#define CLOSE_SEQUENCE     4002
#define CLOSE_REPLACED     4003

/* Structured logs: every line has an ES_EVENT field that tools can filter on. */
#define es_log(level, event, ...) \
  g_log_structured (G_LOG_DOMAIN, level, "ES_EVENT", event, "MESSAGE", __VA_ARGS__)

/* Something to send once the open transaction is committed: a frame queued for @target (sent
 * if the device is connected), kept as the @text stored in its queue, or a reply @frame for one
 * @session. */
typedef struct
{
  EsServerDevice  *target;
  EsServerSession *session;
  EsFrame         *frame;
  char            *text;
  gsize            length;
  gint64           seq;
  gboolean         unstored; /* @text is still to be written to @target's queue */
} Outgoing;

struct _EsServer
{
  GObject parent_instance;

  /* Owned */
  EsServerConfig *config;
  EsServerStore *store;
  EsServerCalls *calls;
  SoupServer *soup;
  EsServerIo *io;
  GHashTable *devices;   /* id → EsServerDevice */
  GPtrArray *graveyard;  /* devices dropped from the cache, kept for borrowed pointers */
  GHashTable *sessions;  /* set of EsServerSession, owned */
  GArray *batch_out;     /* Outgoing */
  GPtrArray *batch_sessions;
  GPtrArray *batch_devices;
  GPtrArray *batch_http; /* SoupServerMessage, paused until the commit */
  GPtrArray *pending_deletes; /* EsServerDevice with delete_pending, borrowed */
  char *uri;
  EsServerMetrics metrics;
  guint64 batch_frames;
  guint batch_unstored; /* Outgoing with unstored set in batch_out */

  /* Group commit: see the comment in that section */
  GThread *writer;
  GMutex writer_lock;
  GCond writer_cond;
  struct _Batch *writer_job;  /* handed to the writer thread, under writer_lock */
  struct _Batch *writer_done; /* committed by it, not yet finished, under writer_lock */
  struct _Batch *committing;  /* in flight, from handing over to finish_commit() */
  GSource *done_source;

  guint commit_source_id;
  guint delete_source_id;
  guint idle_source_id;
  guint shutting_down : 1;
  guint writer_quit : 1;
  guint deletes_due : 1;
};

G_DEFINE_FINAL_TYPE (EsServer, es_server, G_TYPE_OBJECT)

static void fail_batch (EsServer *self, const GError *error);
static void start_commit (EsServer *self);

static void
outgoing_clear (gpointer data)
{
  Outgoing *out = data;

  g_clear_object (&out->session);
  g_clear_pointer (&out->frame, es_frame_free);
  g_clear_pointer (&out->text, g_free);
}

/* Devices ------------------------------------------------------------------------------------ */

static EsServerDevice *
lookup_device (EsServer    *self,
               const char  *id,
               GError     **error)
{
  g_autoptr(EsServerDeviceRecord) record = NULL;
  EsServerDevice *device;

  device = g_hash_table_lookup (self->devices, id);
  if (device != NULL)
    return device;

  es_server_wait_commit (self);
  record = es_server_store_lookup_device (self->store, id, error);
  if (record == NULL)
    return NULL;

  device = es_server_device_new_from_record (record);
  g_hash_table_insert (self->devices, device->id, device);
  return device;
}

static EsServerDevice *
lookup_device_by_token (EsServer   *self,
                        const char *authorization)
{
  g_autoptr(EsServerDeviceRecord) record = NULL;
  guint8 token[TOKEN_SIZE + 1];
  guint8 hash[ES_SERVER_STORE_TOKEN_HASH_SIZE];
  const char *encoded;
  size_t token_len = 0;

  if (authorization == NULL || g_ascii_strncasecmp (authorization, "Bearer ", 7) != 0)
    return NULL;
  encoded = authorization + 7;
  while (*encoded == ' ')
    encoded++;

  if (sodium_base642bin (token, sizeof token, encoded, strlen (encoded), NULL, &token_len, NULL,
                         sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      token_len != TOKEN_SIZE)
    return NULL;

  es_server_store_hash_token (token, token_len, hash);
  sodium_memzero (token, sizeof token);
  es_server_wait_commit (self);
  record = es_server_store_lookup_token (self->store, hash, NULL);
  if (record == NULL)
    return NULL;

  return lookup_device (self, record->id, NULL);
}

/* Group commit ------------------------------------------------------------------------------ */

/* A batch is what one transaction holds and what is owed once it is committed. The transaction is
 * committed by a writer thread while the main thread goes on: an fsync takes milliseconds, and
 * blocking the loop for it made every turn, and so every batch, longer. So that the main thread
 * can go on handling frames meanwhile (batch N+1 fills while batch N fsyncs), the hot path keeps
 * its writes in memory: relayed frames (Outgoing.unstored), devices' sequence numbers
 * (batch_devices) and deletes of acked frames (pending_deletes) are written by start_commit(),
 * just before the hand-over. Nothing is acked or delivered before the commit that holds it has
 * returned (finish_commit()), and the ack sent is the sequence number committed then.
 *
 * Rule for the main thread: the store may only be used while no commit is in flight. Code that
 * uses it directly (hello, HTTP handlers, the call module through calls_begin_cb, cache misses
 * in lookup_device, timers) calls es_server_wait_commit() first, which blocks for the rest of
 * the in-flight commit; ensure_batch() does so. */

typedef struct
{
  EsServerDevice *device; /* borrowed: devices live as long as the server */
  gint64          last_recv_seq;
} DevicePersisted;

/* What one transaction owes once it is committed. */
typedef struct _Batch
{
  GArray    *out;      /* Outgoing */
  GPtrArray *sessions; /* EsServerSession, owned: sessions that may be owed an ack */
  GArray    *persisted; /* DevicePersisted: received seqs that the commit makes durable */
  GPtrArray *http;     /* SoupServerMessage, paused until the commit */
  guint64    frames;
  /* Set by the writer thread */
  GError    *error;
  gint64     commit_us;
} Batch;

static void
batch_free (Batch *batch)
{
  g_array_unref (batch->out);
  g_ptr_array_unref (batch->sessions);
  g_array_unref (batch->persisted);
  g_ptr_array_unref (batch->http);
  g_clear_error (&batch->error);
  g_free (batch);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Batch, batch_free)

/* Takes what the open batch owes and starts an empty one: sessions and devices touched from now
 * on belong to the next batch. */
static Batch *
batch_steal (EsServer *self)
{
  Batch *batch = g_new0 (Batch, 1);

  batch->out = g_steal_pointer (&self->batch_out);
  self->batch_out = g_array_new (FALSE, FALSE, sizeof (Outgoing));
  g_array_set_clear_func (self->batch_out, outgoing_clear);
  batch->sessions = g_steal_pointer (&self->batch_sessions);
  self->batch_sessions = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < batch->sessions->len; i++)
    ((EsServerSession *) g_ptr_array_index (batch->sessions, i))->in_batch = FALSE;
  batch->persisted = g_array_sized_new (FALSE, FALSE, sizeof (DevicePersisted),
                                        self->batch_devices->len);
  for (guint i = 0; i < self->batch_devices->len; i++)
    {
      EsServerDevice *device = g_ptr_array_index (self->batch_devices, i);
      DevicePersisted item = { device, device->last_recv_seq };

      device->dirty = FALSE;
      g_array_append_val (batch->persisted, item);
    }
  g_ptr_array_set_size (self->batch_devices, 0);
  self->batch_unstored = 0;
  batch->http = g_steal_pointer (&self->batch_http);
  self->batch_http = g_ptr_array_new_with_free_func (g_object_unref);
  batch->frames = self->batch_frames;
  self->batch_frames = 0;

  return batch;
}

static gpointer
writer_thread (gpointer data)
{
  EsServer *self = data;

  g_mutex_lock (&self->writer_lock);
  for (;;)
    {
      Batch *batch;
      gint64 start;

      while (self->writer_job == NULL && !self->writer_quit)
        g_cond_wait (&self->writer_cond, &self->writer_lock);
      if (self->writer_job == NULL)
        break;
      batch = self->writer_job;
      g_mutex_unlock (&self->writer_lock);

      start = g_get_monotonic_time ();
      es_server_store_commit (self->store, &batch->error);
      batch->commit_us = g_get_monotonic_time () - start;

      g_mutex_lock (&self->writer_lock);
      self->writer_job = NULL;
      self->writer_done = batch;
      g_cond_broadcast (&self->writer_cond);
      /* Thread-safe: wakes the main context, which then runs commit_done_dispatch(). */
      g_source_set_ready_time (self->done_source, 0);
    }
  g_mutex_unlock (&self->writer_lock);

  return NULL;
}

static gboolean
commit_cb (gpointer user_data)
{
  EsServer *self = user_data;

  self->commit_source_id = 0;
  start_commit (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_commit (EsServer *self)
{
  /* Default priority, not idle: under load the sockets are always ready, and an idle source
   * would starve; this one runs on the next main-loop turn, after the frames already read. */
  if (self->commit_source_id == 0)
    self->commit_source_id = g_idle_add_full (G_PRIORITY_DEFAULT, commit_cb, self, NULL);
}

static gboolean
ensure_batch (EsServer *self)
{
  g_autoptr(GError) error = NULL;

  es_server_wait_commit (self);
  schedule_commit (self);
  if (es_server_store_in_transaction (self->store))
    return TRUE;

  if (!es_server_store_begin (self->store, &error))
    {
      fail_batch (self, error);
      return FALSE;
    }
  return TRUE;
}

static void
batch_touch_session (EsServer        *self,
                     EsServerSession *session)
{
  if (!session->in_batch)
    {
      session->in_batch = TRUE;
      g_ptr_array_add (self->batch_sessions, g_object_ref (session));
    }
  schedule_commit (self);
}

static void
batch_touch_device (EsServer       *self,
                    EsServerDevice *device)
{
  if (!device->dirty)
    {
      device->dirty = TRUE;
      g_ptr_array_add (self->batch_devices, device);
    }
}

static void
batch_reply (EsServer        *self,
             EsServerSession *session,
             EsFrame         *frame)
{
  Outgoing out = { NULL, g_object_ref (session), frame, NULL, 0, 0, FALSE };

  g_array_append_val (self->batch_out, out);
  batch_touch_session (self, session);
}

static void
batch_queue_http (EsServer          *self,
                  SoupServerMessage *msg)
{
  g_ptr_array_add (self->batch_http, g_object_ref (msg));
  schedule_commit (self);
}

static void
http_finished_cb (SoupServerMessage *msg)
{
  g_object_set_data (G_OBJECT (msg), "es-paused", NULL);
}

static void
pause_http (SoupServerMessage *msg)
{
  g_object_set_data (G_OBJECT (msg), "es-paused", GINT_TO_POINTER (TRUE));
  g_signal_connect (msg, "finished", G_CALLBACK (http_finished_cb), NULL);
  g_signal_connect (msg, "disconnected", G_CALLBACK (http_finished_cb), NULL);
  soup_server_message_pause (msg);
}

static void
unpause_http (SoupServerMessage *msg)
{
  /* The client may have gone while the message waited. */
  if (g_object_get_data (G_OBJECT (msg), "es-paused") != NULL)
    {
      g_object_set_data (G_OBJECT (msg), "es-paused", NULL);
      soup_server_message_unpause (msg);
    }
}

static void
reply_json_error (SoupServerMessage *msg,
                  guint              status,
                  const char        *message);

/* @batch could not be committed: nothing of it happened. Every session that took part is closed
 * (its device resends after reconnecting), the cached sequence numbers go back to what the
 * database holds, and nothing is acked or delivered. */
static void
fail_commit (EsServer     *self,
             Batch        *batch,
             const GError *error)
{
  GHashTableIter iter;
  gpointer value;

  es_log (G_LOG_LEVEL_WARNING, "commit-failed", "Storage failure, batch rolled back: %s",
          error != NULL ? error->message : "unknown error");
  self->metrics.commit_failures++;
  es_server_store_rollback (self->store, NULL);
  if (self->calls != NULL)
    es_server_calls_batch_failed (self->calls);

  for (guint i = 0; i < batch->sessions->len; i++)
    {
      EsServerSession *session = g_ptr_array_index (batch->sessions, i);

      session->in_batch = FALSE;
      session->needs_ack = FALSE;
      es_server_session_close (session, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, "storage failure");
    }

  /* Reload what is really stored; a device created by the lost transaction goes away. */
  g_hash_table_iter_init (&iter, self->devices);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      EsServerDevice *device = value;
      g_autoptr(EsServerDeviceRecord) record = NULL;

      device->dirty = FALSE;
      record = es_server_store_lookup_device (self->store, device->id, NULL);
      if (record != NULL)
        {
          device->last_recv_seq = record->last_recv_seq;
          device->persisted_recv_seq = record->last_recv_seq;
          device->next_seq = record->next_seq;
        }
      else
        {
          if (device->session != NULL)
            es_server_session_close (device->session, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
                                     "storage failure");
          g_hash_table_iter_steal (&iter);
          g_ptr_array_add (self->graveyard, device);
        }
    }

  for (guint i = 0; i < batch->http->len; i++)
    {
      SoupServerMessage *msg = g_ptr_array_index (batch->http, i);

      reply_json_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Storage failure, try again");
      unpause_http (msg);
    }

  {
    gint64 queued = es_server_store_count_queued (self->store, NULL);
    if (queued >= 0)
      self->metrics.messages_queued = queued;
  }
}

/* The open batch failed before its commit. */
static void
fail_batch (EsServer     *self,
            const GError *error)
{
  g_autoptr(Batch) batch = NULL;

  es_server_wait_commit (self);
  g_clear_handle_id (&self->commit_source_id, g_source_remove);
  batch = batch_steal (self);
  fail_commit (self, batch, error);
}

/* Adds the deletes of acknowledged frames to the open transaction. */
static gboolean
apply_pending_deletes (EsServer  *self,
                       GError   **error)
{
  g_autoptr(GPtrArray) devices = g_steal_pointer (&self->pending_deletes);

  self->pending_deletes = g_ptr_array_new ();
  self->deletes_due = FALSE;
  g_clear_handle_id (&self->delete_source_id, g_source_remove);

  for (guint i = 0; i < devices->len; i++)
    {
      EsServerDevice *device = g_ptr_array_index (devices, i);
      gint64 removed;

      device->delete_pending = FALSE;
      removed = es_server_store_ack (self->store, device->id, device->delete_up_to, error);
      if (removed < 0)
        return FALSE;
      self->metrics.messages_queued -= removed;
    }
  return TRUE;
}

static gboolean
delete_timeout_cb (gpointer user_data)
{
  EsServer *self = user_data;

  self->delete_source_id = 0;
  self->deletes_due = TRUE;
  start_commit (self);
  return G_SOURCE_REMOVE;
}

/* Sends what waited for @batch's commit: frames for connected targets, replies, acks, and HTTP
 * responses. */
static void
deliver (EsServer *self,
         Batch    *batch)
{
  for (guint i = 0; i < batch->persisted->len; i++)
    {
      DevicePersisted *item = &g_array_index (batch->persisted, DevicePersisted, i);

      item->device->persisted_recv_seq = MAX (item->device->persisted_recv_seq,
                                              item->last_recv_seq);
    }

  for (guint i = 0; i < batch->out->len; i++)
    {
      Outgoing *out = &g_array_index (batch->out, Outgoing, i);

      if (out->session != NULL)
        {
          es_server_session_send (out->session, out->frame);
        }
      else
        {
          EsServerSession *target = out->target->session;

          /* A device that connects later gets the frame from its queue after hello. */
          if (target != NULL && target->welcomed && es_server_session_is_open (target) &&
              out->seq > target->last_sent_seq)
            {
              es_server_session_send_queued (target, out->seq, out->text, out->length);
              self->metrics.frames_delivered++;
            }
        }
    }

  for (guint i = 0; i < batch->sessions->len; i++)
    {
      EsServerSession *session = g_ptr_array_index (batch->sessions, i);

      if (session->welcomed &&
          (session->needs_ack || session->last_ack_sent < session->device->persisted_recv_seq))
        {
          g_autoptr(EsFrame) ack = es_frame_new (ES_MESSAGE_ACK);

          es_server_session_send (session, ack);
        }
      session->needs_ack = FALSE;
    }

  for (guint i = 0; i < batch->http->len; i++)
    unpause_http (g_ptr_array_index (batch->http, i));
}

/* Writes the batch's in-memory writes and hands the transaction to the writer thread, or, with
 * nothing to commit, delivers what the batch holds (acks, replies) at once. With a commit in
 * flight it does nothing: the batch goes when that commit has finished (commit_done_dispatch). */
static void
start_commit (EsServer *self)
{
  g_autoptr(GError) error = NULL;
  Batch *batch;

  g_clear_handle_id (&self->commit_source_id, g_source_remove);
  if (self->committing != NULL)
    return;

  if (!es_server_store_in_transaction (self->store) && self->batch_devices->len == 0 &&
      self->batch_unstored == 0 && !(self->deletes_due && self->pending_deletes->len > 0))
    {
      g_autoptr(Batch) done = batch_steal (self);

      deliver (self, done);
      return;
    }

  if (!es_server_store_in_transaction (self->store) &&
      !es_server_store_begin (self->store, &error))
    {
      fail_batch (self, error);
      return;
    }
  for (guint i = 0; self->batch_unstored > 0 && i < self->batch_out->len; i++)
    {
      Outgoing *out = &g_array_index (self->batch_out, Outgoing, i);

      if (!out->unstored)
        continue;
      if (!es_server_store_enqueue (self->store, out->target->id, out->seq, out->text,
                                    out->length, &error))
        {
          fail_batch (self, error);
          return;
        }
      out->unstored = FALSE;
    }
  if (!apply_pending_deletes (self, &error))
    {
      fail_batch (self, error);
      return;
    }
  for (guint i = 0; i < self->batch_devices->len; i++)
    {
      EsServerDevice *device = g_ptr_array_index (self->batch_devices, i);

      if (!es_server_store_update_device_seqs (self->store, device->id, device->last_recv_seq,
                                               device->next_seq, &error))
        {
          fail_batch (self, error);
          return;
        }
    }

  batch = batch_steal (self);
  self->committing = batch;
  g_mutex_lock (&self->writer_lock);
  self->writer_job = batch;
  g_cond_broadcast (&self->writer_cond);
  g_mutex_unlock (&self->writer_lock);
}

/* Takes the batch the writer thread has committed and acks and delivers it. */
static void
finish_commit (EsServer *self)
{
  g_autoptr(Batch) batch = NULL;

  g_mutex_lock (&self->writer_lock);
  batch = g_steal_pointer (&self->writer_done);
  g_mutex_unlock (&self->writer_lock);
  if (batch == NULL)
    return;

  g_assert (batch == self->committing);
  self->committing = NULL;

  if (batch->error != NULL)
    {
      g_autoptr(GError) error = g_error_copy (batch->error);

      fail_commit (self, batch, error);
      /* The open batch was built on top of the lost one (sequence numbers, queue positions). */
      fail_batch (self, error);
      return;
    }

  self->metrics.commit_batches++;
  self->metrics.commit_frames += batch->frames;
  self->metrics.commit_latency_us_sum += batch->commit_us;
  self->metrics.commit_latency_us_max = MAX (self->metrics.commit_latency_us_max,
                                             (guint64) batch->commit_us);
  deliver (self, batch);
}

/**
 * es_server_wait_commit:
 *
 * Blocks until the commit in flight, if any, has ended, and acks and delivers what it held.
 * Afterwards the main thread may use the store, until the next commit starts.
 */
void
es_server_wait_commit (EsServer *self)
{
  if (self->committing == NULL)
    return;

  g_mutex_lock (&self->writer_lock);
  while (self->writer_done == NULL)
    g_cond_wait (&self->writer_cond, &self->writer_lock);
  g_mutex_unlock (&self->writer_lock);

  finish_commit (self);
}

/* Made ready by the writer thread when a commit has ended. */
typedef struct
{
  GSource   source;
  EsServer *server; /* borrowed: the server destroys the source in dispose */
} CommitDoneSource;

static gboolean
commit_done_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  EsServer *self = ((CommitDoneSource *) source)->server;

  g_source_set_ready_time (source, -1);
  finish_commit (self);
  /* The next batch filled meanwhile: commit it now rather than after another turn. */
  start_commit (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs commit_done_funcs = {
  .dispatch = commit_done_dispatch,
};

/* Commits the open transaction, if any, and sends what waited for it, before returning. */
void
es_server_flush (EsServer *self)
{
  g_return_if_fail (ES_IS_SERVER (self));

  es_server_wait_commit (self);
  start_commit (self);
  es_server_wait_commit (self);
}

/* WebSocket frames -------------------------------------------------------------------------- */

static void
reject (EsServer        *self,
        EsServerSession *session,
        EsRejectReason   reason,
        const char      *message,
        gint64           ref_seq,
        gboolean         after_commit)
{
  self->metrics.frames_rejected[reason]++;
  es_log (G_LOG_LEVEL_INFO, "frame-rejected", "Frame from device %s rejected (%s): %s",
          session->device->id, es_reject_reason_to_string (reason), message);

  if (after_commit)
    batch_reply (self, session, es_server_error_frame_new (es_reject_reason_to_string (reason),
                                                           message, ref_seq));
  else
    es_server_session_send_error (session, es_reject_reason_to_string (reason), message, ref_seq);
}

/* Deleting acknowledged frames from the queue need not be durable at once: a delete that a crash
 * loses only makes the server resend frames that the device drops as duplicates. So it costs
 * neither a commit nor a wake-up of its own: it rides along with the next commit, or with the
 * timer in delete_timeout_cb when nothing else is written. */
static void
process_peer_ack (EsServer        *self,
                  EsServerSession *session,
                  gint64           ack)
{
  EsServerDevice *device = session->device;

  /* A device cannot acknowledge what it was never sent. */
  ack = MIN (ack, session->last_sent_seq);
  if (ack <= session->peer_ack)
    return;

  session->peer_ack = ack;
  if (ack > device->delete_up_to)
    {
      device->delete_up_to = ack;
      if (!device->delete_pending)
        {
          device->delete_pending = TRUE;
          g_ptr_array_add (self->pending_deletes, device);
        }
      if (self->delete_source_id == 0)
        self->delete_source_id = g_timeout_add (DELETE_DELAY_MS, delete_timeout_cb, self);
    }
}

static void
relay (EsServer        *self,
       EsServerSession *session,
       EsServerDevice  *target,
       const EsFrame   *frame)
{
  g_autoptr(EsFrame) out = es_frame_copy (frame);
  g_autofree char *text = NULL;
  gsize length = 0;
  Outgoing item = { target, NULL, NULL, NULL, 0, 0, TRUE };

  g_free (out->from_device);
  out->from_device = g_strdup (session->device->id);
  g_free (out->from_user);
  out->from_user = g_strdup (session->device->user);
  out->seq = target->next_seq;
  out->ack = 0;

  text = es_frame_serialize (out, &length);
  if (text == NULL)
    {
      reject (self, session, ES_REJECT_BAD_FRAME, "Frame could not be serialized", frame->seq, TRUE);
      return;
    }
  /* Written by start_commit(), so that this runs while a commit is in flight. */
  target->next_seq++;
  self->batch_unstored++;
  batch_touch_device (self, target);
  self->metrics.frames_relayed++;
  self->metrics.messages_queued++;

  item.seq = out->seq;
  item.text = g_steal_pointer (&text);
  item.length = length;
  g_array_append_val (self->batch_out, item);
}

static void
route_data (EsServer        *self,
            EsServerSession *session,
            const EsFrame   *frame)
{
  g_autoptr(GError) error = NULL;
  EsServerDevice *target;

  target = lookup_device (self, frame->to_device, &error);
  if (target == NULL)
    {
      g_autofree char *message = NULL;

      if (!g_error_matches (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND))
        {
          fail_batch (self, error);
          return;
        }
      message = g_strdup_printf ("No device “%s”", frame->to_device);
      reject (self, session, ES_REJECT_UNKNOWN_DEVICE, message, frame->seq, TRUE);
      return;
    }

  if (g_strcmp0 (target->user, session->device->user) != 0)
    {
      g_autofree char *message =
        g_strdup_printf ("Device “%s” belongs to another user: data frames only go between "
                         "devices of one user", frame->to_device);

      reject (self, session, ES_REJECT_NOT_ALLOWED, message, frame->seq, TRUE);
      return;
    }

  relay (self, session, target, frame);
}

/* The call state machine's way out (EsServerCallsSink): the same queue path as relay(), in the
 * open batch. Failures are returned, never handled here, so each is handled once. */
static gboolean
calls_begin_cb (gpointer   user_data,
                GError   **error)
{
  EsServer *self = user_data;

  es_server_wait_commit (self);
  schedule_commit (self);
  if (es_server_store_in_transaction (self->store))
    return TRUE;
  return es_server_store_begin (self->store, error);
}

static gboolean
calls_queue_cb (gpointer        user_data,
                const char     *device_id,
                const EsFrame  *frame,
                GError        **error)
{
  EsServer *self = user_data;
  g_autoptr(EsFrame) out = NULL;
  g_autofree char *text = NULL;
  EsServerDevice *target;
  gsize length = 0;
  Outgoing item = { 0 };

  target = lookup_device (self, device_id, error);
  if (target == NULL)
    return FALSE;

  out = es_frame_copy (frame);
  out->seq = target->next_seq;
  out->ack = 0;
  text = es_frame_serialize (out, &length);
  if (text == NULL)
    {
      g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_FAILED,
                   "A %s frame could not be serialized", es_message_type_to_string (out->type));
      return FALSE;
    }
  if (!es_server_store_enqueue (self->store, target->id, out->seq, text, length, error))
    return FALSE;

  target->next_seq++;
  batch_touch_device (self, target);
  self->metrics.frames_relayed++;
  self->metrics.messages_queued++;

  item.target = target;
  item.seq = out->seq;
  item.text = g_steal_pointer (&text);
  item.length = length;
  g_array_append_val (self->batch_out, item);
  return TRUE;
}

static void
calls_fail_cb (gpointer      user_data,
               const GError *error)
{
  fail_batch (user_data, error);
}

static const EsServerCallsSink calls_sink = { calls_begin_cb, calls_queue_cb, calls_fail_cb };

/* Call-flow frames (invite, offer, …) go to the call state machine. A frame it refuses is
 * answered with an error frame and still acked, like any other refused frame. */
static gboolean
route_call (EsServer        *self,
            EsServerSession *session,
            const EsFrame   *frame)
{
  g_autoptr(GError) error = NULL;
  EsServerDevice *device = session->device;
  EsRejectReason reason;

  if (es_server_calls_handle_frame (self->calls, device->id, device->name, device->user, frame,
                                    &error))
    return TRUE;

  if (error->domain != ES_SERVER_CALLS_ERROR)
    {
      fail_batch (self, error);
      return TRUE;
    }

  switch ((EsServerCallsError) error->code)
    {
    case ES_SERVER_CALLS_ERROR_NOT_ALLOWED:
      reason = ES_REJECT_NOT_ALLOWED;
      break;
    case ES_SERVER_CALLS_ERROR_UNKNOWN_USER:
      reason = ES_REJECT_UNKNOWN_USER;
      break;
    case ES_SERVER_CALLS_ERROR_UNKNOWN_CALL:
      reason = ES_REJECT_UNKNOWN_CALL;
      break;
    case ES_SERVER_CALLS_ERROR_CALL_ENDED:
      reason = ES_REJECT_CALL_ENDED;
      break;
    case ES_SERVER_CALLS_ERROR_BAD_FRAME:
    default:
      reason = ES_REJECT_BAD_FRAME;
      break;
    }
  reject (self, session, reason, error->message, frame->seq, TRUE);
  return TRUE;
}

static void
route_durable (EsServer        *self,
               EsServerSession *session,
               const EsFrame   *frame)
{
  switch (frame->type)
    {
    case ES_MESSAGE_DATA:
      route_data (self, session, frame);
      break;

    default:
      if (!route_call (self, session, frame))
        {
          g_autofree char *message =
            g_strdup_printf ("Frames of type “%s” are not routed by this server yet",
                             es_message_type_to_string (frame->type));

          reject (self, session, ES_REJECT_UNSUPPORTED, message, frame->seq, TRUE);
        }
      break;
    }
}

static void
handle_durable (EsServer        *self,
                EsServerSession *session,
                const EsFrame   *frame)
{
  EsServerDevice *device = session->device;

  if (frame->seq <= device->last_recv_seq)
    {
      /* Already processed: the device did not see our ack yet. Ack again, do nothing else. */
      self->metrics.frames_rejected[ES_REJECT_DUPLICATE]++;
      session->needs_ack = TRUE;
      batch_touch_session (self, session);
      return;
    }

  if (frame->seq != device->last_recv_seq + 1)
    {
      g_autofree char *reason =
        g_strdup_printf ("gap in seq: expected %" G_GINT64_FORMAT ", got %" G_GINT64_FORMAT,
                         device->last_recv_seq + 1, frame->seq);

      self->metrics.frames_rejected[ES_REJECT_GAP]++;
      es_log (G_LOG_LEVEL_INFO, "session-closed", "Device %s: %s", device->id, reason);
      es_server_session_close (session, CLOSE_SEQUENCE, reason);
      return;
    }

  /* No transaction yet: the new seq is written by start_commit(). */
  device->last_recv_seq = frame->seq;
  batch_touch_device (self, device);
  batch_touch_session (self, session);
  self->batch_frames++;

  route_durable (self, session, frame);
}

static void
handle_hello (EsServer        *self,
              EsServerSession *session,
              const EsFrame   *frame)
{
  EsServerDevice *device = session->device;
  g_autoptr(EsFrame) welcome = NULL;
  g_autoptr(GPtrArray) queued = NULL;
  g_autoptr(GError) error = NULL;
  const char *device_id;
  gint64 resume_ack;
  gint64 removed;

  if (session->welcomed)
    {
      reject (self, session, ES_REJECT_BAD_FRAME, "hello was sent already on this connection", 0,
              FALSE);
      return;
    }

  device_id = json_object_get_string_member_with_default (frame->body, "device_id", NULL);
  if (g_strcmp0 (device_id, device->id) != 0)
    {
      self->metrics.frames_rejected[ES_REJECT_WRONG_DEVICE]++;
      es_log (G_LOG_LEVEL_INFO, "session-closed", "Token of device %s used for hello as %s",
              device->id, device_id != NULL ? device_id : "(none)");
      es_server_session_close (session, CLOSE_WRONG_DEVICE, "hello names another device");
      return;
    }

  /* Start from committed state, so the welcome and the resent frames hold nothing that could
   * still be rolled back. */
  es_server_flush (self);
  if (!es_server_session_is_open (session))
    return;

  resume_ack = json_object_get_int_member_with_default (frame->body, "resume_ack", 0);
  resume_ack = CLAMP (resume_ack, 0, device->next_seq - 1);

  if (!ensure_batch (self))
    return;
  removed = es_server_store_ack (self->store, device->id, resume_ack, &error);
  if (removed < 0)
    {
      fail_batch (self, error);
      return;
    }
  self->metrics.messages_queued -= removed;

  queued = es_server_store_list_queue (self->store, device->id, resume_ack, &error);
  if (queued == NULL)
    {
      fail_batch (self, error);
      return;
    }

  welcome = es_frame_new (ES_MESSAGE_WELCOME);
  if (welcome->body == NULL)
    welcome->body = json_object_new ();
  json_object_set_int_member (welcome->body, "resume_ack", device->persisted_recv_seq);
  json_object_set_string_member (welcome->body, "device_id", device->id);
  json_object_set_string_member (welcome->body, "user", device->user);
  es_server_session_send (session, welcome);

  session->welcomed = TRUE;
  session->peer_ack = resume_ack;
  session->last_sent_seq = resume_ack;

  /* Only the server writes the queue, with es_frame_serialize: the text goes out as stored. */
  for (guint i = 0; i < queued->len; i++)
    {
      EsServerQueuedFrame *item = g_ptr_array_index (queued, i);

      es_server_session_send_queued (session, item->seq, item->data, strlen (item->data));
      self->metrics.frames_delivered++;
    }

  es_log (G_LOG_LEVEL_INFO, "session-welcomed",
          "Device %s (%s) said hello: resume_ack %" G_GINT64_FORMAT ", resent %u, acked %" G_GINT64_FORMAT,
          device->id, device->user, resume_ack, queued->len, device->persisted_recv_seq);
}

/* The commit starts from schedule_commit()'s idle, after the other sockets that are ready in this
 * turn, not at once: committing each frame by itself cost a commit and a wake-up per frame at low
 * load, and under load frames gather during the commit in flight anyway. */
void
es_server_session_message (EsServer        *self,
                           EsServerSession *session,
                           GBytes          *message,
                           gboolean         is_text)
{
  g_autoptr(EsFrame) frame = NULL;
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_monotonic_time ();
  const char *data;
  gsize length;

  session->last_activity = now / G_USEC_PER_SEC;
  self->metrics.frames_received++;

  if (!es_rate_limit_take (&session->rate, self->config->rate_limit, self->config->rate_burst, now))
    {
      self->metrics.frames_rejected[ES_REJECT_RATE_LIMITED]++;
      es_log (G_LOG_LEVEL_INFO, "session-closed", "Device %s is over the rate limit",
              session->device->id);
      es_server_session_close (session, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                               "rate limit exceeded");
      return;
    }

  if (!is_text)
    {
      reject (self, session, ES_REJECT_BAD_FRAME, "Binary frames are not part of the protocol", 0,
              FALSE);
      return;
    }

  data = g_bytes_get_data (message, &length);
  frame = es_frame_parse (data, length, &error);
  if (frame == NULL)
    {
      reject (self, session, ES_REJECT_BAD_FRAME, error->message, 0, FALSE);
      return;
    }

  if (frame->type == ES_MESSAGE_HELLO)
    {
      handle_hello (self, session, frame);
      return;
    }

  if (!session->welcomed)
    {
      if (es_message_type_is_durable (frame->type))
        {
          self->metrics.frames_rejected[ES_REJECT_BEFORE_HELLO]++;
          es_log (G_LOG_LEVEL_INFO, "session-closed", "Device %s sent a durable frame before hello",
                  session->device->id);
          es_server_session_close (session, CLOSE_SEQUENCE, "durable frame before hello");
        }
      else if (frame->type == ES_MESSAGE_PING)
        {
          g_autoptr(EsFrame) pong = es_frame_new (ES_MESSAGE_PONG);

          es_server_session_send (session, pong);
        }
      return;
    }

  process_peer_ack (self, session, frame->ack);
  if (!es_server_session_is_open (session))
    return;

  if (es_message_type_is_durable (frame->type))
    {
      handle_durable (self, session, frame);
      return;
    }

  switch (frame->type)
    {
    case ES_MESSAGE_PING:
      {
        g_autoptr(EsFrame) pong = es_frame_new (ES_MESSAGE_PONG);

        es_server_session_send (session, pong);
      }
      break;

    case ES_MESSAGE_ACK:
    case ES_MESSAGE_PONG:
    case ES_MESSAGE_ERROR:
    case ES_MESSAGE_WELCOME:
    default:
      /* The ack was processed above; the rest means nothing to the server. */
      break;
    }
}

void
es_server_session_closed (EsServer        *self,
                          EsServerSession *session)
{
  EsServerDevice *device = session->device;

  if (device->session == session)
    device->session = NULL;

  if (g_hash_table_remove (self->sessions, session))
    {
      self->metrics.connected_devices = g_hash_table_size (self->sessions);
      es_log (G_LOG_LEVEL_INFO, "session-ended", "Device %s disconnected (close code %u)",
              device->id, es_server_link_get_close_code (session->link));
    }
}

/* HTTP -------------------------------------------------------------------------------------- */

static void
reply_json (SoupServerMessage *msg,
            guint              status,
            JsonBuilder       *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = json_to_string (root, FALSE);
  gsize length = strlen (text);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    g_steal_pointer (&text), length);
}

static void
reply_json_error (SoupServerMessage *msg,
                  guint              status,
                  const char        *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);
  reply_json (msg, status, builder);
}

static void
reply_text (SoupServerMessage *msg,
            guint              status,
            const char        *content_type,
            char              *text)
{
  gsize length = strlen (text);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE, text, length);
}

static gboolean
check_method (SoupServerMessage *msg,
              const char        *method)
{
  if (g_strcmp0 (soup_server_message_get_method (msg), method) == 0)
    return TRUE;

  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", method);
  reply_json_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Method not allowed");
  return FALSE;
}

static void
healthz_cb (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  if (!check_method (msg, SOUP_METHOD_GET))
    return;
  reply_text (msg, SOUP_STATUS_OK, "text/plain", g_strdup ("ok"));
}

static void
metrics_cb (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  EsServer *self = user_data;
  GString *out;

  if (!check_method (msg, SOUP_METHOD_GET))
    return;

  out = g_string_new (NULL);
  self->metrics.connected_devices = g_hash_table_size (self->sessions);
  es_server_metrics_render (&self->metrics, out);
  reply_text (msg, SOUP_STATUS_OK, "text/plain; version=0.0.4", g_string_free (out, FALSE));
}

static void
early_cb (SoupServer        *server,
          SoupServerMessage *msg,
          const char        *path,
          GHashTable        *query,
          gpointer           user_data)
{
  goffset length = soup_message_headers_get_content_length (soup_server_message_get_request_headers (msg));

  if (length > MAX_HTTP_BODY)
    reply_json_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "Request body too large");
}

/* Register and login: the request, then Argon2id in a worker thread, then the database. */
typedef struct
{
  SoupServerMessage *msg;
  char              *user;
  char              *password;
  char              *device_name;
  char              *device_id;   /* login: the device to give a fresh token, or NULL */
  char              *stored_hash; /* login: the user's hash, NULL when no such user */
  char              *new_hash;    /* register: the hash to store */
  EsPasswordHashStrength strength;
  guint              is_login : 1;
  guint              password_ok : 1;
} AccountRequest;

static void
account_request_free (AccountRequest *request)
{
  g_clear_object (&request->msg);
  g_free (request->user);
  if (request->password != NULL)
    sodium_memzero (request->password, strlen (request->password));
  g_free (request->password);
  g_free (request->device_name);
  g_free (request->device_id);
  g_free (request->stored_hash);
  g_free (request->new_hash);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AccountRequest, account_request_free)

static const char *
get_string_member (JsonObject  *object,
                   const char  *name,
                   gboolean     required,
                   GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "“%s” is missing", name);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "“%s” must be a string", name);
      return NULL;
    }
  return json_node_get_string (node);
}

static AccountRequest *
parse_account_request (SoupServerMessage  *msg,
                       gboolean            is_login,
                       GError            **error)
{
  g_autoptr(AccountRequest) request = g_new0 (AccountRequest, 1);
  g_autoptr(JsonParser) parser = json_parser_new ();
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr(GError) local_error = NULL;
  const char *data;
  gsize length;
  JsonNode *root;
  JsonObject *object;
  const char *user, *password, *device_name, *device_id;

  data = g_bytes_get_data (bytes, &length);
  if (length == 0 || !json_parser_load_from_data (parser, data, length, &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "Body is not JSON: %s",
                   local_error != NULL ? local_error->message : "empty");
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "Body must be a JSON object");
      return NULL;
    }
  object = json_node_get_object (root);

  if ((user = get_string_member (object, "user", TRUE, error)) == NULL ||
      (password = get_string_member (object, "password", TRUE, error)) == NULL ||
      (device_name = get_string_member (object, "device_name", TRUE, error)) == NULL)
    return NULL;
  device_id = get_string_member (object, "device_id", FALSE, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  if (!es_protocol_is_valid_id (user))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "“user” must be 1–64 characters of A–Z, a–z, 0–9, “.”, “_”, “-”");
      return NULL;
    }
  if (password[0] == '\0' || strlen (password) > MAX_PASSWORD_LENGTH)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "“password” must be 1–%d bytes", MAX_PASSWORD_LENGTH);
      return NULL;
    }
  if (device_name[0] == '\0' || strlen (device_name) > MAX_DEVICE_NAME_BYTES ||
      !g_utf8_validate (device_name, -1, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "“device_name” must be 1–%d bytes of UTF-8", MAX_DEVICE_NAME_BYTES);
      return NULL;
    }
  if (device_id != NULL && (!is_login || !es_protocol_is_valid_id (device_id)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           is_login ? "“device_id” is not a valid device id"
                                    : "“device_id” is not accepted by register");
      return NULL;
    }

  request->msg = g_object_ref (msg);
  request->user = g_strdup (user);
  request->password = g_strdup (password);
  request->device_name = g_strdup (device_name);
  request->device_id = g_strdup (device_id);
  request->is_login = is_login;
  return g_steal_pointer (&request);
}

static void
hash_password_thread (GTask        *task,
                      gpointer      source_object,
                      gpointer      task_data,
                      GCancellable *cancellable)
{
  AccountRequest *request = task_data;
  gsize length = strlen (request->password);
  unsigned long long opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  size_t memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  char hash[crypto_pwhash_STRBYTES];

  if (request->strength == ES_PASSWORD_HASH_MIN)
    {
      opslimit = crypto_pwhash_OPSLIMIT_MIN;
      memlimit = crypto_pwhash_MEMLIMIT_MIN;
    }

  if (request->is_login && request->stored_hash != NULL)
    {
      request->password_ok =
        crypto_pwhash_str_verify (request->stored_hash, request->password, length) == 0;
    }
  else if (crypto_pwhash_str (hash, request->password, length, opslimit, memlimit) == 0)
    {
      /* For a login to an unknown user this only spends the time a real check would, so the
       * answer does not tell which users exist. */
      if (!request->is_login)
        request->new_hash = g_strdup (hash);
    }

  g_task_return_boolean (task, TRUE);
}

static char *
new_token (guint8 *out_hash)
{
  guint8 token[TOKEN_SIZE];
  char encoded[sodium_base64_ENCODED_LEN (TOKEN_SIZE, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

  randombytes_buf (token, sizeof token);
  sodium_bin2base64 (encoded, sizeof encoded, token, sizeof token,
                     sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  es_server_store_hash_token (token, sizeof token, out_hash);
  sodium_memzero (token, sizeof token);

  return g_strdup (encoded);
}

static void
reply_account (SoupServerMessage *msg,
               const char        *user,
               const char        *device_id,
               const char        *token)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "user");
  json_builder_add_string_value (builder, user);
  json_builder_set_member_name (builder, "device_id");
  json_builder_add_string_value (builder, device_id);
  json_builder_set_member_name (builder, "token");
  json_builder_add_string_value (builder, token);
  json_builder_end_object (builder);
  reply_json (msg, SOUP_STATUS_OK, builder);
}

static void
finish_account (EsServer       *self,
                AccountRequest *request)
{
  SoupServerMessage *msg = request->msg;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *device_id = NULL;
  guint8 token_hash[ES_SERVER_STORE_TOKEN_HASH_SIZE];

  if (request->is_login && !request->password_ok)
    {
      self->metrics.logins_failed++;
      es_log (G_LOG_LEVEL_INFO, "login-failed", "Failed login as %s", request->user);
      reply_json_error (msg, SOUP_STATUS_UNAUTHORIZED, "Wrong user or password");
      unpause_http (msg);
      return;
    }
  if (!request->is_login && request->new_hash == NULL)
    {
      reply_json_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Could not hash the password");
      unpause_http (msg);
      return;
    }

  if (request->is_login && request->device_id != NULL)
    {
      EsServerDevice *device = lookup_device (self, request->device_id, NULL);

      if (device == NULL || g_strcmp0 (device->user, request->user) != 0)
        {
          reply_json_error (msg, SOUP_STATUS_BAD_REQUEST,
                            "“device_id” is not one of this user’s devices");
          unpause_http (msg);
          return;
        }
    }

  /* The answer leaves only once the account is committed: a token the server forgets in a crash
   * would lock the device out. */
  if (!ensure_batch (self))
    {
      reply_json_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Storage failure, try again");
      unpause_http (msg);
      return;
    }
  batch_queue_http (self, msg);

  token = new_token (token_hash);

  if (!request->is_login &&
      !es_server_store_create_user (self->store, request->user, request->new_hash, &error))
    {
      if (g_error_matches (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_EXISTS))
        reply_json_error (msg, SOUP_STATUS_CONFLICT, "This user exists already");
      else
        fail_batch (self, error);
      return;
    }

  if (request->device_id != NULL)
    {
      device_id = g_strdup (request->device_id);
      if (!es_server_store_set_device_token (self->store, device_id, token_hash, &error))
        {
          fail_batch (self, error);
          return;
        }
    }
  else
    {
      device_id = g_uuid_string_random ();
      if (!es_server_store_add_device (self->store, device_id, request->user,
                                       request->device_name, token_hash, &error))
        {
          fail_batch (self, error);
          return;
        }
    }

  if (request->is_login)
    self->metrics.logins++;
  else
    self->metrics.registrations++;
  es_log (G_LOG_LEVEL_INFO, request->is_login ? "login" : "register", "%s %s, device %s",
          request->is_login ? "Login as" : "Registered", request->user, device_id);

  reply_account (msg, request->user, device_id, token);
}

static void
hash_password_done_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  EsServer *self = ES_SERVER (object);
  AccountRequest *request = g_task_get_task_data (G_TASK (result));

  finish_account (self, request);
}

static void
account_cb (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  EsServer *self = user_data;
  gboolean is_login = g_str_equal (path, "/v1/login");
  g_autoptr(AccountRequest) request = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) task = NULL;

  if (!check_method (msg, SOUP_METHOD_POST))
    return;

  request = parse_account_request (msg, is_login, &error);
  if (request == NULL)
    {
      reply_json_error (msg, SOUP_STATUS_BAD_REQUEST, error->message);
      return;
    }
  request->strength = self->config->password_hash;

  if (is_login)
    {
      es_server_wait_commit (self);
      request->stored_hash = es_server_store_dup_password_hash (self->store, request->user, &error);
      if (request->stored_hash == NULL &&
          !g_error_matches (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND))
        {
          reply_json_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Storage failure, try again");
          return;
        }
    }

  /* Argon2id takes tens of milliseconds by design: off the main loop, so that the WebSockets
   * keep flowing meanwhile. */
  pause_http (msg);
  task = g_task_new (self, NULL, hash_password_done_cb, NULL);
  g_task_set_source_tag (task, account_cb);
  g_task_set_task_data (task, g_steal_pointer (&request), (GDestroyNotify) account_request_free);
  g_task_run_in_thread (task, hash_password_thread);
}

static void
turn_cb (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  EsServer *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  EsServerDevice *device;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(GHmac) hmac = NULL;
  g_autofree char *username = NULL;
  g_autofree char *password = NULL;
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  gint64 expiry;

  if (!check_method (msg, SOUP_METHOD_GET))
    return;

  device = lookup_device_by_token (self, soup_message_headers_get_one (headers, "Authorization"));
  if (device == NULL)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "WWW-Authenticate", "Bearer");
      reply_json_error (msg, SOUP_STATUS_UNAUTHORIZED, "Missing or wrong bearer token");
      return;
    }
  if (self->config->turn_secret == NULL)
    {
      reply_json_error (msg, SOUP_STATUS_NOT_FOUND, "This server has no TURN service configured");
      return;
    }

  /* coturn's REST API (use-auth-secret): username "<expiry>:<user>", password
   * base64(HMAC-SHA1(secret, username)). */
  expiry = g_get_real_time () / G_USEC_PER_SEC + self->config->turn_ttl;
  username = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", expiry, device->user);
  hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) self->config->turn_secret,
                     strlen (self->config->turn_secret));
  g_hmac_update (hmac, (const guchar *) username, -1);
  g_hmac_get_digest (hmac, digest, &digest_len);
  password = g_base64_encode (digest, digest_len);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "username");
  json_builder_add_string_value (builder, username);
  json_builder_set_member_name (builder, "password");
  json_builder_add_string_value (builder, password);
  json_builder_set_member_name (builder, "ttl");
  json_builder_add_int_value (builder, self->config->turn_ttl);
  json_builder_set_member_name (builder, "uris");
  json_builder_begin_array (builder);
  for (guint i = 0; self->config->turn_uris != NULL && self->config->turn_uris[i] != NULL; i++)
    json_builder_add_string_value (builder, self->config->turn_uris[i]);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  reply_json (msg, SOUP_STATUS_OK, builder);
}

/* Runs once the 101 response is out: the connection leaves libsoup's HTTP server for an I/O
 * thread (es-server-io.c) and becomes the device's session. */
static void
ws_upgraded_cb (SoupServerMessage *msg,
                EsServer          *self)
{
  EsServerDevice *device = g_object_get_data (G_OBJECT (msg), "es-device");
  g_autoptr(GUri) uri = g_uri_ref (soup_server_message_get_uri (msg));
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(EsServerLink) link = NULL;
  g_autoptr(SoupServerMessage) hold = g_object_ref (msg);
  EsServerSession *session;

  stream = soup_server_message_steal_connection (msg);
  if (stream == NULL || device == NULL)
    return;

  link = es_server_io_adopt (self->io, stream, uri);
  session = es_server_session_new (self, link, device);
  es_rate_limit_init (&session->rate, self->config->rate_burst, g_get_monotonic_time ());

  if (device->session != NULL)
    {
      es_log (G_LOG_LEVEL_INFO, "session-replaced", "Device %s connected again; closing the old connection",
              device->id);
      es_server_session_close (device->session, CLOSE_REPLACED, "replaced by a new connection");
    }
  device->session = session;
  g_hash_table_add (self->sessions, session);
  self->metrics.connections_total++;
  self->metrics.connected_devices = g_hash_table_size (self->sessions);

  es_log (G_LOG_LEVEL_INFO, "session-started", "Device %s of %s connected", device->id, device->user);
}

/* A wrong token gets a 401 and never a WebSocket. The handshake is ours rather than libsoup's
 * WebSocket handler's, so that the connection can be served on an I/O thread afterwards. */
static void
ws_cb (SoupServer        *server,
       SoupServerMessage *msg,
       const char        *path,
       GHashTable        *query,
       gpointer           user_data)
{
  EsServer *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  EsServerDevice *device;
  GSocket *socket;

  if (!check_method (msg, SOUP_METHOD_GET))
    return;

  device = lookup_device_by_token (self, soup_message_headers_get_one (headers, "Authorization"));
  if (device == NULL)
    {
      self->metrics.ws_unauthorized++;
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "WWW-Authenticate", "Bearer");
      reply_json_error (msg, SOUP_STATUS_UNAUTHORIZED, "Missing or wrong bearer token");
      return;
    }
  if (self->shutting_down)
    {
      reply_json_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "Server is shutting down");
      return;
    }

  /* No extensions: permessage-deflate keeps a zlib state per socket (hundreds of KiB), far over
   * the memory we can spend on thousands of mostly idle devices, for frames that are small. On
   * failure this sets the error status itself. */
  if (!soup_websocket_server_process_handshake (msg, NULL, NULL, NULL, NULL))
    return;

  /* Frames are small and latency matters more than packet count: without this, Nagle's
   * algorithm holds small writes back until the peer's delayed ACK (tens of ms). */
  socket = soup_server_message_get_socket (msg);
  if (socket != NULL)
    g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);

  g_object_set_data (G_OBJECT (msg), "es-device", device);
  g_signal_connect_object (msg, "wrote-informational", G_CALLBACK (ws_upgraded_cb), self, 0);
}

/* libsoup before 3.4 keeps one reference to every socket it accepts, for ever: its listener
 * forgot to drop it (fixed upstream by "soup-listener: Plug a leak", b545d5f0, in 3.4.0). That is
 * about 350 bytes per connection, which a server that devices reconnect to for months cannot
 * spend. The reference is dropped here instead, once per connection, when its first request
 * starts: the connection holds its own reference for as long as it needs the socket. */
static void
drop_leaked_socket_ref_cb (SoupServer        *server,
                           SoupServerMessage *msg,
                           gpointer           user_data)
{
  static GQuark dropped_quark;
  GSocket *socket = soup_server_message_get_socket (msg);

  if (G_UNLIKELY (dropped_quark == 0))
    dropped_quark = g_quark_from_static_string ("es-server-leaked-ref-dropped");

  if (socket == NULL || g_object_get_qdata (G_OBJECT (socket), dropped_quark) != NULL)
    return;

  g_object_set_qdata (G_OBJECT (socket), dropped_quark, GINT_TO_POINTER (TRUE));
  g_object_unref (socket);
}

static gboolean
idle_check_cb (gpointer user_data)
{
  EsServer *self = user_data;
  g_autoptr(GPtrArray) idle = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 now = g_get_monotonic_time () / G_USEC_PER_SEC;
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      EsServerSession *session = key;

      if (now - session->last_activity > (gint64) self->config->idle_timeout)
        g_ptr_array_add (idle, g_object_ref (session));
    }

  for (guint i = 0; i < idle->len; i++)
    {
      EsServerSession *session = g_ptr_array_index (idle, i);

      es_log (G_LOG_LEVEL_INFO, "session-idle", "Device %s was silent too long", session->device->id);
      es_server_session_close (session, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "idle timeout");
    }

  return G_SOURCE_CONTINUE;
}

/* Life cycle -------------------------------------------------------------------------------- */

static void
es_server_dispose (GObject *object)
{
  EsServer *self = (EsServer *) object;

  es_server_wait_commit (self);
  if (self->writer != NULL)
    {
      g_mutex_lock (&self->writer_lock);
      self->writer_quit = TRUE;
      g_cond_broadcast (&self->writer_cond);
      g_mutex_unlock (&self->writer_lock);
      g_clear_pointer (&self->writer, g_thread_join);
    }
  if (self->done_source != NULL)
    g_source_destroy (self->done_source);
  g_clear_pointer (&self->done_source, g_source_unref);

  g_clear_handle_id (&self->commit_source_id, g_source_remove);
  g_clear_handle_id (&self->delete_source_id, g_source_remove);
  g_clear_handle_id (&self->idle_source_id, g_source_remove);
  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  g_clear_object (&self->soup);
  g_clear_pointer (&self->batch_out, g_array_unref);
  g_clear_pointer (&self->batch_sessions, g_ptr_array_unref);
  g_clear_pointer (&self->batch_http, g_ptr_array_unref);
  g_clear_pointer (&self->sessions, g_hash_table_unref);
  /* After the sessions: their last words (1001) go out before the threads stop. */
  if (self->io != NULL)
    es_server_io_stop (self->io);
  g_clear_pointer (&self->io, es_server_io_unref);
  g_clear_object (&self->calls);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (es_server_parent_class)->dispose (object);
}

static void
es_server_finalize (GObject *object)
{
  EsServer *self = (EsServer *) object;

  g_clear_pointer (&self->batch_devices, g_ptr_array_unref);
  g_clear_pointer (&self->pending_deletes, g_ptr_array_unref);
  g_clear_pointer (&self->devices, g_hash_table_unref);
  g_clear_pointer (&self->graveyard, g_ptr_array_unref);
  g_clear_pointer (&self->config, es_server_config_free);
  g_clear_pointer (&self->uri, g_free);
  g_mutex_clear (&self->writer_lock);
  g_cond_clear (&self->writer_cond);

  G_OBJECT_CLASS (es_server_parent_class)->finalize (object);
}

static void
es_server_class_init (EsServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = es_server_dispose;
  object_class->finalize = es_server_finalize;
}

static void
es_server_init (EsServer *self)
{
  self->devices = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) es_server_device_free);
  self->graveyard = g_ptr_array_new_with_free_func ((GDestroyNotify) es_server_device_free);
  self->sessions = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  self->batch_out = g_array_new (FALSE, FALSE, sizeof (Outgoing));
  g_array_set_clear_func (self->batch_out, outgoing_clear);
  self->batch_sessions = g_ptr_array_new_with_free_func (g_object_unref);
  self->batch_devices = g_ptr_array_new ();
  self->batch_http = g_ptr_array_new_with_free_func (g_object_unref);
  self->pending_deletes = g_ptr_array_new ();
  g_mutex_init (&self->writer_lock);
  g_cond_init (&self->writer_cond);
}

/**
 * es_server_new:
 * @config: (transfer full): the settings
 * @store: the storage
 */
EsServer *
es_server_new (EsServerConfig  *config,
               EsServerStore   *store,
               GError         **error)
{
  g_autoptr(EsServer) self = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  gint64 queued;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (ES_IS_SERVER_STORE (store), NULL);

  self = g_object_new (ES_TYPE_SERVER, NULL);
  self->config = config;
  self->store = g_object_ref (store);

  self->done_source = g_source_new (&commit_done_funcs, sizeof (CommitDoneSource));
  ((CommitDoneSource *) self->done_source)->server = self;
  g_source_set_name (self->done_source, "es-commit-done");
  g_source_attach (self->done_source, g_main_context_get_thread_default ());
  self->writer = g_thread_new ("es-writer", writer_thread, self);

  if (sodium_init () < 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Could not initialize libsodium");
      return NULL;
    }

  if (config->tls_certificate != NULL)
    {
      certificate = g_tls_certificate_new_from_files (config->tls_certificate, config->tls_key,
                                                      error);
      if (certificate == NULL)
        return NULL;
    }

  queued = es_server_store_count_queued (store, error);
  if (queued < 0)
    return NULL;

  /* Calls that rang while the server was down time out from their stored deadlines. */
  self->calls = es_server_calls_new (store, config->ring_timeout, &calls_sink, self);
  if (!es_server_calls_reschedule (self->calls, error))
    return NULL;
  self->metrics.messages_queued = queued;

  self->io = es_server_io_new (config->io_threads, ES_PROTOCOL_MAX_FRAME_SIZE, error);
  if (self->io == NULL)
    return NULL;
  self->soup = soup_server_new ("server-header", "earshot-server/" PACKAGE_VERSION,
                                "tls-certificate", certificate,
                                NULL);

  if (soup_get_major_version () == 3 && soup_get_minor_version () < 4)
    g_signal_connect (self->soup, "request-started", G_CALLBACK (drop_leaked_socket_ref_cb), NULL);

  soup_server_add_early_handler (self->soup, "/v1", early_cb, self, NULL);
  soup_server_add_handler (self->soup, "/healthz", healthz_cb, self, NULL);
  soup_server_add_handler (self->soup, "/metrics", metrics_cb, self, NULL);
  soup_server_add_handler (self->soup, "/v1/register", account_cb, self, NULL);
  soup_server_add_handler (self->soup, "/v1/login", account_cb, self, NULL);
  soup_server_add_handler (self->soup, "/v1/turn", turn_cb, self, NULL);
  soup_server_add_handler (self->soup, "/v1/ws", ws_cb, self, NULL);

  if (config->idle_timeout > 0)
    self->idle_source_id = g_timeout_add_seconds (MIN (IDLE_CHECK_SECONDS, config->idle_timeout),
                                                  idle_check_cb, self);

  return g_steal_pointer (&self);
}

static GInetAddress *
resolve_host (const char  *host,
              GError     **error)
{
  g_autoptr(GResolver) resolver = NULL;
  GInetAddress *address;
  GList *addresses;

  address = g_inet_address_new_from_string (host);
  if (address != NULL)
    return address;

  resolver = g_resolver_get_default ();
  addresses = g_resolver_lookup_by_name (resolver, host, NULL, error);
  if (addresses == NULL)
    return NULL;
  address = g_object_ref (addresses->data);
  g_resolver_free_addresses (addresses);
  return address;
}

/* Listens on the configured address. Our own socket, because GSocketListener's backlog of 10
 * drops connections when thousands of devices reconnect at once. */
gboolean
es_server_listen (EsServer  *self,
                  GError   **error)
{
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GSocketAddress) socket_address = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autofree char *host = NULL;
  SoupServerListenOptions options = 0;

  g_return_val_if_fail (ES_IS_SERVER (self), FALSE);

  address = resolve_host (self->config->listen_host, error);
  if (address == NULL)
    return FALSE;
  socket_address = g_inet_socket_address_new (address, self->config->listen_port);

  socket = g_socket_new (g_inet_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return FALSE;
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!g_socket_bind (socket, socket_address, TRUE, error) || !g_socket_listen (socket, error))
    return FALSE;

  if (self->config->tls_certificate != NULL)
    options |= SOUP_SERVER_LISTEN_HTTPS;
  if (!soup_server_listen_socket (self->soup, socket, options, error))
    return FALSE;

  bound = g_socket_get_local_address (socket, error);
  if (bound == NULL)
    return FALSE;

  host = g_inet_address_to_string (address);
  g_free (self->uri);
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    self->uri = g_strdup_printf ("%s://[%s]:%u", options & SOUP_SERVER_LISTEN_HTTPS ? "https" : "http",
                                 host, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  else
    self->uri = g_strdup_printf ("%s://%s:%u", options & SOUP_SERVER_LISTEN_HTTPS ? "https" : "http",
                                 host, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  es_log (G_LOG_LEVEL_MESSAGE, "listening", "Listening on %s", self->uri);
  return TRUE;
}

char *
es_server_dup_uri (EsServer *self)
{
  g_return_val_if_fail (ES_IS_SERVER (self), NULL);

  return g_strdup (self->uri);
}

guint
es_server_get_n_sessions (EsServer *self)
{
  g_return_val_if_fail (ES_IS_SERVER (self), 0);

  return g_hash_table_size (self->sessions);
}

const EsServerMetrics *
es_server_get_metrics (EsServer *self)
{
  g_return_val_if_fail (ES_IS_SERVER (self), NULL);

  return &self->metrics;
}

/* Commits what is pending and says goodbye to every device. The caller then iterates the main
 * context a little so the close frames get out. */
void
es_server_shutdown (EsServer *self)
{
  g_autoptr(GPtrArray) sessions = NULL;
  GHashTableIter iter;
  gpointer key;

  g_return_if_fail (ES_IS_SERVER (self));

  self->shutting_down = TRUE;
  es_server_flush (self);

  sessions = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (sessions, g_object_ref (key));
  for (guint i = 0; i < sessions->len; i++)
    es_server_session_close (g_ptr_array_index (sessions, i), SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                             "server shutting down");
}
