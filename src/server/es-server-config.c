/* es-server-config.c: settings of earshot-server, from a GKeyFile and command-line flags
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdlib.h>

#include "es-server-config.h"

#define GROUP "server"

G_DEFINE_QUARK (es-server-config-error-quark, es_server_config_error)

EsServerConfig *
es_server_config_new (void)
{
  EsServerConfig *config = g_new0 (EsServerConfig, 1);

  es_server_config_set_listen (config, ES_SERVER_DEFAULT_LISTEN, NULL);
  config->database = g_build_filename (g_get_user_data_dir (), "earshot-server",
                                       "earshot-server.db", NULL);
  config->rate_limit = ES_SERVER_DEFAULT_RATE_LIMIT;
  config->rate_burst = ES_SERVER_DEFAULT_RATE_BURST;
  config->password_hash = ES_PASSWORD_HASH_INTERACTIVE;
  config->turn_ttl = ES_SERVER_DEFAULT_TURN_TTL;
  config->idle_timeout = ES_SERVER_DEFAULT_IDLE_TIMEOUT;
  config->ring_timeout = ES_SERVER_DEFAULT_RING_TIMEOUT;
  /* More I/O threads than cores only adds wake-ups and hand-offs (measured: 8 threads on 2 cores
   * tripled the relay latency of 2). */
  config->io_threads = CLAMP (g_get_num_processors (), 1, 16);

  return config;
}

void
es_server_config_free (EsServerConfig *config)
{
  if (config == NULL)
    return;

  g_free (config->listen_host);
  g_free (config->database);
  g_free (config->tls_certificate);
  g_free (config->tls_key);
  g_free (config->turn_secret);
  g_strfreev (config->turn_uris);
  g_free (config);
}

/* Accepts HOST:PORT and [IPV6]:PORT. */
gboolean
es_server_config_set_listen (EsServerConfig  *config,
                             const char      *listen,
                             GError         **error)
{
  g_autofree char *host = NULL;
  const char *colon;
  guint64 port;

  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (listen != NULL, FALSE);

  colon = strrchr (listen, ':');
  if (colon == NULL || colon == listen ||
      !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL))
    {
      g_set_error (error, ES_SERVER_CONFIG_ERROR, ES_SERVER_CONFIG_ERROR_INVALID,
                   "Invalid listen address “%s”: expected HOST:PORT, e.g. 127.0.0.1:7878",
                   listen);
      return FALSE;
    }

  if (listen[0] == '[' && colon[-1] == ']')
    host = g_strndup (listen + 1, colon - listen - 2);
  else
    host = g_strndup (listen, colon - listen);

  if (host[0] == '\0')
    {
      g_set_error (error, ES_SERVER_CONFIG_ERROR, ES_SERVER_CONFIG_ERROR_INVALID,
                   "Invalid listen address “%s”: the host is empty", listen);
      return FALSE;
    }

  g_free (config->listen_host);
  config->listen_host = g_steal_pointer (&host);
  config->listen_port = (guint16) port;
  return TRUE;
}

