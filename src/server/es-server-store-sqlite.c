/* es-server-store-sqlite.c: the embedded SQLite implementation of EsServerStore
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <errno.h>
#include <sqlite3.h>

#include "es-server-store-sqlite-private.h"

/* Statements are prepared once and kept for the life of the store: the hot path (enqueue, ack,
 * sequence updates) must not parse SQL for every frame. */
typedef enum
{
  STMT_BEGIN,
  STMT_COMMIT,
  STMT_ROLLBACK,
  STMT_INSERT_USER,
  STMT_SELECT_PWHASH,
  STMT_INSERT_DEVICE,
  STMT_UPDATE_TOKEN,
  STMT_SELECT_DEVICE,
  STMT_SELECT_TOKEN,
  STMT_UPDATE_SEQS,
  STMT_ENQUEUE,
  STMT_ACK,
  STMT_LIST_QUEUE,
  STMT_COUNT_QUEUED,
  N_STMTS
} Stmt;

static const char * const stmt_sql[N_STMTS] = {
  [STMT_BEGIN] = "BEGIN IMMEDIATE",
  [STMT_COMMIT] = "COMMIT",
  [STMT_ROLLBACK] = "ROLLBACK",
  [STMT_INSERT_USER] = "INSERT INTO users (name, pwhash, created_at) VALUES (?1, ?2, ?3)",
  [STMT_SELECT_PWHASH] = "SELECT pwhash FROM users WHERE name = ?1",
  [STMT_INSERT_DEVICE] = "INSERT INTO devices (id, user, name, token_hash, created_at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)",
  [STMT_UPDATE_TOKEN] = "UPDATE devices SET token_hash = ?2 WHERE id = ?1",
  [STMT_SELECT_DEVICE] = "SELECT id, user, name, last_recv_seq, next_seq FROM devices WHERE id = ?1",
  [STMT_SELECT_TOKEN] = "SELECT id, user, name, last_recv_seq, next_seq FROM devices "
                        "WHERE token_hash = ?1",
  [STMT_UPDATE_SEQS] = "UPDATE devices SET last_recv_seq = ?2, next_seq = ?3 WHERE id = ?1",
  [STMT_ENQUEUE] = "INSERT INTO queue (device_id, seq, frame) VALUES (?1, ?2, ?3)",
  [STMT_ACK] = "DELETE FROM queue WHERE device_id = ?1 AND seq <= ?2",
  [STMT_LIST_QUEUE] = "SELECT seq, frame FROM queue WHERE device_id = ?1 AND seq > ?2 ORDER BY seq",
  [STMT_COUNT_QUEUED] = "SELECT count(*) FROM queue",
};

static const char schema_sql[] =
  "CREATE TABLE IF NOT EXISTS users ("
  "  name TEXT PRIMARY KEY NOT NULL,"
  "  pwhash TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL);"
  "CREATE TABLE IF NOT EXISTS devices ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  user TEXT NOT NULL REFERENCES users (name),"
  "  name TEXT NOT NULL,"
  "  token_hash BLOB NOT NULL UNIQUE,"
  "  last_recv_seq INTEGER NOT NULL DEFAULT 0,"
  "  next_seq INTEGER NOT NULL DEFAULT 1,"
  "  created_at INTEGER NOT NULL);"
  "CREATE INDEX IF NOT EXISTS devices_by_user ON devices (user);"
  "CREATE TABLE IF NOT EXISTS queue ("
  "  device_id TEXT NOT NULL,"
  "  seq INTEGER NOT NULL,"
  "  frame TEXT NOT NULL,"
  "  PRIMARY KEY (device_id, seq)) WITHOUT ROWID;"
  ES_SERVER_STORE_SQLITE_CALLS_SCHEMA
  "PRAGMA user_version = 1;";

/* Checkpoints copy the WAL back into the database file and fsync it: tens of milliseconds that,
 * left to SQLite's automatic checkpoint, land inside whichever COMMIT crosses the threshold and
 * stall every frame of that batch. So automatic checkpoints are off, and a thread with its own
 * connection runs PASSIVE checkpoints, which never block the writer (WAL lets one writer and a
 * checkpointer work at once), once the WAL has grown past CHECKPOINT_PAGES or every
 * CHECKPOINT_INTERVAL_US, whichever comes first. */
#define CHECKPOINT_PAGES       1000
#define CHECKPOINT_INTERVAL_US (2 * G_USEC_PER_SEC)

