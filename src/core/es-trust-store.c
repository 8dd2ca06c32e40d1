/* es-trust-store.c: the identity keys of peer devices, in SQLite
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One row per peer device, keyed by device ID. A key the users verified stays put until
 * they verify another one for that device: a different key keeps showing "key changed"
 * call after call. A key nobody verified is only a record of what was seen, so a new one
 * replaces it after the warning has been shown once.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-trust"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "es-trust-store.h"
#include "es-sqlite.h"

#define SCHEMA_VERSION 1

static const char schema_sql[] =
  "CREATE TABLE IF NOT EXISTS peer_keys ("
  "  device_id TEXT PRIMARY KEY NOT NULL,"
  "  user TEXT NOT NULL,"
  "  public_key BLOB NOT NULL CHECK (length (public_key) = 32),"
  "  verified INTEGER NOT NULL DEFAULT 0,"
  "  first_seen INTEGER NOT NULL,"
  "  last_seen INTEGER NOT NULL);";

static const char select_sql[] =
  "SELECT device_id, user, public_key, verified, first_seen, last_seen FROM peer_keys";

/* Same key and user: touch. Otherwise replace, unless the stored key was verified. */
static const char record_seen_sql[] =
  "INSERT INTO peer_keys (device_id, user, public_key, verified, first_seen, last_seen) "
  "VALUES (?1, ?2, ?3, 0, ?4, ?4) "
  "ON CONFLICT (device_id) DO UPDATE SET "
  "  first_seen = CASE WHEN public_key = excluded.public_key AND user = excluded.user "
  "               THEN first_seen ELSE excluded.first_seen END,"
  "  last_seen = excluded.last_seen,"
  "  user = excluded.user,"
  "  public_key = excluded.public_key "
  "WHERE verified = 0 OR (public_key = excluded.public_key AND user = excluded.user)";

static const char mark_verified_sql[] =
  "INSERT INTO peer_keys (device_id, user, public_key, verified, first_seen, last_seen) "
  "VALUES (?1, ?2, ?3, 1, ?4, ?4) "
  "ON CONFLICT (device_id) DO UPDATE SET "
  "  first_seen = CASE WHEN public_key = excluded.public_key AND user = excluded.user "
  "               THEN first_seen ELSE excluded.first_seen END,"
  "  last_seen = excluded.last_seen,"
  "  user = excluded.user,"
  "  public_key = excluded.public_key,"
  "  verified = 1";

struct _EsTrustStore
{
  GObject  parent_instance;

  /* Owned */
  char    *path;
  sqlite3 *db;
};

G_DEFINE_FINAL_TYPE (EsTrustStore, es_trust_store, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (EsTrustStatus, es_trust_status,
  G_DEFINE_ENUM_VALUE (ES_TRUST_STATUS_UNKNOWN, "unknown"),
  G_DEFINE_ENUM_VALUE (ES_TRUST_STATUS_KNOWN_UNVERIFIED, "known-unverified"),
  G_DEFINE_ENUM_VALUE (ES_TRUST_STATUS_KNOWN_VERIFIED, "known-verified"),
  G_DEFINE_ENUM_VALUE (ES_TRUST_STATUS_KEY_CHANGED, "key-changed"))

void
es_peer_key_free (EsPeerKey *key)
{
  if (key == NULL)
    return;

  g_free (key->device_id);
  g_free (key->user);
  g_free (key);
}

static void
es_trust_store_finalize (GObject *object)
{
  EsTrustStore *self = (EsTrustStore *) object;

  g_clear_pointer (&self->db, sqlite3_close);
  g_clear_pointer (&self->path, g_free);

  G_OBJECT_CLASS (es_trust_store_parent_class)->finalize (object);
}

static void
es_trust_store_class_init (EsTrustStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = es_trust_store_finalize;
}

static void
es_trust_store_init (EsTrustStore *self)
{
}

static gboolean
set_sqlite_error (EsTrustStore  *self,
                  GError       **error,
                  const char    *what)
{
  g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_FAILED,
               "%s in %s: %s", what, self->path, sqlite3_errmsg (self->db));
  return FALSE;
}

static gboolean
open_database (EsTrustStore  *self,
               const char    *profile_dir,
               GError       **error)
{
  self->db = es_sqlite_open_private (profile_dir, self->path, schema_sql, SCHEMA_VERSION, error);
  if (self->db == NULL)
    return FALSE;

  return TRUE;
}