static gboolean
set_password_hash (EsServerConfig  *config,
                   const char      *value,
                   GError         **error)
{
  if (g_strcmp0 (value, "interactive") == 0)
    config->password_hash = ES_PASSWORD_HASH_INTERACTIVE;
  else if (g_strcmp0 (value, "min") == 0)
    config->password_hash = ES_PASSWORD_HASH_MIN;
  else
    {
      g_set_error (error, ES_SERVER_CONFIG_ERROR, ES_SERVER_CONFIG_ERROR_INVALID,
                   "Invalid password-hash “%s”: expected “interactive” or “min”", value);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_positive (const char  *what,
                gint64       value,
                GError     **error)
{
  if (value < 1 || value > G_MAXINT32)
    {
      g_set_error (error, ES_SERVER_CONFIG_ERROR, ES_SERVER_CONFIG_ERROR_INVALID,
                   "Invalid %s %" G_GINT64_FORMAT ": expected a positive number", what, value);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_io_threads (gint64   value,
                  GError **error)
{
  if (value < 1 || value > ES_SERVER_MAX_IO_THREADS)
    {
      g_set_error (error, ES_SERVER_CONFIG_ERROR, ES_SERVER_CONFIG_ERROR_INVALID,
                   "Invalid io-threads %" G_GINT64_FORMAT ": expected 1 to %d", value,
                   ES_SERVER_MAX_IO_THREADS);
      return FALSE;
    }
  return TRUE;
}

static void
replace_string (char       **field,
                const char  *value)
{
  if (value == NULL)
    return;
  g_free (*field);
  *field = g_strdup (value);
}

gboolean
es_server_config_load_file (EsServerConfig  *config,
                            const char      *path,
                            GError         **error)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *pwhash = NULL;
  gint64 value;

  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, ES_SERVER_CONFIG_ERROR, ES_SERVER_CONFIG_ERROR_INVALID,
                   "Could not read the configuration %s: %s", path, local_error->message);
      return FALSE;
    }

#define GET_STRING(key, field)                                                         \
  G_STMT_START {                                                                       \
    g_autofree char *s = g_key_file_get_string (file, GROUP, key, NULL);               \
    replace_string (&config->field, s);                                                \
  } G_STMT_END

  listen = g_key_file_get_string (file, GROUP, "listen", NULL);
  if (listen != NULL && !es_server_config_set_listen (config, listen, error))
    return FALSE;
  GET_STRING ("database", database);
  GET_STRING ("tls-certificate", tls_certificate);
  GET_STRING ("tls-key", tls_key);
  GET_STRING ("turn-secret", turn_secret);
#undef GET_STRING

  pwhash = g_key_file_get_string (file, GROUP, "password-hash", NULL);
  if (pwhash != NULL && !set_password_hash (config, pwhash, error))
    return FALSE;

#define GET_NUMBER(key, field, allow_zero)                                             \
  G_STMT_START {                                                                       \
    if (g_key_file_has_key (file, GROUP, key, NULL))                                   \
      {                                                                                \
        value = g_key_file_get_int64 (file, GROUP, key, &local_error);                 \
        if (local_error != NULL)                                                       \
          {                                                                            \
            g_set_error (error, ES_SERVER_CONFIG_ERROR, ES_SERVER_CONFIG_ERROR_INVALID, \
                         "%s: %s", path, local_error->message);                        \
            return FALSE;                                                              \
          }                                                                            \
        if (!(allow_zero && value == 0) && !check_positive (key, value, error))        \
          return FALSE;                                                                \
        config->field = (guint) value;                                                 \
      }                                                                                \
  } G_STMT_END

  GET_NUMBER ("rate-limit", rate_limit, FALSE);
  GET_NUMBER ("rate-burst", rate_burst, FALSE);
  GET_NUMBER ("turn-ttl", turn_ttl, FALSE);
  GET_NUMBER ("idle-timeout", idle_timeout, TRUE);
  GET_NUMBER ("ring-timeout", ring_timeout, FALSE);
  GET_NUMBER ("io-threads", io_threads, FALSE);
#undef GET_NUMBER

  if (!check_io_threads (config->io_threads, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }

  if (g_key_file_has_key (file, GROUP, "turn-uris", NULL))
    {
      g_strfreev (config->turn_uris);
      config->turn_uris = g_key_file_get_string_list (file, GROUP, "turn-uris", NULL, NULL);
    }

  return TRUE;
}

/* A numeric flag's value when it was not given: -1 must reach the checks, and be refused. */
#define NOT_GIVEN G_MININT64

/* Reads the flags; --config is loaded first, so any flag given overrides the file. */
gboolean
es_server_config_parse_args (EsServerConfig   *config,
                             int              *argc,
                             char           ***argv,
                             GError          **error)
{
  g_autofree char *config_file = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *database = NULL;
  g_autofree char *tls_certificate = NULL;
  g_autofree char *tls_key = NULL;
  g_autofree char *password_hash = NULL;
  gint64 rate_limit = NOT_GIVEN;
  gint64 rate_burst = NOT_GIVEN;
  gint64 idle_timeout = NOT_GIVEN;
  gint64 ring_timeout = NOT_GIVEN;
  gint64 io_threads = NOT_GIVEN;
  g_autoptr(GOptionContext) context = NULL;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file (GKeyFile, group [server])", "FILE" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Address to listen on (default " ES_SERVER_DEFAULT_LISTEN "; port 0 picks a free one)", "HOST:PORT" },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database, "SQLite database file", "PATH" },
    { "tls-certificate", 0, 0, G_OPTION_ARG_FILENAME, &tls_certificate, "PEM certificate: serve HTTPS/WSS", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, "PEM private key of the certificate", "FILE" },
    { "password-hash", 0, 0, G_OPTION_ARG_STRING, &password_hash, "Argon2id cost: interactive (default) or min (tests only)", "interactive|min" },
    { "rate-limit", 0, 0, G_OPTION_ARG_INT64, &rate_limit, "Frames per second per connection (default 500)", "N" },
    { "rate-burst", 0, 0, G_OPTION_ARG_INT64, &rate_burst, "Burst of frames per connection (default 1000)", "N" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT64, &idle_timeout, "Close a WebSocket silent for this many seconds; 0 never (default 300)", "SECONDS" },
    { "ring-timeout", 0, 0, G_OPTION_ARG_INT64, &ring_timeout, "Seconds a call rings before it is missed (default 60)", "SECONDS" },
    { "io-threads", 0, 0, G_OPTION_ARG_INT64, &io_threads, "Threads that serve the WebSocket connections (default: one per core, up to 16)", "N" },
    { NULL }
  };

  g_return_val_if_fail (config != NULL, FALSE);

  context = g_option_context_new ("- Earshot signaling server");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;

  if (config_file != NULL && !es_server_config_load_file (config, config_file, error))
    return FALSE;

  if (listen != NULL && !es_server_config_set_listen (config, listen, error))
    return FALSE;
  replace_string (&config->database, database);
  replace_string (&config->tls_certificate, tls_certificate);
  replace_string (&config->tls_key, tls_key);
  if (password_hash != NULL && !set_password_hash (config, password_hash, error))
    return FALSE;
  if (rate_limit != NOT_GIVEN)
    {
      if (!check_positive ("rate-limit", rate_limit, error))
        return FALSE;
      config->rate_limit = (guint) rate_limit;
    }
  if (rate_burst != NOT_GIVEN)
    {
      if (!check_positive ("rate-burst", rate_burst, error))
        return FALSE;
      config->rate_burst = (guint) rate_burst;
    }
  if (idle_timeout != NOT_GIVEN)
    {
      if (idle_timeout != 0 && !check_positive ("idle-timeout", idle_timeout, error))
        return FALSE;
      config->idle_timeout = (guint) idle_timeout;
    }
  if (ring_timeout != NOT_GIVEN)
    {
      if (!check_positive ("ring-timeout", ring_timeout, error))
        return FALSE;
      config->ring_timeout = (guint) ring_timeout;
    }
  if (io_threads != NOT_GIVEN)
    {
      if (!check_io_threads (io_threads, error))
        return FALSE;
      config->io_threads = (guint) io_threads;
    }

  if ((config->tls_certificate == NULL) != (config->tls_key == NULL))
    {
      g_set_error_literal (error, ES_SERVER_CONFIG_ERROR, ES_SERVER_CONFIG_ERROR_INVALID,
                           "TLS needs both a certificate and a key (--tls-certificate, --tls-key)");
      return FALSE;
    }

  return TRUE;
}
