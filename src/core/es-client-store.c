/* es-client-store.c: one device profile's durable signaling state in SQLite
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-store"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <unistd.h>

#include "es-client-store.h"
#include "es-sqlite.h"

#define SCHEMA_VERSION 1

typedef enum
{
  STMT_GET_SETTING,
  STMT_SET_SETTING,
  STMT_GET_STATE,
  STMT_SET_STATE,
  STMT_INSERT_OUTBOX,
  STMT_INSERT_SENT,
  STMT_DELETE_OUTBOX,
  STMT_LIST_OUTBOX,
  STMT_COUNT_OUTBOX,
  STMT_INSERT_RECEIVED,
  STMT_COUNT_SENT,
  STMT_COUNT_RECEIVED,
  STMT_LIST_SENT,
  STMT_LIST_RECEIVED,
  N_STMTS
} StmtId;

static const char *stmt_sql[N_STMTS] = {
  [STMT_GET_SETTING] = "SELECT value FROM settings WHERE key = ?1",
  [STMT_SET_SETTING] = "INSERT INTO settings (key, value) VALUES (?1, ?2) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  [STMT_GET_STATE] = "SELECT value FROM state WHERE key = ?1",
  [STMT_SET_STATE] = "INSERT INTO state (key, value) VALUES (?1, ?2) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  [STMT_INSERT_OUTBOX] = "INSERT INTO outbox (seq, frame) VALUES (?1, ?2)",
  [STMT_INSERT_SENT] = "INSERT INTO sent_log (seq, type, to_device, call_id, body, at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
  [STMT_DELETE_OUTBOX] = "DELETE FROM outbox WHERE seq <= ?1",
  [STMT_LIST_OUTBOX] = "SELECT seq, frame FROM outbox WHERE seq > ?1 ORDER BY seq",
  [STMT_COUNT_OUTBOX] = "SELECT COUNT(*) FROM outbox",
  [STMT_INSERT_RECEIVED] = "INSERT INTO received_log "
                           "(seq, type, from_device, from_user, call_id, body, at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
  [STMT_COUNT_SENT] = "SELECT COUNT(*) FROM sent_log "
                      "WHERE (?1 IS NULL OR type = ?1) AND (?2 IS NULL OR to_device = ?2)",
  [STMT_COUNT_RECEIVED] = "SELECT COUNT(*) FROM received_log "
                          "WHERE (?1 IS NULL OR type = ?1) AND (?2 IS NULL OR from_device = ?2)",
  [STMT_LIST_SENT] = "SELECT seq, type, to_device, NULL, call_id, body, at "
                     "FROM sent_log ORDER BY id",
  [STMT_LIST_RECEIVED] = "SELECT seq, type, from_device, from_user, call_id, body, at "
                         "FROM received_log ORDER BY id",
};

static const char schema_sql[] =
  "CREATE TABLE IF NOT EXISTS settings ("
  "  key TEXT PRIMARY KEY NOT NULL,"
  "  value TEXT);"
  "CREATE TABLE IF NOT EXISTS state ("
  "  key TEXT PRIMARY KEY NOT NULL,"
  "  value INTEGER NOT NULL);"
  "CREATE TABLE IF NOT EXISTS outbox ("
  "  seq INTEGER PRIMARY KEY,"
  "  frame TEXT NOT NULL);"
  /* The logs keep their own row id: a profile that logs in as a new device starts its
   * sequences again, and the history of the old one stays. */
  "CREATE TABLE IF NOT EXISTS sent_log ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  seq INTEGER NOT NULL,"
  "  type TEXT NOT NULL,"
  "  to_device TEXT,"
  "  call_id TEXT,"
  "  body TEXT NOT NULL,"
  "  at INTEGER NOT NULL);"
  "CREATE TABLE IF NOT EXISTS received_log ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  seq INTEGER NOT NULL,"
  "  type TEXT NOT NULL,"
  "  from_device TEXT,"
  "  from_user TEXT,"
  "  call_id TEXT,"
  "  body TEXT NOT NULL,"
  "  at INTEGER NOT NULL);"
  "CREATE INDEX IF NOT EXISTS sent_log_type_peer ON sent_log (type, to_device);"
  "CREATE INDEX IF NOT EXISTS received_log_type_peer ON received_log (type, from_device);"
  "INSERT OR IGNORE INTO state (key, value) VALUES ('next_seq', 1);"
  "INSERT OR IGNORE INTO state (key, value) VALUES ('last_received_seq', 0);";