/**
 * es_trust_store_new:
 * @profile_dir: the device profile directory; created 0700 if missing
 *
 * Opens (creating if needed) PROFILE_DIR/trust.db, mode 0600.
 */
EsTrustStore *
es_trust_store_new (const char  *profile_dir,
                    GError     **error)
{
  g_autoptr(EsTrustStore) self = NULL;

  g_return_val_if_fail (profile_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (ES_TYPE_TRUST_STORE, NULL);
  self->path = g_build_filename (profile_dir, ES_TRUST_STORE_FILE_NAME, NULL);

  if (!open_database (self, profile_dir, error))
    return NULL;

  return g_steal_pointer (&self);
}

const char *
es_trust_store_get_path (EsTrustStore *self)
{
  g_return_val_if_fail (ES_IS_TRUST_STORE (self), NULL);

  return self->path;
}

static EsPeerKey *
read_row (EsTrustStore  *self,
          sqlite3_stmt  *stmt,
          GError       **error)
{
  g_autoptr(EsPeerKey) key = g_new0 (EsPeerKey, 1);
  const char *device_id = (const char *) sqlite3_column_text (stmt, 0);
  const char *user = (const char *) sqlite3_column_text (stmt, 1);
  const void *public_key = sqlite3_column_blob (stmt, 2);

  if (device_id == NULL || user == NULL || public_key == NULL ||
      sqlite3_column_bytes (stmt, 2) != ES_TRUST_KEY_LEN)
    {
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_CORRUPT,
                   "A peer key row in %s is damaged", self->path);
      return NULL;
    }

  key->device_id = g_strdup (device_id);
  key->user = g_strdup (user);
  memcpy (key->public_key, public_key, ES_TRUST_KEY_LEN);
  key->verified = sqlite3_column_int (stmt, 3) != 0;
  key->first_seen = sqlite3_column_int64 (stmt, 4);
  key->last_seen = sqlite3_column_int64 (stmt, 5);

  return g_steal_pointer (&key);
}

/**
 * es_trust_store_get:
 *
 * Returns: (nullable) (transfer full): the row for @device_id; %NULL with @error unset
 *   when there is none
 */
EsPeerKey *
es_trust_store_get (EsTrustStore  *self,
                    const char    *device_id,
                    GError       **error)
{
  static const char sql[] =
    "SELECT device_id, user, public_key, verified, first_seen, last_seen FROM peer_keys "
    "WHERE device_id = ?1";
  sqlite3_stmt *stmt = NULL;
  EsPeerKey *key = NULL;
  int rc;

  g_return_val_if_fail (ES_IS_TRUST_STORE (self), NULL);
  g_return_val_if_fail (device_id != NULL, NULL);

  if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      set_sqlite_error (self, error, "Cannot prepare a statement");
      return NULL;
    }

  sqlite3_bind_text (stmt, 1, device_id, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    key = read_row (self, stmt, error);
  else if (rc != SQLITE_DONE)
    set_sqlite_error (self, error, "Cannot read a peer key");
  sqlite3_finalize (stmt);

  return key;
}

/**
 * es_trust_store_lookup:
 * @out_status: (out): what the store knows of @public_key for this device
 *
 * A device whose stored user differs from @user is %ES_TRUST_STATUS_KEY_CHANGED too: the
 * binding of key to person is what the users verified, and the server, which names the
 * user, is not trusted.
 */
