/* es-server-io.h: WebSocket connections served on I/O threads
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _EsServerIo   EsServerIo;
typedef struct _EsServerLink EsServerLink;

/* Called on the thread that created the EsServerIo, in the order the frames arrived. */
typedef void (*EsServerLinkMessageFunc) (EsServerLink *link,
                                         GBytes       *message,
                                         gboolean      is_text,
                                         gpointer      user_data);
/* Called once, after the last message. @code is the close code the peer sent (0 if none). */
typedef void (*EsServerLinkClosedFunc)  (EsServerLink *link,
                                         gushort       code,
                                         gpointer      user_data);

EsServerIo   *es_server_io_new             (guint                    n_threads,
                                            gsize                    max_incoming_payload,
                                            GError                 **error);
void          es_server_io_stop            (EsServerIo              *io);
EsServerIo   *es_server_io_ref             (EsServerIo              *io);
void          es_server_io_unref           (EsServerIo              *io);

EsServerLink *es_server_io_adopt           (EsServerIo              *io,
                                            GIOStream               *stream,
                                            GUri                    *uri);

EsServerLink *es_server_link_ref           (EsServerLink            *link);
void          es_server_link_unref         (EsServerLink            *link);
void          es_server_link_set_handlers  (EsServerLink            *link,
                                            EsServerLinkMessageFunc  message_func,
                                            EsServerLinkClosedFunc   closed_func,
                                            gpointer                 user_data);
gboolean      es_server_link_is_open       (EsServerLink            *link);
gushort       es_server_link_get_close_code (EsServerLink           *link);
void          es_server_link_send_text     (EsServerLink            *link,
                                            char                    *text);  /* takes @text */
void          es_server_link_close         (EsServerLink            *link,
                                            gushort                  code,
                                            const char              *reason);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsServerIo, es_server_io_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsServerLink, es_server_link_unref)

G_END_DECLS
