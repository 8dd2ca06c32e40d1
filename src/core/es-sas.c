/* es-sas.c: the short authentication string and the commitments it rests on
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Much of what arrives here came from the peer or from the network (SDP lines, base64), so
 * nothing asserts on it: every problem is an ES_VERIFY_ERROR that says what is wrong.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-verify"

#include "config.h"

#include <sodium.h>
#include <string.h>

#include "es-sas.h"

G_STATIC_ASSERT (ES_SAS_IDPK_LEN == crypto_sign_PUBLICKEYBYTES);
G_STATIC_ASSERT (ES_SAS_SIG_LEN == crypto_sign_BYTES);
G_STATIC_ASSERT (ES_SAS_COMMIT_LEN == crypto_auth_hmacsha256_BYTES);
G_STATIC_ASSERT (ES_SAS_HASH_LEN == crypto_hash_sha256_BYTES);
G_STATIC_ASSERT (ES_SAS_N_INDICES * ES_SAS_INDEX_BITS <= 40);

/* A DTLS certificate is a few hundred bytes; anything near this is not one. */
#define MAX_CERTIFICATE_PEM (64 * 1024)

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END   "-----END CERTIFICATE-----"

#define FINGERPRINT_ATTRIBUTE "a=fingerprint:"
#define FINGERPRINT_HASH_FUNC "sha-256"
#define FINGERPRINT_TEXT_LEN  (ES_SAS_HASH_LEN * 3 - 1)

G_DEFINE_QUARK (es-verify-error-quark, es_verify_error)

G_DEFINE_ENUM_TYPE (EsSasRole, es_sas_role,
  G_DEFINE_ENUM_VALUE (ES_SAS_ROLE_OFFERER, "offerer"),
  G_DEFINE_ENUM_VALUE (ES_SAS_ROLE_ANSWERER, "answerer"))

guint8
es_sas_role_byte (EsSasRole role)
{
  g_return_val_if_fail (role == ES_SAS_ROLE_OFFERER || role == ES_SAS_ROLE_ANSWERER, 0);

  return role == ES_SAS_ROLE_OFFERER ? 'O' : 'A';
}

EsSasRole
es_sas_role_other (EsSasRole role)
{
  return role == ES_SAS_ROLE_OFFERER ? ES_SAS_ROLE_ANSWERER : ES_SAS_ROLE_OFFERER;
}

/**
 * es_sas_hash_certificate_pem:
 * @pem: a PEM certificate, as webrtcbin's DTLS transport gives it in `certificate` and
 *   `remote-certificate`
 * @out_hash: (out): SHA-256 of the DER encoding
 *
 * Hashes the first certificate in @pem. The DER must be a well-formed base64 body between
 * the BEGIN and END lines; anything else is an error, not a guess.
 */
gboolean
es_sas_hash_certificate_pem (const char  *pem,
                             guint8       out_hash[ES_SAS_HASH_LEN],
                             GError     **error)
{
  const char *begin;
  const char *end;
  const char *body_end;
  gsize body_len;
  gsize der_len = 0;
  g_autofree guint8 *der = NULL;

  g_return_val_if_fail (pem != NULL, FALSE);
  g_return_val_if_fail (out_hash != NULL, FALSE);

  if (strnlen (pem, MAX_CERTIFICATE_PEM + 1) > MAX_CERTIFICATE_PEM)
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                           "The certificate is too large");
      return FALSE;
    }

  begin = strstr (pem, PEM_BEGIN);
  if (begin == NULL)
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                           "The certificate has no “" PEM_BEGIN "” line");
      return FALSE;
    }
  begin += strlen (PEM_BEGIN);

  end = strstr (begin, PEM_END);
  if (end == NULL)
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                           "The certificate has no “" PEM_END "” line");
      return FALSE;
    }

  body_len = end - begin;
  body_end = NULL;
  der = g_malloc (body_len + 1);
  if (sodium_base642bin (der, body_len + 1, begin, body_len, " \t\r\n", &der_len, &body_end,
                         sodium_base64_VARIANT_ORIGINAL) != 0 ||
      body_end != end || der_len == 0)
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                           "The certificate's body is not valid base64");
      return FALSE;
    }

  /* An X.509 certificate is a DER SEQUENCE. */
  if (der[0] != 0x30)
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                           "The certificate's body is not DER");
      return FALSE;
    }

  crypto_hash_sha256 (out_hash, der, der_len);

  return TRUE;
}

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

