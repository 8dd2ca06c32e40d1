/* es-sas.h: the short authentication string and the commitments it rests on
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The primitives of DESIGN.md §4, free of any state: certificate hashes, SDP fingerprints,
 * commitments, the signed transcript and the five emoji indices. EsVerification strings them
 * together for one call branch.
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define ES_VERIFY_ERROR (es_verify_error_quark ())

typedef enum
{
  ES_VERIFY_ERROR_FAILED,
  ES_VERIFY_ERROR_INVALID_INPUT,        /* malformed data: a fingerprint line, base64, JSON */
  ES_VERIFY_ERROR_INVALID_STATE,        /* called at a time the protocol does not allow */
  ES_VERIFY_ERROR_FINGERPRINT_MISMATCH, /* the DTLS certificate is not the one the SDP named */
  ES_VERIFY_ERROR_COMMITMENT,           /* the peer's reveal does not open its commitment */
  ES_VERIFY_ERROR_SIGNATURE,            /* the peer's identity signature does not verify */
  ES_VERIFY_ERROR_MISMATCH,             /* the users said the emoji differ */
} EsVerifyError;

GQuark es_verify_error_quark (void);

#define ES_SAS_HASH_LEN       32 /* SHA-256 of a DER certificate */
#define ES_SAS_NONCE_LEN      32
#define ES_SAS_COMMIT_LEN     32
#define ES_SAS_IDPK_LEN       32 /* crypto_sign_PUBLICKEYBYTES */
#define ES_SAS_SIG_LEN        64 /* crypto_sign_BYTES */
#define ES_SAS_N_INDICES      5
#define ES_SAS_INDEX_BITS     6

#define ES_SAS_COMMIT_KEY     "earshot/sas/commit/v1"
#define ES_SAS_KEY            "earshot/sas/v1"
#define ES_SAS_SIG_CONTEXT    "earshot/id/v1"

/* "earshot/id/v1" ‖ role ‖ f_O ‖ f_A ‖ commit_O ‖ commit_A */
#define ES_SAS_TRANSCRIPT_LEN (sizeof ES_SAS_SIG_CONTEXT - 1 + 1 + 2 * ES_SAS_HASH_LEN \
                               + 2 * ES_SAS_COMMIT_LEN)

/* The numeric values equal EsCallBranchRole's, so the glue may convert with a cast. */
typedef enum
{
  ES_SAS_ROLE_OFFERER,
  ES_SAS_ROLE_ANSWERER,
} EsSasRole;

#define ES_TYPE_SAS_ROLE (es_sas_role_get_type ())
GType     es_sas_role_get_type                (void) G_GNUC_CONST;

guint8    es_sas_role_byte                    (EsSasRole      role);
EsSasRole es_sas_role_other                   (EsSasRole      role);

/* Certificates and fingerprints */
gboolean  es_sas_hash_certificate_pem         (const char    *pem,
                                               guint8         out_hash[ES_SAS_HASH_LEN],
                                               GError       **error);
gboolean  es_sas_parse_fingerprint_value      (const char    *value,
                                               guint8         out_hash[ES_SAS_HASH_LEN],
                                               GError       **error);
gboolean  es_sas_parse_fingerprint_line       (const char    *line,
                                               guint8         out_hash[ES_SAS_HASH_LEN],
                                               GError       **error);
gboolean  es_sas_find_sdp_fingerprint         (const char    *sdp,
                                               guint8         out_hash[ES_SAS_HASH_LEN],
                                               GError       **error);
char     *es_sas_format_fingerprint           (const guint8   hash[ES_SAS_HASH_LEN]);

/* Commitments */
void      es_sas_commit                       (EsSasRole      role,
                                               const guint8   nonce[ES_SAS_NONCE_LEN],
                                               const guint8   cert_hash[ES_SAS_HASH_LEN],
                                               guint8         out_commit[ES_SAS_COMMIT_LEN]);
gboolean  es_sas_commit_check                 (EsSasRole      role,
                                               const guint8   nonce[ES_SAS_NONCE_LEN],
                                               const guint8   cert_hash[ES_SAS_HASH_LEN],
                                               const guint8   commit[ES_SAS_COMMIT_LEN]);

/* What an identity key signs */
void      es_sas_build_transcript             (EsSasRole      signer_role,
                                               const guint8   f_o[ES_SAS_HASH_LEN],
                                               const guint8   f_a[ES_SAS_HASH_LEN],
                                               const guint8   commit_o[ES_SAS_COMMIT_LEN],
                                               const guint8   commit_a[ES_SAS_COMMIT_LEN],
                                               guint8         out[ES_SAS_TRANSCRIPT_LEN]);

/* The short authentication string */
void      es_sas_compute_mac                  (const guint8   f_o[ES_SAS_HASH_LEN],
                                               const guint8   f_a[ES_SAS_HASH_LEN],
                                               const guint8   n_o[ES_SAS_NONCE_LEN],
                                               const guint8   n_a[ES_SAS_NONCE_LEN],
                                               const guint8   idpk_o[ES_SAS_IDPK_LEN],
                                               const guint8   idpk_a[ES_SAS_IDPK_LEN],
                                               guint8         out_mac[32]);
void      es_sas_indices_from_mac             (const guint8   mac[32],
                                               guint8         out_indices[ES_SAS_N_INDICES]);
void      es_sas_compute                      (const guint8   f_o[ES_SAS_HASH_LEN],
                                               const guint8   f_a[ES_SAS_HASH_LEN],
                                               const guint8   n_o[ES_SAS_NONCE_LEN],
                                               const guint8   n_a[ES_SAS_NONCE_LEN],
                                               const guint8   idpk_o[ES_SAS_IDPK_LEN],
                                               const guint8   idpk_a[ES_SAS_IDPK_LEN],
                                               guint8         out_indices[ES_SAS_N_INDICES]);

/* Base64 as the wire carries it: standard alphabet, padded, canonical, exact length. */
char     *es_sas_encode_b64                   (const guint8  *data,
                                               gsize          len);
gboolean  es_sas_decode_b64_exact             (const char    *b64,
                                               guint8        *out,
                                               gsize          len,
                                               const char    *what,
                                               GError       **error);

G_END_DECLS
