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

EsServerCallRecord *
es_server_call_record_copy (const EsServerCallRecord *call)
{
  EsServerCallRecord *copy;

  g_return_val_if_fail (call != NULL, NULL);

  copy = g_new0 (EsServerCallRecord, 1);
  copy->id = g_strdup (call->id);
  copy->caller_user = g_strdup (call->caller_user);
  copy->caller_device = g_strdup (call->caller_device);
  copy->callee_user = g_strdup (call->callee_user);
  copy->callee_device = g_strdup (call->callee_device);
  copy->media = g_strdup (call->media);
  copy->state = call->state;
  copy->deadline = call->deadline;
  copy->created_at = call->created_at;
  return copy;
}

void
es_server_call_record_free (EsServerCallRecord *call)
{
  if (call == NULL)
    return;

  g_free (call->id);
  g_free (call->caller_user);
  g_free (call->caller_device);
  g_free (call->callee_user);
  g_free (call->callee_device);
  g_free (call->media);
  g_free (call);
}

static const char * const call_state_names[] = {
  [ES_SERVER_CALL_RINGING] = "ringing",
  [ES_SERVER_CALL_ACCEPTED] = "accepted",
  [ES_SERVER_CALL_ENDED] = "ended",
  [ES_SERVER_CALL_DECLINED] = "declined",
  [ES_SERVER_CALL_CANCELLED] = "cancelled",
  [ES_SERVER_CALL_MISSED] = "missed",
  [ES_SERVER_CALL_BUSY] = "busy",
};

const char *
es_server_call_state_to_string (EsServerCallState state)
{
  g_return_val_if_fail (state < G_N_ELEMENTS (call_state_names), NULL);

  return call_state_names[state];
}

gboolean
es_server_call_state_from_string (const char        *name,
                                  EsServerCallState *out_state)
{
  for (guint i = 0; name != NULL && i < G_N_ELEMENTS (call_state_names); i++)
    {
      if (g_str_equal (name, call_state_names[i]))
        {
          if (out_state != NULL)
            *out_state = (EsServerCallState) i;
          return TRUE;
        }
    }
  return FALSE;
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

/* Returns the devices of @user as EsServerDeviceRecord, oldest first; an empty array when the
 * user has none or does not exist, NULL on error. The sequence numbers in these records are the
 * stored ones, which the server's cache may be ahead of. */
GPtrArray *
es_server_store_list_user_devices (EsServerStore  *self,
                                   const char     *user,
                                   GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  return ES_SERVER_STORE_GET_IFACE (self)->list_user_devices (self, user, error);
}

/* Fails with ES_SERVER_STORE_ERROR_EXISTS when a call with this ID exists. */
gboolean
es_server_store_insert_call (EsServerStore             *self,
                             const EsServerCallRecord  *call,
                             GError                   **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (call != NULL && call->id != NULL, FALSE);
  g_return_val_if_fail (call->caller_user != NULL && call->caller_device != NULL, FALSE);
  g_return_val_if_fail (call->callee_user != NULL && call->media != NULL, FALSE);

  return ES_SERVER_STORE_GET_IFACE (self)->insert_call (self, call, error);
}

/* Writes the state, callee_device and deadline of the call @call->id. */
gboolean
es_server_store_update_call (EsServerStore             *self,
                             const EsServerCallRecord  *call,
                             GError                   **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (call != NULL && call->id != NULL, FALSE);

  return ES_SERVER_STORE_GET_IFACE (self)->update_call (self, call, error);
}

/* Fails with ES_SERVER_STORE_ERROR_NOT_FOUND when there is no such call. */
EsServerCallRecord *
es_server_store_lookup_call (EsServerStore  *self,
                             const char     *call_id,
                             GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), NULL);
  g_return_val_if_fail (call_id != NULL, NULL);

  return ES_SERVER_STORE_GET_IFACE (self)->lookup_call (self, call_id, error);
}

/* Returns the ringing call from @caller_user to @callee_user with the smallest ID; fails with
 * ES_SERVER_STORE_ERROR_NOT_FOUND when none rings. */
EsServerCallRecord *
es_server_store_find_ringing_call (EsServerStore  *self,
                                   const char     *caller_user,
                                   const char     *callee_user,
                                   GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), NULL);
  g_return_val_if_fail (caller_user != NULL, NULL);
  g_return_val_if_fail (callee_user != NULL, NULL);

  return ES_SERVER_STORE_GET_IFACE (self)->find_ringing_call (self, caller_user, callee_user,
                                                              error);
}

/* Sets @out_in_call to whether @user takes part in an accepted call, either side. */
gboolean
es_server_store_user_in_call (EsServerStore  *self,
                              const char     *user,
                              gboolean       *out_in_call,
                              GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (user != NULL, FALSE);
  g_return_val_if_fail (out_in_call != NULL, FALSE);

  return ES_SERVER_STORE_GET_IFACE (self)->user_in_call (self, user, out_in_call, error);
}

/* Returns the ringing calls whose deadline is at or before @now, earliest first, as
 * EsServerCallRecord; NULL on error. */
GPtrArray *
es_server_store_list_due_calls (EsServerStore  *self,
                                gint64          now,
                                GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), NULL);

  return ES_SERVER_STORE_GET_IFACE (self)->list_due_calls (self, now, error);
}

/* Returns the earliest deadline of the ringing calls, 0 when none rings, -1 on error. */
gint64
es_server_store_next_ring_deadline (EsServerStore  *self,
                                    GError        **error)
{
  g_return_val_if_fail (ES_IS_SERVER_STORE (self), -1);

  return ES_SERVER_STORE_GET_IFACE (self)->next_ring_deadline (self, error);
}