typedef struct
{
  GThread  *thread;
  sqlite3  *db;
  GMutex    lock;
  GCond     cond;
  gboolean  wanted;
  gboolean  quit;
} Checkpointer;

struct _EsServerStoreSqlite
{
  GObject parent_instance;

  /* Owned */
  char *path;
  sqlite3 *db;
  sqlite3_stmt *stmts[N_STMTS];
  Checkpointer checkpointer;
};

static void es_server_store_iface_init (EsServerStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (EsServerStoreSqlite, es_server_store_sqlite, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (ES_TYPE_SERVER_STORE,
                                                      es_server_store_iface_init))

static gboolean
set_sqlite_error (EsServerStoreSqlite  *self,
                  GError              **error,
                  int                   rc,
                  const char           *what)
{
  int code = ES_SERVER_STORE_ERROR_FAILED;

  if ((rc & 0xff) == SQLITE_CONSTRAINT)
    code = ES_SERVER_STORE_ERROR_EXISTS;

  g_set_error (error, ES_SERVER_STORE_ERROR, code, "%s: %s (%s)", what,
               self->db != NULL ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc),
               self->path);
  return FALSE;
}

static sqlite3_stmt *
get_stmt (EsServerStoreSqlite *self,
          Stmt                 id)
{
  sqlite3_stmt *stmt = self->stmts[id];

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return stmt;
}

/* Runs a statement that returns no rows. */
static gboolean
step_done (EsServerStoreSqlite  *self,
           sqlite3_stmt         *stmt,
           const char           *what,
           GError              **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return set_sqlite_error (self, error, rc, what);
  return TRUE;
}

static gboolean
es_server_store_sqlite_begin (EsServerStore  *store,
                              GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);

  if (!sqlite3_get_autocommit (self->db))
    {
      g_set_error_literal (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_STATE,
                           "A transaction is open already");
      return FALSE;
    }
  return step_done (self, get_stmt (self, STMT_BEGIN), "Could not begin a transaction", error);
}

static gboolean
es_server_store_sqlite_commit (EsServerStore  *store,
                               GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);

  if (sqlite3_get_autocommit (self->db))
    {
      g_set_error_literal (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_STATE,
                           "No transaction is open");
      return FALSE;
    }
  return step_done (self, get_stmt (self, STMT_COMMIT), "Could not commit", error);
}

static gboolean
es_server_store_sqlite_rollback (EsServerStore  *store,
                                 GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);

  /* SQLite may have rolled back by itself after an I/O error. */
  if (sqlite3_get_autocommit (self->db))
    return TRUE;

  return step_done (self, get_stmt (self, STMT_ROLLBACK), "Could not roll back", error);
}

static gboolean
es_server_store_sqlite_in_transaction (EsServerStore *store)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);

  return !sqlite3_get_autocommit (self->db);
}

static gboolean
es_server_store_sqlite_create_user (EsServerStore  *store,
                                    const char     *user,
                                    const char     *password_hash,
                                    GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);
  sqlite3_stmt *stmt = get_stmt (self, STMT_INSERT_USER);
  int rc;

  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, password_hash, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, g_get_real_time () / G_USEC_PER_SEC);
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);

  if ((rc & 0xff) == SQLITE_CONSTRAINT)
    {
      g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_EXISTS,
                   "User “%s” exists already", user);
      return FALSE;
    }
  if (rc != SQLITE_DONE)
    return set_sqlite_error (self, error, rc, "Could not create a user");
  return TRUE;
}

static char *
es_server_store_sqlite_dup_password_hash (EsServerStore  *store,
                                          const char     *user,
                                          GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);
  sqlite3_stmt *stmt = get_stmt (self, STMT_SELECT_PWHASH);
  char *ret = NULL;
  int rc;

  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    ret = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  else if (rc == SQLITE_DONE)
    g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND,
                 "No user “%s”", user);
  else
    set_sqlite_error (self, error, rc, "Could not look up a user");
  sqlite3_reset (stmt);

  return ret;
}

static gboolean
es_server_store_sqlite_add_device (EsServerStore  *store,
                                   const char     *device_id,
                                   const char     *user,
                                   const char     *name,
                                   const guint8   *token_hash,
                                   GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);
  sqlite3_stmt *stmt = get_stmt (self, STMT_INSERT_DEVICE);

  sqlite3_bind_text (stmt, 1, device_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, user, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, name, -1, SQLITE_STATIC);
  sqlite3_bind_blob (stmt, 4, token_hash, ES_SERVER_STORE_TOKEN_HASH_SIZE, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 5, g_get_real_time () / G_USEC_PER_SEC);
  return step_done (self, stmt, "Could not add a device", error);
}

