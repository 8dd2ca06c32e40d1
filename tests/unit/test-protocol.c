/* test-protocol.c: frame parsing, validation and serialization
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "es-protocol.h"

/* One valid frame of each type, as a peer would write it. */
static const struct
{
  EsMessageType type;
  const char   *json;
} valid_frames[] = {
  { ES_MESSAGE_HELLO,
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"hello\",\"body\":{\"device_id\":\"d1\",\"resume_ack\":5}}" },
  { ES_MESSAGE_WELCOME,
    "{\"v\":1,\"seq\":0,\"ack\":3,\"type\":\"welcome\",\"body\":{\"resume_ack\":3,\"device_id\":\"d1\",\"user\":\"alice\"}}" },
  { ES_MESSAGE_ACK, "{\"v\":1,\"seq\":0,\"ack\":9,\"type\":\"ack\",\"body\":{}}" },
  { ES_MESSAGE_PING, "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"ping\",\"body\":{}}" },
  { ES_MESSAGE_PONG, "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"pong\",\"body\":{}}" },
  { ES_MESSAGE_ERROR,
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"error\",\"body\":{\"code\":\"bad_frame\",\"message\":\"x\",\"ref_seq\":4}}" },
  { ES_MESSAGE_INVITE,
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"invite\",\"call_id\":\"c-1\",\"body\":{\"to_user\":\"bob\",\"media\":\"video\"}}" },
  { ES_MESSAGE_INCOMING,
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"incoming\",\"call_id\":\"c-1\",\"body\":{\"from_user\":\"alice\",\"from_device\":\"d1\",\"from_device_name\":\"Laptop\",\"media\":\"audio\"}}" },
  { ES_MESSAGE_RINGING,
    "{\"v\":1,\"seq\":2,\"ack\":0,\"type\":\"ringing\",\"call_id\":\"c-1\",\"body\":{\"device_id\":\"d2\",\"device_name\":\"Phone\"}}" },
  { ES_MESSAGE_OFFER,
    "{\"v\":1,\"seq\":3,\"ack\":1,\"type\":\"offer\",\"call_id\":\"c-1\",\"to_device\":\"d2\",\"body\":{\"sdp\":\"v=0\\r\\n\"}}" },
  { ES_MESSAGE_ANSWER,
    "{\"v\":1,\"seq\":3,\"ack\":1,\"type\":\"answer\",\"call_id\":\"c-1\",\"to_device\":\"d1\",\"from_device\":\"d2\",\"from_user\":\"bob\",\"body\":{\"sdp\":\"v=0\\r\\n\"}}" },
  { ES_MESSAGE_ICE,
    "{\"v\":1,\"seq\":4,\"ack\":1,\"type\":\"ice\",\"call_id\":\"c-1\",\"to_device\":\"d2\",\"body\":{\"mline\":0,\"candidate\":\"candidate:1 1 UDP 1 1.2.3.4 5 typ host\"}}" },
  { ES_MESSAGE_ACCEPT, "{\"v\":1,\"seq\":5,\"ack\":1,\"type\":\"accept\",\"call_id\":\"c-1\",\"body\":{}}" },
  { ES_MESSAGE_DECLINE, "{\"v\":1,\"seq\":5,\"ack\":1,\"type\":\"decline\",\"call_id\":\"c-1\",\"body\":{}}" },
  { ES_MESSAGE_CANCEL, "{\"v\":1,\"seq\":5,\"ack\":1,\"type\":\"cancel\",\"call_id\":\"c-1\",\"body\":{}}" },
  { ES_MESSAGE_HANGUP,
    "{\"v\":1,\"seq\":5,\"ack\":1,\"type\":\"hangup\",\"call_id\":\"c-1\",\"body\":{\"reason\":\"user\"}}" },
  { ES_MESSAGE_ANSWERED_ELSEWHERE,
    "{\"v\":1,\"seq\":6,\"ack\":1,\"type\":\"answered_elsewhere\",\"call_id\":\"c-1\",\"body\":{\"device_name\":\"Phone\"}}" },
  { ES_MESSAGE_DECLINED_ELSEWHERE,
    "{\"v\":1,\"seq\":6,\"ack\":1,\"type\":\"declined_elsewhere\",\"call_id\":\"c-1\",\"body\":{}}" },
  { ES_MESSAGE_BUSY, "{\"v\":1,\"seq\":6,\"ack\":1,\"type\":\"busy\",\"call_id\":\"c-1\",\"body\":{}}" },
  { ES_MESSAGE_MISSED, "{\"v\":1,\"seq\":6,\"ack\":1,\"type\":\"missed\",\"call_id\":\"c-1\",\"body\":{}}" },
  { ES_MESSAGE_NO_ANSWER, "{\"v\":1,\"seq\":6,\"ack\":1,\"type\":\"no_answer\",\"call_id\":\"c-1\",\"body\":{}}" },
  { ES_MESSAGE_DATA,
    "{\"v\":1,\"seq\":7,\"ack\":1,\"type\":\"data\",\"to_device\":\"d2\",\"body\":{\"n\":1,\"nested\":{\"a\":[1,2]}}}" },
};

