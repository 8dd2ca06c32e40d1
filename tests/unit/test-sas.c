/* test-sas.c: the SAS primitives against fixed vectors, and the emoji table
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The expected numbers below were computed independently of this code, with Python's hmac,
 * hashlib and cryptography (Ed25519) modules and with openssl, by this one-off:
 *
 *   import hmac, hashlib
 *   from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
 *   def sas (fo, fa, no, na, io, ia):
 *       mac = hmac.new (b"earshot/sas/v1", fo + fa + no + na + io + ia, hashlib.sha256).digest ()
 *       v = int.from_bytes (mac[:5], "big")
 *       return mac.hex (), [(v >> (34 - 6 * i)) & 63 for i in range (5)]
 *   def commit (role, n, f):
 *       return hmac.new (b"earshot/sas/commit/v1", role + n + f, hashlib.sha256).hexdigest ()
 *   r = lambda a: bytes (range (a, a + 32))              # r(0) = 00 01 … 1f
 *   h = lambda s: hashlib.sha256 (s).digest ()
 *   V1: sas (r(0), r(32), r(64), r(96), r(128), r(160))
 *   V2: sas (h(b"offerer certificate"), h(b"answerer certificate"),
 *            b"\x11"*32, b"\x22"*32, b"\x33"*32, b"\x44"*32)
 *   V3: sas (b"\0"*32, …, b"\0"*32)
 *   V4: pkO, pkA = the Ed25519 public keys of seeds b"\x01"*32 and b"\x02"*32;
 *       sas (r(0), r(32), r(64), r(96), pkO, pkA); cO = commit (b"O", r(64), r(0)),
 *       cA = commit (b"A", r(96), r(32)); sigO = skO.sign (b"earshot/id/v1" + b"O" + r(0)
 *       + r(32) + cO + cA), sigA likewise with b"A"
 *   PEM: openssl req -x509 -newkey ec … ; openssl x509 -noout -fingerprint -sha256
 */

#include "config.h"

#include <string.h>

#include "es-identity.h"
#include "es-sas.h"
#include "es-sas-emoji.h"

static void
fill_range (guint8 *buf,
            guint8  first)
{
  for (guint i = 0; i < 32; i++)
    buf[i] = first + i;
}

static void
hex_to_bytes (const char *hex,
              guint8     *out,
              gsize       len)
{
  g_assert_cmpuint (strlen (hex), ==, len * 2);
  for (gsize i = 0; i < len; i++)
    {
      g_assert_true (g_ascii_isxdigit (hex[2 * i]) && g_ascii_isxdigit (hex[2 * i + 1]));
      out[i] = g_ascii_xdigit_value (hex[2 * i]) << 4 | g_ascii_xdigit_value (hex[2 * i + 1]);
    }
}

static void
assert_bytes_hex (const guint8 *bytes,
                  gsize         len,
                  const char   *hex)
{
  guint8 expected[128];

  g_assert_cmpuint (len, <=, sizeof expected);
  hex_to_bytes (hex, expected, len);
  g_assert_cmpmem (bytes, len, expected, len);
}

static void
assert_indices (const guint8 *got,
                guint8 i0, guint8 i1, guint8 i2, guint8 i3, guint8 i4)
{
  const guint8 expected[ES_SAS_N_INDICES] = { i0, i1, i2, i3, i4 };

  g_assert_cmpmem (got, ES_SAS_N_INDICES, expected, ES_SAS_N_INDICES);
}

