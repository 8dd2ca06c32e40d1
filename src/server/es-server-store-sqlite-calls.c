/* es-server-store-sqlite-calls.c: calls in the SQLite implementation of EsServerStore
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "es-server-store-sqlite-private.h"

/* The statements of this file are prepared on first use and kept with the store, like the
 * store's own: offer, answer and ice frames look their call up, and there are many of those. */
typedef enum
{
  CALL_STMT_INSERT,
  CALL_STMT_UPDATE,
  CALL_STMT_SELECT,
  CALL_STMT_FIND_RINGING,
  CALL_STMT_USER_IN_CALL,
  CALL_STMT_DUE,
  CALL_STMT_NEXT_DEADLINE,
  CALL_STMT_USER_DEVICES,
  N_CALL_STMTS
} CallStmt;

#define CALL_COLUMNS \
  "id, caller_user, caller_device, callee_user, callee_device, media, state, deadline, created_at"

static const char * const call_stmt_sql[N_CALL_STMTS] = {
  [CALL_STMT_INSERT] = "INSERT INTO calls (id, caller_user, caller_device, callee_user, "
                       "callee_device, media, state, deadline, created_at, updated_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
  [CALL_STMT_UPDATE] = "UPDATE calls SET state = ?2, callee_device = ?3, deadline = ?4, "
                       "updated_at = ?5 WHERE id = ?1",
  [CALL_STMT_SELECT] = "SELECT " CALL_COLUMNS " FROM calls WHERE id = ?1",
  [CALL_STMT_FIND_RINGING] = "SELECT " CALL_COLUMNS " FROM calls WHERE state = 'ringing' "
                             "AND caller_user = ?1 AND callee_user = ?2 ORDER BY id LIMIT 1",
  [CALL_STMT_USER_IN_CALL] = "SELECT EXISTS (SELECT 1 FROM calls WHERE state = 'accepted' "
                             "AND caller_user = ?1) OR EXISTS (SELECT 1 FROM calls "
                             "WHERE state = 'accepted' AND callee_user = ?1)",
  [CALL_STMT_DUE] = "SELECT " CALL_COLUMNS " FROM calls WHERE state = 'ringing' "
                    "AND deadline <= ?1 ORDER BY deadline, id",
  [CALL_STMT_NEXT_DEADLINE] = "SELECT min(deadline) FROM calls WHERE state = 'ringing'",
  [CALL_STMT_USER_DEVICES] = "SELECT id, user, name, last_recv_seq, next_seq FROM devices "
                             "WHERE user = ?1 ORDER BY created_at, id",
};

typedef struct
{
  sqlite3      *db;
  sqlite3_stmt *stmts[N_CALL_STMTS];
} CallStmts;

static GQuark
call_stmts_quark (void)
{
  static GQuark quark;

  if (G_UNLIKELY (quark == 0))
    quark = g_quark_from_static_string ("es-server-store-sqlite-calls");
  return quark;
}

/* Runs from the store's dispose, before its finalize closes the database: sqlite3_close()
 * refuses to close a connection that still has statements. */
static void
call_stmts_free_cb (gpointer  data,
                    GObject  *where_the_object_was)
{
  CallStmts *stmts = data;

  for (guint i = 0; i < N_CALL_STMTS; i++)
    g_clear_pointer (&stmts->stmts[i], sqlite3_finalize);
  g_object_set_qdata (where_the_object_was, call_stmts_quark (), NULL);
  g_free (stmts);
}

static const char *
store_path (EsServerStore *store)
{
  return es_server_store_sqlite_get_path (ES_SERVER_STORE_SQLITE (store));
}

static gboolean
set_error (EsServerStore  *store,
           sqlite3        *db,
           GError        **error,
           int             rc,
           const char     *what)
{
  int code = ES_SERVER_STORE_ERROR_FAILED;

  if ((rc & 0xff) == SQLITE_CONSTRAINT)
    code = ES_SERVER_STORE_ERROR_EXISTS;

  g_set_error (error, ES_SERVER_STORE_ERROR, code, "%s: %s (%s)", what,
               db != NULL ? sqlite3_errmsg (db) : sqlite3_errstr (rc), store_path (store));
  return FALSE;
}

