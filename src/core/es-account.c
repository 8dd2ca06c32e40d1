/* es-account.c: registering and logging in a device over HTTP
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-account"

#include "config.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "es-account.h"

struct _EsAccount
{
  GObject        parent_instance;

  /* Owned */
  EsClientStore *store;
  SoupSession   *session;
};

enum {
  PROP_0,
  PROP_STORE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (EsAccount, es_account, G_TYPE_OBJECT)

G_DEFINE_QUARK (es-account-error-quark, es_account_error)

typedef enum
{
  REQUEST_REGISTER,
  REQUEST_LOGIN,
} RequestKind;

typedef struct
{
  RequestKind  kind;
  char        *server_url;
  char        *user;
  char        *password;
  char        *device_name;
  char        *device_id; /* login only: the device to log in again, or NULL for a new one */
  SoupMessage *message;
} Request;

static void
request_free (Request *request)
{
  g_free (request->server_url);
  g_free (request->user);
  if (request->password != NULL)
    {
      memset (request->password, 0, strlen (request->password));
      g_free (request->password);
    }
  g_free (request->device_name);
  g_free (request->device_id);
  g_clear_object (&request->message);
  g_free (request);
}

static void
es_account_dispose (GObject *object)
{
  EsAccount *self = (EsAccount *)object;

  g_clear_object (&self->session);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (es_account_parent_class)->dispose (object);
}

static void
es_account_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  EsAccount *self = ES_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_account_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  EsAccount *self = ES_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_set_object (&self->store, g_value_get_object (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_account_class_init (EsAccountClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = es_account_dispose;
  object_class->get_property = es_account_get_property;
  object_class->set_property = es_account_set_property;

  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL,
                         ES_TYPE_CLIENT_STORE,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
es_account_init (EsAccount *self)
{
  self->session = soup_session_new_with_options ("timeout", 30,
                                                 "user-agent", "earshot/" PACKAGE_VERSION,
                                                 NULL);
}

EsAccount *
es_account_new (EsClientStore *store)
{
  g_return_val_if_fail (ES_IS_CLIENT_STORE (store), NULL);

  return g_object_new (ES_TYPE_ACCOUNT,
                       "store", store,
                       NULL);
}

EsClientStore *
es_account_get_store (EsAccount *self)
{
  g_return_val_if_fail (ES_IS_ACCOUNT (self), NULL);

  return self->store;
}

char *
es_account_dup_server_url (EsAccount *self)
{
  g_return_val_if_fail (ES_IS_ACCOUNT (self), NULL);

  return es_client_store_dup_setting (self->store, ES_SETTING_SERVER_URL);
}

/**
 * es_account_normalize_server_url:
 *
 * Checks that @url is an http or https URL and returns it without a trailing slash, so
 * that "http://host:8080/" and "http://host:8080" name the same server in the profile.
 */
char *
es_account_normalize_server_url (const char  *url,
                                 GError     **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = NULL;
  const char *scheme;
  gsize len;

  g_return_val_if_fail (url != NULL, NULL);

  uri = g_uri_parse (url, G_URI_FLAGS_NONE, &local_error);
  if (uri == NULL)
    {
      g_set_error (error, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_INVALID_ARGUMENT,
                   "“%s” is not a server URL: %s", url, local_error->message);
      return NULL;
    }

  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    {
      g_set_error (error, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_INVALID_ARGUMENT,
                   "“%s” is not a server URL: it must start with http:// or https://", url);
      return NULL;
    }
  if (g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
    {
      g_set_error (error, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_INVALID_ARGUMENT,
                   "“%s” is not a server URL: it names no host", url);
      return NULL;
    }

  text = g_uri_to_string (uri);
  len = strlen (text);
  while (len > 0 && text[len - 1] == '/')
    text[--len] = '\0';

  return g_steal_pointer (&text);
}

static char *
dup_server_message (GBytes *bytes)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *data;
  gsize len;
  JsonNode *root;

  if (bytes == NULL)
    return NULL;

  data = g_bytes_get_data (bytes, &len);
  if (len == 0)
    return NULL;

  if (json_parser_load_from_data (parser, data, len, NULL) &&
      (root = json_parser_get_root (parser)) != NULL &&
      JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonObject *object = json_node_get_object (root);
      const char *keys[] = { "message", "error", "reason" };

      for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
        {
          JsonNode *node = json_object_get_member (object, keys[i]);

          if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
              json_node_get_value_type (node) == G_TYPE_STRING)
            return g_strdup (json_node_get_string (node));
        }

      return NULL;
    }

  /* A plain text body, if it is short and printable. */
  if (len < 200 && g_utf8_validate (data, len, NULL))
    return g_strstrip (g_strndup (data, len));

  return NULL;
}

/* Takes ownership of @task. */
static void send_request (GTask *task);

static void
handle_response (GTask       *task,
                 SoupMessage *message,
                 GBytes      *bytes)
{
  EsAccount *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  guint status = soup_message_get_status (message);
  g_autofree char *server_message = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) error = NULL;
  const char *user;
  const char *device_id;
  const char *token;
  JsonObject *object;
  JsonNode *root;
  gsize len;
  const char *data;

  if (status != SOUP_STATUS_OK)
    {
      server_message = dup_server_message (bytes);

      if (request->kind == REQUEST_LOGIN && request->device_id != NULL &&
          (status == SOUP_STATUS_NOT_FOUND || status == SOUP_STATUS_BAD_REQUEST ||
           status == SOUP_STATUS_FORBIDDEN))
        {
          /* The device this profile remembers is gone (or was another user's): log in as a
           * new device instead of failing. */
          g_message ("Server refused device %s (%u %s); logging in as a new device",
                     request->device_id, status,
                     server_message ? server_message : soup_status_get_phrase (status));
          g_clear_pointer (&request->device_id, g_free);
          send_request (g_object_ref (task));
          return;
        }

      if (status == SOUP_STATUS_CONFLICT && request->kind == REQUEST_REGISTER)
        g_task_return_new_error (task, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_USER_EXISTS,
                                 "user already exists: %s", request->user);
      else if (status == SOUP_STATUS_UNAUTHORIZED)
        g_task_return_new_error (task, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_WRONG_PASSWORD,
                                 "wrong user name or password");
      else if (status >= 500)
        g_task_return_new_error (task, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_SERVER,
                                 "server error at %s (%u %s)%s%s", request->server_url, status,
                                 soup_status_get_phrase (status),
                                 server_message ? ": " : "", server_message ? server_message : "");
      else
        g_task_return_new_error (task, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_BAD_REQUEST,
                                 "%s refused the request (%u %s)%s%s", request->server_url, status,
                                 soup_status_get_phrase (status),
                                 server_message ? ": " : "", server_message ? server_message : "");
      return;
    }

  parser = json_parser_new ();
  data = bytes ? g_bytes_get_data (bytes, &len) : NULL;
  if (data == NULL ||
      !json_parser_load_from_data (parser, data, len, NULL) ||
      !(root = json_parser_get_root (parser)) ||
      !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_task_return_new_error (task, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_INVALID_RESPONSE,
                               "%s answered with something that is not a JSON object",
                               request->server_url);
      return;
    }

  object = json_node_get_object (root);
  user = json_object_get_string_member_with_default (object, "user", NULL);
  device_id = json_object_get_string_member_with_default (object, "device_id", NULL);
  token = json_object_get_string_member_with_default (object, "token", NULL);

  if (user == NULL || !es_protocol_is_valid_id (user) ||
      device_id == NULL || !es_protocol_is_valid_id (device_id) ||
      token == NULL || token[0] == '\0')
    {
      g_task_return_new_error (task, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_INVALID_RESPONSE,
                               "%s answered without a valid user, device_id and token",
                               request->server_url);
      return;
    }

  if (!es_client_store_set_account (self->store, request->server_url, user, device_id,
                                    request->device_name, token, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_debug ("%s as %s, device %s", request->kind == REQUEST_REGISTER ? "Registered" : "Logged in",
           user, device_id);
  g_task_return_boolean (task, TRUE);
}

static void
send_and_read_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  SoupSession *session = SOUP_SESSION (object);
  g_autoptr(GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  bytes = soup_session_send_and_read_finish (session, result, &error);
  if (bytes == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_UNREACHABLE,
                                 "cannot reach server at %s: %s",
                                 request->server_url, error->message);
      return;
    }

  handle_response (task, request->message, bytes);
}

static void
send_request (GTask *task)
{
  EsAccount *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *url = NULL;
  char *text;
  gsize len;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "user");
  json_builder_add_string_value (builder, request->user);
  json_builder_set_member_name (builder, "password");
  json_builder_add_string_value (builder, request->password);
  json_builder_set_member_name (builder, "device_name");
  json_builder_add_string_value (builder, request->device_name);
  if (request->device_id != NULL)
    {
      json_builder_set_member_name (builder, "device_id");
      json_builder_add_string_value (builder, request->device_id);
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, &len);
  body = g_bytes_new_take (text, len);

  url = g_strconcat (request->server_url,
                     request->kind == REQUEST_REGISTER ? "/v1/register" : "/v1/login",
                     NULL);

  g_clear_object (&request->message);
  request->message = soup_message_new (SOUP_METHOD_POST, url);
  if (request->message == NULL)
    {
      g_task_return_new_error (task, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_INVALID_ARGUMENT,
                               "“%s” is not a valid URL", url);
      g_object_unref (task);
      return;
    }
  soup_message_set_request_body_from_bytes (request->message, "application/json", body);

  soup_session_send_and_read_async (self->session, request->message, G_PRIORITY_DEFAULT,
                                    g_task_get_cancellable (task),
                                    send_and_read_cb, task);
}

static void
start_request (EsAccount           *self,
               RequestKind          kind,
               const char          *server_url,
               const char          *user,
               const char          *password,
               const char          *device_name,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data,
               gpointer             source_tag)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *stored_url = NULL;
  g_autofree char *normalized = NULL;
  Request *request;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);

