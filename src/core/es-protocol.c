/* es-protocol.c: parsing, validation and serialization of signaling frames
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Everything here reads bytes that came from the network, so nothing asserts: every problem is
 * an ES_PROTOCOL_ERROR that says which field is wrong and why. PROTOCOL.md beside this file is
 * the specification this code follows.
 */

#include "config.h"

#include <string.h>

#include "es-protocol.h"

G_DEFINE_QUARK (es-protocol-error-quark, es_protocol_error)

static const char *type_names[ES_MESSAGE_N_TYPES] = {
  [ES_MESSAGE_HELLO]              = "hello",
  [ES_MESSAGE_WELCOME]            = "welcome",
  [ES_MESSAGE_ACK]                = "ack",
  [ES_MESSAGE_PING]               = "ping",
  [ES_MESSAGE_PONG]               = "pong",
  [ES_MESSAGE_ERROR]              = "error",
  [ES_MESSAGE_INVITE]             = "invite",
  [ES_MESSAGE_INCOMING]           = "incoming",
  [ES_MESSAGE_RINGING]            = "ringing",
  [ES_MESSAGE_OFFER]              = "offer",
  [ES_MESSAGE_ANSWER]             = "answer",
  [ES_MESSAGE_ICE]                = "ice",
  [ES_MESSAGE_ACCEPT]             = "accept",
  [ES_MESSAGE_DECLINE]            = "decline",
  [ES_MESSAGE_CANCEL]             = "cancel",
  [ES_MESSAGE_HANGUP]             = "hangup",
  [ES_MESSAGE_ANSWERED_ELSEWHERE] = "answered_elsewhere",
  [ES_MESSAGE_DECLINED_ELSEWHERE] = "declined_elsewhere",
  [ES_MESSAGE_BUSY]               = "busy",
  [ES_MESSAGE_MISSED]             = "missed",
  [ES_MESSAGE_NO_ANSWER]          = "no_answer",
  [ES_MESSAGE_DATA]               = "data",
};

/* What each type needs besides the common fields. */
typedef enum
{
  FIELD_FORBIDDEN,
  FIELD_OPTIONAL,
  FIELD_REQUIRED,
} FieldRule;

typedef enum
{
  BODY_ID,         /* an identifier, see es_protocol_is_valid_id() */
  BODY_STRING,     /* any UTF-8 string */
  BODY_NON_NEG,    /* an integer >= 0 */
  BODY_MEDIA,      /* "audio" or "video" */
} BodyKind;

typedef struct
{
  const char *name;
  BodyKind    kind;
  gboolean    required;
} BodyField;

typedef struct
{
  FieldRule       call_id;
  FieldRule       to_device;
  const BodyField fields[5];
} TypeRules;

