/* es-identity.h: this device's long-lived Ed25519 identity key
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define ES_IDENTITY_FILE_NAME   "identity.key"
#define ES_IDENTITY_SEED_LEN    32 /* crypto_sign_SEEDBYTES */
#define ES_IDENTITY_PK_LEN      32 /* crypto_sign_PUBLICKEYBYTES */
#define ES_IDENTITY_SIG_LEN     64 /* crypto_sign_BYTES */

#define ES_TYPE_IDENTITY (es_identity_get_type ())

G_DECLARE_FINAL_TYPE (EsIdentity, es_identity, ES, IDENTITY, GObject)

EsIdentity   *es_identity_load_or_create     (const char    *profile_dir,
                                              GError       **error);
EsIdentity   *es_identity_new_from_seed      (const guint8   seed[ES_IDENTITY_SEED_LEN]);
EsIdentity   *es_identity_new_ephemeral      (void);

const guint8 *es_identity_get_public_key     (EsIdentity    *self);
const char   *es_identity_get_path           (EsIdentity    *self);
char         *es_identity_dup_fingerprint    (EsIdentity    *self);

void          es_identity_sign               (EsIdentity    *self,
                                              const guint8  *message,
                                              gsize          message_len,
                                              guint8         out_sig[ES_IDENTITY_SIG_LEN]);
gboolean      es_identity_verify             (const guint8   public_key[ES_IDENTITY_PK_LEN],
                                              const guint8  *message,
                                              gsize          message_len,
                                              const guint8   sig[ES_IDENTITY_SIG_LEN]);
char         *es_identity_format_fingerprint (const guint8   public_key[ES_IDENTITY_PK_LEN]);

G_END_DECLS