static gboolean
es_server_store_sqlite_set_device_token (EsServerStore  *store,
                                         const char     *device_id,
                                         const guint8   *token_hash,
                                         GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);
  sqlite3_stmt *stmt = get_stmt (self, STMT_UPDATE_TOKEN);

  sqlite3_bind_text (stmt, 1, device_id, -1, SQLITE_STATIC);
  sqlite3_bind_blob (stmt, 2, token_hash, ES_SERVER_STORE_TOKEN_HASH_SIZE, SQLITE_STATIC);
  if (!step_done (self, stmt, "Could not replace a token", error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND,
                   "No device “%s”", device_id);
      return FALSE;
    }
  return TRUE;
}

static EsServerDeviceRecord *
read_device (EsServerStoreSqlite  *self,
             sqlite3_stmt         *stmt,
             const char           *what,
             GError              **error)
{
  EsServerDeviceRecord *record = NULL;
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    {
      record = g_new0 (EsServerDeviceRecord, 1);
      record->id = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
      record->user = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
      record->name = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
      record->last_recv_seq = sqlite3_column_int64 (stmt, 3);
      record->next_seq = sqlite3_column_int64 (stmt, 4);
    }
  else if (rc == SQLITE_DONE)
    g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND, "%s", what);
  else
    set_sqlite_error (self, error, rc, "Could not look up a device");
  sqlite3_reset (stmt);

  return record;
}

static EsServerDeviceRecord *
es_server_store_sqlite_lookup_device (EsServerStore  *store,
                                      const char     *device_id,
                                      GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);
  sqlite3_stmt *stmt = get_stmt (self, STMT_SELECT_DEVICE);

  sqlite3_bind_text (stmt, 1, device_id, -1, SQLITE_STATIC);
  return read_device (self, stmt, "No such device", error);
}

static EsServerDeviceRecord *
es_server_store_sqlite_lookup_token (EsServerStore  *store,
                                     const guint8   *token_hash,
                                     GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);
  sqlite3_stmt *stmt = get_stmt (self, STMT_SELECT_TOKEN);

  sqlite3_bind_blob (stmt, 1, token_hash, ES_SERVER_STORE_TOKEN_HASH_SIZE, SQLITE_STATIC);
  return read_device (self, stmt, "No device has this token", error);
}

static gboolean
es_server_store_sqlite_update_device_seqs (EsServerStore  *store,
                                           const char     *device_id,
                                           gint64          last_recv_seq,
                                           gint64          next_seq,
                                           GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);
  sqlite3_stmt *stmt = get_stmt (self, STMT_UPDATE_SEQS);

  sqlite3_bind_text (stmt, 1, device_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, last_recv_seq);
  sqlite3_bind_int64 (stmt, 3, next_seq);
  if (!step_done (self, stmt, "Could not update a device", error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND,
                   "No device “%s”", device_id);
      return FALSE;
    }
  return TRUE;
}

static gboolean
es_server_store_sqlite_enqueue (EsServerStore  *store,
                                const char     *device_id,
                                gint64          seq,
                                const char     *data,
                                gsize           length,
                                GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);
  sqlite3_stmt *stmt = get_stmt (self, STMT_ENQUEUE);

  if (length > G_MAXINT)
    {
      g_set_error_literal (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_FAILED,
                           "Frame too large to queue");
      return FALSE;
    }

  sqlite3_bind_text (stmt, 1, device_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, seq);
  sqlite3_bind_text (stmt, 3, data, (int) length, SQLITE_STATIC);
  return step_done (self, stmt, "Could not queue a frame", error);
}

static gint64
es_server_store_sqlite_ack (EsServerStore  *store,
                            const char     *device_id,
                            gint64          up_to_seq,
                            GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);
  sqlite3_stmt *stmt = get_stmt (self, STMT_ACK);

  sqlite3_bind_text (stmt, 1, device_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, up_to_seq);
  if (!step_done (self, stmt, "Could not remove acknowledged frames", error))
    return -1;
  return sqlite3_changes (self->db);
}

