/* es-verification.c: the emoji verification of one call branch (DESIGN.md §4)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Inputs may arrive in any order the network allows; the object decides as soon as it has
 * what a decision needs. Every input that came from the peer is checked, and a failed check
 * moves the state to FAILED with a reason a user can read, never to an assertion.
 *
 * The order that makes the emoji ungrindable is enforced here, not left to the caller:
 * our nonce is revealed only once the peer's commitment is in hand, and the peer's reveal
 * is judged only against certificates we observed ourselves.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "earshot-verify"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>

#include "es-verification.h"

static const char reason_fingerprint[] =
  N_("The peer's certificate does not match the fingerprint it announced: someone may be "
     "intercepting this call");
static const char reason_own_certificate[] =
  N_("This device's certificate is not the one it announced, so the call cannot be verified");
static const char reason_commitment[] =
  N_("The peer's verification data does not match what it committed to before the "
     "connection: someone may be intercepting this call");
static const char reason_signature[] =
  N_("The peer's identity signature is not valid for this connection: someone may be "
     "intercepting this call");
static const char reason_malformed[] =
  N_("The peer sent malformed verification data, so the call cannot be verified");
static const char reason_mismatch[] =
  N_("The emoji did not match: someone may be intercepting this call");

struct _EsVerification
{
  GObject               parent_instance;

  /* Owned */
  EsIdentity           *identity;
  EsTrustStore         *trust_store;
  char                 *peer_device_id;
  char                 *peer_user;
  char                 *failure_reason;

  EsSasRole             role;
  EsVerificationState   state;
  EsTrustStatus         trust_status;

  guint8                own_nonce[ES_SAS_NONCE_LEN];
  guint8                own_commit[ES_SAS_COMMIT_LEN];
  guint8                local_fp[ES_SAS_HASH_LEN];
  guint8                peer_commit[ES_SAS_COMMIT_LEN];
  guint8                remote_sdp_fp[ES_SAS_HASH_LEN];
  guint8                observed_local[ES_SAS_HASH_LEN];
  guint8                observed_remote[ES_SAS_HASH_LEN];
  EsVerificationReveal  peer_reveal;
  guint8                sas[ES_SAS_N_INDICES];

  guint                 have_local_fp : 1;
  guint                 commitment_issued : 1;
  guint                 have_peer_commit : 1;
  guint                 have_remote_sdp_fp : 1;
  guint                 have_certificates : 1;
  guint                 have_peer_reveal : 1;
  guint                 have_sas : 1;
};

enum {
  PROP_0,
  PROP_ROLE,
  PROP_IDENTITY,
  PROP_TRUST_STORE,
  PROP_PEER_DEVICE_ID,
  PROP_PEER_USER,
  PROP_STATE,
  PROP_FAILURE_REASON,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (EsVerification, es_verification, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (EsVerificationState, es_verification_state,
  G_DEFINE_ENUM_VALUE (ES_VERIFICATION_STATE_WAITING, "waiting"),
  G_DEFINE_ENUM_VALUE (ES_VERIFICATION_STATE_COMPARING, "comparing"),
  G_DEFINE_ENUM_VALUE (ES_VERIFICATION_STATE_VERIFIED, "verified"),
  G_DEFINE_ENUM_VALUE (ES_VERIFICATION_STATE_MISMATCH, "mismatch"),
  G_DEFINE_ENUM_VALUE (ES_VERIFICATION_STATE_KEY_CHANGED, "key-changed"),
  G_DEFINE_ENUM_VALUE (ES_VERIFICATION_STATE_FAILED, "failed"))

/**
 * es_verification_state_to_string:
 *
 * Returns: the state's nick ("waiting", "key-changed"…), for logs and automation
 */
const char *
es_verification_state_to_string (EsVerificationState state)
{
  GEnumClass *klass = g_type_class_ref (ES_TYPE_VERIFICATION_STATE);
  GEnumValue *value = g_enum_get_value (klass, state);

  /* The nicks are static strings; the class stays alive once referenced. */
  g_type_class_unref (klass);
  return value != NULL ? value->value_nick : "failed";
}

/* Reveal messages */

static gboolean
get_string_member (JsonObject  *object,
                   const char  *name,
                   const char **out_value,
                   GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                   "The reveal needs a string “%s”", name);
      return FALSE;
    }

  *out_value = json_node_get_string (node);

  return TRUE;
}

