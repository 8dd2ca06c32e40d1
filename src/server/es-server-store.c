/* es-server-store.c: the storage interface of the signaling server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <sodium.h>

#include "es-server-store.h"

G_DEFINE_QUARK (es-server-store-error-quark, es_server_store_error)

G_DEFINE_INTERFACE (EsServerStore, es_server_store, G_TYPE_OBJECT)

static void
es_server_store_default_init (EsServerStoreInterface *iface)
{
}

void
es_server_device_record_free (EsServerDeviceRecord *record)
{
  if (record == NULL)
    return;

  g_free (record->id);
  g_free (record->user);
  g_free (record->name);
  g_free (record);
}

void
es_server_queued_frame_free (EsServerQueuedFrame *frame)
{
  if (frame == NULL)
    return;

  g_free (frame->data);
  g_free (frame);
}

/* Tokens are stored only as this hash, so a leaked database does not leak live credentials; the
 * token is looked up by its hash, so no comparison of secrets happens in variable time. */
void
es_server_store_hash_token (const guint8 *token,
                            gsize         length,
                            guint8       *out_hash)
{
  g_return_if_fail (token != NULL || length == 0);
  g_return_if_fail (out_hash != NULL);

  crypto_generichash (out_hash, ES_SERVER_STORE_TOKEN_HASH_SIZE, token, length, NULL, 0);
}

gboolean
es_server_store_begin (EsServerStore  *self,
                       GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), FALSE);

  return ES_SERVER_STORE_GET_IFACE (self)->begin (self, error);
}

gboolean
es_server_store_commit (EsServerStore  *self,
                        GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), FALSE);

  return ES_SERVER_STORE_GET_IFACE (self)->commit (self, error);
}

gboolean
es_server_store_rollback (EsServerStore  *self,
                          GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), FALSE);

  return ES_SERVER_STORE_GET_IFACE (self)->rollback (self, error);
}

gboolean
es_server_store_in_transaction (EsServerStore *self)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), FALSE);

  return ES_SERVER_STORE_GET_IFACE (self)->in_transaction (self);
}

gboolean
es_server_store_create_user (EsServerStore  *self,
                             const char     *user,
                             const char     *password_hash,
                             GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (user != NULL, FALSE);
  g_return_val_if_fail (password_hash != NULL, FALSE);

  return ES_SERVER_STORE_GET_IFACE (self)->create_user (self, user, password_hash, error);
}

char *
es_server_store_dup_password_hash (EsServerStore  *self,
                                   const char     *user,
                                   GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  return ES_SERVER_STORE_GET_IFACE (self)->dup_password_hash (self, user, error);
}

gboolean
es_server_store_add_device (EsServerStore  *self,
                            const char     *device_id,
                            const char     *user,
                            const char     *name,
                            const guint8   *token_hash,
                            GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (device_id != NULL, FALSE);
  g_return_val_if_fail (user != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (token_hash != NULL, FALSE);

  return ES_SERVER_STORE_GET_IFACE (self)->add_device (self, device_id, user, name, token_hash, error);
}

gboolean
es_server_store_set_device_token (EsServerStore  *self,
                                  const char     *device_id,
                                  const guint8   *token_hash,
                                  GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (device_id != NULL, FALSE);
  g_return_val_if_fail (token_hash != NULL, FALSE);

  return ES_SERVER_STORE_GET_IFACE (self)->set_device_token (self, device_id, token_hash, error);
}

EsServerDeviceRecord *
es_server_store_lookup_device (EsServerStore  *self,
                               const char     *device_id,
                               GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), NULL);
  g_return_val_if_fail (device_id != NULL, NULL);

  return ES_SERVER_STORE_GET_IFACE (self)->lookup_device (self, device_id, error);
}

EsServerDeviceRecord *
es_server_store_lookup_token (EsServerStore  *self,
                              const guint8   *token_hash,
                              GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), NULL);
  g_return_val_if_fail (token_hash != NULL, NULL);

  return ES_SERVER_STORE_GET_IFACE (self)->lookup_token (self, token_hash, error);
}

gboolean
es_server_store_update_device_seqs (EsServerStore  *self,
                                    const char     *device_id,
                                    gint64          last_recv_seq,
                                    gint64          next_seq,
                                    GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (device_id != NULL, FALSE);

  return ES_SERVER_STORE_GET_IFACE (self)->update_device_seqs (self, device_id, last_recv_seq,
                                                               next_seq, error);
}

gboolean
es_server_store_enqueue (EsServerStore  *self,
                         const char     *device_id,
                         gint64          seq,
                         const char     *data,
                         gsize           length,
                         GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (device_id != NULL, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  return ES_SERVER_STORE_GET_IFACE (self)->enqueue (self, device_id, seq, data, length, error);
}

/* Returns how many frames were removed, or -1 on error. */
gint64
es_server_store_ack (EsServerStore  *self,
                     const char     *device_id,
                     gint64          up_to_seq,
                     GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), -1);
  g_return_val_if_fail (device_id != NULL, -1);

  return ES_SERVER_STORE_GET_IFACE (self)->ack (self, device_id, up_to_seq, error);
}

/* Returns the frames queued for @device_id with a seq above @after_seq, in order, as
 * EsServerQueuedFrame; NULL on error. */
GPtrArray *
es_server_store_list_queue (EsServerStore  *self,
                            const char     *device_id,
                            gint64          after_seq,
                            GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), NULL);
  g_return_val_if_fail (device_id != NULL, NULL);

  return ES_SERVER_STORE_GET_IFACE (self)->list_queue (self, device_id, after_seq, error);
}

/* Returns the number of frames in all queues, or -1 on error. */
gint64
es_server_store_count_queued (EsServerStore  *self,
                              GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), -1);

  return ES_SERVER_STORE_GET_IFACE (self)->count_queued (self, error);
}