static void
test_vectors (void)
{
  guint8 fo[32], fa[32], no[32], na[32], io[32], ia[32];
  guint8 mac[32];
  guint8 idx[ES_SAS_N_INDICES];

  /* V1 */
  fill_range (fo, 0);
  fill_range (fa, 32);
  fill_range (no, 64);
  fill_range (na, 96);
  fill_range (io, 128);
  fill_range (ia, 160);
  es_sas_compute_mac (fo, fa, no, na, io, ia, mac);
  assert_bytes_hex (mac, 32, "25ab8d35f7466d15bee7849f93c23322f841f9421c8a498ae459d18ef5dc657f");
  es_sas_compute (fo, fa, no, na, io, ia, idx);
  assert_indices (idx, 9, 26, 46, 13, 13);

  /* V2 */
  {
    g_autoptr(GChecksum) c = g_checksum_new (G_CHECKSUM_SHA256);
    gsize len = 32;

    g_checksum_update (c, (const guchar *) "offerer certificate", -1);
    g_checksum_get_digest (c, fo, &len);
    g_checksum_reset (c);
    g_checksum_update (c, (const guchar *) "answerer certificate", -1);
    len = 32;
    g_checksum_get_digest (c, fa, &len);
  }
  memset (no, 0x11, 32);
  memset (na, 0x22, 32);
  memset (io, 0x33, 32);
  memset (ia, 0x44, 32);
  es_sas_compute_mac (fo, fa, no, na, io, ia, mac);
  assert_bytes_hex (mac, 32, "b0902527f3db413be4ebc7725b48e453c01a182c4bcca47f301cd3b5eaedd2aa");
  es_sas_compute (fo, fa, no, na, io, ia, idx);
  assert_indices (idx, 44, 9, 0, 37, 9);

  /* V3 */
  memset (fo, 0, 32);
  memset (fa, 0, 32);
  memset (no, 0, 32);
  memset (na, 0, 32);
  memset (io, 0, 32);
  memset (ia, 0, 32);
  es_sas_compute_mac (fo, fa, no, na, io, ia, mac);
  assert_bytes_hex (mac, 32, "40c2983534cfbf1ae62f5b7f21d14fec11d2d9c47978ac451a612cf445489eb9");
  es_sas_compute (fo, fa, no, na, io, ia, idx);
  assert_indices (idx, 16, 12, 10, 24, 13);
}

/* V4: real identity keys, commitments and signatures over the transcript. */
static void
test_vector_full (void)
{
  guint8 seed_o[32], seed_a[32];
  guint8 fo[32], fa[32], no[32], na[32];
  guint8 co[32], ca[32];
  guint8 transcript[ES_SAS_TRANSCRIPT_LEN];
  guint8 sig[ES_SAS_SIG_LEN];
  guint8 idx[ES_SAS_N_INDICES];
  guint8 mac[32];
  g_autoptr(EsIdentity) id_o = NULL;
  g_autoptr(EsIdentity) id_a = NULL;
  g_autofree char *fingerprint = NULL;

  memset (seed_o, 0x01, 32);
  memset (seed_a, 0x02, 32);
  id_o = es_identity_new_from_seed (seed_o);
  id_a = es_identity_new_from_seed (seed_a);
  assert_bytes_hex (es_identity_get_public_key (id_o), 32,
                    "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");
  assert_bytes_hex (es_identity_get_public_key (id_a), 32,
                    "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394");

  fingerprint = es_identity_dup_fingerprint (id_o);
  g_assert_cmpstr (fingerprint, ==, "3475 0F98 BD59 FCFC 946D A45A AABE 933B");

  fill_range (fo, 0);
  fill_range (fa, 32);
  fill_range (no, 64);
  fill_range (na, 96);

  es_sas_commit (ES_SAS_ROLE_OFFERER, no, fo, co);
  assert_bytes_hex (co, 32, "daffa9dc4582872656304ac977e7227513c8363ce94c22318b615fc5be5a74cc");
  es_sas_commit (ES_SAS_ROLE_ANSWERER, na, fa, ca);
  assert_bytes_hex (ca, 32, "f056159ab2b1649c33a180711ad0072ed855e977033c857ae7f52101e2fcb0b4");

  es_sas_compute_mac (fo, fa, no, na, es_identity_get_public_key (id_o),
                      es_identity_get_public_key (id_a), mac);
  assert_bytes_hex (mac, 32, "0123b4c6119090133b297f318da1c4daa856d9fdd96683b7c34e22a4d58aeb88");
  es_sas_compute (fo, fa, no, na, es_identity_get_public_key (id_o),
                  es_identity_get_public_key (id_a), idx);
  assert_indices (idx, 0, 18, 14, 52, 49);

  g_assert_cmpuint (ES_SAS_TRANSCRIPT_LEN, ==, 142);
  es_sas_build_transcript (ES_SAS_ROLE_OFFERER, fo, fa, co, ca, transcript);
  es_identity_sign (id_o, transcript, sizeof transcript, sig);
  assert_bytes_hex (sig, 64,
                    "dc667f50702eae66bac355dc49f7a7cc9b1461aad74ca3776e25d12adf61a2a6"
                    "f97a70e9c1f698ec049eee40c9b1f87c8f8ea01610b89225ba11daef84c37b0e");
  g_assert_true (es_identity_verify (es_identity_get_public_key (id_o), transcript,
                                     sizeof transcript, sig));
  /* The same signature is no good as the answerer's, nor from the other key. */
  g_assert_false (es_identity_verify (es_identity_get_public_key (id_a), transcript,
                                      sizeof transcript, sig));

  es_sas_build_transcript (ES_SAS_ROLE_ANSWERER, fo, fa, co, ca, transcript);
  g_assert_false (es_identity_verify (es_identity_get_public_key (id_o), transcript,
                                      sizeof transcript, sig));
  es_identity_sign (id_a, transcript, sizeof transcript, sig);
  assert_bytes_hex (sig, 64,
                    "b54439e76e79ca4d291383c903bbdbd3b24b595efa2853d00a93fe9bd8530d07"
                    "9ce03fe06b0869663c7dc52436f8e2b582e2213f67e6e5d2be0113676b87c10b");
}