static const TypeRules type_rules[ES_MESSAGE_N_TYPES] = {
  [ES_MESSAGE_HELLO] = { FIELD_FORBIDDEN, FIELD_FORBIDDEN,
    { { "device_id", BODY_ID, TRUE }, { "resume_ack", BODY_NON_NEG, TRUE } } },
  [ES_MESSAGE_WELCOME] = { FIELD_FORBIDDEN, FIELD_FORBIDDEN,
    { { "resume_ack", BODY_NON_NEG, TRUE }, { "device_id", BODY_ID, TRUE },
      { "user", BODY_ID, TRUE } } },
  [ES_MESSAGE_ACK] = { FIELD_FORBIDDEN, FIELD_FORBIDDEN, { { NULL } } },
  [ES_MESSAGE_PING] = { FIELD_FORBIDDEN, FIELD_FORBIDDEN, { { NULL } } },
  [ES_MESSAGE_PONG] = { FIELD_FORBIDDEN, FIELD_FORBIDDEN, { { NULL } } },
  [ES_MESSAGE_ERROR] = { FIELD_OPTIONAL, FIELD_FORBIDDEN,
    { { "code", BODY_STRING, TRUE }, { "message", BODY_STRING, TRUE },
      { "ref_seq", BODY_NON_NEG, FALSE } } },
  [ES_MESSAGE_INVITE] = { FIELD_REQUIRED, FIELD_FORBIDDEN,
    { { "to_user", BODY_ID, TRUE }, { "media", BODY_MEDIA, TRUE } } },
  [ES_MESSAGE_INCOMING] = { FIELD_REQUIRED, FIELD_FORBIDDEN,
    { { "from_user", BODY_ID, TRUE }, { "from_device", BODY_ID, TRUE },
      { "from_device_name", BODY_STRING, TRUE }, { "media", BODY_MEDIA, TRUE } } },
  [ES_MESSAGE_RINGING] = { FIELD_REQUIRED, FIELD_FORBIDDEN,
    { { "device_id", BODY_ID, TRUE }, { "device_name", BODY_STRING, TRUE } } },
  [ES_MESSAGE_OFFER] = { FIELD_REQUIRED, FIELD_REQUIRED, { { "sdp", BODY_STRING, TRUE } } },
  [ES_MESSAGE_ANSWER] = { FIELD_REQUIRED, FIELD_REQUIRED, { { "sdp", BODY_STRING, TRUE } } },
  [ES_MESSAGE_ICE] = { FIELD_REQUIRED, FIELD_REQUIRED,
    { { "mline", BODY_NON_NEG, TRUE }, { "candidate", BODY_STRING, TRUE } } },
  [ES_MESSAGE_ACCEPT] = { FIELD_REQUIRED, FIELD_OPTIONAL, { { NULL } } },
  [ES_MESSAGE_DECLINE] = { FIELD_REQUIRED, FIELD_OPTIONAL, { { NULL } } },
  [ES_MESSAGE_CANCEL] = { FIELD_REQUIRED, FIELD_OPTIONAL, { { NULL } } },
  [ES_MESSAGE_HANGUP] = { FIELD_REQUIRED, FIELD_OPTIONAL,
    { { "reason", BODY_STRING, FALSE } } },
  [ES_MESSAGE_ANSWERED_ELSEWHERE] = { FIELD_REQUIRED, FIELD_FORBIDDEN,
    { { "device_name", BODY_STRING, TRUE } } },
  [ES_MESSAGE_DECLINED_ELSEWHERE] = { FIELD_REQUIRED, FIELD_OPTIONAL, { { NULL } } },
  [ES_MESSAGE_BUSY] = { FIELD_REQUIRED, FIELD_OPTIONAL, { { NULL } } },
  [ES_MESSAGE_MISSED] = { FIELD_REQUIRED, FIELD_OPTIONAL, { { NULL } } },
  [ES_MESSAGE_NO_ANSWER] = { FIELD_REQUIRED, FIELD_OPTIONAL, { { NULL } } },
  [ES_MESSAGE_DATA] = { FIELD_FORBIDDEN, FIELD_REQUIRED, { { NULL } } },
};

static const char *top_level_keys[] = {
  "v", "seq", "ack", "type", "call_id", "to_device", "from_device", "from_user", "body",
};

const char *
es_message_type_to_string (EsMessageType type)
{
  g_return_val_if_fail (type < ES_MESSAGE_N_TYPES, NULL);

  return type_names[type];
}

gboolean
es_message_type_from_string (const char    *name,
                             EsMessageType *out_type)
{
  if (name == NULL)
    return FALSE;

  for (guint i = 0; i < ES_MESSAGE_N_TYPES; i++)
    {
      if (strcmp (name, type_names[i]) == 0)
        {
          if (out_type != NULL)
            *out_type = i;
          return TRUE;
        }
    }

  return FALSE;
}

gboolean
es_message_type_is_durable (EsMessageType type)
{
  return type > ES_MESSAGE_ERROR && type < ES_MESSAGE_N_TYPES;
}