static gboolean
get_b64_member (JsonObject  *object,
                const char  *name,
                guint8      *out,
                gsize        len,
                GError     **error)
{
  const char *value;

  return get_string_member (object, name, &value, error) &&
         es_sas_decode_b64_exact (value, out, len, name, error);
}

/**
 * es_verification_reveal_parse:
 * @json: `{"type":"verify-reveal","v":1,"nonce":"…","idpk":"…","sig":"…"}`
 *
 * Strict: exactly these five members; nonce, idpk and sig are canonical padded base64 of
 * exactly 32, 32 and 64 bytes.
 */
gboolean
es_verification_reveal_parse (const char            *json,
                              EsVerificationReveal  *out_reveal,
                              GError               **error)
{
  static const char *const members[] = { "type", "v", "nonce", "idpk", "sig" };
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  EsVerificationReveal reveal;
  JsonObject *object;
  JsonNode *root;
  JsonNode *version;
  const char *type;

  g_return_val_if_fail (json != NULL, FALSE);
  g_return_val_if_fail (out_reveal != NULL, FALSE);

  if (strnlen (json, ES_VERIFICATION_REVEAL_MAX_LEN + 1) > ES_VERIFICATION_REVEAL_MAX_LEN)
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                           "The reveal is too long");
      return FALSE;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, json, -1, &local_error))
    {
      g_set_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                   "The reveal is not JSON: %s", local_error->message);
      return FALSE;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                           "The reveal is not a JSON object");
      return FALSE;
    }
  object = json_node_get_object (root);

  if (json_object_get_size (object) != G_N_ELEMENTS (members))
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                           "The reveal has members it should not have");
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (members); i++)
    {
      if (!json_object_has_member (object, members[i]))
        {
          g_set_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                       "The reveal has no “%s”", members[i]);
          return FALSE;
        }
    }

  if (!get_string_member (object, "type", &type, error))
    return FALSE;
  if (g_strcmp0 (type, ES_VERIFICATION_REVEAL_TYPE) != 0)
    {
      g_set_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                   "The message is not a “%s”", ES_VERIFICATION_REVEAL_TYPE);
      return FALSE;
    }

  version = json_object_get_member (object, "v");
  if (!JSON_NODE_HOLDS_VALUE (version) ||
      json_node_get_value_type (version) != G_TYPE_INT64 ||
      json_node_get_int (version) != ES_VERIFICATION_REVEAL_VERSION)
    {
      g_set_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_INPUT,
                   "The reveal's version is not %d", ES_VERIFICATION_REVEAL_VERSION);
      return FALSE;
    }

  if (!get_b64_member (object, "nonce", reveal.nonce, sizeof reveal.nonce, error) ||
      !get_b64_member (object, "idpk", reveal.idpk, sizeof reveal.idpk, error) ||
      !get_b64_member (object, "sig", reveal.sig, sizeof reveal.sig, error))
    return FALSE;

  *out_reveal = reveal;

  return TRUE;
}

char *
es_verification_reveal_to_json (const EsVerificationReveal *reveal)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *nonce = NULL;
  g_autofree char *idpk = NULL;
  g_autofree char *sig = NULL;

  g_return_val_if_fail (reveal != NULL, NULL);

  nonce = es_sas_encode_b64 (reveal->nonce, sizeof reveal->nonce);
  idpk = es_sas_encode_b64 (reveal->idpk, sizeof reveal->idpk);
  sig = es_sas_encode_b64 (reveal->sig, sizeof reveal->sig);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, ES_VERIFICATION_REVEAL_TYPE);
  json_builder_set_member_name (builder, "v");
  json_builder_add_int_value (builder, ES_VERIFICATION_REVEAL_VERSION);
  json_builder_set_member_name (builder, "nonce");
  json_builder_add_string_value (builder, nonce);
  json_builder_set_member_name (builder, "idpk");
  json_builder_add_string_value (builder, idpk);
  json_builder_set_member_name (builder, "sig");
  json_builder_add_string_value (builder, sig);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);

  return json_to_string (root, FALSE);
}

/* State */

static gboolean
is_terminal (EsVerification *self)
{
  return self->state == ES_VERIFICATION_STATE_FAILED ||
         self->state == ES_VERIFICATION_STATE_MISMATCH;
}