struct _EsClientStore
{
  GObject       parent_instance;

  /* Owned */
  char         *profile_dir;
  char         *db_path;
  sqlite3      *db;
  sqlite3_stmt *stmts[N_STMTS];

  gint64        next_seq;
  gint64        last_received_seq;
  guint         batch_depth;
  guint         savepoint_counter;
};

enum {
  PROP_0,
  PROP_PROFILE_DIR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void es_client_store_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (EsClientStore, es_client_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      es_client_store_initable_iface_init))

G_DEFINE_QUARK (es-store-error-quark, es_store_error)

void
es_log_entry_free (EsLogEntry *entry)
{
  if (entry == NULL)
    return;

  g_free (entry->type);
  g_free (entry->peer);
  g_free (entry->peer_user);
  g_free (entry->call_id);
  g_free (entry->body);
  g_free (entry);
}

static gboolean
set_sqlite_error (EsClientStore  *self,
                  GError        **error,
                  const char     *what)
{
  g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_FAILED,
               "%s in %s: %s", what, self->db_path, sqlite3_errmsg (self->db));
  return FALSE;
}

static gboolean
exec_sql (EsClientStore  *self,
          const char     *sql,
          GError        **error)
{
  char *errmsg = NULL;

  if (sqlite3_exec (self->db, sql, NULL, NULL, &errmsg) != SQLITE_OK)
    {
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_FAILED,
                   "Cannot run “%s” in %s: %s", sql, self->db_path,
                   errmsg ? errmsg : sqlite3_errmsg (self->db));
      sqlite3_free (errmsg);
      return FALSE;
    }

  return TRUE;
}

static sqlite3_stmt *
get_stmt (EsClientStore  *self,
          StmtId          id,
          GError        **error)
{
  g_assert (id < N_STMTS);

  if (self->stmts[id] == NULL)
    {
      if (sqlite3_prepare_v3 (self->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                              &self->stmts[id], NULL) != SQLITE_OK)
        {
          set_sqlite_error (self, error, "Cannot prepare a statement");
          return NULL;
        }
    }
  else
    {
      sqlite3_reset (self->stmts[id]);
      sqlite3_clear_bindings (self->stmts[id]);
    }

  return self->stmts[id];
}

static void
bind_text_or_null (sqlite3_stmt *stmt,
                   int           index,
                   const char   *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, index);
}

/* Runs a statement that returns no rows. */
static gboolean
step_done (EsClientStore  *self,
           sqlite3_stmt   *stmt,
           GError        **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return set_sqlite_error (self, error, "Cannot write");

  return TRUE;
}

static gboolean
read_state (EsClientStore  *self,
            const char     *key,
            gint64         *out_value,
            GError        **error)
{
  sqlite3_stmt *stmt;
  int rc;

  if (!(stmt = get_stmt (self, STMT_GET_STATE, error)))
    return FALSE;

  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      *out_value = sqlite3_column_int64 (stmt, 0);
      sqlite3_reset (stmt);
      return TRUE;
    }

  sqlite3_reset (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_CORRUPT,
                   "State “%s” is missing from %s", key, self->db_path);
      return FALSE;
    }

  return set_sqlite_error (self, error, "Cannot read state");
}

static gboolean
write_state (EsClientStore  *self,
             const char     *key,
             gint64          value,
             GError        **error)
{
  sqlite3_stmt *stmt;

  if (!(stmt = get_stmt (self, STMT_SET_STATE, error)))
    return FALSE;

  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, value);

  return step_done (self, stmt, error);
}

