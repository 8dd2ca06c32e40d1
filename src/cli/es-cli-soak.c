/* es-cli-soak.c: the torture-test peer
 *
 * Sends `data` frames {"n": k} to one device until this profile has sent N of them over all
 * its lifetimes, and stays until all are acked and M data frames have come in.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib-unix.h>

#include "es-cli.h"
#include "es-signaling-client.h"

/* Unacked frames allowed in the outbox before we stop writing more: keeps memory and the
 * resend after a reconnect small, while the token bucket sets the actual pace. */
#define WINDOW 400
#define REFILL_INTERVAL_MS 20

typedef struct
{
  GMainLoop         *loop;
  EsClientStore     *store;
  EsSignalingClient *client;
  char              *to_device;
  gint64             count;
  gint64             expect;
  gint64             sent;
  gint64             received;
  gint64             outbox;
  guint              refill_source;
  guint              progress_source;
  guint              done : 1;
  int                ret;
} Soak;

static void
print_progress (Soak       *soak,
                const char *event)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, event);
  json_builder_set_member_name (builder, "sent");
  json_builder_add_int_value (builder, soak->sent);
  if (g_str_equal (event, "progress"))
    {
      json_builder_set_member_name (builder, "acked_all");
      json_builder_add_boolean_value (builder, soak->outbox == 0);
    }
  json_builder_set_member_name (builder, "received");
  json_builder_add_int_value (builder, soak->received);
  json_builder_end_object (builder);
  es_cli_print_json (builder);
}

static void
finish (Soak *soak,
        int   ret)
{
  if (soak->done)
    return;

  soak->done = TRUE;
  soak->ret = ret;
  g_clear_handle_id (&soak->refill_source, g_source_remove);
  g_clear_handle_id (&soak->progress_source, g_source_remove);
  g_main_loop_quit (soak->loop);
}

static gboolean
update_outbox (Soak *soak)
{
  g_autoptr(GError) error = NULL;
  gint64 outbox = es_client_store_count_outbox (soak->store, &error);

  if (outbox < 0)
    {
      es_cli_fail ("%s", error->message);
      finish (soak, 1);
      return FALSE;
    }

  soak->outbox = outbox;
  return TRUE;
}

static void
check_done (Soak *soak)
{
  if (soak->done)
    return;

  if (soak->sent >= soak->count && soak->outbox == 0 && soak->received >= soak->expect)
    {
      print_progress (soak, "done");
      finish (soak, 0);
    }
}

static gboolean
refill_cb (gpointer user_data)
{
  Soak *soak = user_data;
  g_autoptr(GError) error = NULL;
  gint64 room;

  if (!update_outbox (soak))
    return G_SOURCE_REMOVE;

  room = MIN (soak->count - soak->sent, WINDOW - soak->outbox);
  /* One transaction for the whole refill: one fsync instead of one per frame. */
  room = MIN (room, 16);

  if (room > 0)
    {
      if (!es_client_store_begin (soak->store, &error))
        {
          es_cli_fail ("%s", error->message);
          finish (soak, 1);
          return G_SOURCE_REMOVE;
        }

      for (gint64 i = 0; i < room; i++)
        {
          g_autoptr(JsonObject) body = json_object_new ();

          json_object_set_int_member (body, "n", soak->sent + 1);
          if (es_signaling_client_send (soak->client, ES_MESSAGE_DATA, NULL, soak->to_device,
                                        body, &error) == 0)
            {
              es_client_store_rollback (soak->store);
              es_cli_fail ("%s", error->message);
              finish (soak, 1);
              return G_SOURCE_REMOVE;
            }
          soak->sent++;
          soak->outbox++;
        }

      if (!es_client_store_commit (soak->store, &error))
        {
          es_cli_fail ("%s", error->message);
          finish (soak, 1);
          return G_SOURCE_REMOVE;
        }
    }

  check_done (soak);

  return G_SOURCE_CONTINUE;
}

static gboolean
progress_cb (gpointer user_data)
{
  Soak *soak = user_data;

  if (update_outbox (soak))
    print_progress (soak, "progress");

  return G_SOURCE_CONTINUE;
}

static void
frame_received_cb (EsSignalingClient *client,
                   gpointer           frame_ptr,
                   Soak              *soak)
{
  EsFrame *frame = frame_ptr;

  if (frame->type == ES_MESSAGE_DATA)
    soak->received++;

  check_done (soak);
}

static void
acked_cb (EsSignalingClient *client,
          gint64             up_to,
          Soak              *soak)
{
  if (update_outbox (soak))
    check_done (soak);
}

