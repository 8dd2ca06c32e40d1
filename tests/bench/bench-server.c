/* bench-server.c: load client that measures earshot-server with thousands of devices
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One process, one GMainLoop. It registers N/2 users with two devices each, connects all N
 * devices over WebSocket as PROTOCOL.md describes, measures the server's RSS per idle
 * connection, then has S devices send `data` frames to their sibling device at a total rate R
 * and measures what the server relays: messages per second delivered, latency from send to
 * receive, and latency from send to the server's ack (its durable write). Run it through
 * run-server-bench.sh, which starts a fresh server.
 *
 * Sender and receiver share one monotonic clock, so latencies need no clock sync; they do include
 * the time this process takes to notice a frame, which is small unless it is short of CPU (the
 * client CPU figure printed with every pass tells).
 */

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libsoup/soup.h>

#include "es-protocol.h"
#include "bench-ws.h"

/* Targets the server is measured against. */
#define TARGET_RATE         5000.0 /* durable messages relayed per second */
#define TARGET_P99_MS       20.0
#define TARGET_IDLE_KIB     20.0   /* server RSS per idle connection */

#define IDLE_SETTLE_SECONDS 3
#define DRAIN_TIMEOUT_US    (5 * G_USEC_PER_SEC)
#define CONNECT_RETRIES     3
#define RAMP_FACTOR         1.5
/* The server's default --rate-limit, frames per second per connection. */
#define SERVER_DEFAULT_RATE_LIMIT 500

typedef struct _Bench Bench;

typedef struct
{
  gint64 seq;
  gint64 sent_us;
  guint  pass;
} SentRecord;

typedef struct
{
  Bench                   *bench;
  guint                    index;
  char                    *device_id;
  char                    *token;
  BenchWs                 *ws;

  /* Client→server direction. */
  gint64                   next_seq;
  gint64                   server_ack;     /* highest of our seqs the server has persisted */
  GArray                  *unacked;        /* SentRecord, oldest first from unacked_head */
  guint                    unacked_head;

  /* Server→client direction. */
  gint64                   last_recv_seq;
  gint64                   last_sent_ack;

  guint                    connect_attempts;
  guint                    welcomed : 1;
  guint                    ack_queued : 1;
} BenchDevice;

typedef struct
{
  double  rate;              /* offered, messages per second */
  gint64  start_us;
  gint64  end_us;
  gint64  drained_us;
  guint64 sent;
  guint64 delivered;         /* frames of this pass received, whenever */
  guint64 delivered_window;  /* frames of any pass received while this pass was sending */
  guint64 acked;
  GArray *relay_us;          /* gint64: send → sibling receives */
  GArray *ack_us;            /* gint64: send → server acks */
  gint64  server_cpu_start;  /* clock ticks */
  gint64  server_cpu_end;
  gint64  client_cpu_start;  /* µs */
  gint64  client_cpu_end;
  guint64 errors_start;
  guint64 errors_end;
  GHashTable *metrics_start;  /* the server's /metrics, name → value; NULL if unavailable */
  GHashTable *metrics_end;
} BenchPass;

typedef enum
{
  PHASE_REGISTER,
  PHASE_CONNECT,
  PHASE_IDLE,
  PHASE_SEND,
  PHASE_DRAIN,
  PHASE_DONE,
} BenchPhase;

struct _Bench
{
  /* Options */
  char        *server_url;
  guint        n_devices;
  guint        n_senders;
  double       rate;
  double       seconds;
  guint        concurrency;
  guint        payload;
  int          server_pid;
  gboolean     ramp;
  double       max_rate;

  /* Owned */
  GMainLoop   *loop;
  SoupSession *session;
  BenchWsPool *ws_pool;
  GPtrArray   *failed_ws;   /* BenchWs whose handshake failed, freed at the end */
  SoupSession *metrics_session;
  BenchDevice *devices;
  GPtrArray   *passes;      /* BenchPass */
  GPtrArray   *ack_queue;   /* BenchDevice, borrowed: devices owing an ack frame */
  char        *run_tag;
  char        *padding;
  GHashTable  *error_codes; /* code → count, from error frames */
  GHashTable  *close_codes; /* close code → count, for sockets closed under us */
  char        *failure;

  BenchPhase   phase;
  gint64       phase_start_us;
  guint        next_user;
  guint        users_done;
  guint        next_connect;
  guint        connects_in_flight;
  guint        n_welcomed;
  guint        connect_retries;
  guint        next_sender;
  guint64      bad_frames;
  guint64      seq_gaps;
  guint64      duplicates;
  guint64      n_closed;

  double       register_seconds;
  double       connect_seconds;
  gint64       rss_before_kib;
  gint64       rss_idle_kib;
  gint64       rss_end_kib;

  guint        pace_source;
  guint        ack_source;
  guint        timer_source;
};

static void bench_next_phase (Bench *bench);

static void
bench_fail (Bench      *bench,
            const char *format,
            ...) G_GNUC_PRINTF (2, 3);

static void
bench_fail (Bench      *bench,
            const char *format,
            ...)
{
  va_list args;

  if (bench->failure != NULL)
    return;

  va_start (args, format);
  bench->failure = g_strdup_vprintf (format, args);
  va_end (args);

  g_printerr ("bench-server: %s\n", bench->failure);
  g_main_loop_quit (bench->loop);
}

static double
seconds_since (gint64 start_us)
{
  return (g_get_monotonic_time () - start_us) / (double) G_USEC_PER_SEC;
}

/* -1 when the process cannot be read: the benchmark then reports no memory figures rather than
 * failing, so it can run against a server on another machine. */
static gint64
read_rss_kib (int pid)
{
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  const char *line;

  if (pid <= 0)
    return -1;

  path = g_strdup_printf ("/proc/%d/status", pid);
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return -1;

  line = strstr (contents, "\nVmRSS:");
  if (line == NULL)
    return -1;

  return g_ascii_strtoll (line + strlen ("\nVmRSS:"), NULL, 10);
}