static gboolean
load_state (EsClientStore  *self,
            GError        **error)
{
  gint64 next_seq = 0;
  gint64 last_received_seq = 0;

  if (!read_state (self, "next_seq", &next_seq, error) ||
      !read_state (self, "last_received_seq", &last_received_seq, error))
    return FALSE;

  if (next_seq < 1 || last_received_seq < 0)
    {
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_CORRUPT,
                   "Sequence state in %s is out of range", self->db_path);
      return FALSE;
    }

  self->next_seq = next_seq;
  self->last_received_seq = last_received_seq;

  return TRUE;
}

/* Operations run inside a savepoint: on their own it is a transaction of its own, inside a
 * batch it nests and the batch decides. */
static gboolean
savepoint_begin (EsClientStore  *self,
                 GError        **error)
{
  return exec_sql (self, "SAVEPOINT es_op", error);
}

static gboolean
savepoint_release (EsClientStore  *self,
                   GError        **error)
{
  if (!exec_sql (self, "RELEASE es_op", error))
    {
      /* A failed commit leaves the savepoint open: undo it so the next operation starts clean. */
      exec_sql (self, "ROLLBACK TO es_op", NULL);
      exec_sql (self, "RELEASE es_op", NULL);
      return FALSE;
    }

  return TRUE;
}

static void
savepoint_rollback (EsClientStore *self)
{
  exec_sql (self, "ROLLBACK TO es_op", NULL);
  exec_sql (self, "RELEASE es_op", NULL);
}

static gboolean
open_database (EsClientStore  *self,
               GError        **error)
{
  self->db = es_sqlite_open_private (self->profile_dir, self->db_path, schema_sql,
                                     SCHEMA_VERSION, error);
  if (self->db == NULL)
    return FALSE;

  return load_state (self, error);
}

static gboolean
es_client_store_initable_init (GInitable     *initable,
                               GCancellable  *cancellable,
                               GError       **error)
{
  EsClientStore *self = ES_CLIENT_STORE (initable);

  if (self->profile_dir == NULL || self->profile_dir[0] == '\0')
    {
      g_set_error_literal (error, ES_STORE_ERROR, ES_STORE_ERROR_OPEN,
                           "No profile directory given");
      return FALSE;
    }

  self->db_path = g_build_filename (self->profile_dir, "earshot.db", NULL);

  return open_database (self, error);
}

static void
es_client_store_initable_iface_init (GInitableIface *iface)
{
  iface->init = es_client_store_initable_init;
}

static void
es_client_store_finalize (GObject *object)
{
  EsClientStore *self = (EsClientStore *)object;

  if (self->batch_depth > 0)
    {
      g_warning ("Store finalized inside a batch; rolling back");
      exec_sql (self, "ROLLBACK", NULL);
    }

  for (guint i = 0; i < N_STMTS; i++)
    g_clear_pointer (&self->stmts[i], sqlite3_finalize);
  g_clear_pointer (&self->db, sqlite3_close);
  g_clear_pointer (&self->profile_dir, g_free);
  g_clear_pointer (&self->db_path, g_free);

  G_OBJECT_CLASS (es_client_store_parent_class)->finalize (object);
}