gboolean
es_protocol_is_valid_id (const char *id)
{
  gsize len;

  if (id == NULL)
    return FALSE;

  len = strlen (id);
  if (len == 0 || len > ES_PROTOCOL_MAX_ID_LENGTH)
    return FALSE;

  for (gsize i = 0; i < len; i++)
    {
      if (!g_ascii_isalnum (id[i]) && id[i] != '-' && id[i] != '_' && id[i] != '.')
        return FALSE;
    }

  return TRUE;
}

EsFrame *
es_frame_new (EsMessageType type)
{
  EsFrame *frame;

  g_return_val_if_fail (type < ES_MESSAGE_N_TYPES, NULL);

  frame = g_new0 (EsFrame, 1);
  frame->type = type;
  frame->body = json_object_new ();

  return frame;
}

/* json_node_copy() shares objects and arrays, so a frame copy that callers may edit needs its own
 * walk. */
static JsonNode *copy_node (JsonNode *node);

static JsonObject *
copy_object (JsonObject *object)
{
  JsonObject *copy = json_object_new ();
  JsonObjectIter iter;
  const char *member;
  JsonNode *value;

  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &member, &value))
    json_object_set_member (copy, member, copy_node (value));

  return copy;
}

static JsonNode *
copy_node (JsonNode *node)
{
  JsonNode *copy;

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      copy = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (copy, copy_object (json_node_get_object (node)));
      return copy;

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        JsonArray *array_copy = json_array_sized_new (json_array_get_length (array));

        for (guint i = 0; i < json_array_get_length (array); i++)
          json_array_add_element (array_copy, copy_node (json_array_get_element (array, i)));

        copy = json_node_new (JSON_NODE_ARRAY);
        json_node_take_array (copy, array_copy);
        return copy;
      }

    case JSON_NODE_VALUE:
    case JSON_NODE_NULL:
    default:
      copy = json_node_copy (node);
      return copy;
    }
}

EsFrame *
es_frame_copy (const EsFrame *frame)
{
  EsFrame *copy;
  g_return_val_if_fail (frame != NULL, NULL);

  copy = g_new0 (EsFrame, 1);
  copy->type = frame->type;
  copy->seq = frame->seq;
  copy->ack = frame->ack;
  copy->call_id = g_strdup (frame->call_id);
  copy->to_device = g_strdup (frame->to_device);
  copy->from_device = g_strdup (frame->from_device);
  copy->from_user = g_strdup (frame->from_user);

  copy->body = copy_object (frame->body);

  return copy;
}

void
es_frame_free (EsFrame *frame)
{
  if (frame == NULL)
    return;

  g_free (frame->call_id);
  g_free (frame->to_device);
  g_free (frame->from_device);
  g_free (frame->from_user);
  g_clear_pointer (&frame->body, json_object_unref);
  g_free (frame);
}

static gboolean
read_integer (JsonObject  *object,
              const char  *key,
              gboolean     required,
              gint64      *out_value,
              GError     **error)
{
  JsonNode *node = json_object_get_member (object, key);

  *out_value = 0;

  if (node == NULL)
    {
      if (!required)
        return TRUE;
      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                   "“%s” is missing", key);
      return FALSE;
    }

  /* json-glib keeps integers as gint64 and everything with a fraction or exponent as double. */
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                   "“%s” must be an integer", key);
      return FALSE;
    }

  *out_value = json_node_get_int (node);
  return TRUE;
}

static gboolean
read_string (JsonObject  *object,
             const char  *key,
             gboolean     required,
             gboolean     must_be_id,
             char       **out_value,
             GError     **error)
{
  JsonNode *node = json_object_get_member (object, key);
  const char *value;

  *out_value = NULL;

  if (node == NULL)
    {
      if (!required)
        return TRUE;
      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                   "“%s” is missing", key);
      return FALSE;
    }

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                   "“%s” must be a string", key);
      return FALSE;
    }

  value = json_node_get_string (node);
  if (must_be_id && !es_protocol_is_valid_id (value))
    {
      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                   "“%s” must be 1 to %d characters of letters, digits, “.”, “_” or “-”",
                   key, ES_PROTOCOL_MAX_ID_LENGTH);
      return FALSE;
    }

  *out_value = g_strdup (value);
  return TRUE;
}