/* utime + stime of all the server's threads, in clock ticks. */
static gint64
read_cpu_ticks (int pid)
{
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after_comm;

  if (pid <= 0)
    return -1;

  path = g_strdup_printf ("/proc/%d/stat", pid);
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return -1;

  /* The command name may hold spaces, so count fields from its closing parenthesis: state is
   * field 3 of stat(5), utime 14 and stime 15. */
  after_comm = strrchr (contents, ')');
  if (after_comm == NULL)
    return -1;

  fields = g_strsplit (after_comm + 2, " ", 16);
  if (g_strv_length (fields) < 14)
    return -1;

  return g_ascii_strtoll (fields[11], NULL, 10) + g_ascii_strtoll (fields[12], NULL, 10);
}

static gint64
read_own_cpu_us (void)
{
  struct rusage usage;

  if (getrusage (RUSAGE_SELF, &usage) != 0)
    return 0;

  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * G_USEC_PER_SEC +
         usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

/* Every device is a socket here, and the default soft limit of 1024 would stop us at a fifth of
 * the devices. Root may raise the hard limit too. */
static gboolean
raise_fd_limit (rlim_t   needed,
                GError **error)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "getrlimit: %s", g_strerror (errno));
      return FALSE;
    }

  if (limit.rlim_max < needed)
    {
      struct rlimit wanted = { needed, needed };

      if (setrlimit (RLIMIT_NOFILE, &wanted) == 0)
        return TRUE;
    }

  limit.rlim_cur = limit.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < needed)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "need %lu open files but the limit is %lu; raise it with ulimit -n",
                   (gulong) needed, (gulong) limit.rlim_cur);
      return FALSE;
    }

  return TRUE;
}

/* The server's own counters (Prometheus text) tell where its time goes: how many group commits
 * it made and how long they took. Fetched synchronously, between passes only. */
static GHashTable *
fetch_metrics (Bench *bench)
{
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  GHashTable *metrics;

  url = g_strconcat (bench->server_url, "/metrics", NULL);
  message = soup_message_new (SOUP_METHOD_GET, url);
  bytes = soup_session_send_and_read (bench->metrics_session, message, NULL, &error);
  if (bytes == NULL || soup_message_get_status (message) != SOUP_STATUS_OK)
    {
      g_debug ("No metrics from the server: %s", error != NULL ? error->message : "HTTP error");
      return NULL;
    }

  metrics = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *space = strrchr (lines[i], ' ');
      double value;

      if (lines[i][0] == '#' || space == NULL)
        continue;

      value = g_ascii_strtod (space + 1, NULL);
      g_hash_table_insert (metrics, g_strndup (lines[i], space - lines[i]),
                           g_memdup2 (&value, sizeof value));
    }

  return metrics;
}

/* The value of @name after @pass; NAN when the server did not give it. */
static double
pass_metric_end (BenchPass  *pass,
                 const char *name)
{
  const double *value = NULL;

  if (pass->metrics_end != NULL)
    value = g_hash_table_lookup (pass->metrics_end, name);

  return value != NULL ? *value : NAN;
}

/* How much @name grew during @pass; NAN when the server gave no metrics. */
static double
pass_metric_delta (BenchPass  *pass,
                   const char *name)
{
  const double *start;
  const double *end;

  if (pass->metrics_start == NULL || pass->metrics_end == NULL)
    return NAN;

  start = g_hash_table_lookup (pass->metrics_start, name);
  end = g_hash_table_lookup (pass->metrics_end, name);
  if (start == NULL || end == NULL)
    return NAN;

  return *end - *start;
}

static BenchPass *
bench_pass_new (double rate)
{
  BenchPass *pass = g_new0 (BenchPass, 1);

  pass->rate = rate;
  pass->relay_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  pass->ack_us = g_array_new (FALSE, FALSE, sizeof (gint64));

  return pass;
}

static void
bench_pass_free (BenchPass *pass)
{
  g_array_unref (pass->relay_us);
  g_array_unref (pass->ack_us);
  g_clear_pointer (&pass->metrics_start, g_hash_table_unref);
  g_clear_pointer (&pass->metrics_end, g_hash_table_unref);
  g_free (pass);
}

/* Only called once the first pass has started. */
static BenchPass *
bench_current_pass (Bench *bench)
{
  g_assert (bench->passes->len > 0);

  return g_ptr_array_index (bench->passes, bench->passes->len - 1);
}

static void
count_code (GHashTable *table,
            const char *code)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (table, code));

  g_hash_table_insert (table, g_strdup (code), GUINT_TO_POINTER (count + 1));
}

static guint64
bench_count_errors (Bench *bench)
{
  return bench->bad_frames + bench->seq_gaps + bench->n_closed;
}

/* Sending */

static void
device_send_frame (BenchDevice *device,
                   EsFrame     *frame)
{
  g_autofree char *text = NULL;

  /* Every frame carries our cumulative ack, so a data frame acks too and saves an ack frame. */
  frame->ack = device->last_recv_seq;
  device->last_sent_ack = device->last_recv_seq;

  text = es_frame_serialize (frame, NULL);
  bench_ws_send_text (device->ws, text, strlen (text));
}

static gboolean
device_is_open (BenchDevice *device)
{
  return bench_ws_is_open (device->ws);
}

static void
device_send_data (BenchDevice *device,
                  BenchDevice *sibling,
                  guint        pass_index)
{
  Bench *bench = device->bench;
  BenchPass *pass = g_ptr_array_index (bench->passes, pass_index);
  g_autoptr(EsFrame) frame = es_frame_new (ES_MESSAGE_DATA);
  SentRecord record;

  record.seq = device->next_seq++;
  record.sent_us = g_get_monotonic_time ();
  record.pass = pass_index;
  g_array_append_val (device->unacked, record);

  frame->seq = record.seq;
  frame->to_device = g_strdup (sibling->device_id);
  json_object_set_int_member (frame->body, "t", record.sent_us);
  json_object_set_int_member (frame->body, "p", pass_index);
  json_object_set_string_member (frame->body, "pad", bench->padding);

  device_send_frame (device, frame);
  pass->sent++;
}