static GPtrArray *
es_server_store_sqlite_list_queue (EsServerStore  *store,
                                   const char     *device_id,
                                   gint64          after_seq,
                                   GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);
  sqlite3_stmt *stmt = get_stmt (self, STMT_LIST_QUEUE);
  g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) es_server_queued_frame_free);
  int rc;

  sqlite3_bind_text (stmt, 1, device_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, after_seq);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      EsServerQueuedFrame *frame = g_new0 (EsServerQueuedFrame, 1);

      frame->seq = sqlite3_column_int64 (stmt, 0);
      frame->data = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
      g_ptr_array_add (frames, frame);
    }
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (self, error, rc, "Could not read a queue");
      return NULL;
    }
  return g_steal_pointer (&frames);
}

static gint64
es_server_store_sqlite_count_queued (EsServerStore  *store,
                                     GError        **error)
{
  EsServerStoreSqlite *self = ES_SERVER_STORE_SQLITE (store);
  sqlite3_stmt *stmt = get_stmt (self, STMT_COUNT_QUEUED);
  gint64 ret = -1;
  int rc;

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    ret = sqlite3_column_int64 (stmt, 0);
  else
    set_sqlite_error (self, error, rc, "Could not count queued frames");
  sqlite3_reset (stmt);

  return ret;
}

static void
es_server_store_iface_init (EsServerStoreInterface *iface)
{
  iface->begin = es_server_store_sqlite_begin;
  iface->commit = es_server_store_sqlite_commit;
  iface->rollback = es_server_store_sqlite_rollback;
  iface->in_transaction = es_server_store_sqlite_in_transaction;
  iface->create_user = es_server_store_sqlite_create_user;
  iface->dup_password_hash = es_server_store_sqlite_dup_password_hash;
  iface->add_device = es_server_store_sqlite_add_device;
  iface->set_device_token = es_server_store_sqlite_set_device_token;
  iface->lookup_device = es_server_store_sqlite_lookup_device;
  iface->lookup_token = es_server_store_sqlite_lookup_token;
  iface->update_device_seqs = es_server_store_sqlite_update_device_seqs;
  iface->enqueue = es_server_store_sqlite_enqueue;
  iface->ack = es_server_store_sqlite_ack;
  iface->list_queue = es_server_store_sqlite_list_queue;
  iface->count_queued = es_server_store_sqlite_count_queued;
  es_server_store_sqlite_calls_iface_init (iface);
}

/* Checkpoints ------------------------------------------------------------------------------- */

static gpointer
checkpoint_thread (gpointer data)
{
  Checkpointer *cp = data;

  g_mutex_lock (&cp->lock);
  while (!cp->quit)
    {
      gint64 deadline = g_get_monotonic_time () + CHECKPOINT_INTERVAL_US;

      while (!cp->wanted && !cp->quit)
        if (!g_cond_wait_until (&cp->cond, &cp->lock, deadline))
          break;
      if (cp->quit)
        break;
      cp->wanted = FALSE;
      g_mutex_unlock (&cp->lock);

      /* A busy or partial checkpoint is fine: the next one picks up where it stopped. */
      sqlite3_wal_checkpoint_v2 (cp->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

      g_mutex_lock (&cp->lock);
    }
  g_mutex_unlock (&cp->lock);

  return NULL;
}

/* Runs on the writing connection after each commit, with the WAL's size in pages. */
static int
wal_hook_cb (void       *data,
             sqlite3    *db,
             const char *name,
             int         n_pages)
{
  Checkpointer *cp = data;

  if (n_pages >= CHECKPOINT_PAGES)
    {
      g_mutex_lock (&cp->lock);
      cp->wanted = TRUE;
      g_cond_signal (&cp->cond);
      g_mutex_unlock (&cp->lock);
    }
  return SQLITE_OK;
}

static gboolean
checkpointer_start (EsServerStoreSqlite  *self,
                    GError              **error)
{
  Checkpointer *cp = &self->checkpointer;
  int rc;

  rc = sqlite3_open_v2 (self->path, &cp->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec (cp->db, "PRAGMA synchronous = FULL;", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_OPEN,
                   "Could not open the database %s for checkpoints: %s", self->path,
                   cp->db != NULL ? sqlite3_errmsg (cp->db) : sqlite3_errstr (rc));
      g_clear_pointer (&cp->db, sqlite3_close);
      return FALSE;
    }
  sqlite3_busy_timeout (cp->db, 5000);

  sqlite3_wal_hook (self->db, wal_hook_cb, cp);
  cp->thread = g_thread_new ("es-checkpoint", checkpoint_thread, cp);
  return TRUE;
}

static void
checkpointer_stop (EsServerStoreSqlite *self)
{
  Checkpointer *cp = &self->checkpointer;

  if (cp->thread != NULL)
    {
      g_mutex_lock (&cp->lock);
      cp->quit = TRUE;
      g_cond_signal (&cp->cond);
      g_mutex_unlock (&cp->lock);
      g_clear_pointer (&cp->thread, g_thread_join);
    }
  if (self->db != NULL)
    sqlite3_wal_hook (self->db, NULL, NULL);
  g_clear_pointer (&cp->db, sqlite3_close);
}

static void
es_server_store_sqlite_finalize (GObject *object)
{
  EsServerStoreSqlite *self = (EsServerStoreSqlite *) object;

  checkpointer_stop (self);

  if (self->db != NULL && !sqlite3_get_autocommit (self->db))
    sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
  for (guint i = 0; i < N_STMTS; i++)
    g_clear_pointer (&self->stmts[i], sqlite3_finalize);
  g_clear_pointer (&self->db, sqlite3_close);
  g_clear_pointer (&self->path, g_free);
  g_mutex_clear (&self->checkpointer.lock);
  g_cond_clear (&self->checkpointer.cond);

  G_OBJECT_CLASS (es_server_store_sqlite_parent_class)->finalize (object);
}

static void
es_server_store_sqlite_class_init (EsServerStoreSqliteClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = es_server_store_sqlite_finalize;
}

static void
es_server_store_sqlite_init (EsServerStoreSqlite *self)
{
  g_mutex_init (&self->checkpointer.lock);
  g_cond_init (&self->checkpointer.cond);
}

static gboolean
exec_sql (EsServerStoreSqlite  *self,
          const char           *sql,
          GError              **error)
{
  char *message = NULL;
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, &message);

  if (rc != SQLITE_OK)
    {
      g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_OPEN,
                   "Could not set up the database %s: %s", self->path,
                   message != NULL ? message : sqlite3_errstr (rc));
      sqlite3_free (message);
      return FALSE;
    }
  return TRUE;
}

