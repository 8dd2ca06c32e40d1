/* es-cli-account.c: register, login, whoami
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "es-account.h"
#include "es-cli.h"

typedef struct
{
  GMainLoop *loop;
  gboolean   ok;
  GError    *error;
} Wait;

static void
register_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Wait *wait = user_data;

  wait->ok = es_account_register_finish (ES_ACCOUNT (object), result, &wait->error);
  g_main_loop_quit (wait->loop);
}

static void
login_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  Wait *wait = user_data;

  wait->ok = es_account_login_finish (ES_ACCOUNT (object), result, &wait->error);
  g_main_loop_quit (wait->loop);
}

static int
run_account_command (EsCliOptions *options,
                     int           argc,
                     char        **argv,
                     gboolean      is_register)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(EsClientStore) store = NULL;
  g_autoptr(EsAccount) account = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autofree char *device_name = NULL;
  g_autofree char *user = NULL;
  g_autofree char *device_id = NULL;
  Wait wait = { 0 };
  const GOptionEntry entries[] = {
    { "device-name", 0, 0, G_OPTION_ARG_STRING, &device_name,
      "Name shown to the user's other devices (default: the host name)", "NAME" },
    { NULL }
  };

  context = g_option_context_new (is_register ? "USER PASSWORD — create a user and this device"
                                              : "USER PASSWORD — log this profile in");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!es_cli_parse (context, options, &argc, &argv))
    return 1;
  if (argc != 3)
    return es_cli_usage_error (context, "expected USER and PASSWORD");

  if (!(store = es_cli_open_store (options)))
    return 1;

  account = es_account_new (store);
  loop = g_main_loop_new (NULL, FALSE);
  wait.loop = loop;

  if (is_register)
    es_account_register_async (account, options->server, argv[1], argv[2], device_name,
                               NULL, register_cb, &wait);
  else
    es_account_login_async (account, options->server, argv[1], argv[2], device_name,
                            NULL, login_cb, &wait);
  g_main_loop_run (loop);

  if (!wait.ok)
    {
      int ret = es_cli_fail ("%s", wait.error->message);

      g_clear_error (&wait.error);
      return ret;
    }

  user = es_client_store_dup_setting (store, ES_SETTING_USER);
  device_id = es_client_store_dup_setting (store, ES_SETTING_DEVICE_ID);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, is_register ? "registered" : "logged_in");
  json_builder_set_member_name (builder, "user");
  json_builder_add_string_value (builder, user);
  json_builder_set_member_name (builder, "device_id");
  json_builder_add_string_value (builder, device_id);
  json_builder_end_object (builder);
  es_cli_print_json (builder);

  return 0;
}

int
es_cli_register (EsCliOptions *options,
                 int           argc,
                 char        **argv)
{
  return run_account_command (options, argc, argv, TRUE);
}

int
es_cli_login (EsCliOptions *options,
              int           argc,
              char        **argv)
{
  return run_account_command (options, argc, argv, FALSE);
}

static void
add_setting (JsonBuilder   *builder,
             EsClientStore *store,
             const char    *member,
             const char    *key)
{
  g_autofree char *value = es_client_store_dup_setting (store, key);

  json_builder_set_member_name (builder, member);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

int
es_cli_whoami (EsCliOptions *options,
               int           argc,
               char        **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(EsClientStore) store = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autofree char *user = NULL;

  context = g_option_context_new ("— show the profile's user, device and server");
  if (!es_cli_parse (context, options, &argc, &argv))
    return 1;
  if (argc != 1)
    return es_cli_usage_error (context, "whoami takes no arguments");

  if (!(store = es_cli_open_store (options)))
    return 1;

  user = es_client_store_dup_setting (store, ES_SETTING_USER);
  if (user == NULL)
    return es_cli_fail ("profile %s has no account: register or log in first", options->profile);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  add_setting (builder, store, "user", ES_SETTING_USER);
  add_setting (builder, store, "device_id", ES_SETTING_DEVICE_ID);
  add_setting (builder, store, "device_name", ES_SETTING_DEVICE_NAME);
  add_setting (builder, store, "server", ES_SETTING_SERVER_URL);
  json_builder_end_object (builder);
  es_cli_print_json (builder);

  return 0;
}