static void
test_indices_bits (void)
{
  guint8 mac[32] = { 0 };
  guint8 idx[ES_SAS_N_INDICES];

  mac[0] = 0xfc;
  es_sas_indices_from_mac (mac, idx);
  assert_indices (idx, 63, 0, 0, 0, 0);

  memset (mac, 0, sizeof mac);
  mac[0] = 0x03;
  mac[1] = 0xf0;
  es_sas_indices_from_mac (mac, idx);
  assert_indices (idx, 0, 63, 0, 0, 0);

  /* Bit 29 (the 30th) is the last one used; bits 30 and up are not. */
  memset (mac, 0, sizeof mac);
  mac[3] = 0x04;
  es_sas_indices_from_mac (mac, idx);
  assert_indices (idx, 0, 0, 0, 0, 1);

  memset (mac, 0xff, sizeof mac);
  mac[3] = 0x03;
  mac[0] = mac[1] = mac[2] = 0;
  es_sas_indices_from_mac (mac, idx);
  assert_indices (idx, 0, 0, 0, 0, 0);

  memset (mac, 0xff, sizeof mac);
  es_sas_indices_from_mac (mac, idx);
  assert_indices (idx, 63, 63, 63, 63, 63);
}

/* Any single changed bit in any input gives other emoji. */
static void
test_single_bit (void)
{
  guint8 inputs[6][32];
  guint8 base[ES_SAS_N_INDICES];
  guint n_same = 0;

  for (guint k = 0; k < 6; k++)
    fill_range (inputs[k], 32 * k);

  es_sas_compute (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], base);

  for (guint k = 0; k < 6; k++)
    {
      for (guint bit = 0; bit < 256; bit++)
        {
          guint8 idx[ES_SAS_N_INDICES];

          inputs[k][bit / 8] ^= 1 << (bit % 8);
          es_sas_compute (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5],
                          idx);
          inputs[k][bit / 8] ^= 1 << (bit % 8);

          if (memcmp (idx, base, sizeof idx) == 0)
            {
              g_test_message ("input %u bit %u left the emoji unchanged", k, bit);
              n_same++;
            }
        }
    }
  g_assert_cmpuint (n_same, ==, 0);

  /* Swapping the roles' inputs is a change too. */
  {
    guint8 idx[ES_SAS_N_INDICES];

    es_sas_compute (inputs[1], inputs[0], inputs[3], inputs[2], inputs[5], inputs[4], idx);
    g_assert_true (memcmp (idx, base, sizeof idx) != 0);
  }
}

