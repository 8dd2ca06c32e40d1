/* es-trust-store.h: the identity keys of peer devices, and which of them users verified
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

#include "es-client-store.h"

G_BEGIN_DECLS

#define ES_TRUST_STORE_FILE_NAME "trust.db"
#define ES_TRUST_KEY_LEN         32

typedef enum
{
  ES_TRUST_STATUS_UNKNOWN,          /* never seen this device */
  ES_TRUST_STATUS_KNOWN_UNVERIFIED, /* seen with this key, never compared */
  ES_TRUST_STATUS_KNOWN_VERIFIED,   /* users compared the emoji with this key */
  ES_TRUST_STATUS_KEY_CHANGED,      /* the stored key (or user) differs from this one */
} EsTrustStatus;

#define ES_TYPE_TRUST_STATUS (es_trust_status_get_type ())
GType es_trust_status_get_type (void) G_GNUC_CONST;

/* One row: a peer device and its key. Times are wall clock, µs since the epoch. */
typedef struct
{
  char    *device_id;
  char    *user;
  guint8   public_key[ES_TRUST_KEY_LEN];
  gboolean verified;
  gint64   first_seen;
  gint64   last_seen;
} EsPeerKey;

void es_peer_key_free (EsPeerKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsPeerKey, es_peer_key_free)

#define ES_TYPE_TRUST_STORE (es_trust_store_get_type ())

G_DECLARE_FINAL_TYPE (EsTrustStore, es_trust_store, ES, TRUST_STORE, GObject)

EsTrustStore *es_trust_store_new           (const char     *profile_dir,
                                            GError        **error);
const char   *es_trust_store_get_path      (EsTrustStore   *self);

gboolean      es_trust_store_lookup        (EsTrustStore   *self,
                                            const char     *device_id,
                                            const char     *user,
                                            const guint8    public_key[ES_TRUST_KEY_LEN],
                                            EsTrustStatus  *out_status,
                                            GError        **error);
gboolean      es_trust_store_record_seen   (EsTrustStore   *self,
                                            const char     *device_id,
                                            const char     *user,
                                            const guint8    public_key[ES_TRUST_KEY_LEN],
                                            GError        **error);
gboolean      es_trust_store_mark_verified (EsTrustStore   *self,
                                            const char     *device_id,
                                            const char     *user,
                                            const guint8    public_key[ES_TRUST_KEY_LEN],
                                            GError        **error);
gboolean      es_trust_store_forget        (EsTrustStore   *self,
                                            const char     *device_id,
                                            GError        **error);
EsPeerKey    *es_trust_store_get           (EsTrustStore   *self,
                                            const char     *device_id,
                                            GError        **error);
GPtrArray    *es_trust_store_list          (EsTrustStore   *self,
                                            GError        **error);

G_END_DECLS
