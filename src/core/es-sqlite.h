/* es-sqlite.h: the one way a device profile opens a private SQLite database
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

sqlite3  *es_sqlite_open_private (const char  *dir,
                                  const char  *path,
                                  const char  *schema_sql,
                                  int          schema_version,
                                  GError     **error);

G_END_DECLS
