/* es-client-store.h: one device profile's durable signaling state
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "es-protocol.h"

G_BEGIN_DECLS

#define ES_STORE_ERROR (es_store_error_quark ())

typedef enum
{
  ES_STORE_ERROR_FAILED,    /* SQLite said no; the message says why */
  ES_STORE_ERROR_OPEN,      /* the profile directory or database cannot be opened */
  ES_STORE_ERROR_CORRUPT,   /* a stored row cannot be understood */
  ES_STORE_ERROR_NOT_FOUND, /* a setting or row that must exist does not */
} EsStoreError;

typedef enum
{
  ES_RECEIVE_NEW,
  ES_RECEIVE_DUPLICATE,
  ES_RECEIVE_ERROR,
} EsReceiveResult;

typedef enum
{
  ES_LOG_SENT,
  ES_LOG_RECEIVED,
} EsLogKind;

/* Settings keys. */
#define ES_SETTING_SERVER_URL  "server_url"
#define ES_SETTING_USER        "user"
#define ES_SETTING_DEVICE_ID   "device_id"
#define ES_SETTING_DEVICE_NAME "device_name"
#define ES_SETTING_TOKEN       "token"

/* One row of sent_log or received_log. */
typedef struct
{
  gint64  seq;
  char   *type;
  char   *peer;      /* to_device (sent) or from_device (received); NULL when absent */
  char   *peer_user; /* from_user (received only) */
  char   *call_id;
  char   *body;      /* JSON text */
  gint64  at;        /* wall clock, µs since the epoch */
} EsLogEntry;

void es_log_entry_free (EsLogEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsLogEntry, es_log_entry_free)

#define ES_TYPE_CLIENT_STORE (es_client_store_get_type ())

G_DECLARE_FINAL_TYPE (EsClientStore, es_client_store, ES, CLIENT_STORE, GObject)

GQuark           es_store_error_quark                 (void);

EsClientStore   *es_client_store_new                  (const char     *profile_dir,
                                                       GError        **error);
const char      *es_client_store_get_profile_dir      (EsClientStore  *self);

/* Settings */
char            *es_client_store_dup_setting          (EsClientStore  *self,
                                                       const char     *key);
gboolean         es_client_store_set_setting          (EsClientStore  *self,
                                                       const char     *key,
                                                       const char     *value,
                                                       GError        **error);
gboolean         es_client_store_set_account          (EsClientStore  *self,
                                                       const char     *server_url,
                                                       const char     *user,
                                                       const char     *device_id,
                                                       const char     *device_name,
                                                       const char     *token,
                                                       GError        **error);

/* Batches: everything between begin and commit is one transaction (one fsync). Nested
 * calls are counted; only the outermost commit writes. */
gboolean         es_client_store_begin                (EsClientStore  *self,
                                                       GError        **error);
gboolean         es_client_store_commit               (EsClientStore  *self,
                                                       GError        **error);
void             es_client_store_rollback             (EsClientStore  *self);
gboolean         es_client_store_in_transaction       (EsClientStore  *self);

/* Outgoing */
gint64           es_client_store_enqueue              (EsClientStore  *self,
                                                       EsFrame        *frame,
                                                       GError        **error);
gboolean         es_client_store_ack                  (EsClientStore  *self,
                                                       gint64          up_to,
                                                       GError        **error);
GPtrArray       *es_client_store_list_outbox          (EsClientStore  *self,
                                                       gint64          after_seq,
                                                       GError        **error);
gint64           es_client_store_count_outbox         (EsClientStore  *self,
                                                       GError        **error);
gint64           es_client_store_get_next_seq         (EsClientStore  *self);

/* Incoming */
EsReceiveResult  es_client_store_record_received      (EsClientStore  *self,
                                                       const EsFrame  *frame,
                                                       GError        **error);
gint64           es_client_store_get_last_received_seq (EsClientStore *self);

/* Logs */
gint64           es_client_store_count_log            (EsClientStore  *self,
                                                       EsLogKind       kind,
                                                       const char     *type,
                                                       const char     *peer,
                                                       GError        **error);
GPtrArray       *es_client_store_list_log             (EsClientStore  *self,
                                                       EsLogKind       kind,
                                                       GError        **error);

G_END_DECLS
