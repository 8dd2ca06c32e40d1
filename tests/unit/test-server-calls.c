/* test-server-calls.c: the call state machine of earshot-server, without sockets
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gstdio.h>

#include "es-server-calls.h"
#include "es-server-store-sqlite.h"

#define RING_TIMEOUT 60
#define START_TIME   (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC)

typedef struct
{
  char    *device_id;
  EsFrame *frame;
} Queued;

typedef struct
{
  char          *dir;
  char          *path;
  EsServerStore *store;
  EsServerCalls *calls;
  GPtrArray     *queued; /* Queued */
  gint64         now;
  guint          fails;
} Fixture;

/* alice and bob have two devices each, carol one. */
static const struct
{
  const char *id;
  const char *user;
  const char *name;
} devices[] = {
  { "a1", "alice", "Alice laptop" },
  { "a2", "alice", "Alice phone" },
  { "b1", "bob", "Bob laptop" },
  { "b2", "bob", "Bob phone" },
  { "c1", "carol", "Carol desk" },
};

static void
queued_free (Queued *queued)
{
  g_free (queued->device_id);
  es_frame_free (queued->frame);
  g_free (queued);
}

static gint64
fake_clock (gpointer user_data)
{
  Fixture *fixture = user_data;

  return fixture->now;
}

static gboolean
sink_begin (gpointer   user_data,
            GError   **error)
{
  Fixture *fixture = user_data;

  if (es_server_store_in_transaction (fixture->store))
    return TRUE;
  return es_server_store_begin (fixture->store, error);
}

/* Every queued frame must survive the trip through the queue: the server parses stored frames
 * again when it resends them after hello. */
static gboolean
sink_queue (gpointer        user_data,
            const char     *device_id,
            const EsFrame  *frame,
            GError        **error)
{
  Fixture *fixture = user_data;
  g_autoptr(EsFrame) copy = es_frame_copy (frame);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = NULL;
  Queued *queued;
  gsize length;

  g_assert_true (es_server_store_in_transaction (fixture->store));

  copy->seq = 1;
  text = es_frame_serialize (copy, &length);
  g_assert_nonnull (text);

  queued = g_new0 (Queued, 1);
  queued->device_id = g_strdup (device_id);
  queued->frame = es_frame_parse (text, length, &local_error);
  g_assert_no_error (local_error);
  g_ptr_array_add (fixture->queued, queued);
  return TRUE;
}

static void
sink_fail (gpointer      user_data,
           const GError *error)
{
  Fixture *fixture = user_data;

  fixture->fails++;
}

static const EsServerCallsSink sink = { sink_begin, sink_queue, sink_fail };

static void
open_calls (Fixture *fixture,
            guint    ring_timeout)
{
  g_autoptr(GError) error = NULL;

  fixture->store = es_server_store_sqlite_new (fixture->path, &error);
  g_assert_no_error (error);
  fixture->calls = es_server_calls_new (fixture->store, ring_timeout, &sink, fixture);
  es_server_calls_set_clock (fixture->calls, fake_clock, fixture);
  es_server_calls_reschedule (fixture->calls, &error);
  g_assert_no_error (error);
}

static void
close_calls (Fixture *fixture)
{
  if (fixture->store != NULL && es_server_store_in_transaction (fixture->store))
    es_server_store_rollback (fixture->store, NULL);
  g_assert_finalize_object (fixture->calls);
  fixture->calls = NULL;
  g_assert_finalize_object (fixture->store);
  fixture->store = NULL;
}

static void
commit (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;

  if (es_server_store_in_transaction (fixture->store))
    es_server_store_commit (fixture->store, &error);
  g_assert_no_error (error);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("earshot-server-calls-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->path = g_build_filename (fixture->dir, "server.db", NULL);
  fixture->queued = g_ptr_array_new_with_free_func ((GDestroyNotify) queued_free);
  fixture->now = START_TIME;

  open_calls (fixture, RING_TIMEOUT);

  es_server_store_begin (fixture->store, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (devices); i++)
    {
      guint8 hash[ES_SERVER_STORE_TOKEN_HASH_SIZE];

      es_server_store_hash_token ((const guint8 *) devices[i].id, strlen (devices[i].id), hash);
      if (i == 0 || g_strcmp0 (devices[i].user, devices[i - 1].user) != 0)
        {
          es_server_store_create_user (fixture->store, devices[i].user, "hash", &error);
          g_assert_no_error (error);
        }
      es_server_store_add_device (fixture->store, devices[i].id, devices[i].user, devices[i].name,
                                  hash, &error);
      g_assert_no_error (error);
    }
  commit (fixture);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  close_calls (fixture);
  g_ptr_array_unref (fixture->queued);
  g_remove (fixture->path);
  {
    g_autofree char *wal = g_strconcat (fixture->path, "-wal", NULL);
    g_autofree char *shm = g_strconcat (fixture->path, "-shm", NULL);

    g_remove (wal);
    g_remove (shm);
  }
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->path);
}