static void
set_state (EsVerification      *self,
           EsVerificationState  state)
{
  if (self->state == state)
    return;

  g_debug ("Verification with device %s of %s: %s -> %s", self->peer_device_id,
           self->peer_user, es_verification_state_to_string (self->state),
           es_verification_state_to_string (state));
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* Ends the verification. @reason is untranslated (marked N_); @detail, when given, says
 * more for the log and the GError. Always returns FALSE. */
static gboolean
fail (EsVerification  *self,
      EsVerifyError    code,
      const char      *reason,
      const char      *detail,
      GError         **error)
{
  const char *translated = _(reason);

  if (detail != NULL)
    g_set_error (error, ES_VERIFY_ERROR, code, "%s (%s)", translated, detail);
  else
    g_set_error_literal (error, ES_VERIFY_ERROR, code, translated);

  if (is_terminal (self))
    return FALSE;

  g_debug ("Verification with device %s failed: %s%s%s", self->peer_device_id, reason,
           detail ? ": " : "", detail ? detail : "");

  g_free (self->failure_reason);
  self->failure_reason = g_strdup (translated);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FAILURE_REASON]);
  set_state (self, ES_VERIFICATION_STATE_FAILED);

  return FALSE;
}

static gboolean
check_not_terminal (EsVerification  *self,
                    GError         **error)
{
  if (is_terminal (self))
    {
      g_set_error (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE,
                   "The verification has already ended: %s",
                   self->failure_reason ? self->failure_reason : "");
      return FALSE;
    }

  return TRUE;
}

static void
get_ordered (EsVerification  *self,
             const guint8   **f_o,
             const guint8   **f_a,
             const guint8   **commit_o,
             const guint8   **commit_a)
{
  gboolean offerer = self->role == ES_SAS_ROLE_OFFERER;

  *f_o = offerer ? self->observed_local : self->observed_remote;
  *f_a = offerer ? self->observed_remote : self->observed_local;
  *commit_o = offerer ? self->own_commit : self->peer_commit;
  *commit_a = offerer ? self->peer_commit : self->own_commit;
}

/* The certificate checks run as soon as their inputs are in, before any reveal. */
static gboolean
check_certificates (EsVerification  *self,
                    GError         **error)
{
  if (!self->have_certificates)
    return TRUE;

  if (self->have_local_fp &&
      sodium_memcmp (self->observed_local, self->local_fp, ES_SAS_HASH_LEN) != 0)
    return fail (self, ES_VERIFY_ERROR_FINGERPRINT_MISMATCH, reason_own_certificate,
                 "the DTLS certificate differs from our SDP fingerprint", error);

  if (self->have_remote_sdp_fp &&
      sodium_memcmp (self->observed_remote, self->remote_sdp_fp, ES_SAS_HASH_LEN) != 0)
    return fail (self, ES_VERIFY_ERROR_FINGERPRINT_MISMATCH, reason_fingerprint, NULL, error);

  return TRUE;
}

static void
decide_trust (EsVerification *self)
{
  g_autoptr(GError) error = NULL;
  const guint8 *idpk = self->peer_reveal.idpk;
  EsTrustStatus status = ES_TRUST_STATUS_UNKNOWN;

  if (self->trust_store != NULL)
    {
      if (!es_trust_store_lookup (self->trust_store, self->peer_device_id, self->peer_user,
                                  idpk, &status, &error))
        {
          /* Without the store we cannot vouch for the key: compare the emoji instead. */
          g_warning ("Cannot look up device %s: %s", self->peer_device_id, error->message);
          status = ES_TRUST_STATUS_UNKNOWN;
          g_clear_error (&error);
        }
      else if (!es_trust_store_record_seen (self->trust_store, self->peer_device_id,
                                            self->peer_user, idpk, &error))
        {
          g_warning ("Cannot record device %s: %s", self->peer_device_id, error->message);
        }
    }

  self->trust_status = status;

  switch (status)
    {
    case ES_TRUST_STATUS_KNOWN_VERIFIED:
      set_state (self, ES_VERIFICATION_STATE_VERIFIED);
      break;

    case ES_TRUST_STATUS_KEY_CHANGED:
      g_message ("The identity key of device %s of %s has changed", self->peer_device_id,
                 self->peer_user);
      set_state (self, ES_VERIFICATION_STATE_KEY_CHANGED);
      break;

    case ES_TRUST_STATUS_UNKNOWN:
    case ES_TRUST_STATUS_KNOWN_UNVERIFIED:
    default:
      set_state (self, ES_VERIFICATION_STATE_COMPARING);
      break;
    }
}