static void
test_commit (void)
{
  guint8 nonce[32], cert[32], commit[32];

  fill_range (nonce, 64);
  fill_range (cert, 0);
  es_sas_commit (ES_SAS_ROLE_OFFERER, nonce, cert, commit);

  g_assert_true (es_sas_commit_check (ES_SAS_ROLE_OFFERER, nonce, cert, commit));
  g_assert_false (es_sas_commit_check (ES_SAS_ROLE_ANSWERER, nonce, cert, commit));

  for (guint bit = 0; bit < 256; bit++)
    {
      nonce[bit / 8] ^= 1 << (bit % 8);
      g_assert_false (es_sas_commit_check (ES_SAS_ROLE_OFFERER, nonce, cert, commit));
      nonce[bit / 8] ^= 1 << (bit % 8);

      cert[bit / 8] ^= 1 << (bit % 8);
      g_assert_false (es_sas_commit_check (ES_SAS_ROLE_OFFERER, nonce, cert, commit));
      cert[bit / 8] ^= 1 << (bit % 8);

      commit[bit / 8] ^= 1 << (bit % 8);
      g_assert_false (es_sas_commit_check (ES_SAS_ROLE_OFFERER, nonce, cert, commit));
      commit[bit / 8] ^= 1 << (bit % 8);
    }

  g_assert_true (es_sas_commit_check (ES_SAS_ROLE_OFFERER, nonce, cert, commit));
  g_assert_cmpint (es_sas_role_byte (ES_SAS_ROLE_OFFERER), ==, 'O');
  g_assert_cmpint (es_sas_role_byte (ES_SAS_ROLE_ANSWERER), ==, 'A');
}

#define FP_HEX "C1:54:37:2A:2F:76:08:6F:50:F1:56:FF:54:64:AB:14:42:27:07:64:3D:B7:FB:BF:49:B6:2A:47:B9:03:16:4B"
#define FP_HEX_LOWER "c1:54:37:2a:2f:76:08:6f:50:f1:56:ff:54:64:ab:14:42:27:07:64:3d:b7:fb:bf:49:b6:2a:47:b9:03:16:4b"