static gboolean
parse_fingerprint_text (const char  *text,
                        gsize        len,
                        guint8       out_hash[ES_SAS_HASH_LEN],
                        GError     **error)
{
  guint8 hash[ES_SAS_HASH_LEN];

  if (len != FINGERPRINT_TEXT_LEN)
    {
      g_set_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                   "A sha-256 fingerprint is %d hex pairs separated by colons",
                   ES_SAS_HASH_LEN);
      return FALSE;
    }

  for (guint i = 0; i < ES_SAS_HASH_LEN; i++)
    {
      const char *pair = text + 3 * i;
      int hi = hex_value (pair[0]);
      int lo = hex_value (pair[1]);

      if (hi < 0 || lo < 0 || (i + 1 < ES_SAS_HASH_LEN && pair[2] != ':'))
        {
          g_set_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                       "The fingerprint is malformed at byte %u", i + 1);
          return FALSE;
        }
      hash[i] = (guint8) (hi << 4 | lo);
    }

  memcpy (out_hash, hash, sizeof hash);

  return TRUE;
}

/* Returns the length of the hash function token and whether the value's shape is sane. */
static gboolean
split_fingerprint_value (const char   *value,
                         gsize         len,
                         gsize        *out_func_len,
                         GError      **error)
{
  const char *space = memchr (value, ' ', len);

  if (space == NULL || space == value)
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                           "A fingerprint is “<hash-function> <hex pairs>”");
      return FALSE;
    }

  *out_func_len = space - value;

  return TRUE;
}

static gboolean
parse_fingerprint_value_len (const char  *value,
                             gsize        len,
                             guint8       out_hash[ES_SAS_HASH_LEN],
                             GError     **error)
{
  gsize func_len;

  if (!split_fingerprint_value (value, len, &func_len, error))
    return FALSE;

  if (func_len != strlen (FINGERPRINT_HASH_FUNC) ||
      g_ascii_strncasecmp (value, FINGERPRINT_HASH_FUNC, func_len) != 0)
    {
      g_autofree char *func = g_strndup (value, MIN (func_len, 16));

      g_set_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                   "Fingerprint hash function “%s” is not sha-256", func);
      return FALSE;
    }

  return parse_fingerprint_text (value + func_len + 1, len - func_len - 1, out_hash, error);
}

/**
 * es_sas_parse_fingerprint_value:
 * @value: the value of an SDP fingerprint attribute, `sha-256 AB:CD:…` (what
 *   gst_sdp_media_get_attribute_val() returns for "fingerprint")
 * @out_hash: (out): the 32 bytes
 *
 * Strict: the hash function must be sha-256 (any case), followed by one space and exactly 32
 * hex pairs (either case) separated by colons, and nothing else.
 */
gboolean
es_sas_parse_fingerprint_value (const char  *value,
                                guint8       out_hash[ES_SAS_HASH_LEN],
                                GError     **error)
{
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (out_hash != NULL, FALSE);

  return parse_fingerprint_value_len (value, strlen (value), out_hash, error);
}

/**
 * es_sas_parse_fingerprint_line:
 * @line: one SDP line, `a=fingerprint:sha-256 AB:CD:…`, with or without its CRLF or LF
 * @out_hash: (out): the 32 bytes
 */
gboolean
es_sas_parse_fingerprint_line (const char  *line,
                               guint8       out_hash[ES_SAS_HASH_LEN],
                               GError     **error)
{
  gsize len;

  g_return_val_if_fail (line != NULL, FALSE);
  g_return_val_if_fail (out_hash != NULL, FALSE);

  len = strlen (line);
  if (len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n')
    len -= 2;
  else if (len >= 1 && line[len - 1] == '\n')
    len -= 1;

  if (len < strlen (FINGERPRINT_ATTRIBUTE) ||
      strncmp (line, FINGERPRINT_ATTRIBUTE, strlen (FINGERPRINT_ATTRIBUTE)) != 0)
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                           "The line is not an “a=fingerprint:” attribute");
      return FALSE;
    }

  return parse_fingerprint_value_len (line + strlen (FINGERPRINT_ATTRIBUTE),
                                      len - strlen (FINGERPRINT_ATTRIBUTE), out_hash, error);
}

