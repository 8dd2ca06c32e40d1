/* test-client-store.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "es-client-store.h"

typedef struct
{
  char *dir;
  char *profile;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("earshot-client-store-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->profile = g_build_filename (fixture->dir, "profile", "a", NULL);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)))
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
    }
  g_remove (path);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  user_data)
{
  remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->profile);
}

static EsFrame *
make_data_frame (const char *to_device,
                 gint64      n)
{
  EsFrame *frame = es_frame_new (ES_MESSAGE_DATA);

  frame->to_device = g_strdup (to_device);
  json_object_set_int_member (frame->body, "n", n);

  return frame;
}

static EsFrame *
make_received_frame (gint64 seq,
                     gint64 n)
{
  EsFrame *frame = es_frame_new (ES_MESSAGE_DATA);

  frame->seq = seq;
  frame->to_device = g_strdup ("me");
  frame->from_device = g_strdup ("peer-device");
  frame->from_user = g_strdup ("alice");
  json_object_set_int_member (frame->body, "n", n);

  return frame;
}

static EsClientStore *
open_store (const char *profile)
{
  g_autoptr(GError) error = NULL;
  EsClientStore *store = es_client_store_new (profile, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);

  return store;
}

static void
test_store_permissions (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(EsClientStore) store = open_store (fixture->profile);
  g_autofree char *db = g_build_filename (fixture->profile, "earshot.db", NULL);
  GStatBuf st;

  g_assert_cmpint (g_stat (fixture->profile, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_cmpint (g_stat (db, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (es_client_store_get_next_seq (store), ==, 1);
  g_assert_cmpint (es_client_store_get_last_received_seq (store), ==, 0);
}

static void
test_store_settings (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *value = NULL;

  {
    g_autoptr(EsClientStore) store = open_store (fixture->profile);

    missing = es_client_store_dup_setting (store, ES_SETTING_USER);
    g_assert_null (missing);
    es_client_store_set_setting (store, "colour", "teal", &error);
    g_assert_no_error (error);
    es_client_store_set_setting (store, "colour", "blue", &error);
    g_assert_no_error (error);
    es_client_store_set_account (store, "http://127.0.0.1:1", "alice", "dev-1", "Laptop",
                                 "secret", &error);
    g_assert_no_error (error);
  }

  {
    g_autoptr(EsClientStore) store = open_store (fixture->profile);
    g_autofree char *user = es_client_store_dup_setting (store, ES_SETTING_USER);
    g_autofree char *token = es_client_store_dup_setting (store, ES_SETTING_TOKEN);

    value = es_client_store_dup_setting (store, "colour");
    g_assert_cmpstr (value, ==, "blue");
    g_assert_cmpstr (user, ==, "alice");
    g_assert_cmpstr (token, ==, "secret");
  }
}

static void
test_store_seq_and_ack (Fixture       *fixture,
                        gconstpointer  user_data)
{
  g_autoptr(EsClientStore) store = open_store (fixture->profile);
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(GError) error = NULL;

  for (gint64 n = 1; n <= 5; n++)
    {
      g_autoptr(EsFrame) frame = make_data_frame ("dev-b", n);
      gint64 seq = es_client_store_enqueue (store, frame, &error);

      g_assert_no_error (error);
      g_assert_cmpint (seq, ==, n);
      g_assert_cmpint (frame->seq, ==, n);
    }

  g_assert_cmpint (es_client_store_get_next_seq (store), ==, 6);
  g_assert_cmpint (es_client_store_count_outbox (store, &error), ==, 5);

  es_client_store_ack (store, 3, &error);
  g_assert_no_error (error);
  outbox = es_client_store_list_outbox (store, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 2);
  g_assert_cmpint (((EsFrame *)outbox->pdata[0])->seq, ==, 4);
  g_assert_cmpint (((EsFrame *)outbox->pdata[1])->seq, ==, 5);
  g_assert_cmpint (json_object_get_int_member (((EsFrame *)outbox->pdata[1])->body, "n"), ==, 5);
  g_assert_cmpstr (((EsFrame *)outbox->pdata[1])->to_device, ==, "dev-b");
  g_clear_pointer (&outbox, g_ptr_array_unref);

  outbox = es_client_store_list_outbox (store, 4, &error);
  g_assert_cmpuint (outbox->len, ==, 1);

  /* Acks are idempotent and may go backwards harmlessly. */
  es_client_store_ack (store, 2, &error);
  g_assert_no_error (error);
  es_client_store_ack (store, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpint (es_client_store_count_outbox (store, &error), ==, 0);

  /* The sent log keeps everything. */
  g_assert_cmpint (es_client_store_count_log (store, ES_LOG_SENT, "data", "dev-b", &error), ==, 5);
  g_assert_cmpint (es_client_store_count_log (store, ES_LOG_SENT, "data", "other", &error), ==, 0);
  g_assert_cmpint (es_client_store_count_log (store, ES_LOG_SENT, NULL, NULL, &error), ==, 5);
  g_assert_no_error (error);
}

