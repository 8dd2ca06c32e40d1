/* test-verification.c: identity keys, the trust store and the verification state machine
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Two EsVerification objects are wired to each other in memory the way the offer, the answer
 * and the earshot-verify data channel would carry their messages; a middleman is two more,
 * one on each leg, with the freedom to relay or rewrite whatever it likes.
 */

#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "es-identity.h"
#include "es-sas.h"
#include "es-trust-store.h"
#include "es-verification.h"

/* Log capture: the writer is process-wide and can be set once, in main(). */
static GString *captured_log;

static GLogWriterOutput
capture_writer_cb (GLogLevelFlags   log_level,
                   const GLogField *fields,
                   gsize            n_fields,
                   gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        {
          if (fields[i].length < 0)
            g_string_append (captured_log, fields[i].value);
          else
            g_string_append_len (captured_log, fields[i].value, fields[i].length);
          g_string_append_c (captured_log, '\n');
        }
    }

  /* Debug chatter stays in the capture; anything louder is shown (and fatal if it is a
   * warning, as G_DEBUG=fatal-warnings asks). */
  if (log_level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    return G_LOG_WRITER_HANDLED;

  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)))
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
    }
  g_remove (path);
}

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("earshot-verification-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  user_data)
{
  remove_tree (fixture->dir);
  g_free (fixture->dir);
}

/* One device: its profile, identity, trust store and DTLS certificate. */
typedef struct
{
  char         *profile;
  char         *device_id;
  char         *user;
  EsIdentity   *identity;
  EsTrustStore *trust;
  guint8        cert[ES_SAS_HASH_LEN];
} Device;

static Device *
device_new (Fixture    *fixture,
            const char *user,
            const char *device_id)
{
  g_autoptr(GError) error = NULL;
  Device *device = g_new0 (Device, 1);

  device->profile = g_build_filename (fixture->dir, device_id, NULL);
  device->device_id = g_strdup (device_id);
  device->user = g_strdup (user);
  device->identity = es_identity_load_or_create (device->profile, &error);
  g_assert_no_error (error);
  device->trust = es_trust_store_new (device->profile, &error);
  g_assert_no_error (error);
  randombytes_buf (device->cert, sizeof device->cert);

  return device;
}

/* Each call gets a fresh DTLS certificate, as webrtcbin makes one per process. */
static void
device_new_certificate (Device *device)
{
  randombytes_buf (device->cert, sizeof device->cert);
}

static void
device_free (Device *device)
{
  g_assert_finalize_object (device->identity);
  g_assert_finalize_object (device->trust);
  g_free (device->profile);
  g_free (device->device_id);
  g_free (device->user);
  g_free (device);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Device, device_free)

static char *
make_sdp (const guint8 cert[ES_SAS_HASH_LEN])
{
  g_autofree char *fp = es_sas_format_fingerprint (cert);

  return g_strdup_printf ("v=0\r\n"
                          "o=- 1 0 IN IP4 0.0.0.0\r\n"
                          "s=-\r\n"
                          "t=0 0\r\n"
                          "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\n"
                          "a=fingerprint:sha-256 %s\r\n"
                          "a=setup:actpass\r\n", fp);
}

static void
assert_state (EsVerification      *v,
              EsVerificationState  state)
{
  g_assert_cmpint (es_verification_get_state (v), ==, state);
}

/* An honest call between offerer @o and answerer @a, with no one in the middle. Returns the
 * two verifications in the state the reveals left them. */
static void
run_honest_call (Device          *o,
                 Device          *a,
                 EsVerification **out_vo,
                 EsVerification **out_va)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EsVerification) vo = NULL;
  g_autoptr(EsVerification) va = NULL;
  g_autofree char *commit_o = NULL;
  g_autofree char *commit_a = NULL;
  g_autofree char *sdp_o = make_sdp (o->cert);
  g_autofree char *sdp_a = make_sdp (a->cert);
  g_autofree char *reveal_o = NULL;
  g_autofree char *reveal_a = NULL;

  vo = es_verification_new (ES_SAS_ROLE_OFFERER, o->identity, o->trust, a->device_id, a->user);
  va = es_verification_new (ES_SAS_ROLE_ANSWERER, a->identity, a->trust, o->device_id, o->user);

  /* Offer: SDP and commit_O. */
  g_assert_true (es_verification_set_local_fingerprint (vo, o->cert, &error));
  g_assert_no_error (error);
  commit_o = es_verification_dup_commitment_b64 (vo);
  g_assert_false (es_verification_can_reveal (vo));

  /* Answer: SDP and commit_A. */
  g_assert_true (es_verification_set_remote_sdp (va, sdp_o, &error));
  g_assert_no_error (error);
  g_assert_true (es_verification_set_peer_commitment_b64 (va, commit_o, &error));
  g_assert_no_error (error);
  g_assert_true (es_verification_set_local_fingerprint (va, a->cert, &error));
  g_assert_no_error (error);
  commit_a = es_verification_dup_commitment_b64 (va);

  g_assert_true (es_verification_set_remote_sdp (vo, sdp_a, &error));
  g_assert_no_error (error);
  g_assert_true (es_verification_set_peer_commitment_b64 (vo, commit_a, &error));
  g_assert_no_error (error);

  /* Nothing may be revealed before DTLS shows the certificates. */
  g_assert_false (es_verification_can_reveal (vo));
  g_assert_null (es_verification_dup_reveal_json (vo, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* DTLS. */
  g_assert_true (es_verification_set_certificates (vo, o->cert, a->cert, &error));
  g_assert_no_error (error);
  g_assert_true (es_verification_set_certificates (va, a->cert, o->cert, &error));
  g_assert_no_error (error);
  assert_state (vo, ES_VERIFICATION_STATE_WAITING);
  assert_state (va, ES_VERIFICATION_STATE_WAITING);
  g_assert_null (es_verification_get_sas (vo));

  /* Reveals over the data channel. */
  g_assert_true (es_verification_can_reveal (vo));
  g_assert_true (es_verification_can_reveal (va));
  reveal_o = es_verification_dup_reveal_json (vo, &error);
  g_assert_no_error (error);
  reveal_a = es_verification_dup_reveal_json (va, &error);
  g_assert_no_error (error);

  g_assert_true (es_verification_receive_reveal_json (vo, reveal_a, &error));
  g_assert_no_error (error);
  g_assert_true (es_verification_receive_reveal_json (va, reveal_o, &error));
  g_assert_no_error (error);

  *out_vo = g_steal_pointer (&vo);
  *out_va = g_steal_pointer (&va);
}

static void
assert_same_sas (EsVerification *x,
                 EsVerification *y)
{
  g_assert_nonnull (es_verification_get_sas (x));
  g_assert_nonnull (es_verification_get_sas (y));
  g_assert_cmpmem (es_verification_get_sas (x), ES_SAS_N_INDICES,
                   es_verification_get_sas (y), ES_SAS_N_INDICES);
}

static void
notify_count_cb (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    user_data)
{
  (*(guint *) user_data)++;
}

/* Identity */

static void
test_identity_file (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *profile = g_build_filename (fixture->dir, "me", NULL);
  g_autofree char *path = g_build_filename (profile, ES_IDENTITY_FILE_NAME, NULL);
  g_autoptr(EsIdentity) first = NULL;
  g_autoptr(EsIdentity) second = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  guint8 sig[ES_IDENTITY_SIG_LEN];
  struct stat st;
  mode_t old_umask;

  /* With no umask to lean on, only the open() mode can make the file private. */
  old_umask = umask (0);
  first = es_identity_load_or_create (profile, &error);
  umask (old_umask);
  g_assert_no_error (error);
  g_assert_cmpstr (es_identity_get_path (first), ==, path);

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (g_stat (profile, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);

  /* No temporary file is left behind. */
  {
    g_autoptr(GDir) dir = g_dir_open (profile, 0, NULL);
    const char *name;

    while ((name = g_dir_read_name (dir)))
      g_assert_cmpstr (name, ==, ES_IDENTITY_FILE_NAME);
  }

  second = es_identity_load_or_create (profile, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (es_identity_get_public_key (first), 32,
                   es_identity_get_public_key (second), 32);

  es_identity_sign (first, (const guint8 *) "hello", 5, sig);
  g_assert_true (es_identity_verify (es_identity_get_public_key (second),
                                     (const guint8 *) "hello", 5, sig));
  g_assert_false (es_identity_verify (es_identity_get_public_key (second),
                                      (const guint8 *) "hellO", 5, sig));
  sig[0] ^= 1;
  g_assert_false (es_identity_verify (es_identity_get_public_key (second),
                                      (const guint8 *) "hello", 5, sig));

  {
    g_autofree char *fp = es_identity_dup_fingerprint (first);

    g_assert_cmpuint (strlen (fp), ==, 39);
    g_assert_true (g_regex_match_simple ("^([0-9A-F]{4} ){7}[0-9A-F]{4}$", fp, 0, 0));
  }

  /* A file others can read is refused, not used. */
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);
  g_assert_null (es_identity_load_or_create (profile, &error));
  g_assert_error (error, ES_STORE_ERROR, ES_STORE_ERROR_OPEN);
  g_clear_error (&error);
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);

  /* A damaged file is an error and stays as it was: never a new identity in its place. */
  g_file_get_contents (path, &before, NULL, &error);
  g_assert_no_error (error);
  {
    g_autofree char *damaged = g_strdup (before);
    int fd;

    damaged[25] = damaged[25] == 'A' ? 'B' : 'A';
    damaged[strlen (damaged) - 2] = '*';
    fd = g_open (path, O_WRONLY | O_TRUNC, 0);
    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (write (fd, damaged, strlen (damaged)), ==, (gssize) strlen (damaged));
    close (fd);

    g_assert_null (es_identity_load_or_create (profile, &error));
    g_assert_error (error, ES_STORE_ERROR, ES_STORE_ERROR_CORRUPT);
    g_clear_error (&error);
    g_file_get_contents (path, &after, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (after, ==, damaged);
  }

  g_assert_finalize_object (g_steal_pointer (&first));
  g_assert_finalize_object (g_steal_pointer (&second));
}

static gboolean
log_contains_raw (const guint8 *bytes,
                  gsize         len)
{
  for (gsize i = 0; i + len <= captured_log->len; i++)
    {
      if (memcmp (captured_log->str + i, bytes, len) == 0)
        return TRUE;
    }

  return FALSE;
}

static gboolean
log_contains_bytes (const guint8 *bytes,
                    gsize         len)
{
  g_autofree char *hex = g_malloc (len * 2 + 1);
  g_autofree char *upper = NULL;
  g_autofree char *b64 = g_base64_encode (bytes, len);
  g_autofree char *b64_start = NULL;
  g_autofree char *b64url_start = NULL;

  sodium_bin2hex (hex, len * 2 + 1, bytes, len);
  upper = g_ascii_strup (hex, -1);
  /* The first 16 characters are enough to recognise a leak, whatever the padding. */
  b64_start = g_strndup (b64, 16);
  b64url_start = g_strdup (b64_start);
  g_strdelimit (b64url_start, "+", '-');
  g_strdelimit (b64url_start, "/", '_');

  return strstr (captured_log->str, hex) != NULL ||
         strstr (captured_log->str, upper) != NULL ||
         strstr (captured_log->str, b64_start) != NULL ||
         strstr (captured_log->str, b64url_start) != NULL ||
         log_contains_raw (bytes, len);
}

/* Everything an identity goes through, with every log level captured: its secret must never
 * show, in any encoding. */
static void
test_identity_secret_not_logged (Fixture       *fixture,
                                 gconstpointer  user_data)
{
  g_autoptr(Device) alice = NULL;
  g_autoptr(Device) bob = NULL;
  g_autoptr(EsVerification) vo = NULL;
  g_autoptr(EsVerification) va = NULL;
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  guint8 seed[32];
  guint8 pk[crypto_sign_PUBLICKEYBYTES];
  guint8 sk[crypto_sign_SECRETKEYBYTES];

  g_string_truncate (captured_log, 0);

  alice = device_new (fixture, "alice", "alice-laptop");
  bob = device_new (fixture, "bob", "bob-phone");
  run_honest_call (alice, bob, &vo, &va);
  g_assert_true (es_verification_user_confirms_match (vo, &error));
  g_assert_no_error (error);
  g_clear_object (&vo);
  g_clear_object (&va);

  /* Load again, sign, verify, call again. */
  g_clear_object (&alice->identity);
  alice->identity = es_identity_load_or_create (alice->profile, &error);
  g_assert_no_error (error);
  device_new_certificate (alice);
  run_honest_call (alice, bob, &vo, &va);

  /* The capture works: the state machine and the identity creation said something. */
  g_assert_nonnull (strstr (captured_log->str, "Created a new identity"));
  g_assert_nonnull (strstr (captured_log->str, "comparing"));

  /* Recover the secret from the file, the only place it may be. */
  path = g_build_filename (alice->profile, ES_IDENTITY_FILE_NAME, NULL);
  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (contents, "earshot-identity-v1\n"));
  {
    gsize len = 0;
    g_autofree guchar *decoded = g_base64_decode (contents + strlen ("earshot-identity-v1\n"),
                                                  &len);

    g_assert_cmpuint (len, ==, 32);
    memcpy (seed, decoded, 32);
    sodium_memzero (decoded, len);
  }
  crypto_sign_seed_keypair (pk, sk, seed);
  g_assert_cmpmem (pk, sizeof pk, es_identity_get_public_key (alice->identity), 32);

  g_assert_false (log_contains_bytes (seed, sizeof seed));
  g_assert_false (log_contains_bytes (sk, sizeof sk));
  /* The part of sk that is not the public key. */
  g_assert_false (log_contains_bytes (sk, 32));

  sodium_memzero (seed, sizeof seed);
  sodium_memzero (sk, sizeof sk);
}

/* Trust store */

static void
test_trust_store (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *profile = g_build_filename (fixture->dir, "me", NULL);
  g_autofree char *path = g_build_filename (profile, ES_TRUST_STORE_FILE_NAME, NULL);
  g_autoptr(EsTrustStore) store = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(EsPeerKey) row = NULL;
  guint8 key1[32], key2[32];
  EsTrustStatus status;
  struct stat st;
  gint64 first_seen;
  mode_t old_umask;

  memset (key1, 0x11, 32);
  memset (key2, 0x22, 32);

  old_umask = umask (0);
  store = es_trust_store_new (profile, &error);
  umask (old_umask);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);

  g_assert_true (es_trust_store_lookup (store, "bob-phone", "bob", key1, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, ES_TRUST_STATUS_UNKNOWN);
  g_assert_null (es_trust_store_get (store, "bob-phone", &error));
  g_assert_no_error (error);

  g_assert_true (es_trust_store_record_seen (store, "bob-phone", "bob", key1, &error));
  g_assert_no_error (error);
  g_assert_true (es_trust_store_lookup (store, "bob-phone", "bob", key1, &status, NULL));
  g_assert_cmpint (status, ==, ES_TRUST_STATUS_KNOWN_UNVERIFIED);
  row = es_trust_store_get (store, "bob-phone", &error);
  g_assert_no_error (error);
  g_assert_nonnull (row);
  g_assert_cmpstr (row->user, ==, "bob");
  g_assert_false (row->verified);
  g_assert_cmpint (row->first_seen, >, 0);
  g_assert_cmpint (row->last_seen, ==, row->first_seen);
  first_seen = row->first_seen;
  g_clear_pointer (&row, es_peer_key_free);

  /* A different key or a different user for the same device is a change. */
  g_assert_true (es_trust_store_lookup (store, "bob-phone", "bob", key2, &status, NULL));
  g_assert_cmpint (status, ==, ES_TRUST_STATUS_KEY_CHANGED);
  g_assert_true (es_trust_store_lookup (store, "bob-phone", "mallory", key1, &status, NULL));
  g_assert_cmpint (status, ==, ES_TRUST_STATUS_KEY_CHANGED);

  g_usleep (2000);
  g_assert_true (es_trust_store_mark_verified (store, "bob-phone", "bob", key1, &error));
  g_assert_no_error (error);
  g_assert_true (es_trust_store_lookup (store, "bob-phone", "bob", key1, &status, NULL));
  g_assert_cmpint (status, ==, ES_TRUST_STATUS_KNOWN_VERIFIED);
  row = es_trust_store_get (store, "bob-phone", NULL);
  g_assert_true (row->verified);
  g_assert_cmpint (row->first_seen, ==, first_seen);
  g_assert_cmpint (row->last_seen, >, first_seen);
  g_clear_pointer (&row, es_peer_key_free);

  /* Seeing another key does not overwrite a verified one: the warning stays. */
  g_assert_true (es_trust_store_record_seen (store, "bob-phone", "bob", key2, &error));
  g_assert_no_error (error);
  g_assert_true (es_trust_store_lookup (store, "bob-phone", "bob", key2, &status, NULL));
  g_assert_cmpint (status, ==, ES_TRUST_STATUS_KEY_CHANGED);
  g_assert_true (es_trust_store_lookup (store, "bob-phone", "bob", key1, &status, NULL));
  g_assert_cmpint (status, ==, ES_TRUST_STATUS_KNOWN_VERIFIED);

  /* An unverified key is replaced by the next one seen. */
  g_assert_true (es_trust_store_record_seen (store, "carol-pc", "carol", key1, NULL));
  g_assert_true (es_trust_store_record_seen (store, "carol-pc", "carol", key2, NULL));
  g_assert_true (es_trust_store_lookup (store, "carol-pc", "carol", key2, &status, NULL));
  g_assert_cmpint (status, ==, ES_TRUST_STATUS_KNOWN_UNVERIFIED);

  /* Verifying a new key replaces the old one. */
  g_assert_true (es_trust_store_mark_verified (store, "bob-phone", "bob", key2, NULL));
  g_assert_true (es_trust_store_lookup (store, "bob-phone", "bob", key2, &status, NULL));
  g_assert_cmpint (status, ==, ES_TRUST_STATUS_KNOWN_VERIFIED);
  g_assert_true (es_trust_store_lookup (store, "bob-phone", "bob", key1, &status, NULL));
  g_assert_cmpint (status, ==, ES_TRUST_STATUS_KEY_CHANGED);

  /* It persists. */
  g_assert_finalize_object (g_steal_pointer (&store));
  store = es_trust_store_new (profile, &error);
  g_assert_no_error (error);
  list = es_trust_store_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  {
    EsPeerKey *bob = g_ptr_array_index (list, 0);
    EsPeerKey *carol = g_ptr_array_index (list, 1);

    g_assert_cmpstr (bob->device_id, ==, "bob-phone");
    g_assert_true (bob->verified);
    g_assert_cmpmem (bob->public_key, 32, key2, 32);
    g_assert_cmpstr (carol->device_id, ==, "carol-pc");
    g_assert_false (carol->verified);
  }

  g_assert_true (es_trust_store_forget (store, "carol-pc", &error));
  g_assert_no_error (error);
  g_assert_true (es_trust_store_lookup (store, "carol-pc", "carol", key2, &status, NULL));
  g_assert_cmpint (status, ==, ES_TRUST_STATUS_UNKNOWN);

  g_assert_finalize_object (g_steal_pointer (&store));
}

/* The state machine */

static void
test_honest (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(Device) alice = device_new (fixture, "alice", "alice-laptop");
  g_autoptr(Device) bob = device_new (fixture, "bob", "bob-phone");
  g_autoptr(EsVerification) vo = NULL;
  g_autoptr(EsVerification) va = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(EsPeerKey) row = NULL;
  guint notifies_o = 0;

  run_honest_call (alice, bob, &vo, &va);
  assert_state (vo, ES_VERIFICATION_STATE_COMPARING);
  assert_state (va, ES_VERIFICATION_STATE_COMPARING);
  assert_same_sas (vo, va);
  g_assert_cmpint (es_verification_get_trust_status (vo), ==, ES_TRUST_STATUS_UNKNOWN);
  g_assert_null (es_verification_get_failure_reason (vo));
  g_assert_cmpmem (es_verification_get_peer_identity_key (vo), 32,
                   es_identity_get_public_key (bob->identity), 32);

  for (guint i = 0; i < ES_SAS_N_INDICES; i++)
    g_assert_cmpuint (es_verification_get_sas (vo)[i], <, 64);

  /* Seen, not yet verified. */
  row = es_trust_store_get (alice->trust, "bob-phone", NULL);
  g_assert_nonnull (row);
  g_assert_false (row->verified);
  g_clear_pointer (&row, es_peer_key_free);

  g_signal_connect (vo, "notify::state", G_CALLBACK (notify_count_cb), &notifies_o);
  g_assert_true (es_verification_user_confirms_match (vo, &error));
  g_assert_no_error (error);
  g_assert_true (es_verification_user_confirms_match (va, &error));
  g_assert_no_error (error);
  assert_state (vo, ES_VERIFICATION_STATE_VERIFIED);
  assert_state (va, ES_VERIFICATION_STATE_VERIFIED);
  g_assert_cmpuint (notifies_o, ==, 1);
  /* Confirming again is no change. */
  g_assert_true (es_verification_user_confirms_match (vo, NULL));
  g_assert_cmpuint (notifies_o, ==, 1);

  row = es_trust_store_get (alice->trust, "bob-phone", NULL);
  g_assert_true (row->verified);
  g_assert_cmpmem (row->public_key, 32, es_identity_get_public_key (bob->identity), 32);
  g_clear_pointer (&row, es_peer_key_free);
  row = es_trust_store_get (bob->trust, "alice-laptop", NULL);
  g_assert_true (row->verified);
  g_clear_pointer (&row, es_peer_key_free);

  g_assert_finalize_object (g_steal_pointer (&vo));
  g_assert_finalize_object (g_steal_pointer (&va));

  /* Next call, same keys, new certificates and nonces: verified at once, both ways, and the
   * roles may be swapped. */
  device_new_certificate (alice);
  device_new_certificate (bob);
  run_honest_call (bob, alice, &vo, &va);
  assert_state (vo, ES_VERIFICATION_STATE_VERIFIED);
  assert_state (va, ES_VERIFICATION_STATE_VERIFIED);
  g_assert_cmpint (es_verification_get_trust_status (vo), ==, ES_TRUST_STATUS_KNOWN_VERIFIED);
  assert_same_sas (vo, va);
  g_assert_finalize_object (g_steal_pointer (&vo));
  g_assert_finalize_object (g_steal_pointer (&va));

  /* Bob's device gets a new identity key (reinstalled, or someone else): loud. */
  {
    g_autofree char *key_path = g_build_filename (bob->profile, ES_IDENTITY_FILE_NAME, NULL);

    g_assert_cmpint (g_unlink (key_path), ==, 0);
    g_assert_finalize_object (g_steal_pointer (&bob->identity));
    bob->identity = es_identity_load_or_create (bob->profile, &error);
    g_assert_no_error (error);
  }
  device_new_certificate (alice);
  device_new_certificate (bob);
  run_honest_call (alice, bob, &vo, &va);
  assert_state (vo, ES_VERIFICATION_STATE_KEY_CHANGED);
  g_assert_cmpint (es_verification_get_trust_status (vo), ==, ES_TRUST_STATUS_KEY_CHANGED);
  /* Bob still has Alice's old, verified key. */
  assert_state (va, ES_VERIFICATION_STATE_VERIFIED);
  /* The emoji are there to compare again after the warning. */
  assert_same_sas (vo, va);
  g_assert_true (es_verification_user_confirms_match (vo, &error));
  g_assert_no_error (error);
  assert_state (vo, ES_VERIFICATION_STATE_VERIFIED);
  g_assert_finalize_object (g_steal_pointer (&vo));
  g_assert_finalize_object (g_steal_pointer (&va));

  /* And the new key is the verified one from now on. */
  device_new_certificate (alice);
  device_new_certificate (bob);
  run_honest_call (alice, bob, &vo, &va);
  assert_state (vo, ES_VERIFICATION_STATE_VERIFIED);
  assert_state (va, ES_VERIFICATION_STATE_VERIFIED);
  g_assert_finalize_object (g_steal_pointer (&vo));
  g_assert_finalize_object (g_steal_pointer (&va));
}

static void
test_key_changed_unconfirmed (Fixture       *fixture,
                              gconstpointer  user_data)
{
  g_autoptr(Device) alice = device_new (fixture, "alice", "alice-laptop");
  g_autoptr(Device) bob = device_new (fixture, "bob", "bob-phone");
  g_autoptr(EsVerification) vo = NULL;
  g_autoptr(EsVerification) va = NULL;
  g_autoptr(GError) error = NULL;

  run_honest_call (alice, bob, &vo, &va);
  g_assert_true (es_verification_user_confirms_match (vo, NULL));
  g_clear_object (&vo);
  g_clear_object (&va);

  g_assert_finalize_object (g_steal_pointer (&bob->identity));
  bob->identity = es_identity_new_ephemeral ();

  /* Without a confirmation, every call with the new key warns again. */
  for (guint i = 0; i < 2; i++)
    {
      device_new_certificate (alice);
      device_new_certificate (bob);
      run_honest_call (alice, bob, &vo, &va);
      assert_state (vo, ES_VERIFICATION_STATE_KEY_CHANGED);
      g_clear_object (&vo);
      g_clear_object (&va);
    }

  /* "They don't match" after the warning ends it. */
  device_new_certificate (alice);
  run_honest_call (alice, bob, &vo, &va);
  g_assert_true (es_verification_user_denies_match (vo, &error));
  g_assert_no_error (error);
  assert_state (vo, ES_VERIFICATION_STATE_MISMATCH);
  g_assert_false (es_verification_user_confirms_match (vo, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE);
}

static void
test_deny (Fixture       *fixture,
           gconstpointer  user_data)
{
  g_autoptr(Device) alice = device_new (fixture, "alice", "alice-laptop");
  g_autoptr(Device) bob = device_new (fixture, "bob", "bob-phone");
  g_autoptr(EsVerification) vo = NULL;
  g_autoptr(EsVerification) va = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(EsPeerKey) row = NULL;
  guint reason_notifies = 0;

  run_honest_call (alice, bob, &vo, &va);
  g_signal_connect (vo, "notify::failure-reason", G_CALLBACK (notify_count_cb),
                    &reason_notifies);
  g_assert_true (es_verification_user_denies_match (vo, &error));
  g_assert_no_error (error);
  assert_state (vo, ES_VERIFICATION_STATE_MISMATCH);
  g_assert_cmpstr (es_verification_get_failure_reason (vo), ==,
                   "The emoji did not match: someone may be intercepting this call");
  g_assert_cmpuint (reason_notifies, ==, 1);

  row = es_trust_store_get (alice->trust, "bob-phone", NULL);
  g_assert_false (row->verified);

  /* Ended: nothing more happens. */
  g_assert_null (es_verification_dup_reveal_json (vo, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (es_verification_user_confirms_match (vo, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE);
}

static void
test_fingerprint_mismatch (Fixture       *fixture,
                           gconstpointer  user_data)
{
  g_autoptr(Device) alice = device_new (fixture, "alice", "alice-laptop");
  g_autoptr(Device) bob = device_new (fixture, "bob", "bob-phone");
  g_autoptr(EsVerification) vo = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sdp_b = make_sdp (bob->cert);
  guint8 other_cert[32];
  guint8 commit[32] = { 0 };
  g_autofree char *commit_b64 = es_sas_encode_b64 (commit, sizeof commit);

  randombytes_buf (other_cert, sizeof other_cert);

  vo = es_verification_new (ES_SAS_ROLE_OFFERER, alice->identity, alice->trust, "bob-phone",
                            "bob");
  g_assert_true (es_verification_set_local_fingerprint (vo, alice->cert, NULL));
  g_free (es_verification_dup_commitment_b64 (vo));
  g_assert_true (es_verification_set_remote_sdp (vo, sdp_b, NULL));
  g_assert_true (es_verification_set_peer_commitment_b64 (vo, commit_b64, NULL));

  /* DTLS shows a certificate that is not the one Bob's SDP announced. */
  g_assert_false (es_verification_set_certificates (vo, alice->cert, other_cert, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_FINGERPRINT_MISMATCH);
  g_clear_error (&error);
  assert_state (vo, ES_VERIFICATION_STATE_FAILED);
  g_assert_cmpstr (es_verification_get_failure_reason (vo), ==,
                   "The peer's certificate does not match the fingerprint it announced: "
                   "someone may be intercepting this call");

  /* Nothing is revealed over such a connection. */
  g_assert_false (es_verification_can_reveal (vo));
  g_assert_null (es_verification_dup_reveal_json (vo, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_null (es_verification_get_sas (vo));
  g_assert_finalize_object (g_steal_pointer (&vo));

  /* The same, with the certificates in before the SDP. */
  vo = es_verification_new (ES_SAS_ROLE_OFFERER, alice->identity, NULL, "bob-phone", "bob");
  g_assert_true (es_verification_set_certificates (vo, alice->cert, other_cert, NULL));
  g_assert_false (es_verification_set_remote_sdp (vo, sdp_b, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_FINGERPRINT_MISMATCH);
  assert_state (vo, ES_VERIFICATION_STATE_FAILED);
}

/* Bob commits to one certificate and then shows another; the fingerprint in the SDP
 * agrees with the late one. The commitment no longer opens. */
static void
test_late_certificate_change (Fixture       *fixture,
                              gconstpointer  user_data)
{
  g_autoptr(Device) alice = device_new (fixture, "alice", "alice-laptop");
  g_autoptr(Device) bob = device_new (fixture, "bob", "bob-phone");
  g_autoptr(EsVerification) vo = NULL;
  g_autoptr(EsVerification) va = NULL;
  g_autoptr(GError) error = NULL;
  guint8 late_cert[32];
  g_autofree char *late_sdp = NULL;
  g_autofree char *commit_o = NULL;
  g_autofree char *commit_a = NULL;
  g_autofree char *reveal_o = NULL;
  g_autofree char *reveal_a = NULL;
  g_autofree char *sdp_o = make_sdp (alice->cert);

  randombytes_buf (late_cert, sizeof late_cert);
  late_sdp = make_sdp (late_cert);

  vo = es_verification_new (ES_SAS_ROLE_OFFERER, alice->identity, alice->trust, "bob-phone",
                            "bob");
  va = es_verification_new (ES_SAS_ROLE_ANSWERER, bob->identity, bob->trust, "alice-laptop",
                            "alice");
  g_assert_true (es_verification_set_local_fingerprint (vo, alice->cert, NULL));
  commit_o = es_verification_dup_commitment_b64 (vo);
  g_assert_true (es_verification_set_remote_sdp (va, sdp_o, NULL));
  g_assert_true (es_verification_set_peer_commitment_b64 (va, commit_o, NULL));
  g_assert_true (es_verification_set_local_fingerprint (va, bob->cert, NULL));
  commit_a = es_verification_dup_commitment_b64 (va);
  /* Once handed out, our fingerprint is fixed. */
  g_assert_false (es_verification_set_local_fingerprint (va, late_cert, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE);
  g_clear_error (&error);

  g_assert_true (es_verification_set_peer_commitment_b64 (vo, commit_a, NULL));
  g_assert_true (es_verification_set_remote_sdp (vo, late_sdp, NULL));
  g_assert_true (es_verification_set_certificates (vo, alice->cert, late_cert, &error));
  g_assert_no_error (error);
  g_assert_true (es_verification_set_certificates (va, bob->cert, alice->cert, NULL));

  reveal_o = es_verification_dup_reveal_json (vo, NULL);
  reveal_a = es_verification_dup_reveal_json (va, NULL);
  g_assert_nonnull (reveal_o);
  g_assert_nonnull (reveal_a);

  g_assert_false (es_verification_receive_reveal_json (vo, reveal_a, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_COMMITMENT);
  g_clear_error (&error);
  assert_state (vo, ES_VERIFICATION_STATE_FAILED);
  g_assert_nonnull (strstr (es_verification_get_failure_reason (vo),
                            "someone may be intercepting this call"));
  g_assert_null (es_verification_get_sas (vo));

  /* Alice signed the certificate she saw, which is not the one Bob committed to and used:
   * Bob rejects her signature too. */
  g_assert_false (es_verification_receive_reveal_json (va, reveal_o, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_SIGNATURE);
  assert_state (va, ES_VERIFICATION_STATE_FAILED);
}

typedef struct
{
  EsVerification *left;  /* M's verification on the leg with Alice (M answers) */
  EsVerification *right; /* M's verification on the leg with Bob (M offers) */
  guint8          cert_left[32];
  guint8          cert_right[32];
} Middleman;

/* Alice (offerer) — M — Bob (answerer). M terminates DTLS on both legs with its own
 * certificates and rewrites the SDP fingerprints to match them, so Alice's and Bob's
 * fingerprint checks pass. If @relay_bob is set, M answers Alice only after learning Bob's
 * nonce, commits to it over its own certificate, and relays Bob's reveal: Bob's identity key
 * and signature, hoping Alice's trust in Bob carries over. */
static void
run_middleman (Device          *alice,
               Device          *bob,
               EsIdentity      *mallory,
               gboolean         relay_bob,
               EsVerification **out_alice,
               EsVerification **out_bob,
               Middleman       *m,
               GError         **out_alice_error)
{
  g_autoptr(EsVerification) va = NULL;
  g_autoptr(EsVerification) vb = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sdp_alice = make_sdp (alice->cert);
  g_autofree char *sdp_bob = make_sdp (bob->cert);
  g_autofree char *sdp_m_left = NULL;
  g_autofree char *sdp_m_right = NULL;
  g_autofree char *commit_alice = NULL;
  g_autofree char *commit_m_right = NULL;
  g_autofree char *commit_bob = NULL;
  g_autofree char *commit_m_left = NULL;
  g_autofree char *reveal_m_right = NULL;
  g_autofree char *reveal_bob = NULL;
  g_autofree char *reveal_alice = NULL;
  g_autofree char *reveal_m_left = NULL;

  randombytes_buf (m->cert_left, 32);
  randombytes_buf (m->cert_right, 32);
  sdp_m_left = make_sdp (m->cert_left);
  sdp_m_right = make_sdp (m->cert_right);

  va = es_verification_new (ES_SAS_ROLE_OFFERER, alice->identity, alice->trust, bob->device_id,
                            bob->user);
  vb = es_verification_new (ES_SAS_ROLE_ANSWERER, bob->identity, bob->trust, alice->device_id,
                            alice->user);
  m->left = es_verification_new (ES_SAS_ROLE_ANSWERER, mallory, NULL, alice->device_id,
                                 alice->user);
  m->right = es_verification_new (ES_SAS_ROLE_OFFERER, mallory, NULL, bob->device_id,
                                  bob->user);

  /* Alice offers; M takes it and offers Bob on its own. */
  g_assert_true (es_verification_set_local_fingerprint (va, alice->cert, NULL));
  commit_alice = es_verification_dup_commitment_b64 (va);
  g_assert_true (es_verification_set_remote_sdp (m->left, sdp_alice, NULL));
  g_assert_true (es_verification_set_peer_commitment_b64 (m->left, commit_alice, NULL));
  g_assert_true (es_verification_set_local_fingerprint (m->right, m->cert_right, NULL));
  commit_m_right = es_verification_dup_commitment_b64 (m->right);

  /* Leg 2 runs to the end first: Bob answers, DTLS, reveals. */
  g_assert_true (es_verification_set_remote_sdp (vb, sdp_m_right, NULL));
  g_assert_true (es_verification_set_peer_commitment_b64 (vb, commit_m_right, NULL));
  g_assert_true (es_verification_set_local_fingerprint (vb, bob->cert, NULL));
  commit_bob = es_verification_dup_commitment_b64 (vb);
  g_assert_true (es_verification_set_remote_sdp (m->right, sdp_bob, NULL));
  g_assert_true (es_verification_set_peer_commitment_b64 (m->right, commit_bob, NULL));
  g_assert_true (es_verification_set_certificates (vb, bob->cert, m->cert_right, NULL));
  g_assert_true (es_verification_set_certificates (m->right, m->cert_right, bob->cert, NULL));
  reveal_m_right = es_verification_dup_reveal_json (m->right, NULL);
  reveal_bob = es_verification_dup_reveal_json (vb, NULL);
  g_assert_true (es_verification_receive_reveal_json (vb, reveal_m_right, &error));
  g_assert_no_error (error);
  g_assert_true (es_verification_receive_reveal_json (m->right, reveal_bob, &error));
  g_assert_no_error (error);

  /* Leg 1: M answers Alice. */
  if (relay_bob)
    {
      EsVerificationReveal bob_reveal;
      guint8 forged[32];

      g_assert_true (es_verification_reveal_parse (reveal_bob, &bob_reveal, NULL));
      es_sas_commit (ES_SAS_ROLE_ANSWERER, bob_reveal.nonce, m->cert_left, forged);
      commit_m_left = es_sas_encode_b64 (forged, sizeof forged);
    }
  else
    {
      g_assert_true (es_verification_set_local_fingerprint (m->left, m->cert_left, NULL));
      commit_m_left = es_verification_dup_commitment_b64 (m->left);
    }

  g_assert_true (es_verification_set_remote_sdp (va, sdp_m_left, NULL));
  g_assert_true (es_verification_set_peer_commitment_b64 (va, commit_m_left, NULL));
  g_assert_true (es_verification_set_certificates (va, alice->cert, m->cert_left, NULL));
  reveal_alice = es_verification_dup_reveal_json (va, NULL);
  g_assert_nonnull (reveal_alice);

  if (relay_bob)
    {
      es_verification_receive_reveal_json (va, reveal_bob, out_alice_error);
    }
  else
    {
      g_assert_true (es_verification_set_certificates (m->left, m->cert_left, alice->cert,
                                                       NULL));
      g_assert_true (es_verification_receive_reveal_json (m->left, reveal_alice, NULL));
      reveal_m_left = es_verification_dup_reveal_json (m->left, NULL);
      es_verification_receive_reveal_json (va, reveal_m_left, out_alice_error);
    }

  *out_alice = g_steal_pointer (&va);
  *out_bob = g_steal_pointer (&vb);
}

static void
middleman_clear (Middleman *m)
{
  g_clear_object (&m->left);
  g_clear_object (&m->right);
}

static void
test_middleman (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(Device) alice = device_new (fixture, "alice", "alice-laptop");
  g_autoptr(Device) bob = device_new (fixture, "bob", "bob-phone");
  g_autoptr(EsIdentity) mallory = es_identity_new_ephemeral ();
  g_autoptr(EsVerification) va = NULL;
  g_autoptr(EsVerification) vb = NULL;
  g_autoptr(GError) error = NULL;
  Middleman m = { 0 };

  /* With its own identity on both legs, M passes every check but cannot make the emoji of
   * the two legs agree. */
  run_middleman (alice, bob, mallory, FALSE, &va, &vb, &m, &error);
  g_assert_no_error (error);
  assert_state (va, ES_VERIFICATION_STATE_COMPARING);
  assert_state (vb, ES_VERIFICATION_STATE_COMPARING);
  assert_state (m.left, ES_VERIFICATION_STATE_COMPARING);
  assert_state (m.right, ES_VERIFICATION_STATE_COMPARING);
  assert_same_sas (va, m.left);
  assert_same_sas (vb, m.right);
  g_assert_true (memcmp (es_verification_get_sas (va), es_verification_get_sas (vb),
                         ES_SAS_N_INDICES) != 0);
  /* The users notice. */
  g_assert_true (es_verification_user_denies_match (va, NULL));
  g_assert_true (es_verification_user_denies_match (vb, NULL));
  g_clear_object (&va);
  g_clear_object (&vb);
  middleman_clear (&m);

  /* Alice and Bob verify each other on an honest call. */
  run_honest_call (alice, bob, &va, &vb);
  g_assert_true (es_verification_user_confirms_match (va, NULL));
  g_assert_true (es_verification_user_confirms_match (vb, NULL));
  g_clear_object (&va);
  g_clear_object (&vb);

  /* M with its own key: Alice is warned loudly. */
  device_new_certificate (alice);
  device_new_certificate (bob);
  run_middleman (alice, bob, mallory, FALSE, &va, &vb, &m, &error);
  g_assert_no_error (error);
  assert_state (va, ES_VERIFICATION_STATE_KEY_CHANGED);
  assert_state (vb, ES_VERIFICATION_STATE_KEY_CHANGED);
  g_assert_true (memcmp (es_verification_get_sas (va), es_verification_get_sas (vb),
                         ES_SAS_N_INDICES) != 0);
  g_clear_object (&va);
  g_clear_object (&vb);
  middleman_clear (&m);

  /* M relays Bob's reveal, with a commitment it forged after learning Bob's nonce, so that
   * Alice would see Bob's verified key. The commitment opens; Bob's signature covers the
   * other leg's certificates and commitments, so it does not verify here. */
  device_new_certificate (alice);
  device_new_certificate (bob);
  run_middleman (alice, bob, mallory, TRUE, &va, &vb, &m, &error);
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_SIGNATURE);
  g_clear_error (&error);
  assert_state (va, ES_VERIFICATION_STATE_FAILED);
  g_assert_cmpstr (es_verification_get_failure_reason (va), ==,
                   "The peer's identity signature is not valid for this connection: "
                   "someone may be intercepting this call");
  g_assert_null (es_verification_get_sas (va));
  g_clear_object (&va);
  g_clear_object (&vb);
  middleman_clear (&m);
}

/* Alice's own reveal reflected back at her, with her own commitment, does not pass. */
static void
test_reflection (Fixture       *fixture,
                 gconstpointer  user_data)
{
  g_autoptr(Device) alice = device_new (fixture, "alice", "alice-laptop");
  g_autoptr(EsVerification) vo = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sdp = make_sdp (alice->cert);
  g_autofree char *commit = NULL;
  g_autofree char *reveal = NULL;

  vo = es_verification_new (ES_SAS_ROLE_OFFERER, alice->identity, alice->trust, "bob-phone",
                            "bob");
  g_assert_true (es_verification_set_local_fingerprint (vo, alice->cert, NULL));
  commit = es_verification_dup_commitment_b64 (vo);
  g_assert_true (es_verification_set_peer_commitment_b64 (vo, commit, NULL));
  g_assert_true (es_verification_set_remote_sdp (vo, sdp, NULL));
  g_assert_true (es_verification_set_certificates (vo, alice->cert, alice->cert, NULL));
  reveal = es_verification_dup_reveal_json (vo, NULL);
  g_assert_false (es_verification_receive_reveal_json (vo, reveal, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_COMMITMENT);
  assert_state (vo, ES_VERIFICATION_STATE_FAILED);
}

/* Inputs in another order: the reveal before the certificates. */
static void
test_order (Fixture       *fixture,
            gconstpointer  user_data)
{
  g_autoptr(Device) alice = device_new (fixture, "alice", "alice-laptop");
  g_autoptr(Device) bob = device_new (fixture, "bob", "bob-phone");
  g_autoptr(EsVerification) vo = NULL;
  g_autoptr(EsVerification) va = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sdp_o = make_sdp (alice->cert);
  g_autofree char *sdp_a = make_sdp (bob->cert);
  g_autofree char *commit_o = NULL;
  g_autofree char *commit_a = NULL;
  g_autofree char *reveal_a = NULL;
  g_autofree char *reveal_o = NULL;

  vo = es_verification_new (ES_SAS_ROLE_OFFERER, alice->identity, NULL, "bob-phone", "bob");
  va = es_verification_new (ES_SAS_ROLE_ANSWERER, bob->identity, NULL, "alice-laptop",
                            "alice");
  g_assert_true (es_verification_set_local_fingerprint (vo, alice->cert, NULL));
  commit_o = es_verification_dup_commitment_b64 (vo);
  g_assert_true (es_verification_set_local_fingerprint (va, bob->cert, NULL));
  commit_a = es_verification_dup_commitment_b64 (va);

  /* Bob has everything; Alice has not even seen the answer's SDP yet. */
  g_assert_true (es_verification_set_peer_commitment_b64 (va, commit_o, NULL));
  g_assert_true (es_verification_set_remote_sdp (va, sdp_o, NULL));
  g_assert_true (es_verification_set_certificates (va, bob->cert, alice->cert, NULL));
  reveal_a = es_verification_dup_reveal_json (va, NULL);

  g_assert_true (es_verification_receive_reveal_json (vo, reveal_a, &error));
  g_assert_no_error (error);
  assert_state (vo, ES_VERIFICATION_STATE_WAITING);
  g_assert_true (es_verification_set_certificates (vo, alice->cert, bob->cert, NULL));
  assert_state (vo, ES_VERIFICATION_STATE_WAITING);
  g_assert_true (es_verification_set_peer_commitment_b64 (vo, commit_a, NULL));
  assert_state (vo, ES_VERIFICATION_STATE_WAITING);
  g_assert_true (es_verification_set_remote_sdp (vo, sdp_a, NULL));
  assert_state (vo, ES_VERIFICATION_STATE_COMPARING);

  /* The same reveal twice is harmless; the peer's commitment cannot change. */
  g_assert_true (es_verification_receive_reveal_json (vo, reveal_a, NULL));
  reveal_o = es_verification_dup_reveal_json (vo, NULL);
  g_assert_true (es_verification_receive_reveal_json (va, reveal_o, NULL));
  assert_state (va, ES_VERIFICATION_STATE_COMPARING);
  assert_same_sas (vo, va);

  g_assert_false (es_verification_set_peer_commitment_b64 (va, commit_a, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_COMMITMENT);
  assert_state (va, ES_VERIFICATION_STATE_FAILED);
}

static void
test_reveal_json (void)
{
  EsVerificationReveal reveal, parsed;
  g_autofree char *json = NULL;
  g_autofree char *nonce = NULL;
  g_autofree char *idpk = NULL;
  g_autofree char *sig = NULL;
  g_autofree char *big = NULL;
  g_autoptr(GPtrArray) bad = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < sizeof reveal.nonce; i++)
    reveal.nonce[i] = i;
  for (guint i = 0; i < sizeof reveal.idpk; i++)
    reveal.idpk[i] = 0x80 + i;
  for (guint i = 0; i < sizeof reveal.sig; i++)
    reveal.sig[i] = 0xff - i;

  json = es_verification_reveal_to_json (&reveal);
  g_assert_true (es_verification_reveal_parse (json, &parsed, NULL));
  g_assert_cmpmem (&parsed, sizeof parsed, &reveal, sizeof reveal);

  nonce = es_sas_encode_b64 (reveal.nonce, 32);
  idpk = es_sas_encode_b64 (reveal.idpk, 32);
  sig = es_sas_encode_b64 (reveal.sig, 64);

#define ADD(...) g_ptr_array_add (bad, g_strdup_printf (__VA_ARGS__))
  g_ptr_array_add (bad, g_strdup (""));
  ADD ("null");
  ADD ("[]");
  ADD ("\"verify-reveal\"");
  ADD ("{");
  ADD ("{}");
  ADD ("{\"type\":\"verify-reveal\",\"v\":1,\"nonce\":\"%s\",\"idpk\":\"%s\"}", nonce, idpk);
  ADD ("{\"type\":\"verify-reveal\",\"v\":1,\"nonce\":\"%s\",\"idpk\":\"%s\",\"sig\":\"%s\","
       "\"extra\":1}", nonce, idpk, sig);
  ADD ("{\"type\":\"accept\",\"v\":1,\"nonce\":\"%s\",\"idpk\":\"%s\",\"sig\":\"%s\"}",
       nonce, idpk, sig);
  ADD ("{\"type\":\"verify-reveal\",\"v\":2,\"nonce\":\"%s\",\"idpk\":\"%s\",\"sig\":\"%s\"}",
       nonce, idpk, sig);
  ADD ("{\"type\":\"verify-reveal\",\"v\":\"1\",\"nonce\":\"%s\",\"idpk\":\"%s\",\"sig\":\"%s\"}",
       nonce, idpk, sig);
  ADD ("{\"type\":\"verify-reveal\",\"v\":1.0,\"nonce\":\"%s\",\"idpk\":\"%s\",\"sig\":\"%s\"}",
       nonce, idpk, sig);
  ADD ("{\"type\":\"verify-reveal\",\"v\":1,\"nonce\":\"%s\",\"idpk\":\"%s\",\"sig\":\"%s\"}",
       idpk + 4, idpk, sig);
  ADD ("{\"type\":\"verify-reveal\",\"v\":1,\"nonce\":\"%s\",\"idpk\":\"%s\",\"sig\":\"%s\"}",
       nonce, sig, sig);
  ADD ("{\"type\":\"verify-reveal\",\"v\":1,\"nonce\":\"%s\",\"idpk\":\"%s\",\"sig\":\"%s\"}",
       nonce, idpk, nonce);
  ADD ("{\"type\":\"verify-reveal\",\"v\":1,\"nonce\":\"%s\",\"idpk\":\"%s\",\"sig\":\" %s\"}",
       nonce, idpk, sig);
  ADD ("{\"type\":\"verify-reveal\",\"v\":1,\"nonce\":1,\"idpk\":\"%s\",\"sig\":\"%s\"}",
       idpk, sig);
  ADD ("{\"type\":\"verify-reveal\",\"v\":1,\"nonce\":null,\"idpk\":\"%s\",\"sig\":\"%s\"}",
       idpk, sig);
  ADD ("{\"type\":\"verify-reveal\",\"v\":1,\"nonce\":[\"%s\"],\"idpk\":\"%s\",\"sig\":\"%s\"}",
       nonce, idpk, sig);
  ADD ("{\"type\":null,\"v\":1,\"nonce\":\"%s\",\"idpk\":\"%s\",\"sig\":\"%s\"}",
       nonce, idpk, sig);
#undef ADD

  big = g_strnfill (ES_VERIFICATION_REVEAL_MAX_LEN + 1, ' ');
  memcpy (big, json, strlen (json));
  g_ptr_array_add (bad, g_steal_pointer (&big));

  for (guint i = 0; i < bad->len; i++)
    {
      g_autoptr(GError) error = NULL;
      const char *text = g_ptr_array_index (bad, i);

      g_test_message ("bad reveal %u: %.80s", i, text);
      g_assert_false (es_verification_reveal_parse (text, &parsed, &error));
      g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT);
    }
}

/* Garbage from the peer fails the verification with a reason; it never asserts. */
static void
test_garbage (Fixture       *fixture,
              gconstpointer  user_data)
{
  g_autoptr(Device) alice = device_new (fixture, "alice", "alice-laptop");
  g_autoptr(GError) error = NULL;
  g_autoptr(EsVerification) v = NULL;

  v = es_verification_new (ES_SAS_ROLE_ANSWERER, alice->identity, NULL, "x", "y");
  g_assert_false (es_verification_set_peer_commitment_b64 (v, "not base64 at all", &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  assert_state (v, ES_VERIFICATION_STATE_FAILED);
  g_assert_nonnull (es_verification_get_failure_reason (v));
  g_clear_object (&v);

  v = es_verification_new (ES_SAS_ROLE_ANSWERER, alice->identity, NULL, "x", "y");
  g_assert_false (es_verification_set_peer_commitment_b64 (v, NULL, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  g_clear_object (&v);

  v = es_verification_new (ES_SAS_ROLE_ANSWERER, alice->identity, NULL, "x", "y");
  g_assert_false (es_verification_set_remote_sdp (v, "v=0\r\na=fingerprint:sha-256 zz\r\n",
                                                  &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  assert_state (v, ES_VERIFICATION_STATE_FAILED);
  g_clear_object (&v);

  v = es_verification_new (ES_SAS_ROLE_ANSWERER, alice->identity, NULL, "x", "y");
  g_assert_false (es_verification_receive_reveal_json (v, "{\"type\":\"verify-reveal\"}",
                                                       &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  assert_state (v, ES_VERIFICATION_STATE_FAILED);
  g_clear_object (&v);

  v = es_verification_new (ES_SAS_ROLE_ANSWERER, alice->identity, NULL, "x", "y");
  g_assert_false (es_verification_set_certificates_pem (v, "nope", "nope", &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  g_clear_object (&v);

  /* Users cannot confirm emoji that do not exist yet. */
  v = es_verification_new (ES_SAS_ROLE_ANSWERER, alice->identity, NULL, "x", "y");
  g_assert_false (es_verification_user_confirms_match (v, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (es_verification_user_denies_match (v, &error));
  g_assert_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE);
  assert_state (v, ES_VERIFICATION_STATE_WAITING);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  captured_log = g_string_new (NULL);
  g_log_set_debug_enabled (TRUE);
  g_log_set_writer_func (capture_writer_cb, NULL, NULL);

#define ADD_TEST(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD_TEST ("/identity/file", test_identity_file);
  ADD_TEST ("/identity/secret-not-logged", test_identity_secret_not_logged);
  ADD_TEST ("/trust-store/basic", test_trust_store);
  ADD_TEST ("/verification/honest", test_honest);
  ADD_TEST ("/verification/key-changed-unconfirmed", test_key_changed_unconfirmed);
  ADD_TEST ("/verification/deny", test_deny);
  ADD_TEST ("/verification/fingerprint-mismatch", test_fingerprint_mismatch);
  ADD_TEST ("/verification/late-certificate-change", test_late_certificate_change);
  ADD_TEST ("/verification/middleman", test_middleman);
  ADD_TEST ("/verification/reflection", test_reflection);
  ADD_TEST ("/verification/order", test_order);
  ADD_TEST ("/verification/garbage", test_garbage);
  g_test_add_func ("/verification/reveal-json", test_reveal_json);

#undef ADD_TEST

  return g_test_run ();
}