static gboolean
check_rule (JsonObject  *root,
            const char  *key,
            FieldRule    rule,
            const char  *type_name,
            char       **out_value,
            GError     **error)
{
  if (rule == FIELD_FORBIDDEN && json_object_has_member (root, key))
    {
      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                   "“%s” frames take no “%s”", type_name, key);
      return FALSE;
    }

  return read_string (root, key, rule == FIELD_REQUIRED, TRUE, out_value, error);
}

static gboolean
validate_body (JsonObject       *body,
               const TypeRules  *rules,
               const char       *type_name,
               GError          **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (rules->fields) && rules->fields[i].name != NULL; i++)
    {
      const BodyField *field = &rules->fields[i];
      g_autoptr(GError) local_error = NULL;
      g_autofree char *string = NULL;
      gint64 number;
      gboolean ok = TRUE;

      switch (field->kind)
        {
        case BODY_ID:
        case BODY_STRING:
        case BODY_MEDIA:
          ok = read_string (body, field->name, field->required, field->kind == BODY_ID,
                            &string, &local_error);
          if (ok && field->kind == BODY_MEDIA && string != NULL &&
              strcmp (string, "audio") != 0 && strcmp (string, "video") != 0)
            {
              g_set_error (&local_error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                           "“%s” must be “audio” or “video”", field->name);
              ok = FALSE;
            }
          break;

        case BODY_NON_NEG:
          ok = read_integer (body, field->name, field->required, &number, &local_error);
          if (ok && number < 0)
            {
              g_set_error (&local_error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                           "“%s” must not be negative", field->name);
              ok = FALSE;
            }
          break;

        default:
          g_assert_not_reached ();
        }

      if (!ok)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "“%s” body: ", type_name);
          return FALSE;
        }
    }

  return TRUE;
}