static void
test_store_duplicates (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autoptr(EsClientStore) store = open_store (fixture->profile);
  g_autoptr(GPtrArray) log = NULL;
  g_autoptr(GError) error = NULL;
  const gint64 seqs[] = { 1, 2, 2, 1, 3, 3 };
  const EsReceiveResult expected[] = {
    ES_RECEIVE_NEW, ES_RECEIVE_NEW, ES_RECEIVE_DUPLICATE,
    ES_RECEIVE_DUPLICATE, ES_RECEIVE_NEW, ES_RECEIVE_DUPLICATE,
  };

  for (guint i = 0; i < G_N_ELEMENTS (seqs); i++)
    {
      g_autoptr(EsFrame) frame = make_received_frame (seqs[i], seqs[i] * 10);

      g_assert_cmpint (es_client_store_record_received (store, frame, &error), ==, expected[i]);
      g_assert_no_error (error);
    }

  g_assert_cmpint (es_client_store_get_last_received_seq (store), ==, 3);
  g_assert_cmpint (es_client_store_count_log (store, ES_LOG_RECEIVED, "data", NULL, &error), ==, 3);
  g_assert_cmpint (es_client_store_count_log (store, ES_LOG_RECEIVED, "data", "peer-device", &error), ==, 3);

  log = es_client_store_list_log (store, ES_LOG_RECEIVED, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (log->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      EsLogEntry *entry = log->pdata[i];
      g_autofree char *body = g_strdup_printf ("{\"n\":%u}", (i + 1) * 10);

      g_assert_cmpint (entry->seq, ==, i + 1);
      g_assert_cmpstr (entry->type, ==, "data");
      g_assert_cmpstr (entry->peer, ==, "peer-device");
      g_assert_cmpstr (entry->peer_user, ==, "alice");
      g_assert_cmpstr (entry->body, ==, body);
    }
}

static void
test_store_reopen (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(EsClientStore) store = open_store (fixture->profile);

    for (gint64 n = 1; n <= 3; n++)
      {
        g_autoptr(EsFrame) frame = make_data_frame ("dev-b", n);
        g_autoptr(EsFrame) in = make_received_frame (n, n);

        es_client_store_enqueue (store, frame, &error);
        g_assert_no_error (error);
        es_client_store_record_received (store, in, &error);
        g_assert_no_error (error);
      }
    es_client_store_ack (store, 1, &error);
    g_assert_no_error (error);
  }

  {
    g_autoptr(EsClientStore) store = open_store (fixture->profile);
    g_autoptr(GPtrArray) outbox = es_client_store_list_outbox (store, 0, &error);
    g_autoptr(EsFrame) again = make_received_frame (3, 3);
    g_autoptr(EsFrame) next = make_data_frame ("dev-b", 4);

    g_assert_no_error (error);
    g_assert_cmpuint (outbox->len, ==, 2);
    g_assert_cmpint (es_client_store_get_next_seq (store), ==, 4);
    g_assert_cmpint (es_client_store_get_last_received_seq (store), ==, 3);
    g_assert_cmpint (es_client_store_record_received (store, again, &error), ==, ES_RECEIVE_DUPLICATE);
    g_assert_cmpint (es_client_store_enqueue (store, next, &error), ==, 4);
    g_assert_no_error (error);
  }
}