/**
 * es_sas_find_sdp_fingerprint:
 * @sdp: a whole SDP text
 * @out_hash: (out): the certificate hash it announces
 *
 * Finds the sha-256 fingerprint of an SDP, at session or media level. Fingerprints with other
 * hash functions are skipped; a malformed sha-256 line is an error, and so are two sha-256
 * lines that disagree (one DTLS transport, one certificate: BUNDLE is assumed).
 */
gboolean
es_sas_find_sdp_fingerprint (const char  *sdp,
                             guint8       out_hash[ES_SAS_HASH_LEN],
                             GError     **error)
{
  guint8 found[ES_SAS_HASH_LEN];
  gboolean have = FALSE;
  const char *line = sdp;

  g_return_val_if_fail (sdp != NULL, FALSE);
  g_return_val_if_fail (out_hash != NULL, FALSE);

  while (*line != '\0')
    {
      const char *nl = strchr (line, '\n');
      gsize len = nl ? (gsize) (nl - line) : strlen (line);
      const char *next = nl ? nl + 1 : line + len;
      gsize attr_len = strlen (FINGERPRINT_ATTRIBUTE);

      if (len > 0 && line[len - 1] == '\r')
        len--;

      if (len >= attr_len && strncmp (line, FINGERPRINT_ATTRIBUTE, attr_len) == 0)
        {
          const char *value = line + attr_len;
          gsize value_len = len - attr_len;
          gsize func_len;
          guint8 hash[ES_SAS_HASH_LEN];

          if (!split_fingerprint_value (value, value_len, &func_len, error))
            return FALSE;

          if (func_len == strlen (FINGERPRINT_HASH_FUNC) &&
              g_ascii_strncasecmp (value, FINGERPRINT_HASH_FUNC, func_len) == 0)
            {
              if (!parse_fingerprint_value_len (value, value_len, hash, error))
                return FALSE;

              if (have && memcmp (hash, found, sizeof hash) != 0)
                {
                  g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                                       "The SDP announces two different sha-256 fingerprints");
                  return FALSE;
                }
              memcpy (found, hash, sizeof hash);
              have = TRUE;
            }
        }

      line = next;
    }

  if (!have)
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                           "The SDP has no sha-256 fingerprint");
      return FALSE;
    }

  memcpy (out_hash, found, sizeof found);

  return TRUE;
}

/**
 * es_sas_format_fingerprint:
 *
 * Returns: (transfer full): `AB:CD:…`, the SDP notation of @hash
 */
char *
es_sas_format_fingerprint (const guint8 hash[ES_SAS_HASH_LEN])
{
  GString *str;

  g_return_val_if_fail (hash != NULL, NULL);

  str = g_string_sized_new (FINGERPRINT_TEXT_LEN + 1);

  for (guint i = 0; i < ES_SAS_HASH_LEN; i++)
    g_string_append_printf (str, i == 0 ? "%02X" : ":%02X", hash[i]);

  return g_string_free (str, FALSE);
}

/**
 * es_sas_commit:
 *
 * commit = HMAC-SHA256(key = "earshot/sas/commit/v1", role_byte ‖ nonce ‖ cert_hash)
 */
void
es_sas_commit (EsSasRole    role,
               const guint8 nonce[ES_SAS_NONCE_LEN],
               const guint8 cert_hash[ES_SAS_HASH_LEN],
               guint8       out_commit[ES_SAS_COMMIT_LEN])
{
  crypto_auth_hmacsha256_state state;
  guint8 role_byte;

  g_return_if_fail (nonce != NULL && cert_hash != NULL && out_commit != NULL);
  g_return_if_fail (role == ES_SAS_ROLE_OFFERER || role == ES_SAS_ROLE_ANSWERER);

  role_byte = es_sas_role_byte (role);
  crypto_auth_hmacsha256_init (&state, (const guint8 *) ES_SAS_COMMIT_KEY,
                               strlen (ES_SAS_COMMIT_KEY));
  crypto_auth_hmacsha256_update (&state, &role_byte, 1);
  crypto_auth_hmacsha256_update (&state, nonce, ES_SAS_NONCE_LEN);
  crypto_auth_hmacsha256_update (&state, cert_hash, ES_SAS_HASH_LEN);
  crypto_auth_hmacsha256_final (&state, out_commit);
  sodium_memzero (&state, sizeof state);
}