static sqlite3_stmt *
get_stmt (EsServerStore  *store,
          CallStmt        id,
          GError        **error)
{
  CallStmts *stmts = g_object_get_qdata (G_OBJECT (store), call_stmts_quark ());
  sqlite3_stmt *stmt;

  if (stmts == NULL)
    {
      stmts = g_new0 (CallStmts, 1);
      stmts->db = es_server_store_sqlite_get_db (ES_SERVER_STORE_SQLITE (store));
      g_object_set_qdata (G_OBJECT (store), call_stmts_quark (), stmts);
      g_object_weak_ref (G_OBJECT (store), call_stmts_free_cb, stmts);
    }

  if (stmts->stmts[id] == NULL)
    {
      int rc = sqlite3_prepare_v3 (stmts->db, call_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                   &stmts->stmts[id], NULL);

      if (rc != SQLITE_OK)
        {
          set_error (store, stmts->db, error, rc, "Could not prepare a statement for calls");
          g_clear_pointer (&stmts->stmts[id], sqlite3_finalize);
          return NULL;
        }
    }

  stmt = stmts->stmts[id];
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return stmt;
}

static sqlite3 *
get_db (EsServerStore *store)
{
  return es_server_store_sqlite_get_db (ES_SERVER_STORE_SQLITE (store));
}

static void
bind_text_or_null (sqlite3_stmt *stmt,
                   int           index,
                   const char   *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (stmt, index);
}

static char *
dup_column_text (sqlite3_stmt *stmt,
                 int           column)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, column));
}

/* Reads the row @stmt is on, in the order of CALL_COLUMNS. */
static EsServerCallRecord *
read_call_row (EsServerStore  *store,
               sqlite3_stmt   *stmt,
               GError        **error)
{
  g_autoptr(EsServerCallRecord) call = g_new0 (EsServerCallRecord, 1);
  const char *state = (const char *) sqlite3_column_text (stmt, 6);

  call->id = dup_column_text (stmt, 0);
  call->caller_user = dup_column_text (stmt, 1);
  call->caller_device = dup_column_text (stmt, 2);
  call->callee_user = dup_column_text (stmt, 3);
  call->callee_device = dup_column_text (stmt, 4);
  call->media = dup_column_text (stmt, 5);
  call->deadline = sqlite3_column_int64 (stmt, 7);
  call->created_at = sqlite3_column_int64 (stmt, 8);

  if (!es_server_call_state_from_string (state, &call->state))
    {
      g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_FAILED,
                   "Call “%s” has an unknown state “%s” (%s)", call->id,
                   state != NULL ? state : "(null)", store_path (store));
      return NULL;
    }

  return g_steal_pointer (&call);
}

/* Steps a statement that returns at most one call. */
static EsServerCallRecord *
read_one_call (EsServerStore  *store,
               sqlite3_stmt   *stmt,
               const char     *not_found,
               GError        **error)
{
  EsServerCallRecord *call = NULL;
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    call = read_call_row (store, stmt, error);
  else if (rc == SQLITE_DONE)
    g_set_error_literal (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND, not_found);
  else
    set_error (store, get_db (store), error, rc, "Could not look up a call");
  sqlite3_reset (stmt);

  return call;
}

static GPtrArray *
es_server_store_sqlite_list_user_devices (EsServerStore  *store,
                                          const char     *user,
                                          GError        **error)
{
  sqlite3_stmt *stmt = get_stmt (store, CALL_STMT_USER_DEVICES, error);
  g_autoptr(GPtrArray) devices = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;

  devices = g_ptr_array_new_with_free_func ((GDestroyNotify) es_server_device_record_free);
  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      EsServerDeviceRecord *record = g_new0 (EsServerDeviceRecord, 1);

      record->id = dup_column_text (stmt, 0);
      record->user = dup_column_text (stmt, 1);
      record->name = dup_column_text (stmt, 2);
      record->last_recv_seq = sqlite3_column_int64 (stmt, 3);
      record->next_seq = sqlite3_column_int64 (stmt, 4);
      g_ptr_array_add (devices, record);
    }
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      set_error (store, get_db (store), error, rc, "Could not list the devices of a user");
      return NULL;
    }
  return g_steal_pointer (&devices);
}

static gboolean
es_server_store_sqlite_insert_call (EsServerStore             *store,
                                    const EsServerCallRecord  *call,
                                    GError                   **error)
{
  sqlite3_stmt *stmt = get_stmt (store, CALL_STMT_INSERT, error);
  int rc;

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_text (stmt, 1, call->id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, call->caller_user, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, call->caller_device, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, call->callee_user, -1, SQLITE_STATIC);
  bind_text_or_null (stmt, 5, call->callee_device);
  sqlite3_bind_text (stmt, 6, call->media, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 7, es_server_call_state_to_string (call->state), -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 8, call->deadline);
  sqlite3_bind_int64 (stmt, 9, call->created_at);
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);

  if ((rc & 0xff) == SQLITE_CONSTRAINT)
    {
      g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_EXISTS,
                   "Call “%s” exists already", call->id);
      return FALSE;
    }
  if (rc != SQLITE_DONE)
    return set_error (store, get_db (store), error, rc, "Could not store a call");
  return TRUE;
}