static void
test_every_type_round_trips (void)
{
  gboolean seen[ES_MESSAGE_N_TYPES] = { FALSE, };

  for (guint i = 0; i < G_N_ELEMENTS (valid_frames); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(EsFrame) frame = NULL;
      g_autoptr(EsFrame) again = NULL;
      g_autofree char *text = NULL;
      g_autofree char *text_again = NULL;
      gsize length;

      frame = es_frame_parse (valid_frames[i].json, strlen (valid_frames[i].json), &error);
      g_assert_no_error (error);
      g_assert_nonnull (frame);
      g_assert_cmpint (frame->type, ==, valid_frames[i].type);
      g_assert_nonnull (frame->body);
      g_assert_cmpint (es_message_type_is_durable (frame->type), ==, frame->seq > 0);
      seen[frame->type] = TRUE;

      text = es_frame_serialize (frame, &length);
      g_assert_cmpuint (length, ==, strlen (text));
      again = es_frame_parse (text, length, &error);
      g_assert_no_error (error);
      g_assert_cmpint (again->type, ==, frame->type);
      g_assert_cmpint (again->seq, ==, frame->seq);
      g_assert_cmpint (again->ack, ==, frame->ack);
      g_assert_cmpstr (again->call_id, ==, frame->call_id);
      g_assert_cmpstr (again->to_device, ==, frame->to_device);
      g_assert_cmpstr (again->from_device, ==, frame->from_device);
      g_assert_cmpstr (again->from_user, ==, frame->from_user);

      /* Serialization is deterministic, so a second trip gives the same text. */
      text_again = es_frame_serialize (again, NULL);
      g_assert_cmpstr (text, ==, text_again);
    }

  for (guint t = 0; t < ES_MESSAGE_N_TYPES; t++)
    {
      EsMessageType back;

      g_assert_true (seen[t]);
      g_assert_true (es_message_type_from_string (es_message_type_to_string (t), &back));
      g_assert_cmpint (back, ==, t);
    }
}

static void
assert_rejected (const char *json,
                 gsize       length,
                 int         code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EsFrame) frame = NULL;

  frame = es_frame_parse (json, length, &error);
  if (frame != NULL)
    g_error ("accepted a bad frame: %.*s", (int) MIN (length, 200), json);
  if (!g_error_matches (error, ES_PROTOCOL_ERROR, code))
    g_error ("wrong error for %.*s: %s", (int) MIN (length, 200), json, error->message);
  g_assert_cmpstr (error->message, !=, "");
}

static void
test_malformed (void)
{
  static const char *not_json[] = {
    "", "{", "}", "null", "[]", "42", "\"text\"", "{\"v\":1,}",
    "{\"v\":1 \"seq\":0}", "\xff\xfe{}", "{\"v\":1,\"type\":\"ack\",\"seq\":0,\"ack\":0,\"body\":{}}x",
  };

  for (guint i = 0; i < G_N_ELEMENTS (not_json); i++)
    assert_rejected (not_json[i], strlen (not_json[i]), ES_PROTOCOL_ERROR_MALFORMED);

  assert_rejected (NULL, 0, ES_PROTOCOL_ERROR_MALFORMED);

  /* Embedded NUL bytes within the given length. */
  assert_rejected ("{\"v\":1}\0junk", 12, ES_PROTOCOL_ERROR_MALFORMED);
}