static const char test_pem[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBhDCCASmgAwIBAgIUJJk+CiYPS1dIxXAqF8nmPRtacGgwCgYIKoZIzj0EAwIw\n"
  "FzEVMBMGA1UEAwwMZWFyc2hvdC10ZXN0MB4XDTI2MTEyNTAxMTc1OVoXDTM2MTEy\n"
  "MjAxMTc1OVowFzEVMBMGA1UEAwwMZWFyc2hvdC10ZXN0MFkwEwYHKoZIzj0CAQYI\n"
  "KoZIzj0DAQcDQgAEuB+bEethCdcIMK/A0rr1ganoK/8Yln76AujzeUZBKOgQV13M\n"
  "HalnsWxoaRc+AckQUPXi0BYO2uLhTylS0JCEgKNTMFEwHQYDVR0OBBYEFBLm6ae9\n"
  "MoRLxFgo4bc4whba1/krMB8GA1UdIwQYMBaAFBLm6ae9MoRLxFgo4bc4whba1/kr\n"
  "MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAOwF+8OZcE9sncVm\n"
  "rbOaK2khDfsyymPtWP+g0rn+R1xHAiEA/BPZvR6r/yGAPBx1ntD3Z4PiDH/bI6ES\n"
  "YV4S+tqdeAQ=\n"
  "-----END CERTIFICATE-----\n";

static void
test_fingerprint_parse (void)
{
  static const char *const bad_lines[] = {
    "",
    "a=fingerprint:",
    "a=fingerprint:sha-256",
    "a=fingerprint:sha-256 ",
    "a=fingerprint:sha-1 " FP_HEX,
    "a=fingerprint:sha-256  " FP_HEX,
    "a=fingerprint: sha-256 " FP_HEX,
    "a=fingerprint:sha-256 " FP_HEX " ",
    "a=fingerprint:sha-256 " FP_HEX ":",
    "a=fingerprint:sha-256 " FP_HEX ":00",
    "a=fingerprint:sha-256 " FP_HEX "\r\n\r\n",
    "a=fingerprint:sha-256 C1:54:37:2A:2F:76:08:6F:50:F1:56:FF:54:64:AB:14:42:27:07:64:3D:B7:FB:BF:49:B6:2A:47:B9:03:16",
    "a=fingerprint:sha-256 C1-54:37:2A:2F:76:08:6F:50:F1:56:FF:54:64:AB:14:42:27:07:64:3D:B7:FB:BF:49:B6:2A:47:B9:03:16:4B",
    "a=fingerprint:sha-256 G1:54:37:2A:2F:76:08:6F:50:F1:56:FF:54:64:AB:14:42:27:07:64:3D:B7:FB:BF:49:B6:2A:47:B9:03:16:4B",
    "a=fingerprint:sha-256 C154372A2F76086F50F156FF5464AB144227076433DB7FBBF49B62A47B903164BCC",
    "a=fingerprint:sha-256 C1:54:37:2A:2F:76:08:6F:50:F1:56:FF:54:64:AB:14:42:27:07:64:3D:B7:FB:BF:49:B6:2A:47:B9:03:16:4 ",
    "a=fingerprint:sha-256 +1:54:37:2A:2F:76:08:6F:50:F1:56:FF:54:64:AB:14:42:27:07:64:3D:B7:FB:BF:49:B6:2A:47:B9:03:16:4B",
    "fingerprint:sha-256 " FP_HEX,
    "a=fingerprints:sha-256 " FP_HEX,
    "A=fingerprint:sha-256 " FP_HEX,
  };
  guint8 hash[32], from_pem[32];
  g_autofree char *formatted = NULL;

  g_assert_true (es_sas_hash_certificate_pem (test_pem, from_pem, NULL));

  {
    g_autoptr(GError) error = NULL;

    g_assert_true (es_sas_parse_fingerprint_line ("a=fingerprint:sha-256 " FP_HEX, hash,
                                                  &error));
    g_assert_no_error (error);
    g_assert_cmpmem (hash, 32, from_pem, 32);
  }

  memset (hash, 0, sizeof hash);
  g_assert_true (es_sas_parse_fingerprint_line ("a=fingerprint:SHA-256 " FP_HEX_LOWER "\r\n",
                                                hash, NULL));
  g_assert_cmpmem (hash, 32, from_pem, 32);
  memset (hash, 0, sizeof hash);
  g_assert_true (es_sas_parse_fingerprint_line ("a=fingerprint:sha-256 " FP_HEX "\n", hash,
                                                NULL));
  g_assert_cmpmem (hash, 32, from_pem, 32);
  memset (hash, 0, sizeof hash);
  g_assert_true (es_sas_parse_fingerprint_value ("sha-256 " FP_HEX, hash, NULL));
  g_assert_cmpmem (hash, 32, from_pem, 32);

  formatted = es_sas_format_fingerprint (hash);
  g_assert_cmpstr (formatted, ==, FP_HEX);

  for (guint i = 0; i < G_N_ELEMENTS (bad_lines); i++)
    {
      g_autoptr(GError) error = NULL;
      guint8 untouched[32];

      memset (untouched, 0xaa, sizeof untouched);
      g_test_message ("bad line %u: %s", i, bad_lines[i]);
      g_assert_false (es_sas_parse_fingerprint_line (bad_lines[i], untouched, &error));
      g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT);
      for (guint j = 0; j < 32; j++)
        g_assert_cmpint (untouched[j], ==, 0xaa);
    }

  {
    g_autoptr(GError) error = NULL;

    g_assert_false (es_sas_parse_fingerprint_value (FP_HEX, hash, &error));
    g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT);
  }
}