/* Sending ------------------------------------------------------------------------------------ */

static guint
device_index (const char *device_id)
{
  for (guint i = 0; i < G_N_ELEMENTS (devices); i++)
    {
      if (g_str_equal (devices[i].id, device_id))
        return i;
    }
  g_assert_not_reached ();
}

/* Sends the frame @json (without "v", "seq" and "ack") from @device_id; returns the error. */
static GError *
send_json (Fixture    *fixture,
           const char *device_id,
           const char *json)
{
  g_autofree char *text = g_strdup_printf ("{\"v\":1,\"seq\":1,\"ack\":0,%s}", json);
  g_autoptr(EsFrame) frame = NULL;
  GError *error = NULL;
  guint i = device_index (device_id);

  frame = es_frame_parse (text, strlen (text), &error);
  g_assert_no_error (error);

  es_server_calls_handle_frame (fixture->calls, devices[i].id, devices[i].name, devices[i].user,
                                frame, &error);
  return error;
}

#define SEND_OK(fixture, device, ...)                                                  \
  G_STMT_START {                                                                       \
    g_autofree char *json_ = g_strdup_printf (__VA_ARGS__);                            \
    g_autoptr(GError) error_ = send_json (fixture, device, json_);                     \
    g_assert_no_error (error_);                                                        \
  } G_STMT_END

#define SEND_FAILS(fixture, device, code, ...)                                         \
  G_STMT_START {                                                                       \
    g_autofree char *json_ = g_strdup_printf (__VA_ARGS__);                            \
    g_autoptr(GError) error_ = send_json (fixture, device, json_);                     \
    g_assert_error (error_, ES_SERVER_CALLS_ERROR, code);                              \
  } G_STMT_END

static void
invite (Fixture    *fixture,
        const char *device_id,
        const char *call_id,
        const char *to_user)
{
  SEND_OK (fixture, device_id,
           "\"type\":\"invite\",\"call_id\":\"%s\",\"body\":{\"to_user\":\"%s\",\"media\":\"video\"}",
           call_id, to_user);
}

static void
simple (Fixture    *fixture,
        const char *device_id,
        const char *type,
        const char *call_id)
{
  SEND_OK (fixture, device_id, "\"type\":\"%s\",\"call_id\":\"%s\",\"body\":{}", type, call_id);
}

/* Checking what was queued --------------------------------------------------------------------- */

/* Removes and returns the first frame of @type for @call_id queued to @device_id. */
static EsFrame *
take (Fixture    *fixture,
      const char *device_id,
      const char *type,
      const char *call_id)
{
  for (guint i = 0; i < fixture->queued->len; i++)
    {
      Queued *queued = g_ptr_array_index (fixture->queued, i);

      if (g_str_equal (queued->device_id, device_id) &&
          g_str_equal (es_message_type_to_string (queued->frame->type), type) &&
          g_strcmp0 (queued->frame->call_id, call_id) == 0)
        {
          EsFrame *frame = g_steal_pointer (&queued->frame);

          g_ptr_array_remove_index (fixture->queued, i);
          return frame;
        }
    }

  g_error ("No %s for %s queued to %s", type, call_id, device_id);
}

static void
take_and_free (Fixture    *fixture,
               const char *device_id,
               const char *type,
               const char *call_id)
{
  es_frame_free (take (fixture, device_id, type, call_id));
}

static void
assert_nothing_queued (Fixture *fixture)
{
  for (guint i = 0; i < fixture->queued->len; i++)
    {
      Queued *queued = g_ptr_array_index (fixture->queued, i);

      g_test_message ("left over: %s for %s to %s", es_message_type_to_string (queued->frame->type),
                      queued->frame->call_id, queued->device_id);
    }
  g_assert_cmpuint (fixture->queued->len, ==, 0);
}

static EsServerCallState
call_state (Fixture    *fixture,
            const char *call_id)
{
  g_autoptr(EsServerCallRecord) call = NULL;
  g_autoptr(GError) error = NULL;

  call = es_server_store_lookup_call (fixture->store, call_id, &error);
  g_assert_no_error (error);
  return call->state;
}

