/* es-cli-trust.c: `trust list` and `reset-identity`, the verification state of a profile
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <errno.h>
#include <stdio.h>

#include <glib/gstdio.h>

#include "es-cli.h"
#include "es-identity.h"
#include "es-trust-store.h"

static char *
format_time (gint64 us)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);

  return time ? g_date_time_format_iso8601 (time) : NULL;
}

static int
trust_list (EsCliOptions *options)
{
  g_autoptr(EsTrustStore) store = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GError) error = NULL;

  store = es_trust_store_new (options->profile, &error);
  if (store == NULL)
    return es_cli_fail ("%s", error->message);

  keys = es_trust_store_list (store, &error);
  if (keys == NULL)
    return es_cli_fail ("%s", error->message);

  for (guint i = 0; i < keys->len; i++)
    {
      EsPeerKey *key = g_ptr_array_index (keys, i);
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autofree char *fingerprint = es_identity_format_fingerprint (key->public_key);
      g_autofree char *first_seen = format_time (key->first_seen);
      g_autofree char *last_seen = format_time (key->last_seen);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "device_id");
      json_builder_add_string_value (b, key->device_id);
      json_builder_set_member_name (b, "user");
      json_builder_add_string_value (b, key->user);
      json_builder_set_member_name (b, "key");
      json_builder_add_string_value (b, fingerprint);
      json_builder_set_member_name (b, "verified");
      json_builder_add_boolean_value (b, key->verified);
      json_builder_set_member_name (b, "first_seen");
      json_builder_add_string_value (b, first_seen);
      json_builder_set_member_name (b, "last_seen");
      json_builder_add_string_value (b, last_seen);
      json_builder_end_object (b);
      es_cli_print_json (b);
    }

  return 0;
}

/**
 * es_cli_trust:
 *
 * `trust list`: one JSON line per peer device key this profile has seen:
 * {device_id, user, key, verified, first_seen, last_seen} (times ISO 8601, UTC).
 */
int
es_cli_trust (EsCliOptions *options,
              int           argc,
              char        **argv)
{
  g_autoptr(GOptionContext) context = NULL;

  context = g_option_context_new ("list — the peer device keys this profile has seen");
  if (!es_cli_parse (context, options, &argc, &argv))
    return 1;

  if (argc != 2 || g_strcmp0 (argv[1], "list") != 0)
    return es_cli_usage_error (context, "trust takes one subcommand: list");

  return trust_list (options);
}

/**
 * es_cli_reset_identity:
 *
 * Replaces this device's identity key with a new one, as a reinstall would.
 * Peers that verified the old key see a key change on the next call.
 * Prints {"event":"identity","key":FINGERPRINT}.
 */
int
es_cli_reset_identity (EsCliOptions *options,
                       int           argc,
                       char        **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(EsIdentity) identity = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *fingerprint = NULL;

  context = g_option_context_new ("— replace this device's identity key with a new one");
  if (!es_cli_parse (context, options, &argc, &argv))
    return 1;
  if (argc != 1)
    return es_cli_usage_error (context, "reset-identity takes no arguments");

  path = g_build_filename (options->profile, ES_IDENTITY_FILE_NAME, NULL);
  if (g_unlink (path) != 0 && errno != ENOENT)
    return es_cli_fail ("cannot remove %s: %s", path, g_strerror (errno));

  identity = es_identity_load_or_create (options->profile, &error);
  if (identity == NULL)
    return es_cli_fail ("%s", error->message);

  fingerprint = es_identity_dup_fingerprint (identity);
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, "identity");
  json_builder_set_member_name (b, "key");
  json_builder_add_string_value (b, fingerprint);
  json_builder_end_object (b);
  es_cli_print_json (b);

  return 0;
}