static gboolean
flush_acks_cb (gpointer user_data)
{
  Bench *bench = user_data;

  for (guint i = 0; i < bench->ack_queue->len; i++)
    {
      BenchDevice *device = g_ptr_array_index (bench->ack_queue, i);

      device->ack_queued = FALSE;
      if (device_is_open (device) && device->last_recv_seq > device->last_sent_ack)
        {
          g_autoptr(EsFrame) frame = es_frame_new (ES_MESSAGE_ACK);

          device_send_frame (device, frame);
        }
    }

  g_ptr_array_set_size (bench->ack_queue, 0);
  bench->ack_source = 0;

  return G_SOURCE_REMOVE;
}

/* A device acks what it received once per main-loop turn rather than once per frame, as the
 * real client does (PROTOCOL.md, Session 4). The idle source has default priority so that a busy
 * stream of I/O cannot starve it. */
static void
device_queue_ack (BenchDevice *device)
{
  Bench *bench = device->bench;

  if (device->ack_queued)
    return;

  device->ack_queued = TRUE;
  g_ptr_array_add (bench->ack_queue, device);

  if (bench->ack_source == 0)
    bench->ack_source = g_idle_add_full (G_PRIORITY_DEFAULT, flush_acks_cb, bench, NULL);
}

/* Receiving */

static void
device_handle_server_ack (BenchDevice *device,
                          gint64       ack)
{
  Bench *bench = device->bench;
  gint64 now = g_get_monotonic_time ();

  if (ack <= device->server_ack)
    return;

  if (ack >= device->next_seq)
    {
      bench->bad_frames++;
      g_warning ("Server acked seq %" G_GINT64_FORMAT " of device %s, which only sent up to %"
                 G_GINT64_FORMAT, ack, device->device_id, device->next_seq - 1);
      return;
    }

  device->server_ack = ack;

  while (device->unacked_head < device->unacked->len)
    {
      SentRecord *record = &g_array_index (device->unacked, SentRecord, device->unacked_head);
      BenchPass *pass;
      gint64 latency;

      if (record->seq > ack)
        break;

      pass = g_ptr_array_index (bench->passes, record->pass);
      latency = now - record->sent_us;
      g_array_append_val (pass->ack_us, latency);
      pass->acked++;
      device->unacked_head++;
    }

  /* Compact now and then rather than moving the array on every ack. */
  if (device->unacked_head > 64 && device->unacked_head * 2 > device->unacked->len)
    {
      g_array_remove_range (device->unacked, 0, device->unacked_head);
      device->unacked_head = 0;
    }
}

static void
device_handle_data (BenchDevice *device,
                    EsFrame     *frame)
{
  Bench *bench = device->bench;
  gint64 now = g_get_monotonic_time ();
  gint64 sent_us;
  gint64 pass_index;
  gint64 latency;
  BenchPass *pass;

  sent_us = json_object_get_int_member_with_default (frame->body, "t", -1);
  pass_index = json_object_get_int_member_with_default (frame->body, "p", -1);
  if (sent_us < 0 || sent_us > now || pass_index < 0 || pass_index >= (gint64) bench->passes->len)
    {
      bench->bad_frames++;
      return;
    }

  pass = g_ptr_array_index (bench->passes, pass_index);
  latency = now - sent_us;
  g_array_append_val (pass->relay_us, latency);
  pass->delivered++;

  if (bench->phase == PHASE_SEND)
    bench_current_pass (bench)->delivered_window++;
}

static void
device_handle_frame (BenchDevice *device,
                     EsFrame     *frame)
{
  Bench *bench = device->bench;

  device_handle_server_ack (device, frame->ack);

  if (es_message_type_is_durable (frame->type))
    {
      if (frame->seq <= device->last_recv_seq)
        {
          bench->duplicates++;
          return;
        }
      if (frame->seq != device->last_recv_seq + 1)
        {
          /* A real client would close and resume; for a benchmark it is a finding to report. */
          bench->seq_gaps++;
          g_warning ("Device %s: seq gap, expected %" G_GINT64_FORMAT " got %" G_GINT64_FORMAT,
                     device->device_id, device->last_recv_seq + 1, frame->seq);
        }
      device->last_recv_seq = frame->seq;
      device_queue_ack (device);

      if (frame->type == ES_MESSAGE_DATA)
        device_handle_data (device, frame);
      return;
    }

  switch (frame->type)
    {
    case ES_MESSAGE_WELCOME:
      if (!device->welcomed)
        {
          gint64 resume_ack = json_object_get_int_member_with_default (frame->body, "resume_ack", 0);

          device->welcomed = TRUE;
          device->server_ack = MAX (device->server_ack, resume_ack);
          device->next_seq = MAX (device->next_seq, resume_ack + 1);
          bench->n_welcomed++;
          bench_next_phase (bench);
        }
      break;

    case ES_MESSAGE_ERROR:
      count_code (bench->error_codes,
                  json_object_get_string_member_with_default (frame->body, "code", "(none)"));
      g_debug ("Device %s: error %s: %s", device->device_id,
               json_object_get_string_member_with_default (frame->body, "code", ""),
               json_object_get_string_member_with_default (frame->body, "message", ""));
      break;

    case ES_MESSAGE_ACK:
    case ES_MESSAGE_PONG:
      break;

    case ES_MESSAGE_HELLO:
    case ES_MESSAGE_PING:
    default:
      bench->bad_frames++;
      break;
    }
}

static void
ws_message_cb (BenchWs    *ws,
               const char *data,
               gsize       length,
               gpointer    user_data)
{
  BenchDevice *device = user_data;
  g_autoptr(EsFrame) frame = NULL;
  g_autoptr(GError) error = NULL;

  frame = es_frame_parse (data, length, &error);
  if (frame == NULL)
    {
      device->bench->bad_frames++;
      g_debug ("Device %s: unparsable frame from the server: %s",
               device->device_id, error->message);
      return;
    }

  device_handle_frame (device, frame);
}

