/* es-identity.c: this device's long-lived Ed25519 identity key
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The key proves across calls that a peer is the device the users once verified (DESIGN.md
 * §4.5). Its secret half lives only in this object and in PROFILE_DIR/identity.key (mode
 * 0600); it is never logged, and every buffer that held it is wiped.
 *
 * The file is text: a header line and the base64 of the 32-byte Ed25519 seed.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-identity"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "es-client-store.h"
#include "es-identity.h"

#define FILE_HEADER   "earshot-identity-v1\n"
#define SEED_B64_LEN  44 /* sodium_base64_ENCODED_LEN (32, ORIGINAL) - 1 */
#define FILE_LEN      (sizeof FILE_HEADER - 1 + SEED_B64_LEN + 1)

G_STATIC_ASSERT (ES_IDENTITY_SEED_LEN == crypto_sign_SEEDBYTES);
G_STATIC_ASSERT (ES_IDENTITY_PK_LEN == crypto_sign_PUBLICKEYBYTES);
G_STATIC_ASSERT (ES_IDENTITY_SIG_LEN == crypto_sign_BYTES);
G_STATIC_ASSERT (SEED_B64_LEN + 1 ==
                 sodium_base64_ENCODED_LEN (ES_IDENTITY_SEED_LEN, sodium_base64_VARIANT_ORIGINAL));

struct _EsIdentity
{
  GObject  parent_instance;

  /* Owned */
  char    *path; /* NULL for an identity that lives only in memory */
  guint8   pk[crypto_sign_PUBLICKEYBYTES];
  guint8   sk[crypto_sign_SECRETKEYBYTES];
};

G_DEFINE_FINAL_TYPE (EsIdentity, es_identity, G_TYPE_OBJECT)

static void
es_identity_finalize (GObject *object)
{
  EsIdentity *self = (EsIdentity *) object;

  sodium_memzero (self->sk, sizeof self->sk);
  g_clear_pointer (&self->path, g_free);

  G_OBJECT_CLASS (es_identity_parent_class)->finalize (object);
}

static void
es_identity_class_init (EsIdentityClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = es_identity_finalize;
}

static void
es_identity_init (EsIdentity *self)
{
}

static void
ensure_sodium (void)
{
  if (sodium_init () < 0)
    g_error ("libsodium cannot be initialised");
}

/**
 * es_identity_new_from_seed:
 *
 * An identity that lives only in memory, derived from @seed. For tests and for peers that
 * must not leave files behind.
 */
EsIdentity *
es_identity_new_from_seed (const guint8 seed[ES_IDENTITY_SEED_LEN])
{
  EsIdentity *self;

  g_return_val_if_fail (seed != NULL, NULL);

  ensure_sodium ();
  self = g_object_new (ES_TYPE_IDENTITY, NULL);
  crypto_sign_seed_keypair (self->pk, self->sk, seed);

  return self;
}

/**
 * es_identity_new_ephemeral:
 *
 * A fresh random identity that lives only in memory.
 */
EsIdentity *
es_identity_new_ephemeral (void)
{
  EsIdentity *self;

  ensure_sodium ();
  self = g_object_new (ES_TYPE_IDENTITY, NULL);
  crypto_sign_keypair (self->pk, self->sk);

  return self;
}

static gboolean
write_all (int          fd,
           const char  *data,
           gsize        len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= n;
    }

  return TRUE;
}

static void
sync_directory (const char *dir)
{
  int fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
}

/* Writes a new seed to @path. It goes to a temporary file that is created 0600 and
 * never exists with looser permissions, and is then hard-linked into place: link()
 * refuses to replace an existing file, so two processes racing to create an identity
 * cannot overwrite each other, and a crash never leaves a half-written key behind.
 * Returns FALSE with EEXIST in @out_errno when another identity got there first. */
