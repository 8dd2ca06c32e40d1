/* es-cli-log.c: print the durable sent or received log
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "es-cli.h"

int
es_cli_log (EsCliOptions *options,
            int           argc,
            char        **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(EsClientStore) store = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GError) error = NULL;
  gboolean sent = FALSE;
  gboolean received = FALSE;
  gboolean json = TRUE;
  const GOptionEntry entries_spec[] = {
    { "sent", 0, 0, G_OPTION_ARG_NONE, &sent, "Print the frames this device sent", NULL },
    { "received", 0, 0, G_OPTION_ARG_NONE, &received, "Print the frames this device received", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per line (the default)", NULL },
    { NULL }
  };

  context = g_option_context_new ("--sent|--received — print the durable log");
  g_option_context_add_main_entries (context, entries_spec, NULL);
  if (!es_cli_parse (context, options, &argc, &argv))
    return 1;
  if (sent == received)
    return es_cli_usage_error (context, "give exactly one of --sent and --received");
  if (argc != 1)
    return es_cli_usage_error (context, "log takes no arguments");

  if (!(store = es_cli_open_store (options)))
    return 1;

  entries = es_client_store_list_log (store, sent ? ES_LOG_SENT : ES_LOG_RECEIVED, &error);
  if (entries == NULL)
    return es_cli_fail ("%s", error->message);

  for (guint i = 0; i < entries->len; i++)
    {
      EsLogEntry *entry = entries->pdata[i];
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) body = json_from_string (entry->body, NULL);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "seq");
      json_builder_add_int_value (builder, entry->seq);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, entry->type);
      json_builder_set_member_name (builder, "peer");
      if (entry->peer != NULL)
        json_builder_add_string_value (builder, entry->peer);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "call_id");
      if (entry->call_id != NULL)
        json_builder_add_string_value (builder, entry->call_id);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "body");
      if (body != NULL)
        json_builder_add_value (builder, g_steal_pointer (&body));
      else
        json_builder_add_null_value (builder);
      json_builder_end_object (builder);
      es_cli_print_json (builder);
    }

  return 0;
}