static void
ws_closed_cb (BenchWs  *ws,
              gushort   close_code,
              gpointer  user_data)
{
  BenchDevice *device = user_data;
  Bench *bench = device->bench;
  g_autofree char *code = NULL;

  if (bench->phase == PHASE_DONE)
    return;

  code = g_strdup_printf ("%u", close_code);
  count_code (bench->close_codes, code);
  bench->n_closed++;

  if (!device->welcomed)
    bench_fail (bench, "device %s closed before welcome (code %s)", device->device_id, code);
}

/* Phase: register */

static void register_next_user (Bench *bench);

typedef struct
{
  Bench       *bench;
  BenchDevice *device;
  gboolean     is_login;
} HttpRequest;

static gboolean
parse_account_reply (BenchDevice  *device,
                     GBytes       *bytes,
                     GError      **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize length;
  const char *data = g_bytes_get_data (bytes, &length);
  JsonNode *root;
  JsonObject *object;
  const char *device_id;
  const char *token;

  if (!json_parser_load_from_data (parser, data, length, error))
    return FALSE;

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_MALFORMED, "reply is not an object");
      return FALSE;
    }

  object = json_node_get_object (root);
  device_id = json_object_get_string_member_with_default (object, "device_id", NULL);
  token = json_object_get_string_member_with_default (object, "token", NULL);
  if (!es_protocol_is_valid_id (device_id) || token == NULL || *token == '\0')
    {
      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                   "reply lacks a valid device_id or token");
      return FALSE;
    }

  device->device_id = g_strdup (device_id);
  device->token = g_strdup (token);

  return TRUE;
}

static void send_account_request (Bench       *bench,
                                  BenchDevice *device,
                                  gboolean     is_login);

static void
account_request_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autofree HttpRequest *request = user_data;
  Bench *bench = request->bench;
  SoupMessage *message = soup_session_get_async_result_message (bench->session, result);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  const char *what = request->is_login ? "login" : "register";

  bytes = soup_session_send_and_read_finish (bench->session, result, &error);
  if (bytes == NULL)
    {
      bench_fail (bench, "%s failed: %s", what, error->message);
      return;
    }

  if (soup_message_get_status (message) != SOUP_STATUS_OK)
    {
      bench_fail (bench, "%s answered HTTP %u: %.*s", what, soup_message_get_status (message),
                  (int) MIN (g_bytes_get_size (bytes), 200),
                  (const char *) g_bytes_get_data (bytes, NULL));
      return;
    }

  if (!parse_account_reply (request->device, bytes, &error))
    {
      bench_fail (bench, "%s: %s", what, error->message);
      return;
    }

  if (!request->is_login)
    {
      /* The user's second device logs in without a device_id, which adds a device. */
      send_account_request (bench, request->device + 1, TRUE);
      return;
    }

  bench->users_done++;
  if (bench->users_done == bench->n_devices / 2)
    bench_next_phase (bench);
  else
    register_next_user (bench);
}

static void
send_account_request (Bench       *bench,
                      BenchDevice *device,
                      gboolean     is_login)
{
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *url = NULL;
  g_autofree char *user = NULL;
  HttpRequest *request;
  char *text;
  gsize length;

  url = g_strconcat (bench->server_url, is_login ? "/v1/login" : "/v1/register", NULL);
  user = g_strdup_printf ("bench-%s-%u", bench->run_tag, device->index / 2);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "user");
  json_builder_add_string_value (builder, user);
  json_builder_set_member_name (builder, "password");
  json_builder_add_string_value (builder, "bench-password");
  json_builder_set_member_name (builder, "device_name");
  json_builder_add_string_value (builder, is_login ? "bench second" : "bench first");
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, &length);
  body = g_bytes_new_take (text, length);

  message = soup_message_new (SOUP_METHOD_POST, url);
  if (message == NULL)
    {
      bench_fail (bench, "not a valid server URL: %s", bench->server_url);
      return;
    }
  soup_message_set_request_body_from_bytes (message, "application/json", body);

  request = g_new0 (HttpRequest, 1);
  request->bench = bench;
  request->device = device;
  request->is_login = is_login;
  soup_session_send_and_read_async (bench->session, message, G_PRIORITY_DEFAULT, NULL,
                                    account_request_cb, request);
}

static void
register_next_user (Bench *bench)
{
  if (bench->next_user >= bench->n_devices / 2 || bench->failure != NULL)
    return;

  send_account_request (bench, &bench->devices[2 * bench->next_user++], FALSE);
}

/* Phase: connect */

static void connect_next_device (Bench *bench);
static void connect_device (BenchDevice *device);

static void
ws_opened_cb (BenchWs      *ws,
              const GError *error,
              gpointer      user_data)
{
  BenchDevice *device = user_data;
  Bench *bench = device->bench;
  g_autoptr(EsFrame) hello = NULL;

  bench->connects_in_flight--;
  if (error != NULL)
    {
      /* Freed at the end: we are inside its own code here. */
      g_ptr_array_add (bench->failed_ws, g_steal_pointer (&device->ws));
      /* A full listen backlog shows up as a failed connect; retrying shows how often. */
      if (device->connect_attempts < CONNECT_RETRIES)
        {
          bench->connect_retries++;
          g_debug ("Device %s: connect failed (%s), retrying", device->device_id, error->message);
          connect_device (device);
          return;
        }
      bench_fail (bench, "device %s could not connect: %s", device->device_id, error->message);
      return;
    }

  hello = es_frame_new (ES_MESSAGE_HELLO);
  json_object_set_string_member (hello->body, "device_id", device->device_id);
  json_object_set_int_member (hello->body, "resume_ack", device->last_recv_seq);
  device_send_frame (device, hello);

  connect_next_device (bench);
}

static SoupSession *
bench_new_session (Bench *bench)
{
  /* For registering only: the WebSockets are bench-ws.c's. */
  return soup_session_new_with_options ("max-conns", bench->concurrency * 2,
                                        "max-conns-per-host", bench->concurrency * 2,
                                        "timeout", 60,
                                        NULL);
}

