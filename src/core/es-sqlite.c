/* es-sqlite.c: the one way a device profile opens a private SQLite database
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The outbox (earshot.db) and the trust store (trust.db) hold a device's token and its trust in
 * other devices' keys: both must never exist readable by others, must survive a crash, and must
 * refuse a file written by a newer schema rather than damage it.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "es-client-store.h"
#include "es-sqlite.h"

static gboolean
exec_sql (sqlite3     *db,
          const char  *path,
          const char  *sql,
          GError     **error)
{
  char *errmsg = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &errmsg) != SQLITE_OK)
    {
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_FAILED,
                   "Cannot run “%s” in %s: %s", sql, path, errmsg ? errmsg : sqlite3_errmsg (db));
      sqlite3_free (errmsg);
      return FALSE;
    }

  return TRUE;
}

/**
 * es_sqlite_open_private:
 * @dir: the profile directory; created (or tightened) to 0700
 * @path: the database file in @dir; created 0600
 * @schema_sql: idempotent statements (CREATE … IF NOT EXISTS) for @schema_version
 *
 * Opens @path in WAL mode with synchronous=FULL and a busy timeout (the app and the CLI may
 * share a profile), and applies the schema in one transaction.
 *
 * Returns: (transfer full): the connection, or %NULL with @error set
 */
sqlite3 *
es_sqlite_open_private (const char  *dir,
                        const char  *path,
                        const char  *schema_sql,
                        int          schema_version,
                        GError     **error)
{
  g_autofree char *set_version = NULL;
  sqlite3_stmt *stmt = NULL;
  sqlite3 *db = NULL;
  int user_version = 0;
  int fd;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;

      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_OPEN,
                   "Cannot create profile directory %s: %s", dir, g_strerror (errsv));
      return NULL;
    }
  if (g_chmod (dir, 0700) != 0)
    g_debug ("Cannot chmod %s: %s", dir, g_strerror (errno));

  /* Create the file ourselves so that it never exists with looser permissions; SQLite gives
   * the -wal and -shm files the same mode. An older file is tightened. */
  fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_OPEN,
                   "Cannot open %s: %s", path, g_strerror (errsv));
      return NULL;
    }
  if (fchmod (fd, 0600) != 0)
    g_debug ("Cannot chmod %s: %s", path, g_strerror (errno));
  close (fd);

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
    {
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_OPEN,
                   "Cannot open %s: %s", path, db ? sqlite3_errmsg (db) : "out of memory");
      sqlite3_close (db);
      return NULL;
    }

  /* Another process (say, `earshot-cli log` while a peer runs) may hold the write lock. */
  sqlite3_busy_timeout (db, 10000);

  if (!exec_sql (db, path, "PRAGMA journal_mode=WAL", error) ||
      !exec_sql (db, path, "PRAGMA synchronous=FULL", error))
    goto fail;

  if (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    user_version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);

  if (user_version > schema_version)
    {
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_OPEN,
                   "%s was written by a newer Earshot (schema %d, we know %d)",
                   path, user_version, schema_version);
      goto fail;
    }

  set_version = g_strdup_printf ("PRAGMA user_version = %d", schema_version);
  if (!exec_sql (db, path, "BEGIN IMMEDIATE", error))
    goto fail;
  if (!exec_sql (db, path, schema_sql, error) ||
      !exec_sql (db, path, set_version, error) ||
      !exec_sql (db, path, "COMMIT", error))
    {
      exec_sql (db, path, "ROLLBACK", NULL);
      goto fail;
    }

  return db;

fail:
  sqlite3_close (db);
  return NULL;
}
