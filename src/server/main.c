/* main.c: earshot-server, the Earshot signaling server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <sys/resource.h>

#include <glib-unix.h>
#include <sodium.h>

#include "es-server.h"
#include "es-server-store-sqlite.h"

#define SHUTDOWN_GRACE_USEC (500 * 1000)

/* Every connected device holds a descriptor; benchmarks keep thousands open. */
static void
raise_fd_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return;
  if (limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
        g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "ES_EVENT", "rlimit",
                          "MESSAGE", "Could not raise the open file limit to %lu",
                          (unsigned long) limit.rlim_max);
    }
}

static gboolean
quit_cb (gpointer user_data)
{
  GMainLoop *loop = user_data;

  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "ES_EVENT", "shutdown",
                    "MESSAGE", "Shutting down");
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(EsServerConfig) config = NULL;
  g_autoptr(EsServerStore) store = NULL;
  g_autoptr(EsServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  guint sigterm_id, sigint_id;
  gint64 deadline;

  setlocale (LC_ALL, "");
  raise_fd_limit ();

  if (sodium_init () < 0)
    {
      g_printerr ("earshot-server: could not initialize libsodium\n");
      return 1;
    }

  config = es_server_config_new ();
  if (!es_server_config_parse_args (config, &argc, &argv, &error))
    {
      g_printerr ("earshot-server: %s\n", error->message);
      return 2;
    }

  store = es_server_store_sqlite_new (config->database, &error);
  if (store == NULL)
    {
      g_printerr ("earshot-server: %s\n", error->message);
      return 1;
    }

  server = es_server_new (g_steal_pointer (&config), store, &error);
  if (server == NULL || !es_server_listen (server, &error))
    {
      g_printerr ("earshot-server: %s\n", error->message);
      return 1;
    }

  /* Tests and scripts read the port from this line: first on stdout, flushed at once. */
  uri = es_server_dup_uri (server);
  g_print ("listening on %s\n", uri);
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  sigterm_id = g_unix_signal_add (SIGTERM, quit_cb, loop);
  sigint_id = g_unix_signal_add (SIGINT, quit_cb, loop);
  g_main_loop_run (loop);

  es_server_shutdown (server);
  deadline = g_get_monotonic_time () + SHUTDOWN_GRACE_USEC;
  while (es_server_get_n_sessions (server) > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  es_server_flush (server);

  g_source_remove (sigterm_id);
  g_source_remove (sigint_id);
  g_clear_object (&server);
  g_clear_object (&store);

  return 0;
}