static void
es_client_store_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  EsClientStore *self = ES_CLIENT_STORE (object);

  switch (prop_id)
    {
    case PROP_PROFILE_DIR:
      g_value_set_string (value, self->profile_dir);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_client_store_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  EsClientStore *self = ES_CLIENT_STORE (object);

  switch (prop_id)
    {
    case PROP_PROFILE_DIR:
      g_free (self->profile_dir);
      self->profile_dir = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_client_store_class_init (EsClientStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = es_client_store_finalize;
  object_class->get_property = es_client_store_get_property;
  object_class->set_property = es_client_store_set_property;

  properties[PROP_PROFILE_DIR] =
    g_param_spec_string ("profile-dir", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
es_client_store_init (EsClientStore *self)
{
  self->next_seq = 1;
}

/**
 * es_client_store_new:
 * @profile_dir: the profile directory; created with mode 0700 when missing
 *
 * Opens (or creates) `profile_dir/earshot.db`.
 */
EsClientStore *
es_client_store_new (const char  *profile_dir,
                     GError     **error)
{
  g_return_val_if_fail (profile_dir != NULL, NULL);

  return g_initable_new (ES_TYPE_CLIENT_STORE, NULL, error,
                         "profile-dir", profile_dir,
                         NULL);
}

const char *
es_client_store_get_profile_dir (EsClientStore *self)
{
  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), NULL);

  return self->profile_dir;
}

char *
es_client_store_dup_setting (EsClientStore *self,
                             const char    *key)
{
  g_autoptr(GError) error = NULL;
  sqlite3_stmt *stmt;
  char *value = NULL;
  int rc;

  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  if (!(stmt = get_stmt (self, STMT_GET_SETTING, &error)))
    {
      g_warning ("%s", error->message);
      return NULL;
    }

  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW && sqlite3_column_type (stmt, 0) != SQLITE_NULL)
    value = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    g_warning ("Cannot read setting %s from %s: %s", key, self->db_path, sqlite3_errmsg (self->db));
  sqlite3_reset (stmt);

  return value;
}

static gboolean
write_setting (EsClientStore  *self,
               const char     *key,
               const char     *value,
               GError        **error)
{
  sqlite3_stmt *stmt;

  if (!(stmt = get_stmt (self, STMT_SET_SETTING, error)))
    return FALSE;

  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
  bind_text_or_null (stmt, 2, value);

  return step_done (self, stmt, error);
}

gboolean
es_client_store_set_setting (EsClientStore  *self,
                             const char     *key,
                             const char     *value,
                             GError        **error)
{
  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  return write_setting (self, key, value, error);
}

/**
 * es_client_store_set_account:
 *
 * Stores what register or login returned, in one transaction. When the device or the server
 * changes, the sequence state starts again (the server has never seen this device's seqs) and
 * the outbox, which was addressed from the old device, is dropped. The logs stay.
 */
gboolean
es_client_store_set_account (EsClientStore  *self,
                             const char     *server_url,
                             const char     *user,
                             const char     *device_id,
                             const char     *device_name,
                             const char     *token,
                             GError        **error)
{
  g_autofree char *old_device_id = NULL;
  g_autofree char *old_server_url = NULL;
  gboolean reset;
  gint64 saved_next_seq = self->next_seq;
  gint64 saved_last_received_seq = self->last_received_seq;

  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), FALSE);
  g_return_val_if_fail (server_url != NULL, FALSE);
  g_return_val_if_fail (user != NULL, FALSE);
  g_return_val_if_fail (device_id != NULL, FALSE);
  g_return_val_if_fail (token != NULL, FALSE);

  old_device_id = es_client_store_dup_setting (self, ES_SETTING_DEVICE_ID);
  old_server_url = es_client_store_dup_setting (self, ES_SETTING_SERVER_URL);
  reset = g_strcmp0 (old_device_id, device_id) != 0 || g_strcmp0 (old_server_url, server_url) != 0;

  if (!savepoint_begin (self, error))
    return FALSE;

  if (!write_setting (self, ES_SETTING_SERVER_URL, server_url, error) ||
      !write_setting (self, ES_SETTING_USER, user, error) ||
      !write_setting (self, ES_SETTING_DEVICE_ID, device_id, error) ||
      !write_setting (self, ES_SETTING_DEVICE_NAME, device_name, error) ||
      !write_setting (self, ES_SETTING_TOKEN, token, error))
    goto failed;

  if (reset)
    {
      if (!exec_sql (self, "DELETE FROM outbox", error) ||
          !write_state (self, "next_seq", 1, error) ||
          !write_state (self, "last_received_seq", 0, error))
        goto failed;
      self->next_seq = 1;
      self->last_received_seq = 0;
    }

  if (!savepoint_release (self, error))
    goto restore;

  return TRUE;