static gboolean
create_identity_file (const char   *dir,
                      const char   *path,
                      const guint8  seed[ES_IDENTITY_SEED_LEN],
                      int          *out_errno)
{
  char contents[FILE_LEN + 1];
  guint8 suffix[8];
  g_autofree char *suffix_hex = NULL;
  g_autofree char *tmp_path = NULL;
  int fd;
  int errsv = 0;
  gboolean ok;

  randombytes_buf (suffix, sizeof suffix);
  suffix_hex = g_malloc (sizeof suffix * 2 + 1);
  sodium_bin2hex (suffix_hex, sizeof suffix * 2 + 1, suffix, sizeof suffix);
  tmp_path = g_strdup_printf ("%s.tmp-%s", path, suffix_hex);

  fd = g_open (tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    {
      *out_errno = errno;
      return FALSE;
    }

  memcpy (contents, FILE_HEADER, strlen (FILE_HEADER));
  sodium_bin2base64 (contents + strlen (FILE_HEADER), SEED_B64_LEN + 1, seed,
                     ES_IDENTITY_SEED_LEN, sodium_base64_VARIANT_ORIGINAL);
  contents[FILE_LEN - 1] = '\n';

  ok = write_all (fd, contents, FILE_LEN) && fsync (fd) == 0;
  if (!ok)
    errsv = errno ? errno : EIO;
  sodium_memzero (contents, sizeof contents);
  if (close (fd) != 0 && ok)
    {
      ok = FALSE;
      errsv = errno;
    }

  if (ok && link (tmp_path, path) != 0)
    {
      ok = FALSE;
      errsv = errno;
    }

  g_unlink (tmp_path);
  if (ok)
    sync_directory (dir);

  *out_errno = errsv;

  return ok;
}

static gboolean
read_identity_file (const char  *path,
                    guint8       out_seed[ES_IDENTITY_SEED_LEN],
                    int         *out_errno,
                    GError     **error)
{
  char contents[FILE_LEN + 1];
  struct stat st;
  gsize got = 0;
  gsize seed_len = 0;
  const char *end = NULL;
  gboolean ok = FALSE;
  int fd;

  *out_errno = 0;
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
  if (fd < 0)
    {
      int errsv = errno;

      *out_errno = errsv;
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_OPEN,
                   "Cannot open the identity key %s: %s", path, g_strerror (errsv));
      return FALSE;
    }

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_OPEN,
                   "The identity key %s is not a regular file", path);
      goto out;
    }

  /* A key others could read may be in their hands already; like ssh, refuse it rather
   * than quietly vouch for it. */
  if ((st.st_mode & 0077) != 0)
    {
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_OPEN,
                   "The identity key %s is accessible by other users (mode %04o); "
                   "it should be 0600", path, (guint) (st.st_mode & 07777));
      goto out;
    }

  while (got < sizeof contents)
    {
      ssize_t n = read (fd, contents + got, sizeof contents - got);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;

          g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_OPEN,
                       "Cannot read the identity key %s: %s", path, g_strerror (errsv));
          goto out;
        }
      if (n == 0)
        break;
      got += n;
    }

  if (got != FILE_LEN ||
      memcmp (contents, FILE_HEADER, strlen (FILE_HEADER)) != 0 ||
      contents[FILE_LEN - 1] != '\n' ||
      sodium_base642bin (out_seed, ES_IDENTITY_SEED_LEN, contents + strlen (FILE_HEADER),
                         SEED_B64_LEN, NULL, &seed_len, &end,
                         sodium_base64_VARIANT_ORIGINAL) != 0 ||
      seed_len != ES_IDENTITY_SEED_LEN ||
      end != contents + strlen (FILE_HEADER) + SEED_B64_LEN)
    {
      sodium_memzero (out_seed, ES_IDENTITY_SEED_LEN);
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_CORRUPT,
                   "The identity key %s is damaged; it was left untouched", path);
      goto out;
    }

  ok = TRUE;

out:
  sodium_memzero (contents, sizeof contents);
  close (fd);

  return ok;
}

/**
 * es_identity_load_or_create:
 * @profile_dir: the device profile directory; created 0700 if missing
 *
 * Loads PROFILE_DIR/identity.key, or creates it with a new random key on first use. A
 * file that exists but cannot be read or understood is an error and is never replaced:
 * replacing it would silently change this device's identity for everyone who verified it.
 */
