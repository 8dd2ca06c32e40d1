/* es-server-store.h: what the signaling server persists (accounts, devices, queues)
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

void                  es_server_device_record_free      (EsServerDeviceRecord *record);
void                  es_server_queued_frame_free       (EsServerQueuedFrame  *frame);

void                  es_server_store_hash_token        (const guint8   *token,
                                                         gsize           length,
                                                         guint8         *out_hash);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsServerDeviceRecord, es_server_device_record_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsServerQueuedFrame, es_server_queued_frame_free)

G_END_DECLS