static void
connect_device (BenchDevice *device)
{
  static const BenchWsCallbacks callbacks = {
    .opened = ws_opened_cb,
    .message = ws_message_cb,
    .closed = ws_closed_cb,
  };
  Bench *bench = device->bench;
  g_autoptr(GError) error = NULL;

  device->connect_attempts++;
  bench->connects_in_flight++;
  device->ws = bench_ws_connect (bench->ws_pool, bench->server_url, "/v1/ws", device->token,
                                 &callbacks, device, &error);
  if (device->ws == NULL)
    bench_fail (bench, "device %s could not connect: %s", device->device_id, error->message);
}

static void
connect_next_device (Bench *bench)
{
  if (bench->failure != NULL)
    return;

  while (bench->next_connect < bench->n_devices && bench->connects_in_flight < bench->concurrency)
    connect_device (&bench->devices[bench->next_connect++]);
}

/* Phase: send */

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

static void
pass_percentiles (GArray *values,
                  double *p50,
                  double *p90,
                  double *p99,
                  double *max)
{
  static const double fractions[] = { 0.50, 0.90, 0.99 };
  double *outputs[] = { p50, p90, p99 };

  if (values->len == 0)
    {
      *p50 = *p90 = *p99 = *max = NAN;
      return;
    }

  g_array_sort (values, compare_gint64);

  /* Nearest rank. */
  for (guint i = 0; i < G_N_ELEMENTS (fractions); i++)
    {
      guint rank = (guint) ceil (fractions[i] * values->len);

      *outputs[i] = g_array_index (values, gint64, MAX (rank, 1) - 1) / 1000.0;
    }
  *max = g_array_index (values, gint64, values->len - 1) / 1000.0;
}

typedef struct
{
  double seconds;
  double offered;
  double delivered_rate;
  double relay[4];  /* p50, p90, p99, max in ms */
  double ack[4];
  double server_cpu;
  double client_cpu;
  guint64 undelivered;
  guint64 unacked;
  double commits;
  double frames_per_commit;
  double commit_mean_ms;
  double commit_share;   /* percent of the pass spent in COMMIT */
  gboolean ok;
} PassSummary;

static void
pass_summarize (Bench       *bench,
                BenchPass   *pass,
                PassSummary *summary)
{
  double ticks_per_second = sysconf (_SC_CLK_TCK);

  summary->seconds = (pass->end_us - pass->start_us) / (double) G_USEC_PER_SEC;
  summary->offered = pass->sent / summary->seconds;
  summary->delivered_rate = pass->delivered_window / summary->seconds;
  pass_percentiles (pass->relay_us, &summary->relay[0], &summary->relay[1], &summary->relay[2],
                    &summary->relay[3]);
  pass_percentiles (pass->ack_us, &summary->ack[0], &summary->ack[1], &summary->ack[2],
                    &summary->ack[3]);
  summary->server_cpu = pass->server_cpu_start < 0 || pass->server_cpu_end < 0
                            ? NAN
                            : 100.0 * (pass->server_cpu_end - pass->server_cpu_start) /
                                  ticks_per_second / summary->seconds;
  summary->client_cpu = 100.0 * (pass->client_cpu_end - pass->client_cpu_start) /
                        G_USEC_PER_SEC / summary->seconds;
  summary->undelivered = pass->sent - pass->delivered;
  summary->unacked = pass->sent - pass->acked;

  /* Sustained means: the server relayed (nearly) all it was offered while it was offered, lost
   * nothing, nothing went wrong on the sockets, and p99 stayed under target. A few frames sent
   * in the last milliseconds of the window arrive after it, hence the 3% slack. */
  summary->commits = pass_metric_delta (pass, "earshot_commit_batches_total");
  summary->frames_per_commit = pass_metric_delta (pass, "earshot_commit_frames_total") /
                               summary->commits;
  summary->commit_mean_ms = 1000 * pass_metric_delta (pass, "earshot_commit_latency_seconds_sum") /
                            summary->commits;
  summary->commit_share = 100 * pass_metric_delta (pass, "earshot_commit_latency_seconds_sum") /
                          ((pass->drained_us - pass->start_us) / (double) G_USEC_PER_SEC);

  summary->ok = summary->delivered_rate >= 0.97 * pass->rate &&
                summary->undelivered == 0 && summary->unacked == 0 &&
                pass->errors_end == pass->errors_start &&
                summary->relay[2] < TARGET_P99_MS;
}

static void
print_pass (Bench     *bench,
            guint      index,
            BenchPass *pass)
{
  PassSummary s;

  pass_summarize (bench, pass, &s);
  g_print ("pass %u: offered %.0f msgs/s for %.1f s: sent %" G_GUINT64_FORMAT
           ", relayed %.0f msgs/s in the window, %" G_GUINT64_FORMAT " undelivered, %"
           G_GUINT64_FORMAT " unacked after drain%s\n",
           index, s.offered, s.seconds, pass->sent, s.delivered_rate, s.undelivered, s.unacked,
           pass->errors_end != pass->errors_start ? ", SOCKET ERRORS" : "");
  g_print ("  relay latency  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms\n",
           s.relay[0], s.relay[1], s.relay[2], s.relay[3]);
  g_print ("  ack latency    p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms\n",
           s.ack[0], s.ack[1], s.ack[2], s.ack[3]);
  if (!isnan (s.commits))
    g_print ("  server: %.0f group commits, %.1f frames each, %.2f ms per COMMIT on average, "
             "%.0f%% of the time in COMMIT; longest COMMIT since start %.1f ms\n",
             s.commits, s.frames_per_commit, s.commit_mean_ms, s.commit_share,
             1000 * pass_metric_end (pass, "earshot_commit_latency_max_seconds"));
  if (isnan (s.server_cpu))
    g_print ("  CPU: this client %.0f%% (of one core); %s\n",
             s.client_cpu, s.ok ? "sustained" : "NOT sustained");
  else
    g_print ("  CPU: server %.0f%%, this client %.0f%% (of one core); %s\n",
             s.server_cpu, s.client_cpu, s.ok ? "sustained" : "NOT sustained");
}

