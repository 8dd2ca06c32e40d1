/* es-server-store-sqlite.h: the embedded SQLite implementation of EsServerStore
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "es-server-store.h"

G_BEGIN_DECLS

#define ES_TYPE_SERVER_STORE_SQLITE (es_server_store_sqlite_get_type ())

G_DECLARE_FINAL_TYPE (EsServerStoreSqlite, es_server_store_sqlite, ES, SERVER_STORE_SQLITE, GObject)

EsServerStore *es_server_store_sqlite_new      (const char           *path,
                                                GError              **error);
const char    *es_server_store_sqlite_get_path (EsServerStoreSqlite  *self);

G_END_DECLS
