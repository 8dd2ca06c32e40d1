/* es-server-store.h: what the signaling server persists (accounts, devices, queues, calls)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define ES_SERVER_STORE_TOKEN_HASH_SIZE 32

#define ES_SERVER_STORE_ERROR (es_server_store_error_quark ())

typedef enum
{
  ES_SERVER_STORE_ERROR_FAILED,    /* the storage engine failed */
  ES_SERVER_STORE_ERROR_OPEN,      /* the database could not be opened or created */
  ES_SERVER_STORE_ERROR_EXISTS,    /* the user or device exists already */
  ES_SERVER_STORE_ERROR_NOT_FOUND, /* no such user, device or token */
  ES_SERVER_STORE_ERROR_STATE,     /* transaction calls out of order */
} EsServerStoreError;

/* A device as stored. last_recv_seq is the highest seq received from the device and persisted;
 * next_seq is the seq the next frame queued for the device gets. */
typedef struct
{
  char   *id;
  char   *user;
  char   *name;
  gint64  last_recv_seq;
  gint64  next_seq;
} EsServerDeviceRecord;

/* States of a call as stored. Ringing and accepted calls are live; the others are final. */
typedef enum
{
  ES_SERVER_CALL_RINGING,
  ES_SERVER_CALL_ACCEPTED,
  ES_SERVER_CALL_ENDED,     /* hung up after it was accepted */
  ES_SERVER_CALL_DECLINED,
  ES_SERVER_CALL_CANCELLED, /* by its caller, or folded into a counter-call */
  ES_SERVER_CALL_MISSED,    /* nobody answered before the ring deadline */
  ES_SERVER_CALL_BUSY,      /* the callee was in another call */
} EsServerCallState;

/* A call as stored. callee_device is the device that accepted (NULL before); deadline is the
 * end of ringing in wall-clock microseconds (g_get_real_time()), 0 once the call stops ringing. */
typedef struct
{
  char              *id;
  char              *caller_user;
  char              *caller_device;
  char              *callee_user;
  char              *callee_device;
  char              *media;
  EsServerCallState  state;
  gint64             deadline;
  gint64             created_at;
} EsServerCallRecord;

/* One frame waiting in a device's queue, serialized as it will be sent (apart from "ack"). */
typedef struct
{
  gint64  seq;
  char   *data;
} EsServerQueuedFrame;

#define ES_TYPE_SERVER_STORE (es_server_store_get_type ())

G_DECLARE_INTERFACE (EsServerStore, es_server_store, ES, SERVER_STORE, GObject)

/* Every write happens inside a transaction opened with begin() and ended with commit() or
 * rollback(): the server groups the frames of one main-loop turn into one transaction. Nothing
 * the server acknowledged may be lost once commit() has returned TRUE. */
struct _EsServerStoreInterface
{
  GTypeInterface parent_iface;

  gboolean              (*begin)              (EsServerStore  *self,
                                               GError        **error);
  gboolean              (*commit)             (EsServerStore  *self,
                                               GError        **error);
  gboolean              (*rollback)           (EsServerStore  *self,
                                               GError        **error);
  gboolean              (*in_transaction)     (EsServerStore  *self);

  gboolean              (*create_user)        (EsServerStore  *self,
                                               const char     *user,
                                               const char     *password_hash,
                                               GError        **error);
  char                 *(*dup_password_hash)  (EsServerStore  *self,
                                               const char     *user,
                                               GError        **error);
  gboolean              (*add_device)         (EsServerStore  *self,
                                               const char     *device_id,
                                               const char     *user,
                                               const char     *name,
                                               const guint8   *token_hash,
                                               GError        **error);
  gboolean              (*set_device_token)   (EsServerStore  *self,
                                               const char     *device_id,
                                               const guint8   *token_hash,
                                               GError        **error);
  EsServerDeviceRecord *(*lookup_device)      (EsServerStore  *self,
                                               const char     *device_id,
                                               GError        **error);
  EsServerDeviceRecord *(*lookup_token)       (EsServerStore  *self,
                                               const guint8   *token_hash,
                                               GError        **error);
  gboolean              (*update_device_seqs) (EsServerStore  *self,
                                               const char     *device_id,
                                               gint64          last_recv_seq,
                                               gint64          next_seq,
                                               GError        **error);
  gboolean              (*enqueue)            (EsServerStore  *self,
                                               const char     *device_id,
                                               gint64          seq,
                                               const char     *data,
                                               gsize           length,
                                               GError        **error);
  gint64                (*ack)                (EsServerStore  *self,
                                               const char     *device_id,
                                               gint64          up_to_seq,
                                               GError        **error);
  GPtrArray            *(*list_queue)         (EsServerStore  *self,
                                               const char     *device_id,
                                               gint64          after_seq,
                                               GError        **error);
  gint64                (*count_queued)       (EsServerStore  *self,
                                               GError        **error);