static gboolean
pace_cb (gpointer user_data)
{
  Bench *bench = user_data;
  BenchPass *pass = bench_current_pass (bench);
  guint pass_index = bench->passes->len - 1;
  gint64 now = g_get_monotonic_time ();
  gint64 deadline = pass->start_us + (gint64) (bench->seconds * G_USEC_PER_SEC);
  guint64 due;

  due = (guint64) ((MIN (now, deadline) - pass->start_us) * pass->rate / G_USEC_PER_SEC);

  /* Round-robin over the senders: each sends rate / senders per second, evenly spread. */
  while (pass->sent < due)
    {
      guint user = bench->next_sender++ % bench->n_senders;
      BenchDevice *sender = &bench->devices[2 * user];

      if (!device_is_open (sender))
        {
          pass->sent++; /* counted as undelivered: the socket was closed on us */
          continue;
        }
      device_send_data (sender, sender + 1, pass_index);
    }

  if (now < deadline)
    return G_SOURCE_CONTINUE;

  pass->end_us = now;
  pass->server_cpu_end = read_cpu_ticks (bench->server_pid);
  pass->client_cpu_end = read_own_cpu_us ();
  bench->pace_source = 0;
  bench_next_phase (bench);

  return G_SOURCE_REMOVE;
}

static void
start_pass (Bench  *bench,
            double  rate)
{
  BenchPass *pass = bench_pass_new (rate);

  g_ptr_array_add (bench->passes, pass);
  pass->server_cpu_start = read_cpu_ticks (bench->server_pid);
  pass->client_cpu_start = read_own_cpu_us ();
  pass->errors_start = bench_count_errors (bench);
  pass->metrics_start = fetch_metrics (bench);
  pass->start_us = g_get_monotonic_time ();

  /* A 1 ms tick: the pacer sends whatever is due, so a late tick makes a small burst, not a loss
   * of rate. */
  bench->pace_source = g_timeout_add_full (G_PRIORITY_DEFAULT, 1, pace_cb, bench, NULL);
}

static gboolean
drain_cb (gpointer user_data)
{
  Bench *bench = user_data;
  BenchPass *pass = bench_current_pass (bench);
  gboolean drained = TRUE;

  for (guint i = 0; i < bench->passes->len; i++)
    {
      BenchPass *p = g_ptr_array_index (bench->passes, i);

      if (p->delivered < p->sent || p->acked < p->sent)
        drained = FALSE;
    }

  if (!drained && g_get_monotonic_time () - pass->end_us < DRAIN_TIMEOUT_US)
    return G_SOURCE_CONTINUE;

  pass->errors_end = bench_count_errors (bench);
  pass->drained_us = g_get_monotonic_time ();
  pass->metrics_end = fetch_metrics (bench);
  bench->timer_source = 0;
  bench_next_phase (bench);

  return G_SOURCE_REMOVE;
}

static gboolean
idle_settled_cb (gpointer user_data)
{
  Bench *bench = user_data;

  bench->timer_source = 0;
  bench_next_phase (bench);

  return G_SOURCE_REMOVE;
}

/* Moves on from a phase once it is complete; called whenever something that could complete one
 * happens. */
static void
bench_next_phase (Bench *bench)
{
  if (bench->failure != NULL)
    return;

  switch (bench->phase)
    {
    case PHASE_REGISTER:
      bench->register_seconds = seconds_since (bench->phase_start_us);
      g_print ("registered %u users with %u devices in %.1f s (%.0f devices/s)\n",
               bench->n_devices / 2, bench->n_devices, bench->register_seconds,
               bench->n_devices / bench->register_seconds);

      bench->rss_before_kib = read_rss_kib (bench->server_pid);
      bench->phase = PHASE_CONNECT;
      bench->phase_start_us = g_get_monotonic_time ();
      connect_next_device (bench);
      break;

    case PHASE_CONNECT:
      if (bench->n_welcomed < bench->n_devices)
        return;

      bench->connect_seconds = seconds_since (bench->phase_start_us);
      g_print ("connected %u WebSockets (hello/welcome) in %.1f s (%.0f/s, %u retries)\n",
               bench->n_devices, bench->connect_seconds,
               bench->n_devices / bench->connect_seconds, bench->connect_retries);
      bench->phase = PHASE_IDLE;
      bench->timer_source = g_timeout_add_seconds (IDLE_SETTLE_SECONDS, idle_settled_cb, bench);
      break;

    case PHASE_IDLE:
      bench->rss_idle_kib = read_rss_kib (bench->server_pid);
      if (bench->rss_before_kib >= 0 && bench->rss_idle_kib >= 0)
        {
          double per_connection =
              (bench->rss_idle_kib - bench->rss_before_kib) / (double) bench->n_devices;

          g_print ("server RSS %" G_GINT64_FORMAT " KiB before connecting, %" G_GINT64_FORMAT
                   " KiB with %u idle connections: %.1f KiB per idle connection (target < %.0f)\n",
                   bench->rss_before_kib, bench->rss_idle_kib, bench->n_devices, per_connection,
                   TARGET_IDLE_KIB);
        }
      bench->phase = PHASE_SEND;
      start_pass (bench, bench->rate);
      break;

    case PHASE_SEND:
      bench->phase = PHASE_DRAIN;
      bench->timer_source = g_timeout_add (50, drain_cb, bench);
      break;

    case PHASE_DRAIN:
      {
        BenchPass *pass = bench_current_pass (bench);
        PassSummary summary;
        double next_rate = pass->rate * RAMP_FACTOR;

        print_pass (bench, bench->passes->len, pass);
        pass_summarize (bench, pass, &summary);

        if (bench->ramp && summary.ok && next_rate <= bench->max_rate)
          {
            bench->phase = PHASE_SEND;
            start_pass (bench, next_rate);
            return;
          }

        bench->rss_end_kib = read_rss_kib (bench->server_pid);
        bench->phase = PHASE_DONE;
        g_main_loop_quit (bench->loop);
      }
      break;

    case PHASE_DONE:
    default:
      break;
    }
}