static void
test_truncated (void)
{
  /* Every prefix of every valid frame is rejected with an error, never accepted or crashing. */
  for (guint i = 0; i < G_N_ELEMENTS (valid_frames); i++)
    {
      const char *json = valid_frames[i].json;
      gsize len = strlen (json);

      for (gsize cut = 0; cut < len; cut++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(EsFrame) frame = es_frame_parse (json, cut, &error);

          g_assert_null (frame);
          g_assert_error (error, ES_PROTOCOL_ERROR, ES_PROTOCOL_ERROR_MALFORMED);
        }
    }
}

static void
test_oversized (void)
{
  g_autoptr(GString) big = g_string_new ("{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"data\",\"to_device\":\"d\",\"body\":{\"x\":\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(EsFrame) frame = NULL;
  gsize fits;

  while (big->len < ES_PROTOCOL_MAX_FRAME_SIZE - 3)
    g_string_append_c (big, 'a');
  g_string_append (big, "\"}}");
  g_assert_cmpuint (big->len, ==, ES_PROTOCOL_MAX_FRAME_SIZE);

  frame = es_frame_parse (big->str, big->len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (frame);

  fits = big->len;
  g_string_insert_c (big, fits - 3, 'a');
  assert_rejected (big->str, big->len, ES_PROTOCOL_ERROR_TOO_LARGE);

  /* 1 MiB, as an abusive client would send. */
  g_string_set_size (big, 1024 * 1024);
  memset (big->str, ' ', big->len);
  assert_rejected (big->str, big->len, ES_PROTOCOL_ERROR_TOO_LARGE);
}

static void
test_wrong_version (void)
{
  static const char *frames[] = {
    "{\"seq\":0,\"ack\":0,\"type\":\"ping\",\"body\":{}}",
    "{\"v\":2,\"seq\":0,\"ack\":0,\"type\":\"ping\",\"body\":{}}",
    "{\"v\":0,\"seq\":0,\"ack\":0,\"type\":\"ping\",\"body\":{}}",
    "{\"v\":\"1\",\"seq\":0,\"ack\":0,\"type\":\"ping\",\"body\":{}}",
    "{\"v\":1.0,\"seq\":0,\"ack\":0,\"type\":\"ping\",\"body\":{}}",
    "{\"v\":null,\"seq\":0,\"ack\":0,\"type\":\"ping\",\"body\":{}}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (frames); i++)
    assert_rejected (frames[i], strlen (frames[i]), ES_PROTOCOL_ERROR_VERSION);
}

static void
test_unknown_type (void)
{
  static const char *frames[] = {
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"teleport\",\"body\":{}}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"\",\"body\":{}}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"PING\",\"body\":{}}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":7,\"body\":{}}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"body\":{}}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (frames); i++)
    assert_rejected (frames[i], strlen (frames[i]), ES_PROTOCOL_ERROR_UNKNOWN_TYPE);
}

static void
test_wrong_field_types (void)
{
  static const char *frames[] = {
    /* common fields */
    "{\"v\":1,\"seq\":\"0\",\"ack\":0,\"type\":\"ping\",\"body\":{}}",
    "{\"v\":1,\"seq\":0,\"ack\":-1,\"type\":\"ping\",\"body\":{}}",
    "{\"v\":1,\"seq\":0,\"ack\":1.5,\"type\":\"ping\",\"body\":{}}",
    "{\"v\":1,\"seq\":0,\"type\":\"ping\",\"body\":{}}",
    "{\"v\":1,\"ack\":0,\"type\":\"ping\",\"body\":{}}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"ping\"}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"ping\",\"body\":[]}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"ping\",\"body\":null}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"ping\",\"body\":{},\"extra\":1}",
    /* seq rules: control frames have 0, durable frames 1 or more */
    "{\"v\":1,\"seq\":3,\"ack\":0,\"type\":\"ping\",\"body\":{}}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"data\",\"to_device\":\"d\",\"body\":{}}",
    "{\"v\":1,\"seq\":-4,\"ack\":0,\"type\":\"data\",\"to_device\":\"d\",\"body\":{}}",
    /* identifiers */
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"data\",\"body\":{}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"data\",\"to_device\":\"\",\"body\":{}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"data\",\"to_device\":\"a b\",\"body\":{}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"data\",\"to_device\":\"../etc\",\"body\":{}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"data\",\"to_device\":5,\"body\":{}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"data\",\"to_device\":\"d\",\"call_id\":\"c\",\"body\":{}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"data\",\"to_device\":\"d\",\"from_user\":\"\\u00e9\",\"body\":{}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"data\",\"to_device\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"body\":{}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"accept\",\"body\":{}}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"ping\",\"to_device\":\"d\",\"body\":{}}",
    /* bodies */
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"hello\",\"body\":{\"device_id\":\"d1\"}}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"hello\",\"body\":{\"device_id\":\"d1\",\"resume_ack\":-1}}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"hello\",\"body\":{\"device_id\":1,\"resume_ack\":0}}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"welcome\",\"body\":{\"resume_ack\":0,\"device_id\":\"d\"}}",
    "{\"v\":1,\"seq\":0,\"ack\":0,\"type\":\"error\",\"body\":{\"code\":\"x\"}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"invite\",\"call_id\":\"c\",\"body\":{\"to_user\":\"bob\",\"media\":\"smell\"}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"invite\",\"call_id\":\"c\",\"body\":{\"media\":\"audio\"}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"offer\",\"call_id\":\"c\",\"to_device\":\"d\",\"body\":{\"sdp\":[]}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"offer\",\"call_id\":\"c\",\"body\":{\"sdp\":\"v=0\"}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"ice\",\"call_id\":\"c\",\"to_device\":\"d\",\"body\":{\"mline\":\"0\",\"candidate\":\"x\"}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"ice\",\"call_id\":\"c\",\"to_device\":\"d\",\"body\":{\"mline\":-1,\"candidate\":\"x\"}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"ringing\",\"call_id\":\"c\",\"body\":{\"device_id\":\"d\"}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"hangup\",\"call_id\":\"c\",\"body\":{\"reason\":false}}",
    "{\"v\":1,\"seq\":1,\"ack\":0,\"type\":\"answered_elsewhere\",\"call_id\":\"c\",\"body\":{}}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (frames); i++)
    assert_rejected (frames[i], strlen (frames[i]), ES_PROTOCOL_ERROR_INVALID_FIELD);
}

static void
test_copy_is_independent (void)
{
  const char *json = valid_frames[G_N_ELEMENTS (valid_frames) - 1].json;
  g_autoptr(EsFrame) frame = es_frame_parse (json, strlen (json), NULL);
  g_autoptr(EsFrame) copy = es_frame_copy (frame);
  JsonObject *nested;

  json_object_set_int_member (copy->body, "n", 99);
  nested = json_object_get_object_member (copy->body, "nested");
  json_object_set_string_member (nested, "a", "changed");

  g_assert_cmpint (json_object_get_int_member (frame->body, "n"), ==, 1);
  nested = json_object_get_object_member (frame->body, "nested");
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_object_get_member (nested, "a")));
}

static void
test_new_frame_serializes (void)
{
  g_autoptr(EsFrame) frame = es_frame_new (ES_MESSAGE_DATA);
  g_autoptr(EsFrame) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  frame->seq = 12;
  frame->ack = 3;
  frame->to_device = g_strdup ("dev-2");
  json_object_set_string_member (frame->body, "text", "привет \"quoted\" \\ /");

  text = es_frame_serialize (frame, NULL);
  back = es_frame_parse (text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (back->body, "text"), ==,
                   "привет \"quoted\" \\ /");
}

static void
test_ids (void)
{
  g_assert_true (es_protocol_is_valid_id ("a"));
  g_assert_true (es_protocol_is_valid_id ("3f2a-9c_x.y"));
  g_assert_false (es_protocol_is_valid_id (NULL));
  g_assert_false (es_protocol_is_valid_id (""));
  g_assert_false (es_protocol_is_valid_id ("a/b"));
  g_assert_false (es_protocol_is_valid_id ("a\nb"));
  g_assert_false (es_protocol_is_valid_id ("ü"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/protocol/every-type", test_every_type_round_trips);
  g_test_add_func ("/protocol/malformed", test_malformed);
  g_test_add_func ("/protocol/truncated", test_truncated);
  g_test_add_func ("/protocol/oversized", test_oversized);
  g_test_add_func ("/protocol/wrong-version", test_wrong_version);
  g_test_add_func ("/protocol/unknown-type", test_unknown_type);
  g_test_add_func ("/protocol/wrong-field-types", test_wrong_field_types);
  g_test_add_func ("/protocol/copy", test_copy_is_independent);
  g_test_add_func ("/protocol/new-frame", test_new_frame_serializes);
  g_test_add_func ("/protocol/ids", test_ids);

  return g_test_run ();
}
