/* test-server-store.c: the SQLite storage of earshot-server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include "es-server-store-sqlite.h"

typedef struct
{
  char *dir;
  char *path;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("earshot-server-store-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->path = g_build_filename (fixture->dir, "sub", "server.db", NULL);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
    }
  g_remove (path);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->path);
}

static void
token_hash (const char *token,
            guint8     *out)
{
  es_server_store_hash_token ((const guint8 *) token, strlen (token), out);
}

static EsServerStore *
open_store (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  EsServerStore *store = es_server_store_sqlite_new (fixture->path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static void
add_user_and_device (EsServerStore *store,
                     const char    *user,
                     const char    *device_id,
                     const char    *token)
{
  g_autoptr(GError) error = NULL;
  guint8 hash[ES_SERVER_STORE_TOKEN_HASH_SIZE];

  token_hash (token, hash);
  g_assert_true (es_server_store_begin (store, &error));
  g_assert_no_error (error);
  if (!es_server_store_create_user (store, user, "$argon2id$fake", &error))
    g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_true (es_server_store_add_device (store, device_id, user, "Laptop", hash, &error));
  g_assert_no_error (error);
  g_assert_true (es_server_store_commit (store, &error));
  g_assert_no_error (error);
}

static void
test_users (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(EsServerStore) store = open_store (fixture);
  g_autoptr(GError) error = NULL;
  g_autofree char *hash = NULL;

  g_assert_true (es_server_store_begin (store, &error));
  g_assert_true (es_server_store_create_user (store, "alice", "$argon2id$one", &error));
  g_assert_no_error (error);

  g_assert_false (es_server_store_create_user (store, "alice", "$argon2id$two", &error));
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_EXISTS);
  g_clear_error (&error);

  /* A failed statement does not end the transaction. */
  g_assert_true (es_server_store_in_transaction (store));
  g_assert_true (es_server_store_commit (store, &error));
  g_assert_no_error (error);

  hash = es_server_store_dup_password_hash (store, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (hash, ==, "$argon2id$one");

  g_assert_null (es_server_store_dup_password_hash (store, "bob", &error));
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND);
}