/* Report */

/* Figures go into the JSON line as integers in small units (µs, bytes), so that it does not
 * carry json-glib's 17 significant digits of binary noise. */
static void
add_rounded (JsonBuilder *builder,
             const char  *name,
             double       value)
{
  json_builder_set_member_name (builder, name);
  if (isnan (value))
    json_builder_add_null_value (builder);
  else
    json_builder_add_int_value (builder, (gint64) round (value));
}

static void
add_int (JsonBuilder *builder,
         const char  *name,
         gint64       value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static void
add_counts (JsonBuilder *builder,
            const char  *name,
            GHashTable  *table)
{
  GHashTableIter iter;
  gpointer key, value;

  json_builder_set_member_name (builder, name);
  json_builder_begin_object (builder);
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value))
    add_int (builder, key, GPOINTER_TO_UINT (value));
  json_builder_end_object (builder);
}

static void
print_report (Bench *bench)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  double per_connection = NAN;
  double max_sustained = 0;
  PassSummary first = { 0 };
  gboolean have_pass = bench->passes->len > 0;

  if (bench->rss_before_kib >= 0 && bench->rss_idle_kib >= 0)
    per_connection = (bench->rss_idle_kib - bench->rss_before_kib) / (double) bench->n_devices;

  if (have_pass)
    pass_summarize (bench, g_ptr_array_index (bench->passes, 0), &first);

  json_builder_begin_object (builder);
  add_int (builder, "devices", bench->n_devices);
  add_int (builder, "senders", bench->n_senders);
  add_int (builder, "payload_bytes", bench->payload);
  add_rounded (builder, "register_ms", bench->register_seconds * 1000);
  add_rounded (builder, "connect_ms", bench->connect_seconds * 1000);
  add_int (builder, "connect_retries", bench->connect_retries);
  add_int (builder, "server_rss_before_kib", bench->rss_before_kib);
  add_int (builder, "server_rss_idle_kib", bench->rss_idle_kib);
  add_int (builder, "server_rss_end_kib", bench->rss_end_kib);
  add_rounded (builder, "rss_per_idle_connection_bytes", per_connection * 1024);

  json_builder_set_member_name (builder, "passes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < bench->passes->len; i++)
    {
      BenchPass *pass = g_ptr_array_index (bench->passes, i);
      PassSummary s;

      pass_summarize (bench, pass, &s);
      if (s.ok)
        max_sustained = MAX (max_sustained, s.delivered_rate);

      json_builder_begin_object (builder);
      add_rounded (builder, "offered_rate", s.offered);
      add_rounded (builder, "duration_ms", s.seconds * 1000);
      add_int (builder, "sent", pass->sent);
      add_rounded (builder, "relayed_rate", s.delivered_rate);
      add_int (builder, "undelivered", s.undelivered);
      add_int (builder, "unacked", s.unacked);
      add_rounded (builder, "relay_p50_us", s.relay[0] * 1000);
      add_rounded (builder, "relay_p90_us", s.relay[1] * 1000);
      add_rounded (builder, "relay_p99_us", s.relay[2] * 1000);
      add_rounded (builder, "relay_max_us", s.relay[3] * 1000);
      add_rounded (builder, "ack_p50_us", s.ack[0] * 1000);
      add_rounded (builder, "ack_p90_us", s.ack[1] * 1000);
      add_rounded (builder, "ack_p99_us", s.ack[2] * 1000);
      add_rounded (builder, "ack_max_us", s.ack[3] * 1000);
      add_rounded (builder, "server_cpu_percent", s.server_cpu);
      add_rounded (builder, "client_cpu_percent", s.client_cpu);
      add_rounded (builder, "server_commits", s.commits);
      add_rounded (builder, "server_commit_mean_us", s.commit_mean_ms * 1000);
      add_rounded (builder, "server_commit_percent", s.commit_share);
      json_builder_set_member_name (builder, "sustained");
      json_builder_add_boolean_value (builder, s.ok);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  if (bench->ramp)
    add_rounded (builder, "max_sustained_rate", max_sustained);
  add_int (builder, "bad_frames", bench->bad_frames);
  add_int (builder, "seq_gaps", bench->seq_gaps);
  add_int (builder, "duplicates", bench->duplicates);
  add_counts (builder, "error_codes", bench->error_codes);
  add_counts (builder, "close_codes", bench->close_codes);

  json_builder_set_member_name (builder, "targets_met");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "rate");
  json_builder_add_boolean_value (builder, have_pass && first.delivered_rate >= TARGET_RATE);
  json_builder_set_member_name (builder, "p99");
  json_builder_add_boolean_value (builder, have_pass && first.relay[2] < TARGET_P99_MS);
  json_builder_set_member_name (builder, "idle_memory");
  json_builder_add_boolean_value (builder, per_connection < TARGET_IDLE_KIB);
  json_builder_end_object (builder);
  json_builder_end_object (builder);

  if (have_pass)
    g_print ("targets: relayed %.0f msgs/s (>= %.0f: %s), p99 %.2f ms (< %.0f: %s), "
             "%.1f KiB per idle connection (< %.0f: %s)\n",
             first.delivered_rate, TARGET_RATE, first.delivered_rate >= TARGET_RATE ? "met" : "MISSED",
             first.relay[2], TARGET_P99_MS, first.relay[2] < TARGET_P99_MS ? "met" : "MISSED",
             per_connection, TARGET_IDLE_KIB, per_connection < TARGET_IDLE_KIB ? "met" : "MISSED");
  if (bench->ramp)
    g_print ("highest sustained rate: %.0f msgs/s\n", max_sustained);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
}