  if (server_url == NULL)
    server_url = stored_url = es_client_store_dup_setting (self->store, ES_SETTING_SERVER_URL);
  if (server_url == NULL)
    {
      g_task_return_new_error (task, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_INVALID_ARGUMENT,
                               "no server given, and the profile does not know one");
      return;
    }
  if (!(normalized = es_account_normalize_server_url (server_url, &error)))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!es_protocol_is_valid_id (user))
    {
      g_task_return_new_error (task, ES_ACCOUNT_ERROR, ES_ACCOUNT_ERROR_INVALID_ARGUMENT,
                               "“%s” is not a valid user name (1–%d characters of A–Z, a–z, "
                               "0–9, “.”, “_” and “-”)", user, ES_PROTOCOL_MAX_ID_LENGTH);
      return;
    }

  request = g_new0 (Request, 1);
  request->kind = kind;
  request->server_url = g_steal_pointer (&normalized);
  request->user = g_strdup (user);
  request->password = g_strdup (password);
  request->device_name = g_strdup (device_name ? device_name : g_get_host_name ());

  if (kind == REQUEST_LOGIN)
    {
      g_autofree char *stored_user = es_client_store_dup_setting (self->store, ES_SETTING_USER);
      g_autofree char *stored_server = es_client_store_dup_setting (self->store, ES_SETTING_SERVER_URL);

      /* Logging in again on the same profile keeps the device, its queue and its history. */
      if (g_strcmp0 (stored_user, user) == 0 && g_strcmp0 (stored_server, request->server_url) == 0)
        request->device_id = es_client_store_dup_setting (self->store, ES_SETTING_DEVICE_ID);
    }

  g_task_set_task_data (task, request, (GDestroyNotify)request_free);
  send_request (g_steal_pointer (&task));
}