  GPtrArray            *(*list_user_devices)  (EsServerStore  *self,
                                               const char     *user,
                                               GError        **error);
  gboolean              (*insert_call)        (EsServerStore  *self,
                                               const EsServerCallRecord *call,
                                               GError        **error);
  gboolean              (*update_call)        (EsServerStore  *self,
                                               const EsServerCallRecord *call,
                                               GError        **error);
  EsServerCallRecord   *(*lookup_call)        (EsServerStore  *self,
                                               const char     *call_id,
                                               GError        **error);
  EsServerCallRecord   *(*find_ringing_call)  (EsServerStore  *self,
                                               const char     *caller_user,
                                               const char     *callee_user,
                                               GError        **error);
  gboolean              (*user_in_call)       (EsServerStore  *self,
                                               const char     *user,
                                               gboolean       *out_in_call,
                                               GError        **error);
  GPtrArray            *(*list_due_calls)     (EsServerStore  *self,
                                               gint64          now,
                                               GError        **error);
  gint64                (*next_ring_deadline) (EsServerStore  *self,
                                               GError        **error);
};

GQuark                es_server_store_error_quark       (void);

gboolean              es_server_store_begin             (EsServerStore  *self,
                                                         GError        **error);
gboolean              es_server_store_commit            (EsServerStore  *self,
                                                         GError        **error);
gboolean              es_server_store_rollback          (EsServerStore  *self,
                                                         GError        **error);
gboolean              es_server_store_in_transaction    (EsServerStore  *self);

gboolean              es_server_store_create_user       (EsServerStore  *self,
                                                         const char     *user,
                                                         const char     *password_hash,
                                                         GError        **error);
char                 *es_server_store_dup_password_hash (EsServerStore  *self,
                                                         const char     *user,
                                                         GError        **error);
gboolean              es_server_store_add_device        (EsServerStore  *self,
                                                         const char     *device_id,
                                                         const char     *user,
                                                         const char     *name,
                                                         const guint8   *token_hash,
                                                         GError        **error);
gboolean              es_server_store_set_device_token  (EsServerStore  *self,
                                                         const char     *device_id,
                                                         const guint8   *token_hash,
                                                         GError        **error);
EsServerDeviceRecord *es_server_store_lookup_device     (EsServerStore  *self,
                                                         const char     *device_id,
                                                         GError        **error);
EsServerDeviceRecord *es_server_store_lookup_token      (EsServerStore  *self,
                                                         const guint8   *token_hash,
                                                         GError        **error);
gboolean              es_server_store_update_device_seqs (EsServerStore *self,
                                                          const char    *device_id,
                                                          gint64         last_recv_seq,
                                                          gint64         next_seq,
                                                          GError       **error);
gboolean              es_server_store_enqueue           (EsServerStore  *self,
                                                         const char     *device_id,
                                                         gint64          seq,
                                                         const char     *data,
                                                         gsize           length,
                                                         GError        **error);
gint64                es_server_store_ack               (EsServerStore  *self,
                                                         const char     *device_id,
                                                         gint64          up_to_seq,
                                                         GError        **error);
GPtrArray            *es_server_store_list_queue        (EsServerStore  *self,
                                                         const char     *device_id,
                                                         gint64          after_seq,
                                                         GError        **error);
gint64                es_server_store_count_queued      (EsServerStore  *self,
                                                         GError        **error);

GPtrArray            *es_server_store_list_user_devices (EsServerStore  *self,
                                                         const char     *user,
                                                         GError        **error);
gboolean              es_server_store_insert_call       (EsServerStore  *self,
                                                         const EsServerCallRecord *call,
                                                         GError        **error);
gboolean              es_server_store_update_call       (EsServerStore  *self,
                                                         const EsServerCallRecord *call,
                                                         GError        **error);
EsServerCallRecord   *es_server_store_lookup_call       (EsServerStore  *self,
                                                         const char     *call_id,
                                                         GError        **error);
EsServerCallRecord   *es_server_store_find_ringing_call (EsServerStore  *self,
                                                         const char     *caller_user,
                                                         const char     *callee_user,
                                                         GError        **error);
gboolean              es_server_store_user_in_call      (EsServerStore  *self,
                                                         const char     *user,
                                                         gboolean       *out_in_call,
                                                         GError        **error);
GPtrArray            *es_server_store_list_due_calls    (EsServerStore  *self,
                                                         gint64          now,
                                                         GError        **error);
gint64                es_server_store_next_ring_deadline (EsServerStore *self,
                                                          GError       **error);

const char           *es_server_call_state_to_string    (EsServerCallState  state);
gboolean              es_server_call_state_from_string  (const char        *name,
                                                         EsServerCallState *out_state);

void                  es_server_device_record_free      (EsServerDeviceRecord *record);
EsServerCallRecord   *es_server_call_record_copy        (const EsServerCallRecord *call);
void                  es_server_call_record_free        (EsServerCallRecord   *call);
void                  es_server_queued_frame_free       (EsServerQueuedFrame  *frame);

void                  es_server_store_hash_token        (const guint8   *token,
                                                         gsize           length,
                                                         guint8         *out_hash);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsServerDeviceRecord, es_server_device_record_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsServerQueuedFrame, es_server_queued_frame_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsServerCallRecord, es_server_call_record_free)

G_END_DECLS