gboolean
es_trust_store_lookup (EsTrustStore   *self,
                       const char     *device_id,
                       const char     *user,
                       const guint8    public_key[ES_TRUST_KEY_LEN],
                       EsTrustStatus  *out_status,
                       GError        **error)
{
  g_autoptr(EsPeerKey) key = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (ES_IS_TRUST_STORE (self), FALSE);
  g_return_val_if_fail (device_id != NULL && user != NULL && public_key != NULL, FALSE);
  g_return_val_if_fail (out_status != NULL, FALSE);

  key = es_trust_store_get (self, device_id, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  if (key == NULL)
    *out_status = ES_TRUST_STATUS_UNKNOWN;
  else if (memcmp (key->public_key, public_key, ES_TRUST_KEY_LEN) != 0 ||
           g_strcmp0 (key->user, user) != 0)
    *out_status = ES_TRUST_STATUS_KEY_CHANGED;
  else if (key->verified)
    *out_status = ES_TRUST_STATUS_KNOWN_VERIFIED;
  else
    *out_status = ES_TRUST_STATUS_KNOWN_UNVERIFIED;

  return TRUE;
}

static gboolean
run_upsert (EsTrustStore  *self,
            const char    *sql,
            const char    *device_id,
            const char    *user,
            const guint8   public_key[ES_TRUST_KEY_LEN],
            GError       **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    return set_sqlite_error (self, error, "Cannot prepare a statement");

  sqlite3_bind_text (stmt, 1, device_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, user, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob (stmt, 3, public_key, ES_TRUST_KEY_LEN, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, g_get_real_time ());
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE)
    set_sqlite_error (self, error, "Cannot write a peer key");
  sqlite3_finalize (stmt);

  return rc == SQLITE_DONE;
}

/**
 * es_trust_store_record_seen:
 *
 * Notes that @device_id proved it holds @public_key in a call: a new device is stored
 * unverified, a known one has its last-seen time updated. A different key replaces an
 * unverified one and leaves a verified one alone.
 */
gboolean
es_trust_store_record_seen (EsTrustStore  *self,
                            const char    *device_id,
                            const char    *user,
                            const guint8   public_key[ES_TRUST_KEY_LEN],
                            GError       **error)
{
  g_return_val_if_fail (ES_IS_TRUST_STORE (self), FALSE);
  g_return_val_if_fail (device_id != NULL && user != NULL && public_key != NULL, FALSE);

  return run_upsert (self, record_seen_sql, device_id, user, public_key, error);
}

/**
 * es_trust_store_mark_verified:
 *
 * Stores @public_key as the verified key of @device_id, replacing whatever was there.
 */
gboolean
es_trust_store_mark_verified (EsTrustStore  *self,
                              const char    *device_id,
                              const char    *user,
                              const guint8   public_key[ES_TRUST_KEY_LEN],
                              GError       **error)
{
  g_return_val_if_fail (ES_IS_TRUST_STORE (self), FALSE);
  g_return_val_if_fail (device_id != NULL && user != NULL && public_key != NULL, FALSE);

  if (!run_upsert (self, mark_verified_sql, device_id, user, public_key, error))
    return FALSE;

  g_debug ("Marked device %s of %s verified", device_id, user);

  return TRUE;
}

gboolean
es_trust_store_forget (EsTrustStore  *self,
                       const char    *device_id,
                       GError       **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  g_return_val_if_fail (ES_IS_TRUST_STORE (self), FALSE);
  g_return_val_if_fail (device_id != NULL, FALSE);

  if (sqlite3_prepare_v2 (self->db, "DELETE FROM peer_keys WHERE device_id = ?1", -1, &stmt,
                          NULL) != SQLITE_OK)
    return set_sqlite_error (self, error, "Cannot prepare a statement");

  sqlite3_bind_text (stmt, 1, device_id, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE)
    set_sqlite_error (self, error, "Cannot forget a peer key");
  sqlite3_finalize (stmt);

  return rc == SQLITE_DONE;
}

/**
 * es_trust_store_list:
 *
 * Returns: (transfer full) (element-type EsPeerKey): every stored device, by user and
 *   device ID, for `earshot-cli trust list`
 */
GPtrArray *
es_trust_store_list (EsTrustStore  *self,
                     GError       **error)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify) es_peer_key_free);
  g_autofree char *sql = g_strconcat (select_sql, " ORDER BY user, device_id", NULL);
  sqlite3_stmt *stmt = NULL;
  int rc;

  g_return_val_if_fail (ES_IS_TRUST_STORE (self), NULL);

  if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      set_sqlite_error (self, error, "Cannot prepare a statement");
      return NULL;
    }

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      EsPeerKey *key = read_row (self, stmt, error);

      if (key == NULL)
        {
          sqlite3_finalize (stmt);
          return NULL;
        }
      g_ptr_array_add (keys, key);
    }
  if (rc != SQLITE_DONE)
    set_sqlite_error (self, error, "Cannot list peer keys");
  sqlite3_finalize (stmt);

  if (rc != SQLITE_DONE)
    return NULL;

  return g_steal_pointer (&keys);
}