/**
 * es_account_register_async:
 * @server_url: (nullable): the server, or %NULL for the one the profile knows
 *
 * Creates the user and its first device, and stores server, user, device and token in the
 * profile.
 */
void
es_account_register_async (EsAccount           *self,
                           const char          *server_url,
                           const char          *user,
                           const char          *password,
                           const char          *device_name,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_return_if_fail (ES_IS_ACCOUNT (self));
  g_return_if_fail (user != NULL);
  g_return_if_fail (password != NULL);

  start_request (self, REQUEST_REGISTER, server_url, user, password, device_name,
                 cancellable, callback, user_data, es_account_register_async);
}

gboolean
es_account_register_finish (EsAccount     *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (ES_IS_ACCOUNT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == es_account_register_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * es_account_login_async:
 * @server_url: (nullable): the server, or %NULL for the one the profile knows
 *
 * Logs in. When the profile already is a device of @user on this server, that device gets a
 * fresh token; otherwise the server adds a new device.
 */
void
es_account_login_async (EsAccount           *self,
                        const char          *server_url,
                        const char          *user,
                        const char          *password,
                        const char          *device_name,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (ES_IS_ACCOUNT (self));
  g_return_if_fail (user != NULL);
  g_return_if_fail (password != NULL);

  start_request (self, REQUEST_LOGIN, server_url, user, password, device_name,
                 cancellable, callback, user_data, es_account_login_async);
}

gboolean
es_account_login_finish (EsAccount     *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (ES_IS_ACCOUNT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == es_account_login_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