EsIdentity *
es_identity_load_or_create (const char  *profile_dir,
                            GError     **error)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) local_error = NULL;
  guint8 seed[ES_IDENTITY_SEED_LEN];
  EsIdentity *self;
  int errsv = 0;
  gboolean created = FALSE;

  g_return_val_if_fail (profile_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ensure_sodium ();

  if (g_mkdir_with_parents (profile_dir, 0700) != 0)
    {
      errsv = errno;
      g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_OPEN,
                   "Cannot create profile directory %s: %s", profile_dir, g_strerror (errsv));
      return NULL;
    }

  path = g_build_filename (profile_dir, ES_IDENTITY_FILE_NAME, NULL);

  if (!read_identity_file (path, seed, &errsv, &local_error))
    {
      if (errsv != ENOENT)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      g_clear_error (&local_error);

      randombytes_buf (seed, sizeof seed);
      if (create_identity_file (profile_dir, path, seed, &errsv))
        created = TRUE;
      else if (errsv != EEXIST)
        {
          sodium_memzero (seed, sizeof seed);
          g_set_error (error, ES_STORE_ERROR, ES_STORE_ERROR_OPEN,
                       "Cannot create the identity key %s: %s", path, g_strerror (errsv));
          return NULL;
        }
      /* EEXIST: another process created one between our read and our link; use theirs. */
      else if (!read_identity_file (path, seed, &errsv, error))
        return NULL;
    }

  self = es_identity_new_from_seed (seed);
  sodium_memzero (seed, sizeof seed);
  self->path = g_steal_pointer (&path);

  if (created)
    {
      g_autofree char *fingerprint = es_identity_dup_fingerprint (self);

      g_debug ("Created a new identity %s in %s", fingerprint, self->path);
    }

  return self;
}

/**
 * es_identity_get_public_key:
 *
 * Returns: (array fixed-size=32): the Ed25519 public key
 */
const guint8 *
es_identity_get_public_key (EsIdentity *self)
{
  g_return_val_if_fail (ES_IS_IDENTITY (self), NULL);

  return self->pk;
}

/**
 * es_identity_get_path:
 *
 * Returns: (nullable): the key file, or %NULL for an identity that lives only in memory
 */
const char *
es_identity_get_path (EsIdentity *self)
{
  g_return_val_if_fail (ES_IS_IDENTITY (self), NULL);

  return self->path;
}

char *
es_identity_dup_fingerprint (EsIdentity *self)
{
  g_return_val_if_fail (ES_IS_IDENTITY (self), NULL);

  return es_identity_format_fingerprint (self->pk);
}

void
es_identity_sign (EsIdentity   *self,
                  const guint8 *message,
                  gsize         message_len,
                  guint8        out_sig[ES_IDENTITY_SIG_LEN])
{
  g_return_if_fail (ES_IS_IDENTITY (self));
  g_return_if_fail (message != NULL || message_len == 0);
  g_return_if_fail (out_sig != NULL);

  crypto_sign_detached (out_sig, NULL, message, message_len, self->sk);
}

gboolean
es_identity_verify (const guint8  public_key[ES_IDENTITY_PK_LEN],
                    const guint8 *message,
                    gsize         message_len,
                    const guint8  sig[ES_IDENTITY_SIG_LEN])
{
  g_return_val_if_fail (public_key != NULL, FALSE);
  g_return_val_if_fail (message != NULL || message_len == 0, FALSE);
  g_return_val_if_fail (sig != NULL, FALSE);

  ensure_sodium ();

  return crypto_sign_verify_detached (sig, message, message_len, public_key) == 0;
}

/**
 * es_identity_format_fingerprint:
 *
 * Returns: (transfer full): the first 16 bytes of SHA-256(@public_key) in eight groups of
 *   four upper-case hex digits, `1A2B 3C4D …`, for people to compare
 */
char *
es_identity_format_fingerprint (const guint8 public_key[ES_IDENTITY_PK_LEN])
{
  guint8 hash[crypto_hash_sha256_BYTES];
  GString *str;

  g_return_val_if_fail (public_key != NULL, NULL);

  crypto_hash_sha256 (hash, public_key, ES_IDENTITY_PK_LEN);
  str = g_string_sized_new (40);
  for (guint i = 0; i < 16; i += 2)
    g_string_append_printf (str, i == 0 ? "%02X%02X" : " %02X%02X", hash[i], hash[i + 1]);

  return g_string_free (str, FALSE);
}