failed:
  savepoint_rollback (self);
restore:
  self->next_seq = saved_next_seq;
  self->last_received_seq = saved_last_received_seq;
  return FALSE;
}

gboolean
es_client_store_begin (EsClientStore  *self,
                       GError        **error)
{
  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), FALSE);

  if (self->batch_depth == 0 && !exec_sql (self, "BEGIN IMMEDIATE", error))
    return FALSE;

  self->batch_depth++;

  return TRUE;
}

gboolean
es_client_store_commit (EsClientStore  *self,
                        GError        **error)
{
  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), FALSE);
  g_return_val_if_fail (self->batch_depth > 0, FALSE);

  if (--self->batch_depth > 0)
    return TRUE;

  if (!exec_sql (self, "COMMIT", error))
    {
      exec_sql (self, "ROLLBACK", NULL);
      if (!load_state (self, NULL))
        g_warning ("Cannot reload sequence state from %s", self->db_path);
      return FALSE;
    }

  return TRUE;
}

void
es_client_store_rollback (EsClientStore *self)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (ES_IS_CLIENT_STORE (self));

  if (self->batch_depth == 0)
    return;

  self->batch_depth = 0;
  exec_sql (self, "ROLLBACK", NULL);
  if (!load_state (self, &error))
    g_warning ("Cannot reload sequence state: %s", error->message);
}

gboolean
es_client_store_in_transaction (EsClientStore *self)
{
  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), FALSE);

  return self->batch_depth > 0;
}

static char *
body_to_string (JsonObject *body)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_set_object (node, body);

  return json_to_string (node, FALSE);
}

/**
 * es_client_store_enqueue:
 * @frame: a durable frame; its seq is assigned here
 *
 * Assigns the next outgoing seq to @frame and writes it into the outbox and the sent log,
 * in one transaction.
 *
 * Returns: the seq, or 0 on error
 */
gint64
es_client_store_enqueue (EsClientStore  *self,
                         EsFrame        *frame,
                         GError        **error)
{
  g_autofree char *text = NULL;
  g_autofree char *body = NULL;
  sqlite3_stmt *stmt;
  gint64 seq;

  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), 0);
  g_return_val_if_fail (frame != NULL, 0);
  g_return_val_if_fail (es_message_type_is_durable (frame->type), 0);

  seq = self->next_seq;
  frame->seq = seq;
  frame->ack = 0;
  text = es_frame_serialize (frame, NULL);
  body = frame->body ? body_to_string (frame->body) : g_strdup ("{}");
  if (text == NULL)
    {
      frame->seq = 0;
      g_set_error_literal (error, ES_STORE_ERROR, ES_STORE_ERROR_FAILED,
                           "Cannot serialize the frame");
      return 0;
    }

  if (!savepoint_begin (self, error))
    {
      frame->seq = 0;
      return 0;
    }

  if (!(stmt = get_stmt (self, STMT_INSERT_OUTBOX, error)))
    goto failed;
  sqlite3_bind_int64 (stmt, 1, seq);
  sqlite3_bind_text (stmt, 2, text, -1, SQLITE_STATIC);
  if (!step_done (self, stmt, error))
    goto failed;

  if (!(stmt = get_stmt (self, STMT_INSERT_SENT, error)))
    goto failed;
  sqlite3_bind_int64 (stmt, 1, seq);
  sqlite3_bind_text (stmt, 2, es_message_type_to_string (frame->type), -1, SQLITE_STATIC);
  bind_text_or_null (stmt, 3, frame->to_device);
  bind_text_or_null (stmt, 4, frame->call_id);
  sqlite3_bind_text (stmt, 5, body, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 6, g_get_real_time ());
  if (!step_done (self, stmt, error))
    goto failed;

  if (!write_state (self, "next_seq", seq + 1, error))
    goto failed;

  if (!savepoint_release (self, error))
    goto failed_released;

  self->next_seq = seq + 1;

  return seq;

