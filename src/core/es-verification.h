/* es-verification.h: the emoji verification of one call branch (DESIGN.md §4)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

#include "es-identity.h"
#include "es-sas.h"
#include "es-trust-store.h"

G_BEGIN_DECLS

/**
 * EsVerificationState:
 * @ES_VERIFICATION_STATE_WAITING: inputs still missing; nothing to show yet
 * @ES_VERIFICATION_STATE_COMPARING: the emoji are ready; the users compare them
 * @ES_VERIFICATION_STATE_VERIFIED: the users confirmed, or the peer's key was verified before
 * @ES_VERIFICATION_STATE_MISMATCH: the users said the emoji differ; end the call
 * @ES_VERIFICATION_STATE_KEY_CHANGED: the emoji are ready, but the peer device's identity key
 *   is not the one stored for it: warn loudly, then the users may compare again
 * @ES_VERIFICATION_STATE_FAILED: a cryptographic check failed; end the call, see
 *   #EsVerification:failure-reason
 */
typedef enum
{
  ES_VERIFICATION_STATE_WAITING,
  ES_VERIFICATION_STATE_COMPARING,
  ES_VERIFICATION_STATE_VERIFIED,
  ES_VERIFICATION_STATE_MISMATCH,
  ES_VERIFICATION_STATE_KEY_CHANGED,
  ES_VERIFICATION_STATE_FAILED,
} EsVerificationState;

#define ES_TYPE_VERIFICATION_STATE (es_verification_state_get_type ())
GType es_verification_state_get_type (void) G_GNUC_CONST;

/* The "type" of the reveal message on the earshot-verify data channel. */
#define ES_VERIFICATION_REVEAL_TYPE    "verify-reveal"
#define ES_VERIFICATION_REVEAL_VERSION 1
#define ES_VERIFICATION_REVEAL_MAX_LEN 4096

typedef struct
{
  guint8 nonce[ES_SAS_NONCE_LEN];
  guint8 idpk[ES_SAS_IDPK_LEN];
  guint8 sig[ES_SAS_SIG_LEN];
} EsVerificationReveal;

char     *es_verification_reveal_to_json (const EsVerificationReveal  *reveal);
gboolean  es_verification_reveal_parse   (const char                  *json,
                                          EsVerificationReveal        *out_reveal,
                                          GError                     **error);

#define ES_TYPE_VERIFICATION (es_verification_get_type ())

G_DECLARE_FINAL_TYPE (EsVerification, es_verification, ES, VERIFICATION, GObject)

EsVerification      *es_verification_new                     (EsSasRole       role,
                                                              EsIdentity     *identity,
                                                              EsTrustStore   *trust_store,
                                                              const char     *peer_device_id,
                                                              const char     *peer_user);

EsSasRole            es_verification_get_role                (EsVerification *self);
EsVerificationState  es_verification_get_state               (EsVerification *self);
const char          *es_verification_state_to_string         (EsVerificationState state);
const char          *es_verification_get_failure_reason      (EsVerification *self);
const char          *es_verification_get_peer_device_id      (EsVerification *self);
const char          *es_verification_get_peer_user           (EsVerification *self);
EsTrustStatus        es_verification_get_trust_status        (EsVerification *self);
const guint8        *es_verification_get_sas                 (EsVerification *self);
const guint8        *es_verification_get_peer_identity_key   (EsVerification *self);

/* 1. Before sending the offer or answer: our own certificate, from our local SDP. */
gboolean             es_verification_set_local_fingerprint   (EsVerification *self,
                                                              const guint8    hash[ES_SAS_HASH_LEN],
                                                              GError        **error);
char                *es_verification_dup_commitment_b64      (EsVerification *self);

/* 2. From the peer's offer or answer. */
gboolean             es_verification_set_peer_commitment_b64 (EsVerification *self,
                                                              const char     *commitment_b64,
                                                              GError        **error);
gboolean             es_verification_set_remote_fingerprint  (EsVerification *self,
                                                              const guint8    hash[ES_SAS_HASH_LEN],
                                                              GError        **error);
gboolean             es_verification_set_remote_sdp          (EsVerification *self,
                                                              const char     *sdp,
                                                              GError        **error);

/* 3. After DTLS: the certificates as the handshake showed them. */
gboolean             es_verification_set_certificates        (EsVerification *self,
                                                              const guint8    local_hash[ES_SAS_HASH_LEN],
                                                              const guint8    remote_hash[ES_SAS_HASH_LEN],
                                                              GError        **error);
gboolean             es_verification_set_certificates_pem    (EsVerification *self,
                                                              const char     *local_pem,
                                                              const char     *remote_pem,
                                                              GError        **error);

/* 4. The reveals, over the earshot-verify data channel. */
gboolean             es_verification_can_reveal              (EsVerification *self);
char                *es_verification_dup_reveal_json         (EsVerification *self,
                                                              GError        **error);
gboolean             es_verification_receive_reveal          (EsVerification *self,
                                                              const EsVerificationReveal *reveal,
                                                              GError        **error);
gboolean             es_verification_receive_reveal_json     (EsVerification *self,
                                                              const char     *json,
                                                              GError        **error);

/* 5. What the users say. */
gboolean             es_verification_user_confirms_match     (EsVerification *self,
                                                              GError        **error);
gboolean             es_verification_user_denies_match       (EsVerification *self,
                                                              GError        **error);

G_END_DECLS
