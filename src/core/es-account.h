/* es-account.h: registering and logging in a device over HTTP
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "es-client-store.h"

G_BEGIN_DECLS

#define ES_ACCOUNT_ERROR (es_account_error_quark ())

typedef enum
{
  ES_ACCOUNT_ERROR_UNREACHABLE,      /* no HTTP answer at all */
  ES_ACCOUNT_ERROR_USER_EXISTS,      /* 409 on register */
  ES_ACCOUNT_ERROR_WRONG_PASSWORD,   /* 401 on login */
  ES_ACCOUNT_ERROR_BAD_REQUEST,      /* 400 and other 4xx: the server's message says why */
  ES_ACCOUNT_ERROR_SERVER,           /* 5xx */
  ES_ACCOUNT_ERROR_INVALID_RESPONSE, /* 200 with a body we cannot use */
  ES_ACCOUNT_ERROR_INVALID_ARGUMENT, /* bad server URL, user name, … before anything is sent */
} EsAccountError;

#define ES_TYPE_ACCOUNT (es_account_get_type ())

G_DECLARE_FINAL_TYPE (EsAccount, es_account, ES, ACCOUNT, GObject)

GQuark         es_account_error_quark     (void);

EsAccount     *es_account_new             (EsClientStore        *store);
EsClientStore *es_account_get_store       (EsAccount            *self);
char          *es_account_dup_server_url  (EsAccount            *self);

void           es_account_register_async  (EsAccount            *self,
                                           const char           *server_url,
                                           const char           *user,
                                           const char           *password,
                                           const char           *device_name,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
gboolean       es_account_register_finish (EsAccount            *self,
                                           GAsyncResult         *result,
                                           GError              **error);
void           es_account_login_async     (EsAccount            *self,
                                           const char           *server_url,
                                           const char           *user,
                                           const char           *password,
                                           const char           *device_name,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
gboolean       es_account_login_finish    (EsAccount            *self,
                                           GAsyncResult         *result,
                                           GError              **error);

char          *es_account_normalize_server_url (const char      *url,
                                                GError         **error);

G_END_DECLS