static void
test_store_batch (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_autoptr(EsClientStore) store = open_store (fixture->profile);
  g_autoptr(GError) error = NULL;

  es_client_store_begin (store, &error);
  g_assert_no_error (error);
  g_assert_true (es_client_store_in_transaction (store));
  for (gint64 n = 1; n <= 10; n++)
    {
      g_autoptr(EsFrame) frame = make_data_frame ("dev-b", n);
      g_autoptr(EsFrame) in = make_received_frame (n, n);

      g_assert_cmpint (es_client_store_enqueue (store, frame, &error), ==, n);
      g_assert_cmpint (es_client_store_record_received (store, in, &error), ==, ES_RECEIVE_NEW);
    }
  es_client_store_commit (store, &error);
  g_assert_no_error (error);
  g_assert_false (es_client_store_in_transaction (store));

  /* A rolled back batch leaves no trace, in memory either. */
  es_client_store_begin (store, &error);
  for (gint64 n = 11; n <= 12; n++)
    {
      g_autoptr(EsFrame) frame = make_data_frame ("dev-b", n);
      g_autoptr(EsFrame) in = make_received_frame (n, n);

      es_client_store_enqueue (store, frame, &error);
      es_client_store_record_received (store, in, &error);
    }
  es_client_store_rollback (store);
  g_assert_no_error (error);
  g_assert_cmpint (es_client_store_get_next_seq (store), ==, 11);
  g_assert_cmpint (es_client_store_get_last_received_seq (store), ==, 10);
  g_assert_cmpint (es_client_store_count_outbox (store, &error), ==, 10);
}

static void
test_store_new_device_resets (Fixture       *fixture,
                              gconstpointer  user_data)
{
  g_autoptr(EsClientStore) store = open_store (fixture->profile);
  g_autoptr(EsFrame) frame = make_data_frame ("dev-b", 1);
  g_autoptr(EsFrame) in = make_received_frame (7, 1);
  g_autoptr(GError) error = NULL;

  es_client_store_set_account (store, "http://s", "alice", "dev-1", "A", "t1", &error);
  es_client_store_enqueue (store, frame, &error);
  es_client_store_record_received (store, in, &error);
  g_assert_no_error (error);

  /* A fresh token for the same device keeps the sequences. */
  es_client_store_set_account (store, "http://s", "alice", "dev-1", "A", "t2", &error);
  g_assert_cmpint (es_client_store_get_next_seq (store), ==, 2);
  g_assert_cmpint (es_client_store_get_last_received_seq (store), ==, 7);

  es_client_store_set_account (store, "http://s", "alice", "dev-2", "A", "t3", &error);
  g_assert_no_error (error);
  g_assert_cmpint (es_client_store_get_next_seq (store), ==, 1);
  g_assert_cmpint (es_client_store_get_last_received_seq (store), ==, 0);
  g_assert_cmpint (es_client_store_count_outbox (store, &error), ==, 0);
  g_assert_cmpint (es_client_store_count_log (store, ES_LOG_SENT, NULL, NULL, &error), ==, 1);
}

/* A child process writes, tells the parent over a pipe, and dies by SIGKILL without closing
 * anything: what it committed must be there. */