static void
test_find_sdp_fingerprint (void)
{
  static const char good_sdp[] =
    "v=0\r\n"
    "o=- 1 0 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE audio0 video1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\n"
    "a=fingerprint:sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33\r\n"
    "a=fingerprint:sha-256 " FP_HEX "\r\n"
    "a=setup:actpass\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 97\r\n"
    "a=fingerprint:sha-256 " FP_HEX_LOWER "\r\n";
  static const char *const bad_sdps[] = {
    "v=0\r\ns=-\r\n",
    "v=0\r\na=fingerprint:sha-1 00:11\r\n",
    "v=0\r\na=fingerprint:sha-256 " FP_HEX "\r\n"
    "a=fingerprint:sha-256 00:54:37:2A:2F:76:08:6F:50:F1:56:FF:54:64:AB:14:42:27:07:64:3D:B7:FB:BF:49:B6:2A:47:B9:03:16:4B\r\n",
    "v=0\r\na=fingerprint:sha-256 " FP_HEX "\r\na=fingerprint:sha-256 nonsense\r\n",
    "v=0\r\na=fingerprint:garbage\r\n",
  };
  guint8 hash[32], from_pem[32];

  g_assert_true (es_sas_hash_certificate_pem (test_pem, from_pem, NULL));
  g_assert_true (es_sas_find_sdp_fingerprint (good_sdp, hash, NULL));
  g_assert_cmpmem (hash, 32, from_pem, 32);

  for (guint i = 0; i < G_N_ELEMENTS (bad_sdps); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (es_sas_find_sdp_fingerprint (bad_sdps[i], hash, &error));
      g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT);
    }
}

static void
test_certificate_pem (void)
{
  static const char *const bad_pems[] = {
    "",
    "MIIBhDCCASmgAwIBAgIUJJk+CiYPS1dIxXAqF8nmPRtacGgwCgYIKoZIzj0EAwIw\n",
    "-----BEGIN CERTIFICATE-----\nMIIBhDCC\n",
    "-----BEGIN CERTIFICATE-----\nMIIB*hDCC\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
  };
  guint8 hash[32];
  g_autofree char *formatted = NULL;
  g_autofree char *crlf = NULL;

  g_assert_true (es_sas_hash_certificate_pem (test_pem, hash, NULL));
  formatted = es_sas_format_fingerprint (hash);
  g_assert_cmpstr (formatted, ==, FP_HEX);

  /* Line endings do not matter. */
  {
    g_auto(GStrv) lines = g_strsplit (test_pem, "\n", -1);
    guint8 again[32];

    crlf = g_strjoinv ("\r\n", lines);
    g_assert_true (es_sas_hash_certificate_pem (crlf, again, NULL));
    g_assert_cmpmem (again, 32, hash, 32);
  }

  for (guint i = 0; i < G_N_ELEMENTS (bad_pems); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (es_sas_hash_certificate_pem (bad_pems[i], hash, &error));
      g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT);
    }
}

static void
test_b64 (void)
{
  static const char *const bad[] = {
    "",
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",     /* no padding */
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==",   /* too much */
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=",    /* non-canonical last char */
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=",    /* stray character */
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd Hh8",    /* whitespace */
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh_=",    /* URL alphabet */
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",    /* 31 bytes */
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==", /* 34 bytes */
  };
  guint8 data[32], out[32];
  g_autofree char *b64 = NULL;

  fill_range (data, 0);
  b64 = es_sas_encode_b64 (data, sizeof data);
  g_assert_cmpstr (b64, ==, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
  g_assert_true (es_sas_decode_b64_exact (b64, out, sizeof out, "nonce", NULL));
  g_assert_cmpmem (out, 32, data, 32);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("bad base64 %u: %s", i, bad[i]);
      g_assert_false (es_sas_decode_b64_exact (bad[i], out, sizeof out, "nonce", &error));
      g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT);
    }
}