failed:
  savepoint_rollback (self);
failed_released:
  frame->seq = 0;
  return 0;
}

/* Drops outbox entries up to and including @up_to: the server has persisted them. */
gboolean
es_client_store_ack (EsClientStore  *self,
                     gint64          up_to,
                     GError        **error)
{
  sqlite3_stmt *stmt;

  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), FALSE);

  if (up_to <= 0)
    return TRUE;

  if (!(stmt = get_stmt (self, STMT_DELETE_OUTBOX, error)))
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, up_to);

  return step_done (self, stmt, error);
}

/**
 * es_client_store_list_outbox:
 * @after_seq: list only entries with a larger seq (0 for all)
 *
 * Returns: (transfer full) (element-type EsFrame): the unacked frames in seq order
 */
GPtrArray *
es_client_store_list_outbox (EsClientStore  *self,
                             gint64          after_seq,
                             GError        **error)
{
  g_autoptr(GPtrArray) frames = NULL;
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), NULL);

  if (!(stmt = get_stmt (self, STMT_LIST_OUTBOX, error)))
    return NULL;
  sqlite3_bind_int64 (stmt, 1, after_seq);

  frames = g_ptr_array_new_with_free_func ((GDestroyNotify)es_frame_free);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 seq = sqlite3_column_int64 (stmt, 0);
      const char *text = (const char *)sqlite3_column_text (stmt, 1);
      int len = sqlite3_column_bytes (stmt, 1);
      g_autoptr(GError) local_error = NULL;
      EsFrame *frame;

      frame = text ? es_frame_parse (text, len, &local_error) : NULL;
      if (frame == NULL || frame->seq != seq)
        {
          g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_CORRUPT,
                       "Outbox entry %" G_GINT64_FORMAT " in %s is damaged: %s",
                       seq, self->db_path,
                       local_error ? local_error->message : "seq does not match");
          g_clear_pointer (&frame, es_frame_free);
          sqlite3_reset (stmt);
          return NULL;
        }

      g_ptr_array_add (frames, frame);
    }

  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (self, error, "Cannot read the outbox");
      return NULL;
    }

  return g_steal_pointer (&frames);
}

/* Returns: the number of unacked frames, or -1 on error */
gint64
es_client_store_count_outbox (EsClientStore  *self,
                              GError        **error)
{
  sqlite3_stmt *stmt;
  gint64 count = -1;

  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), -1);

  if (!(stmt = get_stmt (self, STMT_COUNT_OUTBOX, error)))
    return -1;

  if (sqlite3_step (stmt) == SQLITE_ROW)
    count = sqlite3_column_int64 (stmt, 0);
  else
    set_sqlite_error (self, error, "Cannot count the outbox");
  sqlite3_reset (stmt);

  return count;
}

gint64
es_client_store_get_next_seq (EsClientStore *self)
{
  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), 0);

  return self->next_seq;
}

/**
 * es_client_store_record_received:
 * @frame: a durable frame from the server
 *
 * Records @frame in the received log and advances the last received seq, in one transaction,
 * unless it was processed before.
 *
 * Returns: %ES_RECEIVE_NEW when the application should see @frame, %ES_RECEIVE_DUPLICATE when
 *   it already did, %ES_RECEIVE_ERROR with @error set
 */