/**
 * es_sas_commit_check:
 *
 * Whether @commit opens with @role, @nonce and @cert_hash. The comparison takes the same
 * time wherever the bytes differ.
 */
gboolean
es_sas_commit_check (EsSasRole    role,
                     const guint8 nonce[ES_SAS_NONCE_LEN],
                     const guint8 cert_hash[ES_SAS_HASH_LEN],
                     const guint8 commit[ES_SAS_COMMIT_LEN])
{
  guint8 expected[ES_SAS_COMMIT_LEN];

  g_return_val_if_fail (nonce != NULL && cert_hash != NULL && commit != NULL, FALSE);
  g_return_val_if_fail (role == ES_SAS_ROLE_OFFERER || role == ES_SAS_ROLE_ANSWERER, FALSE);

  es_sas_commit (role, nonce, cert_hash, expected);

  return sodium_memcmp (expected, commit, ES_SAS_COMMIT_LEN) == 0;
}

/**
 * es_sas_build_transcript:
 * @signer_role: the role of whoever signs
 *
 * Fills @out with "earshot/id/v1" ‖ role_byte ‖ f_O ‖ f_A ‖ commit_O ‖ commit_A, what an
 * identity key signs. A verifier builds it from its own observations, never from the
 * signer's.
 */
void
es_sas_build_transcript (EsSasRole    signer_role,
                         const guint8 f_o[ES_SAS_HASH_LEN],
                         const guint8 f_a[ES_SAS_HASH_LEN],
                         const guint8 commit_o[ES_SAS_COMMIT_LEN],
                         const guint8 commit_a[ES_SAS_COMMIT_LEN],
                         guint8       out[ES_SAS_TRANSCRIPT_LEN])
{
  guint8 *p = out;

  g_return_if_fail (f_o != NULL && f_a != NULL && commit_o != NULL && commit_a != NULL);
  g_return_if_fail (out != NULL);

  memcpy (p, ES_SAS_SIG_CONTEXT, strlen (ES_SAS_SIG_CONTEXT));
  p += strlen (ES_SAS_SIG_CONTEXT);
  *p++ = es_sas_role_byte (signer_role);
  memcpy (p, f_o, ES_SAS_HASH_LEN);
  p += ES_SAS_HASH_LEN;
  memcpy (p, f_a, ES_SAS_HASH_LEN);
  p += ES_SAS_HASH_LEN;
  memcpy (p, commit_o, ES_SAS_COMMIT_LEN);
  p += ES_SAS_COMMIT_LEN;
  memcpy (p, commit_a, ES_SAS_COMMIT_LEN);
  p += ES_SAS_COMMIT_LEN;

  g_assert ((gsize) (p - out) == ES_SAS_TRANSCRIPT_LEN);
}

/**
 * es_sas_compute_mac:
 *
 * SAS = HMAC-SHA256(key = "earshot/sas/v1", f_O ‖ f_A ‖ n_O ‖ n_A ‖ idpk_O ‖ idpk_A)
 */
void
es_sas_compute_mac (const guint8 f_o[ES_SAS_HASH_LEN],
                    const guint8 f_a[ES_SAS_HASH_LEN],
                    const guint8 n_o[ES_SAS_NONCE_LEN],
                    const guint8 n_a[ES_SAS_NONCE_LEN],
                    const guint8 idpk_o[ES_SAS_IDPK_LEN],
                    const guint8 idpk_a[ES_SAS_IDPK_LEN],
                    guint8       out_mac[32])
{
  crypto_auth_hmacsha256_state state;

  g_return_if_fail (f_o != NULL && f_a != NULL && n_o != NULL && n_a != NULL);
  g_return_if_fail (idpk_o != NULL && idpk_a != NULL && out_mac != NULL);

  crypto_auth_hmacsha256_init (&state, (const guint8 *) ES_SAS_KEY, strlen (ES_SAS_KEY));
  crypto_auth_hmacsha256_update (&state, f_o, ES_SAS_HASH_LEN);
  crypto_auth_hmacsha256_update (&state, f_a, ES_SAS_HASH_LEN);
  crypto_auth_hmacsha256_update (&state, n_o, ES_SAS_NONCE_LEN);
  crypto_auth_hmacsha256_update (&state, n_a, ES_SAS_NONCE_LEN);
  crypto_auth_hmacsha256_update (&state, idpk_o, ES_SAS_IDPK_LEN);
  crypto_auth_hmacsha256_update (&state, idpk_a, ES_SAS_IDPK_LEN);
  crypto_auth_hmacsha256_final (&state, out_mac);
  sodium_memzero (&state, sizeof state);
}