static void
test_devices_and_tokens (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(EsServerStore) store = open_store (fixture);
  g_autoptr(GError) error = NULL;
  g_autoptr(EsServerDeviceRecord) record = NULL;
  g_autoptr(EsServerDeviceRecord) by_token = NULL;
  g_autoptr(EsServerDeviceRecord) old_token = NULL;
  g_autoptr(EsServerDeviceRecord) new_token = NULL;
  guint8 hash[ES_SERVER_STORE_TOKEN_HASH_SIZE];

  add_user_and_device (store, "alice", "dev-1", "token-1");

  record = es_server_store_lookup_device (store, "dev-1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (record->id, ==, "dev-1");
  g_assert_cmpstr (record->user, ==, "alice");
  g_assert_cmpstr (record->name, ==, "Laptop");
  g_assert_cmpint (record->last_recv_seq, ==, 0);
  g_assert_cmpint (record->next_seq, ==, 1);

  token_hash ("token-1", hash);
  by_token = es_server_store_lookup_token (store, hash, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (by_token->id, ==, "dev-1");

  token_hash ("token-2", hash);
  g_assert_null (es_server_store_lookup_token (store, hash, &error));
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A fresh token replaces the old one. */
  g_assert_true (es_server_store_begin (store, &error));
  g_assert_true (es_server_store_set_device_token (store, "dev-1", hash, &error));
  g_assert_no_error (error);
  g_assert_false (es_server_store_set_device_token (store, "dev-x", hash, &error));
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (es_server_store_commit (store, &error));

  new_token = es_server_store_lookup_token (store, hash, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (new_token->id, ==, "dev-1");
  token_hash ("token-1", hash);
  old_token = es_server_store_lookup_token (store, hash, &error);
  g_assert_null (old_token);
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Same device id twice is refused. */
  g_assert_true (es_server_store_begin (store, &error));
  token_hash ("token-3", hash);
  g_assert_false (es_server_store_add_device (store, "dev-1", "alice", "Again", hash, &error));
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_true (es_server_store_rollback (store, &error));
  g_assert_no_error (error);

  g_assert_null (es_server_store_lookup_device (store, "dev-2", &error));
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND);
}

static void
enqueue (EsServerStore *store,
         const char    *device_id,
         gint64         seq)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strdup_printf ("{\"seq\":%" G_GINT64_FORMAT "}", seq);

  g_assert_true (es_server_store_enqueue (store, device_id, seq, text, strlen (text), &error));
  g_assert_no_error (error);
}

static void
test_queue (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(EsServerStore) store = open_store (fixture);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) frames = NULL;
  g_autoptr(GPtrArray) after = NULL;
  g_autoptr(GPtrArray) other = NULL;
  EsServerQueuedFrame *frame;

  add_user_and_device (store, "alice", "dev-1", "t1");
  add_user_and_device (store, "alice", "dev-2", "t2");

  g_assert_true (es_server_store_begin (store, &error));
  for (gint64 seq = 1; seq <= 5; seq++)
    enqueue (store, "dev-1", seq);
  enqueue (store, "dev-2", 1);
  /* A seq can only be queued once per device. */
  g_assert_false (es_server_store_enqueue (store, "dev-1", 3, "{}", 2, &error));
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_true (es_server_store_commit (store, &error));
  g_assert_no_error (error);

  g_assert_cmpint (es_server_store_count_queued (store, &error), ==, 6);

  frames = es_server_store_list_queue (store, "dev-1", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (frames->len, ==, 5);
  for (guint i = 0; i < frames->len; i++)
    {
      g_autofree char *expected = g_strdup_printf ("{\"seq\":%u}", i + 1);

      frame = g_ptr_array_index (frames, i);
      g_assert_cmpint (frame->seq, ==, i + 1);
      g_assert_cmpstr (frame->data, ==, expected);
    }

  after = es_server_store_list_queue (store, "dev-1", 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (after->len, ==, 2);
  g_assert_cmpint (((EsServerQueuedFrame *) g_ptr_array_index (after, 0))->seq, ==, 4);

  /* Acks are cumulative and per device. */
  g_assert_true (es_server_store_begin (store, &error));
  g_assert_cmpint (es_server_store_ack (store, "dev-1", 3, &error), ==, 3);
  g_assert_cmpint (es_server_store_ack (store, "dev-1", 3, &error), ==, 0);
  g_assert_true (es_server_store_commit (store, &error));
  g_assert_no_error (error);

  g_clear_pointer (&frames, g_ptr_array_unref);
  frames = es_server_store_list_queue (store, "dev-1", 0, &error);
  g_assert_cmpuint (frames->len, ==, 2);
  other = es_server_store_list_queue (store, "dev-2", 0, &error);
  g_assert_cmpuint (other->len, ==, 1);
  g_assert_cmpint (es_server_store_count_queued (store, &error), ==, 3);
}

static void
test_persistence (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EsServerDeviceRecord) record = NULL;
  g_autoptr(GPtrArray) frames = NULL;
  EsServerStore *store;

  store = open_store (fixture);
  add_user_and_device (store, "alice", "dev-1", "t1");
  g_assert_true (es_server_store_begin (store, &error));
  enqueue (store, "dev-1", 1);
  enqueue (store, "dev-1", 2);
  g_assert_true (es_server_store_update_device_seqs (store, "dev-1", 17, 3, &error));
  g_assert_no_error (error);
  g_assert_true (es_server_store_commit (store, &error));
  g_assert_no_error (error);

  /* Left open on purpose: closing must roll it back. */
  g_assert_true (es_server_store_begin (store, &error));
  enqueue (store, "dev-1", 3);
  g_assert_true (es_server_store_update_device_seqs (store, "dev-1", 18, 4, &error));
  g_assert_finalize_object (store);

  store = open_store (fixture);
  record = es_server_store_lookup_device (store, "dev-1", &error);
  g_assert_no_error (error);
  g_assert_cmpint (record->last_recv_seq, ==, 17);
  g_assert_cmpint (record->next_seq, ==, 3);
  frames = es_server_store_list_queue (store, "dev-1", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (frames->len, ==, 2);
  g_assert_finalize_object (store);
}

static void
test_transactions (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(EsServerStore) store = open_store (fixture);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) frames = NULL;
  g_autoptr(EsServerDeviceRecord) record = NULL;

  add_user_and_device (store, "alice", "dev-1", "t1");

  g_assert_false (es_server_store_in_transaction (store));
  g_assert_false (es_server_store_commit (store, &error));
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_STATE);
  g_clear_error (&error);

  g_assert_true (es_server_store_begin (store, &error));
  g_assert_true (es_server_store_in_transaction (store));
  g_assert_false (es_server_store_begin (store, &error));
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_STATE);
  g_clear_error (&error);

  enqueue (store, "dev-1", 1);
  g_assert_true (es_server_store_update_device_seqs (store, "dev-1", 5, 2, &error));

  /* Writes of the open transaction are visible to its own reads... */
  frames = es_server_store_list_queue (store, "dev-1", 0, &error);
  g_assert_cmpuint (frames->len, ==, 1);
  g_clear_pointer (&frames, g_ptr_array_unref);

  /* ...and a rollback undoes all of them. */
  g_assert_true (es_server_store_rollback (store, &error));
  g_assert_no_error (error);
  g_assert_false (es_server_store_in_transaction (store));

  frames = es_server_store_list_queue (store, "dev-1", 0, &error);
  g_assert_cmpuint (frames->len, ==, 0);
  record = es_server_store_lookup_device (store, "dev-1", &error);
  g_assert_cmpint (record->last_recv_seq, ==, 0);
  g_assert_cmpint (record->next_seq, ==, 1);

  /* Rolling back with nothing open is harmless. */
  g_assert_true (es_server_store_rollback (store, &error));
  g_assert_no_error (error);
}