EsReceiveResult
es_client_store_record_received (EsClientStore  *self,
                                 const EsFrame  *frame,
                                 GError        **error)
{
  g_autofree char *body = NULL;
  sqlite3_stmt *stmt;

  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), ES_RECEIVE_ERROR);
  g_return_val_if_fail (frame != NULL, ES_RECEIVE_ERROR);

  if (frame->seq <= 0)
    {
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_FAILED,
                   "A %s frame without a seq cannot be recorded",
                   es_message_type_to_string (frame->type));
      return ES_RECEIVE_ERROR;
    }

  if (frame->seq <= self->last_received_seq)
    return ES_RECEIVE_DUPLICATE;

  body = frame->body ? body_to_string (frame->body) : g_strdup ("{}");

  if (!savepoint_begin (self, error))
    return ES_RECEIVE_ERROR;

  if (!(stmt = get_stmt (self, STMT_INSERT_RECEIVED, error)))
    goto failed;
  sqlite3_bind_int64 (stmt, 1, frame->seq);
  sqlite3_bind_text (stmt, 2, es_message_type_to_string (frame->type), -1, SQLITE_STATIC);
  bind_text_or_null (stmt, 3, frame->from_device);
  bind_text_or_null (stmt, 4, frame->from_user);
  bind_text_or_null (stmt, 5, frame->call_id);
  sqlite3_bind_text (stmt, 6, body, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 7, g_get_real_time ());
  if (!step_done (self, stmt, error))
    goto failed;

  if (!write_state (self, "last_received_seq", frame->seq, error))
    goto failed;

  if (!savepoint_release (self, error))
    return ES_RECEIVE_ERROR;

  self->last_received_seq = frame->seq;

  return ES_RECEIVE_NEW;

failed:
  savepoint_rollback (self);
  return ES_RECEIVE_ERROR;
}

gint64
es_client_store_get_last_received_seq (EsClientStore *self)
{
  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), 0);

  return self->last_received_seq;
}

/**
 * es_client_store_count_log:
 * @type: (nullable): count only frames of this type ("data", "offer", …)
 * @peer: (nullable): count only frames to (sent) or from (received) this device
 *
 * Returns: the count, or -1 on error
 */
gint64
es_client_store_count_log (EsClientStore  *self,
                           EsLogKind       kind,
                           const char     *type,
                           const char     *peer,
                           GError        **error)
{
  sqlite3_stmt *stmt;
  gint64 count = -1;

  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), -1);

  stmt = get_stmt (self, kind == ES_LOG_SENT ? STMT_COUNT_SENT : STMT_COUNT_RECEIVED, error);
  if (stmt == NULL)
    return -1;

  bind_text_or_null (stmt, 1, type);
  bind_text_or_null (stmt, 2, peer);

  if (sqlite3_step (stmt) == SQLITE_ROW)
    count = sqlite3_column_int64 (stmt, 0);
  else
    set_sqlite_error (self, error, "Cannot count the log");
  sqlite3_reset (stmt);

  return count;
}

static char *
dup_column_text (sqlite3_stmt *stmt,
                 int           column)
{
  if (sqlite3_column_type (stmt, column) == SQLITE_NULL)
    return NULL;

  return g_strdup ((const char *)sqlite3_column_text (stmt, column));
}

/**
 * es_client_store_list_log:
 *
 * Returns: (transfer full) (element-type EsLogEntry): the log in the order it was written
 */
GPtrArray *
es_client_store_list_log (EsClientStore  *self,
                          EsLogKind       kind,
                          GError        **error)
{
  g_autoptr(GPtrArray) entries = NULL;
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (ES_IS_CLIENT_STORE (self), NULL);

  stmt = get_stmt (self, kind == ES_LOG_SENT ? STMT_LIST_SENT : STMT_LIST_RECEIVED, error);
  if (stmt == NULL)
    return NULL;

  entries = g_ptr_array_new_with_free_func ((GDestroyNotify)es_log_entry_free);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      EsLogEntry *entry = g_new0 (EsLogEntry, 1);

      entry->seq = sqlite3_column_int64 (stmt, 0);
      entry->type = dup_column_text (stmt, 1);
      entry->peer = dup_column_text (stmt, 2);
      entry->peer_user = dup_column_text (stmt, 3);
      entry->call_id = dup_column_text (stmt, 4);
      entry->body = dup_column_text (stmt, 5);
      entry->at = sqlite3_column_int64 (stmt, 6);
      g_ptr_array_add (entries, entry);
    }

  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (self, error, "Cannot read the log");
      return NULL;
    }

  return g_steal_pointer (&entries);
}
