/* main.c: earshot-cli, the headless Earshot peer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <locale.h>
#include <stdio.h>

#include "es-cli.h"

static const EsCliCommand commands[] = {
  { "register", "USER PASSWORD [--device-name NAME]", "Create a user and this device", es_cli_register },
  { "login", "USER PASSWORD [--device-name NAME]", "Log this profile in as a device of USER", es_cli_login },
  { "whoami", "", "Show the profile's user, device and server", es_cli_whoami },
  { "soak", "--to-device ID --count N --expect M", "Exchange data frames with another device", es_cli_soak },
  { "log", "--sent|--received", "Print the durable log of sent or received frames", es_cli_log },
  { "call", "USER [--test-media] [--duration S] …", "Call USER, print JSON events", es_cli_call },
  { "answer", "[--auto|--decline] [--after S] [--count N] …", "Take incoming calls, print JSON events", es_cli_answer },
  { "trust", "list", "Print the peer device keys seen, and which are verified", es_cli_trust },
  { "reset-identity", "", "Replace this device's identity key with a new one", es_cli_reset_identity },
};

static char *
dup_summary (void)
{
  GString *s = g_string_new ("Commands:\n");

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (s, "  %-14s %-38s %s\n", commands[i].name, commands[i].args,
                            commands[i].summary);
  g_string_append (s, "\nEach command takes --help.");

  return g_string_free (s, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *summary = NULL;
  EsCliOptions options = { 0 };
  const char *name;
  int ret = 1;

  setlocale (LC_ALL, "");
  es_cli_print_backtrace_on_warning ();

  context = g_option_context_new ("COMMAND [ARGS…] — headless Earshot peer");
  summary = dup_summary ();
  g_option_context_set_summary (context, summary);
  /* Stop at the command: what follows belongs to it. */
  g_option_context_set_strict_posix (context, TRUE);

  if (!es_cli_parse (context, &options, &argc, &argv))
    goto out;

  if (argc < 2)
    {
      ret = es_cli_usage_error (context, "no command given");
      goto out;
    }

  name = argv[1];
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      if (g_strcmp0 (commands[i].name, name) == 0)
        {
          ret = commands[i].func (&options, argc - 1, argv + 1);
          goto out;
        }
    }

  ret = es_cli_usage_error (context, "unknown command");

out:
  es_cli_options_clear (&options);
  return ret;
}
