/* bench-ws.h: a lean WebSocket client for the load generator
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BenchWsPool BenchWsPool;
typedef struct _BenchWs     BenchWs;

typedef struct
{
  /* The handshake ended: @error is NULL once the server answered 101. */
  void (*opened)  (BenchWs *ws, const GError *error, gpointer user_data);
  /* A whole text message; @text is not nul-terminated. */
  void (*message) (BenchWs *ws, const char *text, gsize length, gpointer user_data);
  /* The connection ended after it opened: the server's close code, or 1006 without one. */
  void (*closed)  (BenchWs *ws, gushort code, gpointer user_data);
} BenchWsCallbacks;

BenchWsPool *bench_ws_pool_new   (void);
void         bench_ws_pool_free  (BenchWsPool            *pool);

BenchWs     *bench_ws_connect    (BenchWsPool            *pool,
                                  const char             *server_url,
                                  const char             *path,
                                  const char             *token,
                                  const BenchWsCallbacks *callbacks,
                                  gpointer                user_data,
                                  GError                **error);
gboolean     bench_ws_is_open    (BenchWs                *ws);
void         bench_ws_send_text  (BenchWs                *ws,
                                  const char             *text,
                                  gsize                   length);
void         bench_ws_free       (BenchWs                *ws);

G_END_DECLS