/**
 * es_sas_indices_from_mac:
 *
 * The first 30 bits of @mac, most significant first, as five 6-bit indices into the emoji
 * table.
 */
void
es_sas_indices_from_mac (const guint8 mac[32],
                         guint8       out_indices[ES_SAS_N_INDICES])
{
  guint64 bits = 0;

  g_return_if_fail (mac != NULL && out_indices != NULL);

  for (guint i = 0; i < 5; i++)
    bits = bits << 8 | mac[i];

  for (guint i = 0; i < ES_SAS_N_INDICES; i++)
    out_indices[i] = (bits >> (40 - ES_SAS_INDEX_BITS * (i + 1))) & 0x3f;
}

void
es_sas_compute (const guint8 f_o[ES_SAS_HASH_LEN],
                const guint8 f_a[ES_SAS_HASH_LEN],
                const guint8 n_o[ES_SAS_NONCE_LEN],
                const guint8 n_a[ES_SAS_NONCE_LEN],
                const guint8 idpk_o[ES_SAS_IDPK_LEN],
                const guint8 idpk_a[ES_SAS_IDPK_LEN],
                guint8       out_indices[ES_SAS_N_INDICES])
{
  guint8 mac[32];

  es_sas_compute_mac (f_o, f_a, n_o, n_a, idpk_o, idpk_a, mac);
  es_sas_indices_from_mac (mac, out_indices);
  sodium_memzero (mac, sizeof mac);
}

char *
es_sas_encode_b64 (const guint8 *data,
                   gsize         len)
{
  gsize b64_len = sodium_base64_ENCODED_LEN (len, sodium_base64_VARIANT_ORIGINAL);
  char *b64;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  b64 = g_malloc (b64_len);

  sodium_bin2base64 (b64, b64_len, data, len, sodium_base64_VARIANT_ORIGINAL);

  return b64;
}

/**
 * es_sas_decode_b64_exact:
 * @what: names the field in the error message
 *
 * Decodes @b64 into exactly @len bytes. Whitespace, a missing or extra padding, stray
 * characters, a non-canonical last character or a wrong length are errors.
 */
gboolean
es_sas_decode_b64_exact (const char  *b64,
                         guint8      *out,
                         gsize        len,
                         const char  *what,
                         GError     **error)
{
  gsize b64_len;
  gsize expected_len = sodium_base64_ENCODED_LEN (len, sodium_base64_VARIANT_ORIGINAL) - 1;
  gsize bin_len = 0;
  const char *end = NULL;
  g_autofree guint8 *bin = NULL;
  g_autofree char *again = NULL;

  g_return_val_if_fail (b64 != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (what != NULL, FALSE);

  b64_len = strnlen (b64, expected_len + 1);
  if (b64_len != expected_len)
    {
      g_set_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                   "“%s” must be %" G_GSIZE_FORMAT " bytes in base64 (%" G_GSIZE_FORMAT
                   " characters)", what, len, expected_len);
      return FALSE;
    }

  bin = g_malloc (len + 1);
  if (sodium_base642bin (bin, len + 1, b64, b64_len, NULL, &bin_len, &end,
                         sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64 + b64_len || bin_len != len)
    {
      g_set_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                   "“%s” is not valid base64", what);
      return FALSE;
    }

  again = es_sas_encode_b64 (bin, len);
  if (strcmp (again, b64) != 0)
    {
      g_set_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                   "“%s” is not canonical base64", what);
      return FALSE;
    }

  memcpy (out, bin, len);

  return TRUE;
}