EsFrame *
es_frame_parse (const char  *data,
                gsize        length,
                GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(EsFrame) frame = NULL;
  g_autoptr(GError) json_error = NULL;
  g_autofree char *type_name = NULL;
  const TypeRules *rules;
  JsonObject *root;
  JsonNode *root_node;
  JsonNode *body_node;
  JsonObjectIter iter;
  const char *member;
  gint64 version;

  if (data == NULL)
    length = 0;

  if (length > ES_PROTOCOL_MAX_FRAME_SIZE)
    {
      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_TOO_LARGE,
                   "Frame of %" G_GSIZE_FORMAT " bytes is over the limit of %d bytes",
                   length, ES_PROTOCOL_MAX_FRAME_SIZE);
      return NULL;
    }

  if (length == 0 || !g_utf8_validate_len (data, length, NULL))
    {
      g_set_error_literal (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_MALFORMED,
                           length == 0 ? "Frame is empty" : "Frame is not valid UTF-8");
      return NULL;
    }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data, length, &json_error))
    {
      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_MALFORMED,
                   "Frame is not JSON: %s", json_error->message);
      return NULL;
    }

  root_node = json_parser_get_root (parser);
  if (root_node == NULL || !JSON_NODE_HOLDS_OBJECT (root_node))
    {
      g_set_error_literal (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_MALFORMED,
                           "Frame is not a JSON object");
      return NULL;
    }
  root = json_node_get_object (root_node);

  json_object_iter_init (&iter, root);
  while (json_object_iter_next (&iter, &member, NULL))
    {
      gboolean known = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (top_level_keys); i++)
        known |= strcmp (member, top_level_keys[i]) == 0;

      if (!known)
        {
          g_autofree char *shown = g_utf8_make_valid (member, MIN (strlen (member), 64));

          g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                       "Unknown field “%s”", shown);
          return NULL;
        }
    }

  if (!json_object_has_member (root, "v"))
    {
      g_set_error_literal (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_VERSION,
                           "Frame has no protocol version “v”");
      return NULL;
    }
  if (!read_integer (root, "v", TRUE, &version, NULL) || version != ES_PROTOCOL_VERSION)
    {
      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_VERSION,
                   "Unsupported protocol version (this side speaks %d)", ES_PROTOCOL_VERSION);
      return NULL;
    }

  if (!read_string (root, "type", TRUE, FALSE, &type_name, error))
    {
      if (error != NULL && *error != NULL)
        (*error)->code = ES_PROTOCOL_ERROR_UNKNOWN_TYPE;
      return NULL;
    }

  frame = g_new0 (EsFrame, 1);
  if (!es_message_type_from_string (type_name, &frame->type))
    {
      g_autofree char *shown = g_utf8_make_valid (type_name, MIN (strlen (type_name), 64));

      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_UNKNOWN_TYPE,
                   "Unknown frame type “%s”", shown);
      return NULL;
    }
  rules = &type_rules[frame->type];

  if (!read_integer (root, "seq", TRUE, &frame->seq, error) ||
      !read_integer (root, "ack", TRUE, &frame->ack, error))
    return NULL;

  if (frame->ack < 0)
    {
      g_set_error_literal (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                           "“ack” must not be negative");
      return NULL;
    }

  if (es_message_type_is_durable (frame->type) ? frame->seq < 1 : frame->seq != 0)
    {
      g_set_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                   es_message_type_is_durable (frame->type)
                     ? "“%s” is a durable frame and needs “seq” of 1 or more"
                     : "“%s” is a control frame and needs “seq” 0",
                   type_name);
      return NULL;
    }

  if (!check_rule (root, "call_id", rules->call_id, type_name, &frame->call_id, error) ||
      !check_rule (root, "to_device", rules->to_device, type_name, &frame->to_device, error) ||
      !read_string (root, "from_device", FALSE, TRUE, &frame->from_device, error) ||
      !read_string (root, "from_user", FALSE, TRUE, &frame->from_user, error))
    return NULL;

  body_node = json_object_get_member (root, "body");
  if (body_node == NULL || !JSON_NODE_HOLDS_OBJECT (body_node))
    {
      g_set_error_literal (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_INVALID_FIELD,
                           "“body” must be a JSON object");
      return NULL;
    }

  frame->body = json_node_dup_object (body_node);

  if (!validate_body (frame->body, rules, type_name, error))
    return NULL;

  return g_steal_pointer (&frame);
}

char *
es_frame_serialize (const EsFrame *frame,
                    gsize         *out_length)
{
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonNode *body;

  g_return_val_if_fail (frame != NULL, NULL);
  g_return_val_if_fail (frame->type < ES_MESSAGE_N_TYPES, NULL);

  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "v");
  json_builder_add_int_value (builder, ES_PROTOCOL_VERSION);
  json_builder_set_member_name (builder, "seq");
  json_builder_add_int_value (builder, frame->seq);
  json_builder_set_member_name (builder, "ack");
  json_builder_add_int_value (builder, frame->ack);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type_names[frame->type]);

  if (frame->call_id != NULL)
    {
      json_builder_set_member_name (builder, "call_id");
      json_builder_add_string_value (builder, frame->call_id);
    }
  if (frame->to_device != NULL)
    {
      json_builder_set_member_name (builder, "to_device");
      json_builder_add_string_value (builder, frame->to_device);
    }
  if (frame->from_device != NULL)
    {
      json_builder_set_member_name (builder, "from_device");
      json_builder_add_string_value (builder, frame->from_device);
    }
  if (frame->from_user != NULL)
    {
      json_builder_set_member_name (builder, "from_user");
      json_builder_add_string_value (builder, frame->from_user);
    }

  json_builder_set_member_name (builder, "body");
  body = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (body, frame->body != NULL ? frame->body : json_object_new ());
  if (frame->body == NULL)
    json_object_unref (json_node_get_object (body));
  json_builder_add_value (builder, body);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  generator = json_generator_new ();
  json_generator_set_root (generator, root);

  return json_generator_to_data (generator, out_length);
}