/**
 * es_server_store_sqlite_new:
 * @path: the database file; its folder is created if needed
 *
 * Opens (creating if needed) the server database in WAL mode with synchronous=FULL, so that a
 * committed transaction survives a crash or power loss.
 */
EsServerStore *
es_server_store_sqlite_new (const char  *path,
                            GError     **error)
{
  g_autoptr(EsServerStoreSqlite) self = NULL;
  g_autofree char *dir = NULL;
  int rc;

  g_return_val_if_fail (path != NULL, NULL);

  self = g_object_new (ES_TYPE_SERVER_STORE_SQLITE, NULL);
  self->path = g_strdup (path);

  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;

      g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_OPEN,
                   "Could not create the folder %s for the database: %s", dir,
                   g_strerror (errsv));
      return NULL;
    }

  /* EsServer commits on a writer thread and runs everything else on the main thread, never both
   * at once (es_server_wait_commit). The connection is serialized anyway: a call that slipped past
   * that rule would wait for the COMMIT instead of corrupting it; uncontended, the mutex is
   * free. */
  rc = sqlite3_open_v2 (path, &self->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_OPEN,
                   "Could not open the database %s: %s", path,
                   self->db != NULL ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
      return NULL;
    }
  sqlite3_busy_timeout (self->db, 5000);

  if (!exec_sql (self, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                       "PRAGMA wal_autocheckpoint = 0;", error) ||
      !exec_sql (self, schema_sql, error))
    return NULL;

  for (guint i = 0; i < N_STMTS; i++)
    {
      rc = sqlite3_prepare_v3 (self->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &self->stmts[i], NULL);
      if (rc != SQLITE_OK)
        {
          g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_OPEN,
                       "Could not prepare “%s”: %s", stmt_sql[i], sqlite3_errmsg (self->db));
          return NULL;
        }
    }

  if (!checkpointer_start (self, error))
    return NULL;

  return ES_SERVER_STORE (g_steal_pointer (&self));
}

const char *
es_server_store_sqlite_get_path (EsServerStoreSqlite *self)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE_SQLITE (self), NULL);

  return self->path;
}

/* For es-server-store-sqlite-calls.c, whose statements run on the same connection and so in the
 * same transaction. */
sqlite3 *
es_server_store_sqlite_get_db (EsServerStoreSqlite *self)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE_SQLITE (self), NULL);

  return self->db;
}