/* Runs whatever checks the inputs in hand allow, and decides when they are all in. */
static gboolean
advance (EsVerification  *self,
         GError         **error)
{
  guint8 transcript[ES_SAS_TRANSCRIPT_LEN];
  const guint8 *f_o, *f_a, *commit_o, *commit_a;
  const EsVerificationReveal *reveal = &self->peer_reveal;
  EsSasRole peer_role = es_sas_role_other (self->role);
  gboolean offerer = self->role == ES_SAS_ROLE_OFFERER;

  if (self->state != ES_VERIFICATION_STATE_WAITING)
    return TRUE;

  if (!check_certificates (self, error))
    return FALSE;

  if (!self->have_local_fp || !self->have_peer_commit || !self->have_remote_sdp_fp ||
      !self->have_certificates || !self->have_peer_reveal)
    return TRUE;

  /* The peer's nonce must open the commitment it sent before it could know ours, over the
   * certificate we saw in the handshake, not the one anybody announced. */
  if (!es_sas_commit_check (peer_role, reveal->nonce, self->observed_remote, self->peer_commit))
    return fail (self, ES_VERIFY_ERROR_COMMITMENT, reason_commitment, NULL, error);

  get_ordered (self, &f_o, &f_a, &commit_o, &commit_a);
  es_sas_build_transcript (peer_role, f_o, f_a, commit_o, commit_a, transcript);
  if (!es_identity_verify (reveal->idpk, transcript, sizeof transcript, reveal->sig))
    return fail (self, ES_VERIFY_ERROR_SIGNATURE, reason_signature, NULL, error);

  es_sas_compute (f_o, f_a,
                  offerer ? self->own_nonce : reveal->nonce,
                  offerer ? reveal->nonce : self->own_nonce,
                  offerer ? es_identity_get_public_key (self->identity) : reveal->idpk,
                  offerer ? reveal->idpk : es_identity_get_public_key (self->identity),
                  self->sas);
  self->have_sas = TRUE;

  decide_trust (self);

  return TRUE;
}

/* GObject */

static void
es_verification_finalize (GObject *object)
{
  EsVerification *self = (EsVerification *) object;

  sodium_memzero (self->own_nonce, sizeof self->own_nonce);
  g_clear_pointer (&self->peer_device_id, g_free);
  g_clear_pointer (&self->peer_user, g_free);
  g_clear_pointer (&self->failure_reason, g_free);

  G_OBJECT_CLASS (es_verification_parent_class)->finalize (object);
}

static void
es_verification_dispose (GObject *object)
{
  EsVerification *self = (EsVerification *) object;

  g_clear_object (&self->identity);
  g_clear_object (&self->trust_store);

  G_OBJECT_CLASS (es_verification_parent_class)->dispose (object);
}

