/* es-server.h: the Earshot signaling server (HTTP routes, WebSocket sessions, group commit)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

#include "es-server-config.h"
#include "es-server-metrics.h"
#include "es-server-store.h"

G_BEGIN_DECLS

#define ES_TYPE_SERVER (es_server_get_type ())

G_DECLARE_FINAL_TYPE (EsServer, es_server, ES, SERVER, GObject)

EsServer              *es_server_new         (EsServerConfig  *config,
                                              EsServerStore   *store,
                                              GError         **error);
gboolean               es_server_listen      (EsServer        *self,
                                              GError         **error);
char                  *es_server_dup_uri     (EsServer        *self);
void                   es_server_flush       (EsServer        *self);
void                   es_server_shutdown    (EsServer        *self);
guint                  es_server_get_n_sessions (EsServer     *self);
const EsServerMetrics *es_server_get_metrics (EsServer        *self);

G_END_DECLS
