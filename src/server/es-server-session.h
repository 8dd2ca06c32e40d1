/* es-server-session.h: one connected device
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libsoup/soup.h>

#include "es-protocol.h"

G_BEGIN_DECLS

#define ES_TYPE_SERVER_SESSION (es_server_session_get_type ())

G_DECLARE_FINAL_TYPE (EsServerSession, es_server_session, ES, SERVER_SESSION, GObject)

gboolean es_server_session_is_open    (EsServerSession *self);
void     es_server_session_send       (EsServerSession *self,
                                       EsFrame         *frame);
void     es_server_session_send_error (EsServerSession *self,
                                       const char      *code,
                                       const char      *message,
                                       gint64           ref_seq);
void     es_server_session_close      (EsServerSession *self,
                                       gushort          code,
                                       const char      *reason);

EsFrame *es_server_error_frame_new    (const char      *code,
                                       const char      *message,
                                       gint64           ref_seq);

G_END_DECLS