static const char *
body_string (const EsFrame *frame,
             const char    *key)
{
  return json_object_get_string_member_with_default (frame->body, key, NULL);
}

/* Starts call "x" from a1 to bob and takes the two incoming frames. */
static void
ring_bob (Fixture *fixture)
{
  invite (fixture, "a1", "x", "bob");
  take_and_free (fixture, "b1", "incoming", "x");
  take_and_free (fixture, "b2", "incoming", "x");
  assert_nothing_queued (fixture);
}

/* Tests -------------------------------------------------------------------------------------- */

static void
test_invite_fans_out (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(EsServerCallRecord) call = NULL;
  g_autoptr(GError) error = NULL;

  invite (fixture, "a1", "x", "bob");

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(EsFrame) incoming = take (fixture, i == 0 ? "b1" : "b2", "incoming", "x");

      g_assert_cmpstr (body_string (incoming, "from_user"), ==, "alice");
      g_assert_cmpstr (body_string (incoming, "from_device"), ==, "a1");
      g_assert_cmpstr (body_string (incoming, "from_device_name"), ==, "Alice laptop");
      g_assert_cmpstr (body_string (incoming, "media"), ==, "video");
      g_assert_cmpstr (incoming->from_user, ==, "alice");
    }
  assert_nothing_queued (fixture);

  call = es_server_store_lookup_call (fixture->store, "x", &error);
  g_assert_no_error (error);
  g_assert_cmpint (call->state, ==, ES_SERVER_CALL_RINGING);
  g_assert_cmpstr (call->caller_device, ==, "a1");
  g_assert_cmpstr (call->callee_user, ==, "bob");
  g_assert_null (call->callee_device);
  g_assert_cmpint (call->deadline, ==, START_TIME + RING_TIMEOUT * G_USEC_PER_SEC);
  g_assert_cmpint (es_server_calls_get_timer_deadline (fixture->calls), ==, call->deadline);

  /* The same call ID again is refused and writes nothing. */
  SEND_FAILS (fixture, "c1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
              "\"type\":\"invite\",\"call_id\":\"x\",\"body\":{\"to_user\":\"bob\",\"media\":\"audio\"}");
  assert_nothing_queued (fixture);
}

static void
test_ringing_forwarded (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(EsFrame) ringing = NULL;

  ring_bob (fixture);

  /* The device may not lie about who it is. */
  SEND_OK (fixture, "b2", "\"type\":\"ringing\",\"call_id\":\"x\","
                          "\"body\":{\"device_id\":\"b1\",\"device_name\":\"Fake\"}");
  ringing = take (fixture, "a1", "ringing", "x");
  g_assert_cmpstr (body_string (ringing, "device_id"), ==, "b2");
  g_assert_cmpstr (body_string (ringing, "device_name"), ==, "Bob phone");
  g_assert_cmpstr (ringing->from_device, ==, "b2");
  assert_nothing_queued (fixture);

  /* Only the devices called ring. */
  SEND_FAILS (fixture, "a1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
              "\"type\":\"ringing\",\"call_id\":\"x\",\"body\":{\"device_id\":\"a1\",\"device_name\":\"A\"}");
  SEND_FAILS (fixture, "c1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
              "\"type\":\"ringing\",\"call_id\":\"x\",\"body\":{\"device_id\":\"c1\",\"device_name\":\"C\"}");
  SEND_FAILS (fixture, "b1", ES_SERVER_CALLS_ERROR_UNKNOWN_CALL,
              "\"type\":\"ringing\",\"call_id\":\"nope\",\"body\":{\"device_id\":\"b1\",\"device_name\":\"B\"}");
  assert_nothing_queued (fixture);
}

static void
route (Fixture    *fixture,
       const char *from,
       const char *type,
       const char *to)
{
  if (g_str_equal (type, "ice"))
    SEND_OK (fixture, from, "\"type\":\"ice\",\"call_id\":\"x\",\"to_device\":\"%s\","
                            "\"body\":{\"mline\":0,\"candidate\":\"candidate:1 1 udp 1 1.2.3.4 5 typ host\"}",
             to);
  else
    SEND_OK (fixture, from, "\"type\":\"%s\",\"call_id\":\"x\",\"to_device\":\"%s\","
                            "\"body\":{\"sdp\":\"v=0\"}", type, to);
}

static void
route_fails (Fixture    *fixture,
             const char *from,
             const char *type,
             const char *to,
             int         code)
{
  SEND_FAILS (fixture, from, code, "\"type\":\"%s\",\"call_id\":\"x\",\"to_device\":\"%s\","
                                   "\"body\":{\"sdp\":\"v=0\"}", type, to);
}