static void
es_verification_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  EsVerification *self = ES_VERIFICATION (object);

  switch (prop_id)
    {
    case PROP_ROLE:
      g_value_set_enum (value, self->role);
      break;

    case PROP_IDENTITY:
      g_value_set_object (value, self->identity);
      break;

    case PROP_TRUST_STORE:
      g_value_set_object (value, self->trust_store);
      break;

    case PROP_PEER_DEVICE_ID:
      g_value_set_string (value, self->peer_device_id);
      break;

    case PROP_PEER_USER:
      g_value_set_string (value, self->peer_user);
      break;

    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;

    case PROP_FAILURE_REASON:
      g_value_set_string (value, self->failure_reason);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_verification_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  EsVerification *self = ES_VERIFICATION (object);

  switch (prop_id)
    {
    case PROP_ROLE:
      self->role = g_value_get_enum (value);
      break;

    case PROP_IDENTITY:
      self->identity = g_value_dup_object (value);
      break;

    case PROP_TRUST_STORE:
      self->trust_store = g_value_dup_object (value);
      break;

    case PROP_PEER_DEVICE_ID:
      self->peer_device_id = g_value_dup_string (value);
      break;

    case PROP_PEER_USER:
      self->peer_user = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_verification_class_init (EsVerificationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = es_verification_dispose;
  object_class->finalize = es_verification_finalize;
  object_class->get_property = es_verification_get_property;
  object_class->set_property = es_verification_set_property;

  properties[PROP_ROLE] =
    g_param_spec_enum ("role", NULL, NULL, ES_TYPE_SAS_ROLE, ES_SAS_ROLE_OFFERER,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_IDENTITY] =
    g_param_spec_object ("identity", NULL, NULL, ES_TYPE_IDENTITY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TRUST_STORE] =
    g_param_spec_object ("trust-store", NULL, NULL, ES_TYPE_TRUST_STORE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PEER_DEVICE_ID] =
    g_param_spec_string ("peer-device-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PEER_USER] =
    g_param_spec_string ("peer-user", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, ES_TYPE_VERIFICATION_STATE,
                       ES_VERIFICATION_STATE_WAITING,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_FAILURE_REASON] =
    g_param_spec_string ("failure-reason", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  if (sodium_init () < 0)
    g_error ("libsodium cannot be initialised");
}

static void
es_verification_init (EsVerification *self)
{
  self->state = ES_VERIFICATION_STATE_WAITING;
  self->trust_status = ES_TRUST_STATUS_UNKNOWN;
  randombytes_buf (self->own_nonce, sizeof self->own_nonce);
}

/* Public API */

/**
 * es_verification_new:
 * @role: which side of the offer/answer this device is
 * @identity: this device's identity key
 * @trust_store: (nullable): where verified peer keys are kept; without one every call
 *   compares the emoji
 * @peer_device_id: the peer device, as the signaling server names it
 * @peer_user: the peer's user name
 *
 * Makes a fresh nonce. One object serves one branch of one call and is never reused.
 */
EsVerification *
es_verification_new (EsSasRole     role,
                     EsIdentity   *identity,
                     EsTrustStore *trust_store,
                     const char   *peer_device_id,
                     const char   *peer_user)
{
  g_return_val_if_fail (role == ES_SAS_ROLE_OFFERER || role == ES_SAS_ROLE_ANSWERER, NULL);
  g_return_val_if_fail (ES_IS_IDENTITY (identity), NULL);
  g_return_val_if_fail (trust_store == NULL || ES_IS_TRUST_STORE (trust_store), NULL);
  g_return_val_if_fail (peer_device_id != NULL, NULL);
  g_return_val_if_fail (peer_user != NULL, NULL);

  return g_object_new (ES_TYPE_VERIFICATION,
                       "role", role,
                       "identity", identity,
                       "trust-store", trust_store,
                       "peer-device-id", peer_device_id,
                       "peer-user", peer_user,
                       NULL);
}

EsSasRole
es_verification_get_role (EsVerification *self)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), ES_SAS_ROLE_OFFERER);

  return self->role;
}

EsVerificationState
es_verification_get_state (EsVerification *self)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), ES_VERIFICATION_STATE_FAILED);

  return self->state;
}

/**
 * es_verification_get_failure_reason:
 *
 * Returns: (nullable): why the state is FAILED or MISMATCH, translated, for the user
 */
const char *
es_verification_get_failure_reason (EsVerification *self)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), NULL);

  return self->failure_reason;
}

const char *
es_verification_get_peer_device_id (EsVerification *self)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), NULL);

  return self->peer_device_id;
}

const char *
es_verification_get_peer_user (EsVerification *self)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), NULL);

  return self->peer_user;
}

/**
 * es_verification_get_trust_status:
 *
 * What the trust store said about the peer's key when the emoji were computed; UNKNOWN
 * before that.
 */
EsTrustStatus
es_verification_get_trust_status (EsVerification *self)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), ES_TRUST_STATUS_UNKNOWN);

  return self->trust_status;
}

/**
 * es_verification_get_sas:
 *
 * Returns: (nullable) (array fixed-size=5): the five emoji indices (see es_sas_emoji_get()),
 *   or %NULL until both reveals checked out
 */
const guint8 *
es_verification_get_sas (EsVerification *self)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), NULL);

  if (!self->have_sas || self->state == ES_VERIFICATION_STATE_FAILED)
    return NULL;

  return self->sas;
}

/**
 * es_verification_get_peer_identity_key:
 *
 * Returns: (nullable) (array fixed-size=32): the peer's identity key once its signature
 *   verified, for es_identity_format_fingerprint()
 */
const guint8 *
es_verification_get_peer_identity_key (EsVerification *self)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), NULL);

  return self->have_sas ? self->peer_reveal.idpk : NULL;
}

/**
 * es_verification_set_local_fingerprint:
 * @hash: our own certificate's SHA-256, from the a=fingerprint of our local description
 *   (es_sas_find_sdp_fingerprint())
 *
 * Fixes what our commitment binds. It may not change once the commitment was handed out.
 */
