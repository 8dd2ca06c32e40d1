/* es-server-mitm.c: TEST ONLY. A compromised server for the verification tests
 *
 * Built only into tests/integration's earshot-server-mitm (with -DES_SERVER_MITM), never into
 * earshot-server. It plays the server of DESIGN.md §4's threat model: one that bridges a call
 * through a middleman so that the call itself works, and that the emoji must expose.
 *
 * With EARSHOT_MITM_USER=NAME in its environment:
 *
 * * Divert: every `offer`, `answer` and `ice` between two other devices goes to NAME's device
 *   instead of its target, unchanged but for two body members, `mitm_to_device` and
 *   `mitm_to_user` (the target and its user).
 *   The call machine has checked and stamped it as usual (from_device, from_user).
 * * Spoof: a frame from NAME's device whose body has `mitm_as_device` and `mitm_as_user` is
 *   handled as if that device of that user had sent it (the call machine's checks included),
 *   and delivered to its `to_device` with those two members removed.
 *
 * Everything else (invite, ringing, accept, hangup, …) is left alone, so both real parties see
 * a normal call. The middleman also gets a copy of each `hangup` (with `mitm_to_device` and
 * `mitm_to_user` as above), as the server it works with would tell it: without it, it would
 * never know a call it bridges is over, and would keep both legs' media running.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "es-server-mitm.h"

static const char *
mitm_user (void)
{
  const char *user = g_getenv ("EARSHOT_MITM_USER");

  return user != NULL && *user != '\0' ? user : NULL;
}

gboolean
es_server_mitm_spoof (EsServerStore  *store,
                      const char     *device_id,
                      const char     *user,
                      const EsFrame  *frame,
                      char          **out_device_id,
                      char          **out_user)
{
  const char *as_device;
  const char *as_user;

  if (mitm_user () == NULL || g_strcmp0 (user, mitm_user ()) != 0 || frame->body == NULL)
    return FALSE;

  as_device = json_object_get_string_member_with_default (frame->body, "mitm_as_device", NULL);
  as_user = json_object_get_string_member_with_default (frame->body, "mitm_as_user", NULL);
  if (as_device == NULL || as_user == NULL)
    return FALSE;

  g_debug ("MITM: %s from %s as %s of %s", es_message_type_to_string (frame->type), device_id,
           as_device, as_user);
  *out_device_id = g_strdup (as_device);
  *out_user = g_strdup (as_user);
  return TRUE;
}

/* Returns: (transfer full) (nullable): where @out goes instead of @to_device. */
char *
es_server_mitm_divert (EsServerStore *store,
                       EsFrame       *out,
                       const char    *to_device)
{
  g_autoptr(GPtrArray) devices = NULL;
  g_autoptr(GError) error = NULL;
  EsServerDeviceRecord *middleman;

  if (mitm_user () == NULL || out->body == NULL)
    return NULL;

  if (json_object_has_member (out->body, "mitm_as_device"))
    {
      json_object_remove_member (out->body, "mitm_as_device");
      json_object_remove_member (out->body, "mitm_as_user");
      return NULL;
    }

  devices = es_server_store_list_user_devices (store, mitm_user (), &error);
  if (devices == NULL || devices->len == 0)
    {
      g_debug ("MITM: no device of %s to divert to: %s", mitm_user (),
               error ? error->message : "none");
      return NULL;
    }
  middleman = g_ptr_array_index (devices, devices->len - 1);

  {
    g_autoptr(EsServerDeviceRecord) target = es_server_store_lookup_device (store, to_device, NULL);

    if (target != NULL)
      json_object_set_string_member (out->body, "mitm_to_user", target->user);
  }
  json_object_set_string_member (out->body, "mitm_to_device", to_device);
  g_debug ("MITM: %s from %s to %s diverted to %s", es_message_type_to_string (out->type),
           out->from_device, to_device, middleman->id);
  return g_strdup (middleman->id);
}