int
main (int   argc,
      char *argv[])
{
  Bench bench = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *server_url = NULL;
  int devices = 5000;
  int senders = 200;
  int concurrency = 32;
  int payload = 200;
  int server_pid = 0;
  double rate = 6000;
  double seconds = 10;
  double max_rate = 60000;
  gboolean ramp = FALSE;
  const GOptionEntry entries[] = {
    { "server", 0, 0, G_OPTION_ARG_STRING, &server_url, "Server base URL (required)", "URL" },
    { "server-pid", 0, 0, G_OPTION_ARG_INT, &server_pid, "Server process, for RSS and CPU figures", "PID" },
    { "devices", 0, 0, G_OPTION_ARG_INT, &devices, "Devices to connect, two per user (default 5000)", "N" },
    { "senders", 0, 0, G_OPTION_ARG_INT, &senders, "Devices that send to their sibling (default 200)", "S" },
    { "rate", 0, 0, G_OPTION_ARG_DOUBLE, &rate, "Total messages per second offered (default 6000)", "R" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "Length of each sending pass (default 10)", "T" },
    { "ramp", 0, 0, G_OPTION_ARG_NONE, &ramp, "Raise the rate by half per pass while it is sustained", NULL },
    { "max-rate", 0, 0, G_OPTION_ARG_DOUBLE, &max_rate, "Highest rate the ramp tries (default 60000)", "R" },
    { "concurrency", 0, 0, G_OPTION_ARG_INT, &concurrency, "HTTP requests and connects in flight (default 32)", "N" },
    { "payload", 0, 0, G_OPTION_ARG_INT, &payload, "Padding bytes in each data body (default 200)", "BYTES" },
    { NULL }
  };

  context = g_option_context_new ("- load earshot-server and measure it");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  if (server_url == NULL || devices < 2 || senders < 1 || senders > devices / 2 || rate <= 0 ||
      seconds <= 0 || concurrency < 1 || payload < 0 || payload > 32 * 1024)
    {
      g_printerr ("Need --server, --devices >= 2, 1 <= --senders <= devices/2, --rate > 0, "
                  "--seconds > 0, --concurrency >= 1 and --payload up to 32768\n");
      return 2;
    }

  /* Two sockets per device at most at once (a connect being retried), and some to spare. */
  if (!raise_fd_limit (2 * (rlim_t) devices + 256, &error))
    {
      g_printerr ("bench-server: %s\n", error->message);
      return 1;
    }

  if (!g_str_has_prefix (server_url, "http://") && !g_str_has_prefix (server_url, "https://"))
    {
      g_printerr ("bench-server: --server wants an http:// or https:// URL, not %s\n", server_url);
      return 2;
    }

  while (g_str_has_suffix (server_url, "/"))
    server_url[strlen (server_url) - 1] = '\0';

  bench.server_url = server_url;
  bench.n_devices = devices & ~1;
  bench.n_senders = senders;
  bench.rate = rate;
  bench.seconds = seconds;
  bench.concurrency = concurrency;
  bench.payload = payload;
  bench.server_pid = server_pid;
  bench.ramp = ramp;
  bench.max_rate = max_rate;
  bench.rss_before_kib = bench.rss_idle_kib = bench.rss_end_kib = -1;

  bench.loop = g_main_loop_new (NULL, FALSE);
  bench.session = bench_new_session (&bench);

  bench.metrics_session = soup_session_new ();
  bench.ws_pool = bench_ws_pool_new ();
  bench.failed_ws = g_ptr_array_new_with_free_func ((GDestroyNotify) bench_ws_free);

  bench.devices = g_new0 (BenchDevice, bench.n_devices);
  for (guint i = 0; i < bench.n_devices; i++)
    {
      bench.devices[i].bench = &bench;
      bench.devices[i].index = i;
      bench.devices[i].next_seq = 1;
      bench.devices[i].unacked = g_array_new (FALSE, FALSE, sizeof (SentRecord));
    }
  bench.passes = g_ptr_array_new_with_free_func ((GDestroyNotify) bench_pass_free);
  bench.ack_queue = g_ptr_array_new ();
  bench.run_tag = g_strdup_printf ("%08x", g_random_int ());
  bench.padding = g_strnfill (payload, 'x');
  bench.error_codes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  bench.close_codes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_print ("earshot-server benchmark: %u devices (%u users), %u senders, %.0f msgs/s offered "
           "for %.0f s%s, %u-byte payload\n",
           bench.n_devices, bench.n_devices / 2, bench.n_senders, rate, seconds,
           ramp ? " then ramping" : "", payload);
  if (rate / senders > SERVER_DEFAULT_RATE_LIMIT)
    g_print ("note: %.0f msgs/s per sender; the server's default limit is 500/s per connection\n",
             rate / senders);

  bench.phase = PHASE_REGISTER;
  bench.phase_start_us = g_get_monotonic_time ();
  for (guint i = 0; i < bench.concurrency; i++)
    register_next_user (&bench);

  /* A failure while starting (a bad URL) has quit a loop that was not running yet. */
  if (bench.failure == NULL)
    g_main_loop_run (bench.loop);

  if (bench.failure == NULL)
    print_report (&bench);

  bench.phase = PHASE_DONE;
  g_clear_handle_id (&bench.pace_source, g_source_remove);
  g_clear_handle_id (&bench.ack_source, g_source_remove);
  g_clear_handle_id (&bench.timer_source, g_source_remove);
  for (guint i = 0; i < bench.n_devices; i++)
    {
      BenchDevice *device = &bench.devices[i];

      g_clear_pointer (&device->ws, bench_ws_free);
      g_clear_pointer (&device->unacked, g_array_unref);
      g_free (device->device_id);
      g_free (device->token);
    }
  g_free (bench.devices);
  g_ptr_array_unref (bench.passes);
  g_ptr_array_unref (bench.ack_queue);
  g_hash_table_unref (bench.error_codes);
  g_hash_table_unref (bench.close_codes);
  g_free (bench.run_tag);
  g_free (bench.padding);
  g_object_unref (bench.session);
  g_ptr_array_unref (bench.failed_ws);
  bench_ws_pool_free (bench.ws_pool);
  g_object_unref (bench.metrics_session);
  g_main_loop_unref (bench.loop);

  if (bench.failure != NULL)
    {
      g_free (bench.failure);
      return 1;
    }

  return 0;
}
