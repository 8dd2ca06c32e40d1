/* es-cli-common.c: shared helpers of earshot-cli's commands
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdio.h>

#include "es-cli.h"

static char *global_server;
static char *global_profile;

GOptionGroup *
es_cli_global_option_group (EsCliOptions *options)
{
  const GOptionEntry entries[] = {
    { "server", 0, 0, G_OPTION_ARG_STRING, &global_server,
      "Signaling server, e.g. http://127.0.0.1:8080 (remembered in the profile)", "URL" },
    { "profile", 0, 0, G_OPTION_ARG_FILENAME, &global_profile,
      "Profile directory holding this device's state", "DIR" },
    { NULL }
  };
  GOptionGroup *group;

  group = g_option_group_new ("global", "Options of every command:", "Show global options",
                              NULL, NULL);
  g_option_group_add_entries (group, entries);

  return group;
}

static void
take_globals (EsCliOptions *options)
{
  if (global_server != NULL)
    {
      g_free (options->server);
      options->server = g_steal_pointer (&global_server);
    }
  if (global_profile != NULL)
    {
      g_free (options->profile);
      options->profile = g_steal_pointer (&global_profile);
    }
}

gboolean
es_cli_parse (GOptionContext   *context,
              EsCliOptions     *options,
              int              *argc,
              char           ***argv)
{
  g_autoptr(GError) error = NULL;

  g_option_context_add_group (context, es_cli_global_option_group (options));

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      es_cli_fail ("%s", error->message);
      return FALSE;
    }

  take_globals (options);

  if (options->profile == NULL)
    {
      const char *env = g_getenv ("EARSHOT_PROFILE");

      options->profile = env && *env ? g_strdup (env)
                                     : g_build_filename (g_get_user_data_dir (), "earshot",
                                                         "profile", NULL);
    }

  return TRUE;
}

EsClientStore *
es_cli_open_store (EsCliOptions *options)
{
  g_autoptr(GError) error = NULL;
  EsClientStore *store;

  store = es_client_store_new (options->profile, &error);
  if (store == NULL)
    es_cli_fail ("%s", error->message);

  return store;
}

/* One JSON object per line, flushed at once: tests read these through pipes. */
void
es_cli_print_json (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = NULL;

  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  fputs (text, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

int
es_cli_fail (const char *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  fprintf (stderr, "earshot-cli: %s\n", message);
  fflush (stderr);

  return 1;
}

int
es_cli_usage_error (GOptionContext *context,
                    const char     *message)
{
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

  es_cli_fail ("%s", message);
  fputs (help, stderr);

  return 1;
}

void
es_cli_options_clear (EsCliOptions *options)
{
  g_clear_pointer (&options->server, g_free);
  g_clear_pointer (&options->profile, g_free);
  g_clear_pointer (&global_server, g_free);
  g_clear_pointer (&global_profile, g_free);
}