static void
notify_state_cb (EsSignalingClient *client,
                 GParamSpec        *pspec,
                 Soak              *soak)
{
  const GError *error = es_signaling_client_get_error (client);

  if (es_signaling_client_get_state (client) == ES_SIGNALING_STATE_DISCONNECTED &&
      error != NULL)
    {
      es_cli_fail ("%s", error->message);
      finish (soak, 1);
    }
}

static gboolean
signal_cb (gpointer user_data)
{
  Soak *soak = user_data;

  finish (soak, 130);

  return G_SOURCE_CONTINUE;
}

int
es_cli_soak (EsCliOptions *options,
             int           argc,
             char        **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(EsClientStore) store = NULL;
  g_autoptr(EsSignalingClient) client = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *to_device = NULL;
  g_autofree char *stored_server = NULL;
  gint64 count = -1;
  gint64 expect = 0;
  int heartbeat = ES_SIGNALING_DEFAULT_HEARTBEAT_MS;
  gboolean json = TRUE;
  guint sigint_source, sigterm_source;
  Soak soak = { 0 };
  const GOptionEntry entries[] = {
    { "to-device", 0, 0, G_OPTION_ARG_STRING, &to_device, "Device to send data frames to", "ID" },
    { "count", 0, 0, G_OPTION_ARG_INT64, &count, "Data frames to send, over all runs of this profile", "N" },
    { "expect", 0, 0, G_OPTION_ARG_INT64, &expect, "Data frames to receive before finishing", "M" },
    { "heartbeat", 0, 0, G_OPTION_ARG_INT, &heartbeat, "Heartbeat interval (default 10000)", "MS" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "JSON lines on stdout (the default)", NULL },
    { NULL }
  };

  context = g_option_context_new ("— exchange data frames with another device");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!es_cli_parse (context, options, &argc, &argv))
    return 1;
  if (argc != 1)
    return es_cli_usage_error (context, "soak takes no positional arguments");
  if (to_device == NULL || !es_protocol_is_valid_id (to_device))
    return es_cli_usage_error (context, "--to-device ID is required and must be a device id");
  if (count < 0 || expect < 0)
    return es_cli_usage_error (context, "--count N is required; N and M must not be negative");
  if (heartbeat < 50)
    return es_cli_usage_error (context, "--heartbeat must be at least 50 ms");

  if (!(store = es_cli_open_store (options)))
    return 1;

  stored_server = es_client_store_dup_setting (store, ES_SETTING_SERVER_URL);
  if (options->server != NULL && g_strcmp0 (options->server, stored_server) != 0)
    {
      /* The token belongs to the server we logged in on; another one would refuse it. */
      g_autofree char *normalized = g_strdup (options->server);
      gsize len = strlen (normalized);

      while (len > 0 && normalized[len - 1] == '/')
        normalized[--len] = '\0';
      if (g_strcmp0 (normalized, stored_server) != 0)
        return es_cli_fail ("profile %s is logged in on %s, not %s",
                            options->profile, stored_server ? stored_server : "no server",
                            options->server);
    }

  soak.store = store;
  soak.to_device = to_device;
  soak.count = count;
  soak.expect = expect;
  soak.sent = es_client_store_count_log (store, ES_LOG_SENT, "data", to_device, &error);
  if (soak.sent >= 0)
    soak.received = es_client_store_count_log (store, ES_LOG_RECEIVED, "data", NULL, &error);
  if (soak.sent < 0 || soak.received < 0)
    return es_cli_fail ("%s", error->message);

  loop = g_main_loop_new (NULL, FALSE);
  soak.loop = loop;

  client = es_signaling_client_new (store);
  soak.client = client;
  es_signaling_client_set_heartbeat_interval (client, heartbeat);
  g_signal_connect (client, "frame-received", G_CALLBACK (frame_received_cb), &soak);
  g_signal_connect (client, "acked", G_CALLBACK (acked_cb), &soak);
  g_signal_connect (client, "notify::state", G_CALLBACK (notify_state_cb), &soak);

  sigint_source = g_unix_signal_add (SIGINT, signal_cb, &soak);
  sigterm_source = g_unix_signal_add (SIGTERM, signal_cb, &soak);

  es_signaling_client_start (client);
  if (!soak.done)
    {
      update_outbox (&soak);
      soak.refill_source = g_timeout_add (REFILL_INTERVAL_MS, refill_cb, &soak);
      soak.progress_source = g_timeout_add (1000, progress_cb, &soak);
      refill_cb (&soak);
      if (!soak.done)
        g_main_loop_run (loop);
    }

  g_signal_handlers_disconnect_by_data (client, &soak);
  es_signaling_client_stop (client);
  g_source_remove (sigint_source);
  g_source_remove (sigterm_source);
  g_clear_handle_id (&soak.refill_source, g_source_remove);
  g_clear_handle_id (&soak.progress_source, g_source_remove);

  return soak.ret;
}