static void
test_routing_between_parties (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(EsFrame) offer = NULL;

  ring_bob (fixture);

  /* While it rings: the caller's device and every device of the callee. */
  route (fixture, "a1", "offer", "b1");
  offer = take (fixture, "b1", "offer", "x");
  g_assert_cmpstr (offer->from_device, ==, "a1");
  g_assert_cmpstr (offer->from_user, ==, "alice");
  g_assert_cmpstr (offer->to_device, ==, "b1");
  g_assert_cmpstr (body_string (offer, "sdp"), ==, "v=0");
  route (fixture, "a1", "offer", "b2");
  take_and_free (fixture, "b2", "offer", "x");
  route (fixture, "b1", "answer", "a1");
  take_and_free (fixture, "a1", "answer", "x");
  route (fixture, "b2", "ice", "a1");
  take_and_free (fixture, "a1", "ice", "x");
  assert_nothing_queued (fixture);

  /* Nobody else, and nowhere else. */
  route_fails (fixture, "c1", "offer", "b1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED);
  route_fails (fixture, "c1", "answer", "a1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED);
  route_fails (fixture, "a2", "offer", "b1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED);
  route_fails (fixture, "a1", "offer", "c1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED);
  route_fails (fixture, "a1", "offer", "a2", ES_SERVER_CALLS_ERROR_NOT_ALLOWED);
  route_fails (fixture, "a1", "offer", "nosuchdevice", ES_SERVER_CALLS_ERROR_NOT_ALLOWED);
  route_fails (fixture, "b1", "answer", "b2", ES_SERVER_CALLS_ERROR_NOT_ALLOWED);
  route_fails (fixture, "b1", "answer", "a2", ES_SERVER_CALLS_ERROR_NOT_ALLOWED);
  assert_nothing_queued (fixture);

  /* After accept, only the device that accepted. */
  simple (fixture, "b1", "accept", "x");
  take_and_free (fixture, "a1", "accept", "x");
  take_and_free (fixture, "b2", "answered_elsewhere", "x");
  route (fixture, "a1", "ice", "b1");
  take_and_free (fixture, "b1", "ice", "x");
  route (fixture, "b1", "ice", "a1");
  take_and_free (fixture, "a1", "ice", "x");
  route_fails (fixture, "a1", "offer", "b2", ES_SERVER_CALLS_ERROR_NOT_ALLOWED);
  route_fails (fixture, "b2", "answer", "a1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED);
  assert_nothing_queued (fixture);

  /* And nothing once it is over. */
  simple (fixture, "a1", "hangup", "x");
  take_and_free (fixture, "b1", "hangup", "x");
  route_fails (fixture, "a1", "offer", "b1", ES_SERVER_CALLS_ERROR_CALL_ENDED);
  route_fails (fixture, "b1", "answer", "a1", ES_SERVER_CALLS_ERROR_CALL_ENDED);
  assert_nothing_queued (fixture);
}

static void
test_accept (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(EsFrame) accept = NULL;
  g_autoptr(EsFrame) elsewhere = NULL;
  g_autoptr(EsFrame) late = NULL;
  g_autoptr(EsServerCallRecord) call = NULL;
  g_autoptr(GError) error = NULL;

  ring_bob (fixture);

  simple (fixture, "b2", "accept", "x");
  accept = take (fixture, "a1", "accept", "x");
  g_assert_cmpstr (accept->from_device, ==, "b2");
  g_assert_cmpstr (accept->from_user, ==, "bob");
  elsewhere = take (fixture, "b1", "answered_elsewhere", "x");
  g_assert_cmpstr (body_string (elsewhere, "device_name"), ==, "Bob phone");
  assert_nothing_queued (fixture);

  call = es_server_store_lookup_call (fixture->store, "x", &error);
  g_assert_no_error (error);
  g_assert_cmpint (call->state, ==, ES_SERVER_CALL_ACCEPTED);
  g_assert_cmpstr (call->callee_device, ==, "b2");
  g_assert_cmpint (call->deadline, ==, 0);

  /* The slower device is told, again, where the call went. */
  simple (fixture, "b1", "accept", "x");
  late = take (fixture, "b1", "answered_elsewhere", "x");
  g_assert_cmpstr (body_string (late, "device_name"), ==, "Bob phone");
  assert_nothing_queued (fixture);

  /* The caller cannot accept its own call; accepting twice on one device is harmless. */
  SEND_FAILS (fixture, "a1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
              "\"type\":\"accept\",\"call_id\":\"x\",\"body\":{}");
  simple (fixture, "b2", "accept", "x");
  assert_nothing_queued (fixture);

  /* Hang up from the callee; the reason goes along. */
  SEND_FAILS (fixture, "b1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
              "\"type\":\"hangup\",\"call_id\":\"x\",\"body\":{}");
  SEND_OK (fixture, "b2", "\"type\":\"hangup\",\"call_id\":\"x\",\"body\":{\"reason\":\"bye\"}");
  {
    g_autoptr(EsFrame) hangup = take (fixture, "a1", "hangup", "x");

    g_assert_cmpstr (body_string (hangup, "reason"), ==, "bye");
    g_assert_cmpstr (hangup->from_device, ==, "b2");
  }
  g_assert_cmpint (call_state (fixture, "x"), ==, ES_SERVER_CALL_ENDED);
  SEND_FAILS (fixture, "a1", ES_SERVER_CALLS_ERROR_CALL_ENDED,
              "\"type\":\"hangup\",\"call_id\":\"x\",\"body\":{}");
  assert_nothing_queued (fixture);
}

static void
test_decline (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr(EsFrame) decline = NULL;

  ring_bob (fixture);

  simple (fixture, "b1", "decline", "x");
  decline = take (fixture, "a1", "decline", "x");
  g_assert_cmpstr (decline->from_device, ==, "b1");
  take_and_free (fixture, "b2", "declined_elsewhere", "x");
  assert_nothing_queued (fixture);
  g_assert_cmpint (call_state (fixture, "x"), ==, ES_SERVER_CALL_DECLINED);

  /* Too late on the other device: it hears what happened. */
  simple (fixture, "b2", "accept", "x");
  take_and_free (fixture, "b2", "declined_elsewhere", "x");
  SEND_FAILS (fixture, "a1", ES_SERVER_CALLS_ERROR_CALL_ENDED,
              "\"type\":\"cancel\",\"call_id\":\"x\",\"body\":{}");
  SEND_FAILS (fixture, "b2", ES_SERVER_CALLS_ERROR_CALL_ENDED,
              "\"type\":\"ringing\",\"call_id\":\"x\",\"body\":{\"device_id\":\"b2\",\"device_name\":\"B\"}");
  assert_nothing_queued (fixture);
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  data)
{
  /* The cancel comes in the same batch as the invite, as when the caller gives up before the
   * server acknowledged anything. */
  invite (fixture, "a1", "x", "bob");
  simple (fixture, "a1", "cancel", "x");
  commit (fixture);

  take_and_free (fixture, "b1", "incoming", "x");
  take_and_free (fixture, "b2", "incoming", "x");
  take_and_free (fixture, "b1", "cancel", "x");
  take_and_free (fixture, "b2", "cancel", "x");
  assert_nothing_queued (fixture);
  g_assert_cmpint (call_state (fixture, "x"), ==, ES_SERVER_CALL_CANCELLED);
  g_assert_cmpint (es_server_store_next_ring_deadline (fixture->store, NULL), ==, 0);

  /* Only the calling device may cancel; the callee's devices decline. */
  invite (fixture, "a1", "y", "bob");
  take_and_free (fixture, "b1", "incoming", "y");
  take_and_free (fixture, "b2", "incoming", "y");
  SEND_FAILS (fixture, "a2", ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
              "\"type\":\"cancel\",\"call_id\":\"y\",\"body\":{}");
  SEND_FAILS (fixture, "b1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
              "\"type\":\"cancel\",\"call_id\":\"y\",\"body\":{}");

  /* A late accept on a cancelled call gets the cancel back. */
  simple (fixture, "b1", "accept", "x");
  take_and_free (fixture, "b1", "cancel", "x");
  assert_nothing_queued (fixture);
}

static void
test_cancel_after_accept (Fixture       *fixture,
                          gconstpointer  data)
{
  ring_bob (fixture);
  simple (fixture, "b1", "accept", "x");
  take_and_free (fixture, "a1", "accept", "x");
  take_and_free (fixture, "b2", "answered_elsewhere", "x");

  simple (fixture, "a1", "cancel", "x");
  take_and_free (fixture, "b1", "hangup", "x");
  assert_nothing_queued (fixture);
  g_assert_cmpint (call_state (fixture, "x"), ==, ES_SERVER_CALL_ENDED);
}

static void
test_hangup_while_ringing (Fixture       *fixture,
                           gconstpointer  data)
{
  /* From the caller, it is a cancel. */
  ring_bob (fixture);
  simple (fixture, "a1", "hangup", "x");
  take_and_free (fixture, "b1", "cancel", "x");
  take_and_free (fixture, "b2", "cancel", "x");
  assert_nothing_queued (fixture);

  /* From the callee, a decline. */
  invite (fixture, "a1", "y", "bob");
  take_and_free (fixture, "b1", "incoming", "y");
  take_and_free (fixture, "b2", "incoming", "y");
  simple (fixture, "b2", "hangup", "y");
  take_and_free (fixture, "a1", "decline", "y");
  take_and_free (fixture, "b1", "declined_elsewhere", "y");
  assert_nothing_queued (fixture);
}

static void
test_busy (Fixture       *fixture,
           gconstpointer  data)
{
  ring_bob (fixture);
  simple (fixture, "b1", "accept", "x");
  take_and_free (fixture, "a1", "accept", "x");
  take_and_free (fixture, "b2", "answered_elsewhere", "x");

  /* Both sides of an accepted call are busy; nothing rings. */
  invite (fixture, "c1", "y", "bob");
  take_and_free (fixture, "c1", "busy", "y");
  invite (fixture, "c1", "z", "alice");
  take_and_free (fixture, "c1", "busy", "z");
  assert_nothing_queued (fixture);
  g_assert_cmpint (call_state (fixture, "y"), ==, ES_SERVER_CALL_BUSY);
  SEND_FAILS (fixture, "c1", ES_SERVER_CALLS_ERROR_CALL_ENDED,
              "\"type\":\"cancel\",\"call_id\":\"y\",\"body\":{}");

  /* Once they hang up, bob can be called again. */
  simple (fixture, "a1", "hangup", "x");
  take_and_free (fixture, "b1", "hangup", "x");
  invite (fixture, "c1", "w", "bob");
  take_and_free (fixture, "b1", "incoming", "w");
  take_and_free (fixture, "b2", "incoming", "w");
  assert_nothing_queued (fixture);
}

static void
test_ring_timeout (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  ring_bob (fixture);
  commit (fixture);

  fixture->now += (RING_TIMEOUT - 1) * G_USEC_PER_SEC;
  es_server_calls_run_timeouts (fixture->calls, &error);
  g_assert_no_error (error);
  commit (fixture);
  assert_nothing_queued (fixture);
  g_assert_cmpint (call_state (fixture, "x"), ==, ES_SERVER_CALL_RINGING);

  fixture->now += 1 * G_USEC_PER_SEC;
  es_server_calls_run_timeouts (fixture->calls, &error);
  g_assert_no_error (error);
  commit (fixture);
  take_and_free (fixture, "b1", "missed", "x");
  take_and_free (fixture, "b2", "missed", "x");
  take_and_free (fixture, "a1", "no_answer", "x");
  assert_nothing_queued (fixture);
  g_assert_cmpint (call_state (fixture, "x"), ==, ES_SERVER_CALL_MISSED);
  g_assert_cmpint (es_server_calls_get_timer_deadline (fixture->calls), ==, 0);

  simple (fixture, "b1", "accept", "x");
  take_and_free (fixture, "b1", "missed", "x");
  SEND_FAILS (fixture, "a1", ES_SERVER_CALLS_ERROR_CALL_ENDED,
              "\"type\":\"cancel\",\"call_id\":\"x\",\"body\":{}");
  assert_nothing_queued (fixture);
}

static void
test_timer_follows_earliest (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 first;

  ring_bob (fixture);
  first = START_TIME + RING_TIMEOUT * G_USEC_PER_SEC;
  g_assert_cmpint (es_server_calls_get_timer_deadline (fixture->calls), ==, first);

  fixture->now += 10 * G_USEC_PER_SEC;
  invite (fixture, "c1", "y", "alice");
  take_and_free (fixture, "a1", "incoming", "y");
  take_and_free (fixture, "a2", "incoming", "y");
  /* One timer, still for the earliest call. */
  g_assert_cmpint (es_server_calls_get_timer_deadline (fixture->calls), ==, first);

  fixture->now = first;
  es_server_calls_run_timeouts (fixture->calls, &error);
  g_assert_no_error (error);
  take_and_free (fixture, "b1", "missed", "x");
  take_and_free (fixture, "b2", "missed", "x");
  take_and_free (fixture, "a1", "no_answer", "x");
  assert_nothing_queued (fixture);
  g_assert_cmpint (es_server_calls_get_timer_deadline (fixture->calls), ==,
                   first + 10 * G_USEC_PER_SEC);
}

/* A counter-call with a bigger ID is folded into the call already ringing. */
static void
test_glare_keep_ringing (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(EsFrame) cancel = NULL;

  invite (fixture, "b1", "call-a", "alice");
  take_and_free (fixture, "a1", "incoming", "call-a");
  take_and_free (fixture, "a2", "incoming", "call-a");

  invite (fixture, "a1", "call-b", "bob");
  cancel = take (fixture, "a1", "cancel", "call-b");
  g_assert_cmpstr (body_string (cancel, "reason"), ==, "folded");
  g_assert_cmpstr (body_string (cancel, "into"), ==, "call-a");
  assert_nothing_queued (fixture);
  g_assert_cmpint (call_state (fixture, "call-b"), ==, ES_SERVER_CALL_CANCELLED);
  g_assert_cmpint (call_state (fixture, "call-a"), ==, ES_SERVER_CALL_RINGING);

  /* a1 then accepts call-a by itself. */
  simple (fixture, "a1", "accept", "call-a");
  take_and_free (fixture, "b1", "accept", "call-a");
  take_and_free (fixture, "a2", "answered_elsewhere", "call-a");
  assert_nothing_queued (fixture);
}

/* A counter-call with a smaller ID replaces the call that rings. */
static void
test_glare_replace_ringing (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(EsFrame) folded = NULL;
  g_autoptr(EsFrame) cancel = NULL;

  invite (fixture, "b1", "call-b", "alice");
  take_and_free (fixture, "a1", "incoming", "call-b");
  take_and_free (fixture, "a2", "incoming", "call-b");

  invite (fixture, "a1", "call-a", "bob");
  folded = take (fixture, "b1", "cancel", "call-b");
  g_assert_cmpstr (body_string (folded, "reason"), ==, "folded");
  g_assert_cmpstr (body_string (folded, "into"), ==, "call-a");
  cancel = take (fixture, "a1", "cancel", "call-b");
  g_assert_null (body_string (cancel, "reason"));
  take_and_free (fixture, "a2", "cancel", "call-b");
  take_and_free (fixture, "b1", "incoming", "call-a");
  take_and_free (fixture, "b2", "incoming", "call-a");
  assert_nothing_queued (fixture);
  g_assert_cmpint (call_state (fixture, "call-b"), ==, ES_SERVER_CALL_CANCELLED);
  g_assert_cmpint (call_state (fixture, "call-a"), ==, ES_SERVER_CALL_RINGING);

  /* b1, told its call was folded into call-a, accepts it. */
  simple (fixture, "b1", "accept", "call-a");
  take_and_free (fixture, "a1", "accept", "call-a");
  take_and_free (fixture, "b2", "answered_elsewhere", "call-a");
  assert_nothing_queued (fixture);
}

static void
test_persistence (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 deadline = START_TIME + RING_TIMEOUT * G_USEC_PER_SEC;

  ring_bob (fixture);
  commit (fixture);

  /* The server goes down while it rings and comes back 30 s later. */
  close_calls (fixture);
  fixture->now += 30 * G_USEC_PER_SEC;
  open_calls (fixture, RING_TIMEOUT);

  g_assert_cmpint (call_state (fixture, "x"), ==, ES_SERVER_CALL_RINGING);
  g_assert_cmpint (es_server_calls_get_timer_deadline (fixture->calls), ==, deadline);

  SEND_OK (fixture, "b2", "\"type\":\"ringing\",\"call_id\":\"x\","
                          "\"body\":{\"device_id\":\"b2\",\"device_name\":\"B\"}");
  take_and_free (fixture, "a1", "ringing", "x");
  commit (fixture);

  fixture->now = deadline;
  es_server_calls_run_timeouts (fixture->calls, &error);
  g_assert_no_error (error);
  commit (fixture);
  take_and_free (fixture, "b1", "missed", "x");
  take_and_free (fixture, "b2", "missed", "x");
  take_and_free (fixture, "a1", "no_answer", "x");
  assert_nothing_queued (fixture);

  /* And that outcome survives too. */
  close_calls (fixture);
  open_calls (fixture, RING_TIMEOUT);
  g_assert_cmpint (call_state (fixture, "x"), ==, ES_SERVER_CALL_MISSED);
  g_assert_cmpint (es_server_calls_get_timer_deadline (fixture->calls), ==, 0);
}

static void
test_rollback (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(EsServerCallRecord) call = NULL;
  g_autoptr(GError) error = NULL;

  invite (fixture, "a1", "x", "bob");
  es_server_store_rollback (fixture->store, &error);
  g_assert_no_error (error);
  es_server_calls_batch_failed (fixture->calls);
  g_ptr_array_set_size (fixture->queued, 0);

  call = es_server_store_lookup_call (fixture->store, "x", &error);
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND);
  g_assert_null (call);
  g_assert_cmpint (es_server_calls_get_timer_deadline (fixture->calls), ==, 0);

  /* The device resends after reconnecting, and it works. */
  ring_bob (fixture);
}

static void
test_bad_invites (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(EsServerCallRecord) call = NULL;
  g_autoptr(GError) error = NULL;

  SEND_FAILS (fixture, "a1", ES_SERVER_CALLS_ERROR_UNKNOWN_USER,
              "\"type\":\"invite\",\"call_id\":\"x\",\"body\":{\"to_user\":\"nobody\",\"media\":\"audio\"}");
  SEND_FAILS (fixture, "a1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
              "\"type\":\"invite\",\"call_id\":\"y\",\"body\":{\"to_user\":\"alice\",\"media\":\"audio\"}");
  assert_nothing_queued (fixture);

  call = es_server_store_lookup_call (fixture->store, "x", &error);
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  call = es_server_store_lookup_call (fixture->store, "y", &error);
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND);

  /* Frames only the server writes. */
  ring_bob (fixture);
  SEND_FAILS (fixture, "b1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
              "\"type\":\"answered_elsewhere\",\"call_id\":\"x\",\"body\":{\"device_name\":\"B\"}");
  SEND_FAILS (fixture, "a1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
              "\"type\":\"incoming\",\"call_id\":\"x\",\"body\":{\"from_user\":\"alice\","
              "\"from_device\":\"a1\",\"from_device_name\":\"A\",\"media\":\"audio\"}");
  SEND_FAILS (fixture, "b1", ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
              "\"type\":\"busy\",\"call_id\":\"x\",\"body\":{}");
  SEND_FAILS (fixture, "a1", ES_SERVER_CALLS_ERROR_BAD_FRAME, "\"type\":\"data\","
              "\"to_device\":\"a2\",\"body\":{}");
  assert_nothing_queued (fixture);
  g_assert_cmpuint (fixture->fails, ==, 0);
}

static gint64
real_clock (gpointer user_data)
{
  return g_get_real_time ();
}

static gboolean
timeout_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* The GLib timer itself, on the real clock. */
static void
test_timer_fires (Fixture       *fixture,
                  gconstpointer  data)
{
  gboolean timed_out = FALSE;
  guint guard;

  close_calls (fixture);
  open_calls (fixture, 1);
  es_server_calls_set_clock (fixture->calls, real_clock, NULL);

  ring_bob (fixture);
  commit (fixture);

  guard = g_timeout_add_seconds (10, timeout_cb, &timed_out);
  while (fixture->queued->len < 3 && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (guard);
  commit (fixture);

  take_and_free (fixture, "b1", "missed", "x");
  take_and_free (fixture, "b2", "missed", "x");
  take_and_free (fixture, "a1", "no_answer", "x");
  assert_nothing_queued (fixture);
  g_assert_cmpint (es_server_calls_get_timer_deadline (fixture->calls), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("/server-calls/invite-fans-out", test_invite_fans_out);
  ADD ("/server-calls/ringing-forwarded", test_ringing_forwarded);
  ADD ("/server-calls/routing-between-parties", test_routing_between_parties);
  ADD ("/server-calls/accept", test_accept);
  ADD ("/server-calls/decline", test_decline);
  ADD ("/server-calls/cancel", test_cancel);
  ADD ("/server-calls/cancel-after-accept", test_cancel_after_accept);
  ADD ("/server-calls/hangup-while-ringing", test_hangup_while_ringing);
  ADD ("/server-calls/busy", test_busy);
  ADD ("/server-calls/ring-timeout", test_ring_timeout);
  ADD ("/server-calls/timer-follows-earliest", test_timer_follows_earliest);
  ADD ("/server-calls/glare-keep-ringing", test_glare_keep_ringing);
  ADD ("/server-calls/glare-replace-ringing", test_glare_replace_ringing);
  ADD ("/server-calls/persistence", test_persistence);
  ADD ("/server-calls/rollback", test_rollback);
  ADD ("/server-calls/bad-invites", test_bad_invites);
  ADD ("/server-calls/timer-fires", test_timer_fires);

#undef ADD

  return g_test_run ();
}