gboolean
es_verification_set_local_fingerprint (EsVerification  *self,
                                       const guint8     hash[ES_SAS_HASH_LEN],
                                       GError         **error)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), FALSE);
  g_return_val_if_fail (hash != NULL, FALSE);

  if (!check_not_terminal (self, error))
    return FALSE;

  if (self->commitment_issued)
    {
      if (memcmp (self->local_fp, hash, ES_SAS_HASH_LEN) == 0)
        return TRUE;

      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE,
                           "Our fingerprint cannot change after we committed to it");
      return FALSE;
    }

  memcpy (self->local_fp, hash, ES_SAS_HASH_LEN);
  self->have_local_fp = TRUE;
  es_sas_commit (self->role, self->own_nonce, self->local_fp, self->own_commit);

  return advance (self, error);
}

/**
 * es_verification_dup_commitment_b64:
 *
 * Returns: (transfer full): our commitment, base64, to carry in the offer or answer body.
 *   Needs es_verification_set_local_fingerprint() first.
 */
char *
es_verification_dup_commitment_b64 (EsVerification *self)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), NULL);
  g_return_val_if_fail (self->have_local_fp, NULL);

  self->commitment_issued = TRUE;

  return es_sas_encode_b64 (self->own_commit, sizeof self->own_commit);
}

/**
 * es_verification_set_peer_commitment_b64:
 *
 * The commitment from the peer's offer or answer. Malformed input fails the verification:
 * the peer is the only one who writes it.
 */
gboolean
es_verification_set_peer_commitment_b64 (EsVerification  *self,
                                         const char      *commitment_b64,
                                         GError         **error)
{
  g_autoptr(GError) local_error = NULL;
  guint8 commit[ES_SAS_COMMIT_LEN];

  g_return_val_if_fail (ES_IS_VERIFICATION (self), FALSE);

  if (!check_not_terminal (self, error))
    return FALSE;

  if (commitment_b64 == NULL)
    return fail (self, ES_VERIFY_ERROR_INVALID_INPUT, reason_malformed,
                 "the peer sent no commitment", error);

  if (!es_sas_decode_b64_exact (commitment_b64, commit, sizeof commit, "commitment",
                                &local_error))
    return fail (self, ES_VERIFY_ERROR_INVALID_INPUT, reason_malformed, local_error->message,
                 error);

  if (self->have_peer_commit)
    {
      if (memcmp (self->peer_commit, commit, sizeof commit) == 0)
        return TRUE;

      return fail (self, ES_VERIFY_ERROR_COMMITMENT, reason_commitment,
                   "the peer changed its commitment", error);
    }

  memcpy (self->peer_commit, commit, sizeof commit);
  self->have_peer_commit = TRUE;

  return advance (self, error);
}

/**
 * es_verification_set_remote_fingerprint:
 * @hash: the certificate hash the peer's SDP announced
 */
gboolean
es_verification_set_remote_fingerprint (EsVerification  *self,
                                        const guint8     hash[ES_SAS_HASH_LEN],
                                        GError         **error)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), FALSE);
  g_return_val_if_fail (hash != NULL, FALSE);

  if (!check_not_terminal (self, error))
    return FALSE;

  if (self->have_remote_sdp_fp)
    {
      if (memcmp (self->remote_sdp_fp, hash, ES_SAS_HASH_LEN) == 0)
        return TRUE;

      return fail (self, ES_VERIFY_ERROR_FINGERPRINT_MISMATCH, reason_fingerprint,
                   "the peer announced a second fingerprint", error);
    }

  memcpy (self->remote_sdp_fp, hash, ES_SAS_HASH_LEN);
  self->have_remote_sdp_fp = TRUE;

  return advance (self, error);
}

/**
 * es_verification_set_remote_sdp:
 * @sdp: the peer's offer or answer
 *
 * Finds its sha-256 fingerprint (es_sas_find_sdp_fingerprint()) and sets it; an SDP
 * without a valid one fails the verification.
 */
gboolean
es_verification_set_remote_sdp (EsVerification  *self,
                                const char      *sdp,
                                GError         **error)
{
  g_autoptr(GError) local_error = NULL;
  guint8 hash[ES_SAS_HASH_LEN];

  g_return_val_if_fail (ES_IS_VERIFICATION (self), FALSE);
  g_return_val_if_fail (sdp != NULL, FALSE);

  if (!check_not_terminal (self, error))
    return FALSE;

  if (!es_sas_find_sdp_fingerprint (sdp, hash, &local_error))
    return fail (self, ES_VERIFY_ERROR_INVALID_INPUT, reason_malformed, local_error->message,
                 error);

  return es_verification_set_remote_fingerprint (self, hash, error);
}

