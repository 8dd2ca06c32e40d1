/* es-server-store-sqlite-private.h: shared by the parts of the SQLite store
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <sqlite3.h>

#include "es-server-store-sqlite.h"

G_BEGIN_DECLS

/* Calls (es-server-store-sqlite-calls.c). A call is live while it rings or is accepted; the
 * partial indexes cover only live calls, so ended ones cost nothing but disk. */
#define ES_SERVER_STORE_SQLITE_CALLS_SCHEMA                                                  \
  "CREATE TABLE IF NOT EXISTS calls ("                                                       \
  "  id TEXT PRIMARY KEY NOT NULL,"                                                          \
  "  caller_user TEXT NOT NULL,"                                                             \
  "  caller_device TEXT NOT NULL,"                                                           \
  "  callee_user TEXT NOT NULL,"                                                             \
  "  callee_device TEXT,"                                                                    \
  "  media TEXT NOT NULL,"                                                                   \
  "  state TEXT NOT NULL,"                                                                   \
  "  deadline INTEGER NOT NULL DEFAULT 0,"                                                   \
  "  created_at INTEGER NOT NULL,"                                                           \
  "  updated_at INTEGER NOT NULL);"                                                          \
  "CREATE INDEX IF NOT EXISTS calls_ringing_by_deadline ON calls (deadline) "                \
  "  WHERE state = 'ringing';"                                                               \
  "CREATE INDEX IF NOT EXISTS calls_ringing_by_users ON calls (caller_user, callee_user) "   \
  "  WHERE state = 'ringing';"                                                               \
  "CREATE INDEX IF NOT EXISTS calls_accepted_by_caller ON calls (caller_user) "              \
  "  WHERE state = 'accepted';"                                                              \
  "CREATE INDEX IF NOT EXISTS calls_accepted_by_callee ON calls (callee_user) "              \
  "  WHERE state = 'accepted';"

sqlite3 *es_server_store_sqlite_get_db            (EsServerStoreSqlite    *self);
void     es_server_store_sqlite_calls_iface_init (EsServerStoreInterface *iface);

G_END_DECLS