static void
run_killed_child (const char *profile,
                  gboolean    receive,
                  guint       count)
{
  int fds[2];
  pid_t pid;
  char line[64] = { 0 };
  gssize n;
  int status = 0;

  g_assert_cmpint (pipe (fds), ==, 0);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);

  if (pid == 0)
    {
      EsClientStore *store;
      GError *error = NULL;

      close (fds[0]);
      store = es_client_store_new (profile, &error);
      if (store == NULL)
        _exit (2);

      for (guint i = 1; i <= count; i++)
        {
          EsFrame *frame;

          if (receive)
            {
              frame = make_received_frame (i, i);
              if (es_client_store_record_received (store, frame, &error) != ES_RECEIVE_NEW)
                _exit (3);
            }
          else
            {
              frame = make_data_frame ("dev-b", i);
              if (es_client_store_enqueue (store, frame, &error) != (gint64)i)
                _exit (3);
            }
          es_frame_free (frame);
        }

      if (write (fds[1], "written\n", 8) != 8)
        _exit (4);
      raise (SIGKILL);
      _exit (5);
    }

  close (fds[1]);
  n = read (fds[0], line, sizeof line - 1);
  close (fds[0]);
  g_assert_cmpint (n, ==, 8);
  g_assert_cmpstr (line, ==, "written\n");
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
}

static void
test_store_kill_after_enqueue (Fixture       *fixture,
                               gconstpointer  user_data)
{
  const guint count = 50;
  g_autoptr(EsClientStore) store = NULL;
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(EsFrame) next = make_data_frame ("dev-b", count + 1);
  g_autoptr(GError) error = NULL;

  run_killed_child (fixture->profile, FALSE, count);

  store = open_store (fixture->profile);
  outbox = es_client_store_list_outbox (store, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, count);
  for (guint i = 0; i < count; i++)
    {
      EsFrame *frame = outbox->pdata[i];

      g_assert_cmpint (frame->seq, ==, i + 1);
      g_assert_cmpint (json_object_get_int_member (frame->body, "n"), ==, i + 1);
    }
  g_assert_cmpint (es_client_store_get_next_seq (store), ==, count + 1);
  g_assert_cmpint (es_client_store_count_log (store, ES_LOG_SENT, "data", "dev-b", &error), ==, count);
  g_assert_cmpint (es_client_store_enqueue (store, next, &error), ==, count + 1);
  g_assert_no_error (error);
}

static void
test_store_kill_after_receive (Fixture       *fixture,
                               gconstpointer  user_data)
{
  const guint count = 20;
  g_autoptr(EsClientStore) store = NULL;
  g_autoptr(EsFrame) again = make_received_frame (count, count);
  g_autoptr(EsFrame) next = make_received_frame (count + 1, count + 1);
  g_autoptr(GError) error = NULL;

  run_killed_child (fixture->profile, TRUE, count);

  store = open_store (fixture->profile);
  g_assert_cmpint (es_client_store_get_last_received_seq (store), ==, count);
  g_assert_cmpint (es_client_store_count_log (store, ES_LOG_RECEIVED, "data", NULL, &error), ==, count);
  g_assert_cmpint (es_client_store_record_received (store, again, &error), ==, ES_RECEIVE_DUPLICATE);
  g_assert_cmpint (es_client_store_record_received (store, next, &error), ==, ES_RECEIVE_NEW);
  g_assert_no_error (error);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/client-store/permissions", test_store_permissions);
  ADD ("/client-store/settings", test_store_settings);
  ADD ("/client-store/seq-and-ack", test_store_seq_and_ack);
  ADD ("/client-store/duplicates", test_store_duplicates);
  ADD ("/client-store/reopen", test_store_reopen);
  ADD ("/client-store/batch", test_store_batch);
  ADD ("/client-store/new-device-resets", test_store_new_device_resets);
  ADD ("/client-store/kill-after-enqueue", test_store_kill_after_enqueue);
  ADD ("/client-store/kill-after-receive", test_store_kill_after_receive);

#undef ADD

  return g_test_run ();
}