static gboolean
es_server_store_sqlite_update_call (EsServerStore             *store,
                                    const EsServerCallRecord  *call,
                                    GError                   **error)
{
  sqlite3_stmt *stmt = get_stmt (store, CALL_STMT_UPDATE, error);
  int rc;

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_text (stmt, 1, call->id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, es_server_call_state_to_string (call->state), -1, SQLITE_STATIC);
  bind_text_or_null (stmt, 3, call->callee_device);
  sqlite3_bind_int64 (stmt, 4, call->deadline);
  sqlite3_bind_int64 (stmt, 5, g_get_real_time ());
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    return set_error (store, get_db (store), error, rc, "Could not update a call");
  if (sqlite3_changes (get_db (store)) == 0)
    {
      g_set_error (error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND,
                   "No call “%s”", call->id);
      return FALSE;
    }
  return TRUE;
}

static EsServerCallRecord *
es_server_store_sqlite_lookup_call (EsServerStore  *store,
                                    const char     *call_id,
                                    GError        **error)
{
  sqlite3_stmt *stmt = get_stmt (store, CALL_STMT_SELECT, error);

  if (stmt == NULL)
    return NULL;

  sqlite3_bind_text (stmt, 1, call_id, -1, SQLITE_STATIC);
  return read_one_call (store, stmt, "No such call", error);
}

static EsServerCallRecord *
es_server_store_sqlite_find_ringing_call (EsServerStore  *store,
                                          const char     *caller_user,
                                          const char     *callee_user,
                                          GError        **error)
{
  sqlite3_stmt *stmt = get_stmt (store, CALL_STMT_FIND_RINGING, error);

  if (stmt == NULL)
    return NULL;

  sqlite3_bind_text (stmt, 1, caller_user, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, callee_user, -1, SQLITE_STATIC);
  return read_one_call (store, stmt, "No call rings between these users", error);
}

static gboolean
es_server_store_sqlite_user_in_call (EsServerStore  *store,
                                     const char     *user,
                                     gboolean       *out_in_call,
                                     GError        **error)
{
  sqlite3_stmt *stmt = get_stmt (store, CALL_STMT_USER_IN_CALL, error);
  int rc;

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_text (stmt, 1, user, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *out_in_call = sqlite3_column_int (stmt, 0) != 0;
  sqlite3_reset (stmt);

  if (rc != SQLITE_ROW)
    return set_error (store, get_db (store), error, rc, "Could not look up a user's calls");
  return TRUE;
}

static GPtrArray *
es_server_store_sqlite_list_due_calls (EsServerStore  *store,
                                       gint64          now,
                                       GError        **error)
{
  sqlite3_stmt *stmt = get_stmt (store, CALL_STMT_DUE, error);
  g_autoptr(GPtrArray) calls = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;

  calls = g_ptr_array_new_with_free_func ((GDestroyNotify) es_server_call_record_free);
  sqlite3_bind_int64 (stmt, 1, now);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      EsServerCallRecord *call = read_call_row (store, stmt, error);

      if (call == NULL)
        {
          sqlite3_reset (stmt);
          return NULL;
        }
      g_ptr_array_add (calls, call);
    }
  sqlite3_reset (stmt);

  if (rc != SQLITE_DONE)
    {
      set_error (store, get_db (store), error, rc, "Could not list the calls that rang out");
      return NULL;
    }
  return g_steal_pointer (&calls);
}

static gint64
es_server_store_sqlite_next_ring_deadline (EsServerStore  *store,
                                           GError        **error)
{
  sqlite3_stmt *stmt = get_stmt (store, CALL_STMT_NEXT_DEADLINE, error);
  gint64 ret = -1;
  int rc;

  if (stmt == NULL)
    return -1;

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    ret = sqlite3_column_type (stmt, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64 (stmt, 0);
  else
    set_error (store, get_db (store), error, rc, "Could not find the next ring deadline");
  sqlite3_reset (stmt);

  return ret;
}

void
es_server_store_sqlite_calls_iface_init (EsServerStoreInterface *iface)
{
  iface->list_user_devices = es_server_store_sqlite_list_user_devices;
  iface->insert_call = es_server_store_sqlite_insert_call;
  iface->update_call = es_server_store_sqlite_update_call;
  iface->lookup_call = es_server_store_sqlite_lookup_call;
  iface->find_ringing_call = es_server_store_sqlite_find_ringing_call;
  iface->user_in_call = es_server_store_sqlite_user_in_call;
  iface->list_due_calls = es_server_store_sqlite_list_due_calls;
  iface->next_ring_deadline = es_server_store_sqlite_next_ring_deadline;
}