/**
 * es_verification_set_certificates:
 * @local_hash: SHA-256 of our DER certificate as the DTLS transport reports it
 * @remote_hash: SHA-256 of the peer's DER certificate as the handshake presented it
 *
 * Checks them against the fingerprints at once: a mismatch fails the verification (and
 * should end the call) before anything is revealed.
 */
gboolean
es_verification_set_certificates (EsVerification  *self,
                                  const guint8     local_hash[ES_SAS_HASH_LEN],
                                  const guint8     remote_hash[ES_SAS_HASH_LEN],
                                  GError         **error)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), FALSE);
  g_return_val_if_fail (local_hash != NULL && remote_hash != NULL, FALSE);

  if (!check_not_terminal (self, error))
    return FALSE;

  if (self->have_certificates)
    {
      if (memcmp (self->observed_local, local_hash, ES_SAS_HASH_LEN) == 0 &&
          memcmp (self->observed_remote, remote_hash, ES_SAS_HASH_LEN) == 0)
        return TRUE;

      /* Everything signed and compared so far was bound to the first pair. */
      return fail (self, ES_VERIFY_ERROR_FINGERPRINT_MISMATCH, reason_fingerprint,
                   "the DTLS certificates changed during the call", error);
    }

  memcpy (self->observed_local, local_hash, ES_SAS_HASH_LEN);
  memcpy (self->observed_remote, remote_hash, ES_SAS_HASH_LEN);
  self->have_certificates = TRUE;

  return advance (self, error);
}

/**
 * es_verification_set_certificates_pem:
 *
 * es_verification_set_certificates() from the PEM text of the DTLS transport's
 * `certificate` and `remote-certificate` properties.
 */
gboolean
es_verification_set_certificates_pem (EsVerification  *self,
                                      const char      *local_pem,
                                      const char      *remote_pem,
                                      GError         **error)
{
  g_autoptr(GError) local_error = NULL;
  guint8 local_hash[ES_SAS_HASH_LEN];
  guint8 remote_hash[ES_SAS_HASH_LEN];

  g_return_val_if_fail (ES_IS_VERIFICATION (self), FALSE);
  g_return_val_if_fail (local_pem != NULL && remote_pem != NULL, FALSE);

  if (!check_not_terminal (self, error))
    return FALSE;

  if (!es_sas_hash_certificate_pem (local_pem, local_hash, error))
    return FALSE;

  if (!es_sas_hash_certificate_pem (remote_pem, remote_hash, &local_error))
    return fail (self, ES_VERIFY_ERROR_INVALID_INPUT, reason_malformed, local_error->message,
                 error);

  return es_verification_set_certificates (self, local_hash, remote_hash, error);
}

/**
 * es_verification_can_reveal:
 *
 * Whether es_verification_dup_reveal_json() would succeed: the peer's commitment, both
 * fingerprints and the observed certificates are in, and they agree.
 */
gboolean
es_verification_can_reveal (EsVerification *self)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), FALSE);

  return !is_terminal (self) && self->have_local_fp && self->have_peer_commit &&
         self->have_remote_sdp_fp && self->have_certificates;
}

/**
 * es_verification_dup_reveal_json:
 *
 * Returns: (transfer full) (nullable): our reveal message for the earshot-verify channel,
 *   signed over the certificates we observed, or %NULL with @error set when it is too early
 *   (see es_verification_can_reveal()) or too late
 */
char *
es_verification_dup_reveal_json (EsVerification  *self,
                                 GError         **error)
{
  EsVerificationReveal reveal;
  guint8 transcript[ES_SAS_TRANSCRIPT_LEN];
  const guint8 *f_o, *f_a, *commit_o, *commit_a;

  g_return_val_if_fail (ES_IS_VERIFICATION (self), NULL);

  if (!check_not_terminal (self, error))
    return NULL;

  if (!es_verification_can_reveal (self))
    {
      /* Revealing our nonce before the peer committed would let it grind the emoji. */
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE,
                           "Cannot reveal before the peer's commitment, its fingerprint "
                           "and the DTLS certificates are known");
      return NULL;
    }

  get_ordered (self, &f_o, &f_a, &commit_o, &commit_a);
  es_sas_build_transcript (self->role, f_o, f_a, commit_o, commit_a, transcript);

  memcpy (reveal.nonce, self->own_nonce, sizeof reveal.nonce);
  memcpy (reveal.idpk, es_identity_get_public_key (self->identity), sizeof reveal.idpk);
  es_identity_sign (self->identity, transcript, sizeof transcript, reveal.sig);

  return es_verification_reveal_to_json (&reveal);
}

