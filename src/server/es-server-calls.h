/* es-server-calls.h: the server's call state machine (invite, ringing, accept, glare, timeouts)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "es-protocol.h"
#include "es-server-store.h"

G_BEGIN_DECLS

#define ES_SERVER_CALLS_DEFAULT_RING_TIMEOUT 60

#define ES_SERVER_CALLS_ERROR (es_server_calls_error_quark ())

/* Why a call frame was refused. Each code is the "code" of the error frame sent back; the frame
 * is still acknowledged. */
typedef enum
{
  ES_SERVER_CALLS_ERROR_BAD_FRAME,    /* "bad_frame": not a frame the call machine takes */
  ES_SERVER_CALLS_ERROR_NOT_ALLOWED,  /* "not_allowed": the sender may not do this */
  ES_SERVER_CALLS_ERROR_UNKNOWN_USER, /* "unknown_user": invite to a user who does not exist */
  ES_SERVER_CALLS_ERROR_UNKNOWN_CALL, /* "unknown_call": no call has this ID */
  ES_SERVER_CALLS_ERROR_CALL_ENDED,   /* "call_ended": the call is over */
} EsServerCallsError;

/* Where the state machine's output goes. All three run inside the server's group commit:
 * begin() joins (or opens) the transaction of the current main-loop turn; queue() writes @frame
 * (transfer none; its seq is assigned by the sink) into @device_id's durable queue in that
 * transaction, to be delivered after the commit; fail() reports a storage error that happened
 * outside of a frame (the ring timer), so the sink rolls the batch back. */
typedef struct
{
  gboolean (*begin) (gpointer       user_data,
                     GError       **error);
  gboolean (*queue) (gpointer       user_data,
                     const char    *device_id,
                     const EsFrame *frame,
                     GError       **error);
  void     (*fail)  (gpointer       user_data,
                     const GError  *error);
} EsServerCallsSink;

/* Wall-clock microseconds, as g_get_real_time(): deadlines are stored and outlive the process. */
typedef gint64 (*EsServerCallsClock) (gpointer user_data);

#define ES_TYPE_SERVER_CALLS (es_server_calls_get_type ())

G_DECLARE_FINAL_TYPE (EsServerCalls, es_server_calls, ES, SERVER_CALLS, GObject)

GQuark         es_server_calls_error_quark          (void);
const char    *es_server_calls_error_to_code        (EsServerCallsError        code);

EsServerCalls *es_server_calls_new                  (EsServerStore            *store,
                                                     guint                     ring_timeout,
                                                     const EsServerCallsSink  *sink,
                                                     gpointer                  sink_data);
void           es_server_calls_set_clock            (EsServerCalls            *self,
                                                     EsServerCallsClock        clock,
                                                     gpointer                  clock_data);
guint          es_server_calls_get_ring_timeout     (EsServerCalls            *self);

gboolean       es_server_calls_handle_frame         (EsServerCalls            *self,
                                                     const char               *device_id,
                                                     const char               *device_name,
                                                     const char               *user,
                                                     const EsFrame            *frame,
                                                     GError                  **error);

gboolean       es_server_calls_run_timeouts         (EsServerCalls            *self,
                                                     GError                  **error);
gboolean       es_server_calls_reschedule           (EsServerCalls            *self,
                                                     GError                  **error);
void           es_server_calls_batch_failed         (EsServerCalls            *self);
gint64         es_server_calls_get_timer_deadline   (EsServerCalls            *self);

G_END_DECLS