static void
test_unwritable (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EsServerStore) store = NULL;
  g_autofree char *dir = g_dir_make_tmp ("earshot-server-ro-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autofree char *in_file = NULL;

  g_assert_no_error (error);

  /* A path under a regular file can never be created, even by root. */
  path = g_build_filename (dir, "file", NULL);
  g_assert_true (g_file_set_contents (path, "x", 1, &error));
  in_file = g_build_filename (path, "server.db", NULL);
  store = es_server_store_sqlite_new (in_file, &error);
  g_assert_null (store);
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_OPEN);
  g_assert_nonnull (strstr (error->message, path));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* A database path that is a folder. */
  store = es_server_store_sqlite_new (dir, &error);
  g_assert_null (store);
  g_assert_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_OPEN);
  g_assert_nonnull (strstr (error->message, dir));
  g_test_message ("%s", error->message);

  g_remove (path);
  g_rmdir (dir);
}

static void
test_token_hash (void)
{
  guint8 a[ES_SERVER_STORE_TOKEN_HASH_SIZE];
  guint8 b[ES_SERVER_STORE_TOKEN_HASH_SIZE];
  guint8 c[ES_SERVER_STORE_TOKEN_HASH_SIZE];

  token_hash ("token", a);
  token_hash ("token", b);
  token_hash ("tokeN", c);
  g_assert_cmpmem (a, sizeof a, b, sizeof b);
  g_assert_true (memcmp (a, c, sizeof a) != 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add (name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/server-store/users", test_users);
  ADD ("/server-store/devices-and-tokens", test_devices_and_tokens);
  ADD ("/server-store/queue", test_queue);
  ADD ("/server-store/persistence", test_persistence);
  ADD ("/server-store/transactions", test_transactions);
#undef ADD
  g_test_add_func ("/server-store/unwritable", test_unwritable);
  g_test_add_func ("/server-store/token-hash", test_token_hash);

  return g_test_run ();
}