/**
 * es_verification_receive_reveal:
 *
 * Takes the peer's reveal. Once everything else is in, the commitment and signature are
 * checked and the state leaves WAITING. A second, different reveal fails the verification.
 */
gboolean
es_verification_receive_reveal (EsVerification              *self,
                                const EsVerificationReveal  *reveal,
                                GError                     **error)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), FALSE);
  g_return_val_if_fail (reveal != NULL, FALSE);

  if (!check_not_terminal (self, error))
    return FALSE;

  if (self->have_peer_reveal)
    {
      if (memcmp (&self->peer_reveal, reveal, sizeof *reveal) == 0)
        return TRUE;

      return fail (self, ES_VERIFY_ERROR_COMMITMENT, reason_commitment,
                   "the peer revealed twice, differently", error);
    }

  self->peer_reveal = *reveal;
  self->have_peer_reveal = TRUE;

  return advance (self, error);
}

gboolean
es_verification_receive_reveal_json (EsVerification  *self,
                                     const char      *json,
                                     GError         **error)
{
  g_autoptr(GError) local_error = NULL;
  EsVerificationReveal reveal;

  g_return_val_if_fail (ES_IS_VERIFICATION (self), FALSE);
  g_return_val_if_fail (json != NULL, FALSE);

  if (!check_not_terminal (self, error))
    return FALSE;

  if (!es_verification_reveal_parse (json, &reveal, &local_error))
    return fail (self, ES_VERIFY_ERROR_INVALID_INPUT, reason_malformed, local_error->message,
                 error);

  return es_verification_receive_reveal (self, &reveal, error);
}

/**
 * es_verification_user_confirms_match:
 *
 * The users read the same five emoji. Allowed while COMPARING or KEY_CHANGED (after the
 * warning); stores the peer's key as verified and moves to VERIFIED.
 */
gboolean
es_verification_user_confirms_match (EsVerification  *self,
                                     GError         **error)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), FALSE);

  if (self->state == ES_VERIFICATION_STATE_VERIFIED)
    return TRUE;

  if (self->state != ES_VERIFICATION_STATE_COMPARING &&
      self->state != ES_VERIFICATION_STATE_KEY_CHANGED)
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE,
                           "There are no emoji to confirm");
      return FALSE;
    }

  g_assert (self->have_sas);

  if (self->trust_store != NULL &&
      !es_trust_store_mark_verified (self->trust_store, self->peer_device_id, self->peer_user,
                                     self->peer_reveal.idpk, error))
    return FALSE;

  set_state (self, ES_VERIFICATION_STATE_VERIFIED);

  return TRUE;
}

/**
 * es_verification_user_denies_match:
 *
 * The users read different emoji: someone is in the middle. Moves to MISMATCH; the call
 * should end. Allowed whenever emoji are on screen, including after an automatic VERIFIED.
 */
gboolean
es_verification_user_denies_match (EsVerification  *self,
                                   GError         **error)
{
  g_return_val_if_fail (ES_IS_VERIFICATION (self), FALSE);

  if (self->state == ES_VERIFICATION_STATE_MISMATCH)
    return TRUE;

  if (self->state != ES_VERIFICATION_STATE_COMPARING &&
      self->state != ES_VERIFICATION_STATE_KEY_CHANGED &&
      self->state != ES_VERIFICATION_STATE_VERIFIED)
    {
      g_set_error_literal (error, ES_VERIFY_ERROR, ES_VERIFY_ERROR_INVALID_STATE,
                           "There are no emoji to deny");
      return FALSE;
    }

  g_debug ("The users of device %s said the emoji differ", self->peer_device_id);
  g_free (self->failure_reason);
  self->failure_reason = g_strdup (_(reason_mismatch));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FAILURE_REASON]);
  set_state (self, ES_VERIFICATION_STATE_MISMATCH);

  return TRUE;
}