static char *
emoji_codepoints (const char *emoji)
{
  GString *str = g_string_new (NULL);

  g_assert_true (g_utf8_validate (emoji, -1, NULL));
  for (const char *p = emoji; *p; p = g_utf8_next_char (p))
    g_string_append_printf (str, "U+%04X", g_utf8_get_char (p));

  return g_string_free (str, FALSE);
}

/* data/sas-emoji.tsv is the source of truth; the C table must say the same, line by line. */
static void
test_emoji_table (void)
{
  const char *source_dir = g_getenv ("EARSHOT_SOURCE_DIR");
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) seen_emoji = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) seen_names = g_hash_table_new (g_str_hash, g_str_equal);
  g_auto(GStrv) lines = NULL;

  if (source_dir != NULL)
    path = g_build_filename (source_dir, "data", "sas-emoji.tsv", NULL);
  else
    path = g_test_build_filename (G_TEST_DIST, "..", "..", "data", "sas-emoji.tsv", NULL);

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);

  lines = g_strsplit (contents, "\n", -1);
  /* A header, 64 rows and the empty string after the final newline. */
  g_assert_cmpuint (g_strv_length (lines), ==, 1 + ES_SAS_EMOJI_COUNT + 1);
  g_assert_cmpstr (lines[0], ==, "index\temoji\tname\tunicode");
  g_assert_cmpstr (lines[1 + ES_SAS_EMOJI_COUNT], ==, "");

  for (guint i = 0; i < ES_SAS_EMOJI_COUNT; i++)
    {
      const EsSasEmoji *entry = es_sas_emoji_get (i);
      g_autofree char *line = NULL;
      g_autofree char *codepoints = NULL;

      g_assert_nonnull (entry);
      line = g_strdup_printf ("%u\t%s\t%s\t%s", i, entry->emoji, entry->name, entry->unicode);
      g_assert_cmpstr (line, ==, lines[1 + i]);

      codepoints = emoji_codepoints (entry->emoji);
      g_assert_cmpstr (codepoints, ==, entry->unicode);

      g_assert_cmpstr (es_sas_emoji_get_emoji (i), ==, entry->emoji);
      /* LC_ALL=C.UTF-8: the English name. */
      g_assert_cmpstr (es_sas_emoji_get_name (i), ==, entry->name);

      g_assert_false (g_hash_table_contains (seen_emoji, entry->emoji));
      g_assert_false (g_hash_table_contains (seen_names, entry->name));
      g_hash_table_add (seen_emoji, (gpointer) entry->emoji);
      g_hash_table_add (seen_names, (gpointer) entry->name);
    }

  g_assert_null (es_sas_emoji_get (ES_SAS_EMOJI_COUNT));
  g_assert_null (es_sas_emoji_get (G_MAXUINT));
  g_assert_cmpstr (es_sas_emoji_get_name (0), ==, "Dog");
  g_assert_cmpstr (es_sas_emoji_get_name (63), ==, "Pin");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sas/vectors", test_vectors);
  g_test_add_func ("/sas/vector-full", test_vector_full);
  g_test_add_func ("/sas/indices-bits", test_indices_bits);
  g_test_add_func ("/sas/single-bit", test_single_bit);
  g_test_add_func ("/sas/commit", test_commit);
  g_test_add_func ("/sas/fingerprint-parse", test_fingerprint_parse);
  g_test_add_func ("/sas/find-sdp-fingerprint", test_find_sdp_fingerprint);
  g_test_add_func ("/sas/certificate-pem", test_certificate_pem);
  g_test_add_func ("/sas/b64", test_b64);
  g_test_add_func ("/sas/emoji-table", test_emoji_table);

  return g_test_run ();
}
