/* es-application.c: the Earshot application: account, signaling, calls, actions
 *
 * Everything a user can do is an application action, so that the window's
 * buttons, keyboard shortcuts, notification buttons and the UI tests (over
 * D-Bus, with `gapplication action`) all take the same path.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <gst/gst.h>

#include "es-account.h"
#include "es-application.h"
#include "es-preferences-window.h"
#include "es-ringtone.h"
#include "es-signaling-client.h"
#include "es-window.h"

#define NOTIFICATION_ID "incoming-call"

struct _EsApplication
{
  AdwApplication     parent_instance;

  /* Owned */
  GSettings         *settings;
  EsClientStore     *store;
  EsAccount         *account;
  EsSignalingClient *client;
  EsCallManager     *manager;
  EsCallHistory     *history;
  EsRingtone        *ringtone;
  EsCall            *call;
  GCancellable      *cancellable;
  char              *error;
  gulong             call_state_id;
  gulong             call_verification_id;

  guint              busy : 1;
  guint              test_media : 1;
  guint              automation : 1;
  guint              notified : 1;
  guint              first_frame_logged : 1;
};

G_DEFINE_FINAL_TYPE (EsApplication, es_application, ADW_TYPE_APPLICATION)

enum {
  PROP_0,
  PROP_CALL,
  PROP_SIGNED_IN,
  PROP_BUSY,
  PROP_ERROR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  CALL_ENDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void set_call (EsApplication *self, EsCall *call);

static GtkWindow *
get_window (EsApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    {
      window = GTK_WINDOW (es_window_new (self));
    }

  return window;
}

static void
set_action_enabled (EsApplication *self,
                    const char    *name,
                    gboolean       enabled)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), name);

  if (action != NULL)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}

static void
update_actions (EsApplication *self)
{
  EsCallState state = self->call ? es_call_get_state (self->call) : ES_CALL_STATE_ENDED;
  gboolean incoming = self->call && es_call_get_direction (self->call) == ES_CALL_DIRECTION_INCOMING;
  gboolean signed_in = es_application_get_signed_in (self);
  gboolean ringing_here = incoming && state == ES_CALL_STATE_RINGING;
  gboolean in_call = self->call && state != ES_CALL_STATE_ENDED;
  EsVerificationState verification = self->call ? es_call_get_verification_state (self->call)
                                                : ES_VERIFICATION_STATE_WAITING;
  gboolean comparing = in_call && (verification == ES_VERIFICATION_STATE_COMPARING ||
                                   verification == ES_VERIFICATION_STATE_KEY_CHANGED);

  set_action_enabled (self, "call", signed_in && !in_call);
  set_action_enabled (self, "call-audio", signed_in && !in_call);
  set_action_enabled (self, "accept", ringing_here);
  set_action_enabled (self, "accept-video", ringing_here && !es_call_get_audio_only (self->call));
  set_action_enabled (self, "decline", ringing_here);
  set_action_enabled (self, "cancel", in_call && !incoming &&
                      (state == ES_CALL_STATE_DIALING || state == ES_CALL_STATE_RINGING));
  set_action_enabled (self, "hang-up", in_call && !ringing_here);
  set_action_enabled (self, "mute", in_call);
  set_action_enabled (self, "camera-off", in_call);
  set_action_enabled (self, "confirm-sas", comparing);
  set_action_enabled (self, "deny-sas", comparing);
  set_action_enabled (self, "register", !self->busy && !signed_in);
  set_action_enabled (self, "login", !self->busy && !signed_in);
}

static EsMediaSettings *
dup_media_settings (EsApplication *self)
{
  g_autoptr(EsMediaSettings) media = es_media_settings_new ();
  g_auto(GStrv) codecs = g_settings_get_strv (self->settings, "video-codecs");
  g_auto(GStrv) turn = g_settings_get_strv (self->settings, "turn-servers");
  g_autofree char *stun = g_settings_get_string (self->settings, "stun-server");
  g_autofree char *mic = g_settings_get_string (self->settings, "microphone");
  g_autofree char *camera = g_settings_get_string (self->settings, "camera");

  if (codecs[0] != NULL)
    es_media_settings_set_video_codecs (media, (const char * const *) codecs);
  es_media_settings_set_turn_servers (media, (const char * const *) turn);
  es_media_settings_set_stun_server (media, stun[0] ? stun : NULL);
  media->video_min_kbps = g_settings_get_uint (self->settings, "video-bitrate-min");
  media->video_start_kbps = g_settings_get_uint (self->settings, "video-bitrate-start");
  media->video_max_kbps = g_settings_get_uint (self->settings, "video-bitrate-max");
  media->latency_ms = g_settings_get_uint (self->settings, "latency");
  media->test_media = self->test_media;
  g_free (media->audio_device_id);
  media->audio_device_id = mic[0] ? g_strdup (mic) : NULL;
  g_free (media->video_device_id);
  media->video_device_id = camera[0] ? g_strdup (camera) : NULL;

  /* Keep a bad combination (min above max, say) from reaching a call. */
  media->video_max_kbps = MAX (media->video_max_kbps, media->video_min_kbps);
  media->video_start_kbps = CLAMP (media->video_start_kbps, media->video_min_kbps, media->video_max_kbps);

  return g_steal_pointer (&media);
}

static void
apply_incoming_settings (EsApplication *self)
{
  g_autoptr(EsMediaSettings) media = NULL;

  if (self->manager == NULL)
    return;

  media = dup_media_settings (self);
  /* FIXME: core applies relay_only to the whole call; "until I answer" needs a
   * per-state policy in EsCall (DESIGN.md §2.7). */
  media->relay_only = g_settings_get_boolean (self->settings, "hide-address-until-answer");
  es_call_manager_set_incoming_settings (self->manager, media);
}

/* Notifications and the ringtone */

static void
withdraw_notification (EsApplication *self)
{
  if (self->notified)
    g_application_withdraw_notification (G_APPLICATION (self), NOTIFICATION_ID);
  self->notified = FALSE;
}

static void
notify_incoming (EsApplication *self)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *title = NULL;
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));
  gboolean video = !es_call_get_audio_only (self->call);

  es_ringtone_start (self->ringtone);

  if (window != NULL && gtk_widget_get_visible (GTK_WIDGET (window)) && gtk_window_is_active (window))
    return;

  /* Translators: %s is the caller's user name */
  title = g_strdup_printf (_("%s is calling"), es_call_get_peer_user (self->call));
  notification = g_notification_new (title);
  g_notification_set_body (notification, video ? _("Incoming video call") : _("Incoming audio call"));
  g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_URGENT);
  g_notification_set_category (notification, "call.incoming");
  g_notification_set_default_action (notification, "app.show");
  g_notification_add_button (notification, _("Decline"), "app.decline");
  g_notification_add_button (notification, _("Accept"), "app.accept");
  if (video)
    g_notification_add_button (notification, _("Accept with Video"), "app.accept-video");

  g_application_send_notification (G_APPLICATION (self), NOTIFICATION_ID, notification);
  self->notified = TRUE;
}

/* The current call */

static void
call_state_cb (EsCall        *call,
               GParamSpec    *pspec,
               EsApplication *self)
{
  EsCallState state = es_call_get_state (call);

  g_debug ("Call %s: %s", es_call_get_id (call), es_call_state_to_string (state));

  if (state != ES_CALL_STATE_RINGING || es_call_get_direction (call) != ES_CALL_DIRECTION_INCOMING)
    {
      es_ringtone_stop (self->ringtone);
      withdraw_notification (self);
    }

  if (state == ES_CALL_STATE_ENDED)
    {
      g_autoptr(EsCall) ended = g_object_ref (call);

      g_signal_emit (self, signals[CALL_ENDED], 0, ended);
      set_call (self, NULL);
      return;
    }

  update_actions (self);
}

static void
call_verification_cb (EsCall        *call,
                      GParamSpec    *pspec,
                      EsApplication *self)
{
  EsVerificationState state = es_call_get_verification_state (call);

  g_debug ("Call %s: verification %s", es_call_get_id (call), es_verification_state_to_string (state));
  es_application_set_automation_state (self, "verification",
                                       g_variant_new_string (es_verification_state_to_string (state)));
  update_actions (self);
}

static void
set_call (EsApplication *self,
          EsCall        *call)
{
  if (self->call == call)
    return;

  if (self->call != NULL)
    {
      g_clear_signal_handler (&self->call_state_id, self->call);
      g_clear_signal_handler (&self->call_verification_id, self->call);
    }
  es_ringtone_stop (self->ringtone);
  withdraw_notification (self);

  g_set_object (&self->call, call);

  /* Each call starts unmuted with the camera on. */
  g_action_group_change_action_state (G_ACTION_GROUP (self), "mute", g_variant_new_boolean (FALSE));
  g_action_group_change_action_state (G_ACTION_GROUP (self), "camera-off", g_variant_new_boolean (FALSE));

  if (call != NULL)
    {
      self->call_state_id = g_signal_connect (call, "notify::state", G_CALLBACK (call_state_cb), self);
      self->call_verification_id = g_signal_connect (call, "notify::verification-state",
                                                     G_CALLBACK (call_verification_cb), self);
      call_verification_cb (call, NULL, self);
    }

  update_actions (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CALL]);
}

static void
incoming_call_cb (EsCallManager *manager,
                  EsCall        *call,
                  EsApplication *self)
{
  if (self->call != NULL)
    {
      /* One call at a time: the core tells the caller we are busy. */
      g_autoptr(GError) error = NULL;

      if (!es_call_decline (call, &error))
        g_debug ("Cannot decline a second call: %s", error->message);
      return;
    }

  set_call (self, call);
  if (es_call_get_state (call) == ES_CALL_STATE_RINGING)
    notify_incoming (self);
}

/* Account */

static void
start_signaling (EsApplication *self)
{
  if (self->client != NULL)
    return;

  self->client = es_signaling_client_new (self->store);
  self->manager = es_call_manager_new (self->client);
  g_signal_connect (self->manager, "incoming-call", G_CALLBACK (incoming_call_cb), self);
  apply_incoming_settings (self);
  es_signaling_client_start (self->client);
}

static void
set_busy (EsApplication *self,
          gboolean       busy,
          const char    *error)
{
  self->busy = !!busy;
  g_free (self->error);
  self->error = g_strdup (error);
  update_actions (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
}

static char *
describe_account_error (const GError *error)
{
  if (error->domain == ES_ACCOUNT_ERROR)
    switch (error->code)
      {
      case ES_ACCOUNT_ERROR_UNREACHABLE:
        return g_strdup (_("Cannot reach the server. Check the address and your connection."));
      case ES_ACCOUNT_ERROR_USER_EXISTS:
        return g_strdup (_("This user name is taken. Choose another one, or sign in."));
      case ES_ACCOUNT_ERROR_WRONG_PASSWORD:
        return g_strdup (_("Wrong user name or password."));
      case ES_ACCOUNT_ERROR_SERVER:
        return g_strdup (_("The server has a problem. Try again later."));
      default:
        break;
      }

  return g_strdup (error->message);
}

static void
account_done (EsApplication *self,
              EsAccount     *account,
              gboolean       ok,
              const GError  *error)
{
  if (!ok)
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      message = describe_account_error (error);
      g_message ("Sign-in failed: %s", error->message);
      set_busy (self, FALSE, message);
      return;
    }

  {
    g_autofree char *url = es_account_dup_server_url (account);

    if (url != NULL)
      g_settings_set_string (self->settings, "server-url", url);
  }

  start_signaling (self);
  set_busy (self, FALSE, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIGNED_IN]);
  update_actions (self);
}

static void
register_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(EsApplication) self = data;
  g_autoptr(GError) error = NULL;
  gboolean ok = es_account_register_finish (ES_ACCOUNT (object), result, &error);

  account_done (self, ES_ACCOUNT (object), ok, error);
}

static void
login_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(EsApplication) self = data;
  g_autoptr(GError) error = NULL;
  gboolean ok = es_account_login_finish (ES_ACCOUNT (object), result, &error);

  account_done (self, ES_ACCOUNT (object), ok, error);
}

static void
sign_in (EsApplication *self,
         GVariant      *parameter,
         gboolean       login)
{
  const char *server, *user, *password, *device;

  g_variant_get (parameter, "(&s&s&s&s)", &server, &user, &password, &device);

  if (self->busy)
    return;

  if (user[0] == '\0' || password[0] == '\0')
    {
      set_busy (self, FALSE, _("Enter a user name and a password."));
      return;
    }

  set_busy (self, TRUE, NULL);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();

  if (device[0] == '\0')
    device = g_get_host_name ();

  if (login)
    es_account_login_async (self->account, server, user, password, device,
                            self->cancellable, login_done_cb, g_object_ref (self));
  else
    es_account_register_async (self->account, server, user, password, device,
                               self->cancellable, register_done_cb, g_object_ref (self));
}

/* Actions */

static void
register_action (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       data)
{
  sign_in (data, parameter, FALSE);
}

static void
login_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       data)
{
  sign_in (data, parameter, TRUE);
}

static void
place_call (EsApplication *self,
            const char    *user,
            gboolean       video)
{
  g_autoptr(EsMediaSettings) media = dup_media_settings (self);
  g_autoptr(GError) error = NULL;
  g_autoptr(EsCall) call = NULL;
  g_autofree char *who = g_strstrip (g_strdup (user));

  if (self->manager == NULL || who[0] == '\0' || self->call != NULL)
    return;

  media->audio_only = !video;
  call = es_call_manager_place_call (self->manager, who, video ? "video" : "audio", media, &error);
  if (call == NULL)
    {
      GtkWindow *window = get_window (self);

      es_window_show_error (ES_WINDOW (window), error->message);
      return;
    }

  set_call (self, call);
  gtk_window_present (get_window (self));
}

static void
call_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       data)
{
  place_call (data, g_variant_get_string (parameter, NULL), TRUE);
}

static void
call_audio_action (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       data)
{
  place_call (data, g_variant_get_string (parameter, NULL), FALSE);
}

static void
accept (EsApplication *self,
        gboolean       video)
{
  g_autoptr(GError) error = NULL;

  if (self->call == NULL)
    return;

  g_action_group_change_action_state (G_ACTION_GROUP (self), "camera-off",
                                      g_variant_new_boolean (!video));
  if (!es_call_accept (self->call, &error))
    {
      es_window_show_error (ES_WINDOW (get_window (self)), error->message);
      return;
    }
  gtk_window_present (get_window (self));
}

static void
accept_action (GSimpleAction *action,
               GVariant      *parameter,
               gpointer       data)
{
  accept (data, FALSE);
}

static void
accept_video_action (GSimpleAction *action,
                     GVariant      *parameter,
                     gpointer       data)
{
  accept (data, TRUE);
}

static void
decline_action (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       data)
{
  EsApplication *self = data;
  g_autoptr(GError) error = NULL;

  if (self->call != NULL && !es_call_decline (self->call, &error))
    g_message ("Cannot decline: %s", error->message);
}

static void
cancel_action (GSimpleAction *action,
               GVariant      *parameter,
               gpointer       data)
{
  EsApplication *self = data;

  if (self->call != NULL)
    es_call_cancel (self->call);
}

static void
hang_up_action (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       data)
{
  EsApplication *self = data;

  if (self->call == NULL)
    return;

  if (es_call_get_state (self->call) == ES_CALL_STATE_DIALING ||
      es_call_get_state (self->call) == ES_CALL_STATE_RINGING)
    es_call_cancel (self->call);
  else
    es_call_hangup (self->call);
}

static void
confirm_sas_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       data)
{
  EsApplication *self = data;
  g_autoptr(GError) error = NULL;

  if (self->call != NULL && !es_call_confirm_sas (self->call, &error))
    g_message ("Cannot confirm the emoji: %s", error->message);
}

static void
deny_sas_action (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       data)
{
  EsApplication *self = data;
  g_autoptr(GError) error = NULL;

  /* Ends the call; the call page says why. */
  if (self->call != NULL && !es_call_deny_sas (self->call, &error))
    g_message ("Cannot deny the emoji: %s", error->message);
}

static void
toggle_action (GSimpleAction *action,
               GVariant      *parameter,
               gpointer       data)
{
  g_autoptr(GVariant) state = g_action_get_state (G_ACTION (action));

  g_action_change_state (G_ACTION (action), g_variant_new_boolean (!g_variant_get_boolean (state)));
}

static void
change_toggle_state (GSimpleAction *action,
                     GVariant      *value,
                     gpointer       data)
{
  EsApplication *self = data;
  const char *name = g_action_get_name (G_ACTION (action));
  gboolean on = g_variant_get_boolean (value);

  g_simple_action_set_state (action, value);

  /* The call stops sending behind its gate and tells the peer. */
  if (self->call == NULL)
    return;
  if (g_str_equal (name, "mute"))
    es_call_set_muted (self->call, on);
  else if (g_str_equal (name, "camera-off"))
    es_call_set_camera_enabled (self->call, !on);
}

static void
show_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       data)
{
  gtk_window_present (get_window (data));
}

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       data)
{
  EsApplication *self = data;

  if (self->call != NULL)
    {
      if (es_call_get_state (self->call) == ES_CALL_STATE_RINGING &&
          es_call_get_direction (self->call) == ES_CALL_DIRECTION_INCOMING)
        es_call_decline (self->call, NULL);
      else if (es_call_get_state (self->call) == ES_CALL_STATE_ACTIVE ||
               es_call_get_state (self->call) == ES_CALL_STATE_CONNECTING)
        es_call_hangup (self->call);
      else
        es_call_cancel (self->call);
    }

  g_application_quit (G_APPLICATION (self));
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       data)
{
  EsApplication *self = data;
  GtkWindow *prefs = es_preferences_window_new (self->settings);

  gtk_window_set_transient_for (prefs, get_window (self));
  gtk_window_set_application (prefs, GTK_APPLICATION (self));
  gtk_window_present (prefs);
}

/* The About window reads the metainfo (compiled into the resources), so that
 * name, summary, links and release notes have a single source. libadwaita
 * 1.2 has no adw_about_window_new_from_appdata() yet (it came in 1.4). */
typedef struct
{
  GString *text;
  GString *notes;
  char    *url_type;
  char    *name;
  char    *summary;
  char    *homepage;
  char    *issues;
  char    *developer;
  char    *license;
  char    *release;
  guint    depth_release;
  guint    done_release : 1;
  guint    in_release : 1;
} MetainfoParse;

static void
metainfo_start (GMarkupParseContext  *context,
                const char           *element,
                const char          **names,
                const char          **values,
                gpointer              data,
                GError              **error)
{
  MetainfoParse *mp = data;

  g_string_truncate (mp->text, 0);

  for (guint i = 0; names[i] != NULL; i++)
    {
      if (g_str_equal (element, "url") && g_str_equal (names[i], "type"))
        {
          g_free (mp->url_type);
          mp->url_type = g_strdup (values[i]);
        }
      if (g_str_equal (element, "release") && !mp->done_release && g_str_equal (names[i], "version"))
        {
          mp->release = g_strdup (values[i]);
          mp->in_release = TRUE;
        }
    }
}

static void
metainfo_end (GMarkupParseContext  *context,
              const char           *element,
              gpointer              data,
              GError              **error)
{
  MetainfoParse *mp = data;
  const GSList *stack = g_markup_parse_context_get_element_stack (context);
  const char *parent = stack && stack->next ? stack->next->data : "";
  g_autofree char *text = g_strstrip (g_strdup (mp->text->str));

  if (g_str_equal (parent, "component"))
    {
      if (g_str_equal (element, "name") && mp->name == NULL)
        mp->name = g_strdup (text);
      else if (g_str_equal (element, "summary") && mp->summary == NULL)
        mp->summary = g_strdup (text);
      else if (g_str_equal (element, "developer_name"))
        mp->developer = g_strdup (text);
      else if (g_str_equal (element, "project_license"))
        mp->license = g_strdup (text);
      else if (g_str_equal (element, "url") && g_strcmp0 (mp->url_type, "homepage") == 0)
        mp->homepage = g_strdup (text);
      else if (g_str_equal (element, "url") && g_strcmp0 (mp->url_type, "bugtracker") == 0)
        mp->issues = g_strdup (text);
    }
  else if (mp->in_release && (g_str_equal (element, "p") || g_str_equal (element, "li")))
    {
      g_autofree char *escaped = g_markup_escape_text (text, -1);

      g_string_append_printf (mp->notes, "<%s>%s</%s>", element, escaped, element);
    }

  if (g_str_equal (element, "release") && mp->in_release)
    {
      mp->in_release = FALSE;
      mp->done_release = TRUE;
    }

  g_string_truncate (mp->text, 0);
}

static void
metainfo_text (GMarkupParseContext  *context,
               const char           *text,
               gsize                 len,
               gpointer              data,
               GError              **error)
{
  g_string_append_len (((MetainfoParse *) data)->text, text, len);
}

static GtkWidget *
about_window_from_metainfo (void)
{
  static const GMarkupParser parser = { metainfo_start, metainfo_end, metainfo_text };
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GMarkupParseContext) context = NULL;
  MetainfoParse mp = { g_string_new (NULL), g_string_new (NULL) };
  GtkWidget *about = adw_about_window_new ();
  gsize len;
  const char *xml;

  bytes = g_resources_lookup_data ("/org/earshot/Earshot/org.earshot.Earshot.metainfo.xml", 0, NULL);
  if (bytes != NULL)
    {
      xml = g_bytes_get_data (bytes, &len);
      context = g_markup_parse_context_new (&parser, 0, &mp, NULL);
      if (!g_markup_parse_context_parse (context, xml, len, NULL))
        g_debug ("The metainfo in the resources does not parse");
    }

  adw_about_window_set_application_icon (ADW_ABOUT_WINDOW (about), APP_ID);
  adw_about_window_set_application_name (ADW_ABOUT_WINDOW (about), _("Earshot"));
  adw_about_window_set_version (ADW_ABOUT_WINDOW (about), mp.release ? mp.release : PACKAGE_VERSION);
  if (mp.summary)
    adw_about_window_set_comments (ADW_ABOUT_WINDOW (about), _(mp.summary));
  if (mp.developer)
    adw_about_window_set_developer_name (ADW_ABOUT_WINDOW (about), mp.developer);
  if (mp.homepage)
    adw_about_window_set_website (ADW_ABOUT_WINDOW (about), mp.homepage);
  if (mp.issues)
    adw_about_window_set_issue_url (ADW_ABOUT_WINDOW (about), mp.issues);
  if (g_strcmp0 (mp.license, "GPL-3.0-or-later") == 0)
    adw_about_window_set_license_type (ADW_ABOUT_WINDOW (about), GTK_LICENSE_GPL_3_0);
  if (mp.notes->len > 0)
    {
      adw_about_window_set_release_notes (ADW_ABOUT_WINDOW (about), mp.notes->str);
      adw_about_window_set_release_notes_version (ADW_ABOUT_WINDOW (about), mp.release);
    }

  g_string_free (mp.text, TRUE);
  g_string_free (mp.notes, TRUE);
  g_free (mp.url_type);
  g_free (mp.name);
  g_free (mp.summary);
  g_free (mp.homepage);
  g_free (mp.issues);
  g_free (mp.developer);
  g_free (mp.license);
  g_free (mp.release);

  return about;
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       data)
{
  EsApplication *self = data;
  GtkWidget *about = about_window_from_metainfo ();

  /* Translators: put your names here, one per line */
  adw_about_window_set_translator_credits (ADW_ABOUT_WINDOW (about), _("translator-credits"));
  gtk_window_set_transient_for (GTK_WINDOW (about), get_window (self));
  gtk_window_set_application (GTK_WINDOW (about), GTK_APPLICATION (self));
  gtk_window_present (GTK_WINDOW (about));
}

/* Test automation: only with EARSHOT_AUTOMATION=1. */

static gboolean
try_screenshot (EsApplication *self,
                const char    *path)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (self));
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GtkSnapshot) snapshot = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *tmp = NULL;
  g_autoptr(GString) regions = NULL;
  graphene_rect_t bounds;
  GskRenderer *renderer;
  int width, height;

  /* A dialog or preferences window over the main one wins. Without a window
   * manager (Xvfb) focus never moves, so the list order cannot tell. */
  for (GList *l = windows; l != NULL; l = l->next)
    if (gtk_window_get_transient_for (l->data) != NULL && gtk_widget_get_visible (l->data))
      {
        window = l->data;
        break;
      }
  if (window == NULL && windows != NULL)
    window = windows->data;
  if (window == NULL)
    {
      g_message ("Screenshot: no window");
      return TRUE;
    }

  width = gtk_widget_get_width (GTK_WIDGET (window));
  height = gtk_widget_get_height (GTK_WIDGET (window));

  /* Where the remote video is in this picture, and what covers it: the test
   * checks that the video area is not one flat colour. */
  if (ES_IS_WINDOW (window))
    {
      EsCallPage *page = es_window_get_call_page (ES_WINDOW (window));
      g_autoptr(GArray) covered = g_array_new (FALSE, FALSE, sizeof (graphene_rect_t));
      graphene_rect_t video;

      regions = g_string_new (NULL);
      if (gtk_widget_get_mapped (GTK_WIDGET (page)) &&
          es_call_page_get_video_regions (page, GTK_WIDGET (window), &video, covered))
        {
          g_string_append_printf (regions, "video %.0f %.0f %.0f %.0f\n",
                                  video.origin.x, video.origin.y, video.size.width, video.size.height);
          for (guint i = 0; i < covered->len; i++)
            {
              const graphene_rect_t *r = &g_array_index (covered, graphene_rect_t, i);

              g_string_append_printf (regions, "covered %.0f %.0f %.0f %.0f\n",
                                      r->origin.x, r->origin.y, r->size.width, r->size.height);
            }
        }
    }

  /* The paintable draws the window's whole CSS box (shadow and border, outside
   * its allocation), scaled to the size asked for: ask for its own size, and
   * keep the part the window's coordinates cover, so that the picture is 1:1
   * and the regions above match it. */
  paintable = gtk_widget_paintable_new (GTK_WIDGET (window));
  if (!gtk_widget_compute_bounds (GTK_WIDGET (window), GTK_WIDGET (window), &bounds))
    return FALSE;
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot,
                          gdk_paintable_get_intrinsic_width (paintable),
                          gdk_paintable_get_intrinsic_height (paintable));
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  renderer = gtk_native_get_renderer (GTK_NATIVE (window));
  /* Right after a page change the window may have no frame yet: retry. */
  if (node == NULL || renderer == NULL)
    return FALSE;

  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT (-bounds.origin.x, -bounds.origin.y,
                                                              width, height));
  if (regions != NULL)
    {
      g_autofree char *regions_path = g_strconcat (path, ".regions", NULL);

      if (!g_file_set_contents (regions_path, regions->str, regions->len, NULL))
        g_message ("Screenshot: cannot write %s", regions_path);
    }

  /* Written aside and renamed, so a test polling for the file never reads half of it. */
  tmp = g_strconcat (path, ".tmp", NULL);
  if (!gdk_texture_save_to_png (texture, tmp) || g_rename (tmp, path) != 0)
    g_message ("Screenshot: cannot write %s", path);

  return TRUE;
}

static gboolean
screenshot_retry_cb (gpointer data)
{
  EsApplication *self = data;
  const char *path = g_object_get_data (G_OBJECT (self), "es-screenshot-path");
  guint tries = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (self), "es-screenshot-tries"));

  if (try_screenshot (self, path) || ++tries >= 50)
    {
      if (tries >= 50)
        g_message ("Screenshot: nothing rendered in 5 s");
      g_object_set_data (G_OBJECT (self), "es-screenshot-path", NULL);
      return G_SOURCE_REMOVE;
    }

  g_object_set_data (G_OBJECT (self), "es-screenshot-tries", GUINT_TO_POINTER (tries));
  return G_SOURCE_CONTINUE;
}

static void
screenshot_action (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       data)
{
  EsApplication *self = data;

  g_object_set_data_full (G_OBJECT (self), "es-screenshot-path",
                          g_variant_dup_string (parameter, NULL), g_free);
  g_object_set_data (G_OBJECT (self), "es-screenshot-tries", GUINT_TO_POINTER (0));
  if (screenshot_retry_cb (self))
    g_timeout_add_full (G_PRIORITY_DEFAULT, 100, screenshot_retry_cb, g_object_ref (self), g_object_unref);
}


static const GActionEntry app_actions[] = {
  { "quit", quit_action },
  { "preferences", preferences_action },
  { "about", about_action },
  { "show", show_action },
  { "register", register_action, "(ssss)" },
  { "login", login_action, "(ssss)" },
  { "call", call_action, "s" },
  { "call-audio", call_audio_action, "s" },
  { "accept", accept_action },
  { "accept-video", accept_video_action },
  { "decline", decline_action },
  { "cancel", cancel_action },
  { "hang-up", hang_up_action },
  { "confirm-sas", confirm_sas_action },
  { "deny-sas", deny_sas_action },
  { "mute", toggle_action, NULL, "false", change_toggle_state },
  { "camera-off", toggle_action, NULL, "false", change_toggle_state },
};

static const GActionEntry automation_actions[] = {
  { "screenshot", screenshot_action, "s" },
  { "page", NULL, NULL, "''", NULL },
  { "sas", NULL, NULL, "@as []", NULL },
  { "verification", NULL, NULL, "'waiting'", NULL },
  { "history", NULL, NULL, "@as []", NULL },
  { "toast", NULL, NULL, "''", NULL },
};

/**
 * es_application_set_automation_state:
 * @value: (transfer floating): the new state
 *
 * Publishes what the UI shows as the state of an automation-only action
 * (`page`, `sas`, `verification`, `history`, `toast`), which the UI tests read over
 * D-Bus with org.gtk.Actions.Describe. Without EARSHOT_AUTOMATION=1 the
 * actions do not exist and this does nothing.
 */
void
es_application_set_automation_state (EsApplication *self,
                                     const char    *name,
                                     GVariant      *value)
{
  GAction *action;

  g_return_if_fail (ES_IS_APPLICATION (self));

  g_variant_ref_sink (value);
  action = self->automation ? g_action_map_lookup_action (G_ACTION_MAP (self), name) : NULL;
  if (action != NULL)
    g_simple_action_set_state (G_SIMPLE_ACTION (action), value);
  g_variant_unref (value);
}

void
es_application_set_page (EsApplication *self,
                         const char    *page)
{
  g_return_if_fail (ES_IS_APPLICATION (self));

  es_application_set_automation_state (self, "page", g_variant_new_string (page));
}

/* One line per recent call, newest first: "peer direction end-reason verified|unverified". */
static void
publish_history (EsApplication *self)
{
  GListModel *calls = es_call_history_get_calls (self->history);
  g_autoptr(GVariantBuilder) rows = g_variant_builder_new (G_VARIANT_TYPE_STRING_ARRAY);

  for (guint i = 0; i < g_list_model_get_n_items (calls); i++)
    {
      g_autoptr(EsHistoryItem) item = g_list_model_get_item (calls, i);
      g_autofree char *row =
        g_strdup_printf ("%s %s %s %s", es_history_item_get_peer_user (item),
                         es_history_item_get_direction (item) == ES_CALL_DIRECTION_OUTGOING
                         ? "outgoing" : "incoming",
                         es_call_end_reason_to_string (es_history_item_get_end_reason (item)),
                         es_history_item_get_verified (item) ? "verified" : "unverified");

      g_variant_builder_add (rows, "s", row);
    }

  es_application_set_automation_state (self, "history", g_variant_builder_end (rows));
}

/* GApplication */

static void
settings_changed_cb (EsApplication *self)
{
  apply_incoming_settings (self);
}

static void
es_application_startup (GApplication *app)
{
  EsApplication *self = ES_APPLICATION (app);
  static const struct { const char *action; const char *accels[3]; } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "app.preferences", { "<Control>comma", NULL } },
    { "app.accept", { "<Control><Shift>a", NULL } },
    { "app.accept-video", { "<Control><Shift>v", NULL } },
    { "app.decline", { "<Control><Shift>d", NULL } },
    { "app.hang-up", { "<Control><Shift>h", NULL } },
    { "app.mute", { "<Control>m", NULL } },
    { "app.camera-off", { "<Control><Shift>c", NULL } },
    { "win.search", { "<Control>f", NULL } },
    { "win.show-help-overlay", { "<Control>question", NULL } },
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *profile = NULL;
  const char *env;

  G_APPLICATION_CLASS (es_application_parent_class)->startup (app);

  gst_init (NULL, NULL);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  if (self->automation)
    g_action_map_add_action_entries (G_ACTION_MAP (self), automation_actions,
                                     G_N_ELEMENTS (automation_actions), self);
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (self), accels[i].action, accels[i].accels);

  self->settings = g_settings_new (APP_ID);
  g_signal_connect_swapped (self->settings, "changed", G_CALLBACK (settings_changed_cb), self);
  self->ringtone = es_ringtone_new ();

  env = g_getenv ("EARSHOT_PROFILE");
  profile = env && *env ? g_strdup (env)
                        : g_build_filename (g_get_user_data_dir (), "earshot", "app", NULL);
  self->store = es_client_store_new (profile, &error);
  if (self->store == NULL)
    {
      g_critical ("Cannot open the profile in %s: %s", profile, error->message);
      return;
    }
  self->account = es_account_new (self->store);

  {
    g_autofree char *history = g_build_filename (profile, "history.json", NULL);

    self->history = es_call_history_new (history);
    if (!es_call_history_load (self->history, &error))
      {
        g_message ("Call history unreadable, starting a new one: %s", error->message);
        g_clear_error (&error);
      }
    if (self->automation)
      {
        g_signal_connect_object (es_call_history_get_calls (self->history), "items-changed",
                                 G_CALLBACK (publish_history), self, G_CONNECT_SWAPPED);
        publish_history (self);
      }
  }

  if (es_application_get_signed_in (self))
    start_signaling (self);

  update_actions (self);
}

/* For tests/bench/run-app-bench.sh: when the first frame is on screen. */
static void
first_frame_cb (GdkFrameClock *clock,
                EsApplication *self)
{
  g_signal_handlers_disconnect_by_func (clock, first_frame_cb, self);
  g_print ("EARSHOT_BENCH first-frame realtime-us=%" G_GINT64_FORMAT "\n", g_get_real_time ());
}

static void
es_application_activate (GApplication *app)
{
  EsApplication *self = ES_APPLICATION (app);
  GtkWindow *window = get_window (self);

  gtk_window_present (window);

  if (!self->first_frame_logged && g_getenv ("EARSHOT_BENCH") != NULL)
    {
      GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));

      self->first_frame_logged = TRUE;
      if (clock != NULL)
        g_signal_connect_object (clock, "after-paint", G_CALLBACK (first_frame_cb), self, 0);
    }
}

static void
es_application_shutdown (GApplication *app)
{
  EsApplication *self = ES_APPLICATION (app);

  if (self->client != NULL)
    es_signaling_client_stop (self->client);
  if (self->ringtone != NULL)
    es_ringtone_stop (self->ringtone);

  G_APPLICATION_CLASS (es_application_parent_class)->shutdown (app);
}

static int
es_application_handle_local_options (GApplication *app,
                                     GVariantDict *options)
{
  EsApplication *self = ES_APPLICATION (app);

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("earshot %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (g_variant_dict_contains (options, "test-media"))
    self->test_media = TRUE;

  return -1;
}

static void
es_application_dispose (GObject *object)
{
  EsApplication *self = ES_APPLICATION (object);

  if (self->call != NULL)
    {
      g_clear_signal_handler (&self->call_state_id, self->call);
      g_clear_signal_handler (&self->call_verification_id, self->call);
    }
  g_clear_object (&self->call);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->manager);
  g_clear_object (&self->client);
  g_clear_object (&self->account);
  g_clear_object (&self->store);
  g_clear_object (&self->history);
  g_clear_object (&self->ringtone);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (es_application_parent_class)->dispose (object);
}

static void
es_application_finalize (GObject *object)
{
  g_free (ES_APPLICATION (object)->error);

  G_OBJECT_CLASS (es_application_parent_class)->finalize (object);
}

static void
es_application_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  EsApplication *self = ES_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_CALL:
      g_value_set_object (value, self->call);
      break;
    case PROP_SIGNED_IN:
      g_value_set_boolean (value, es_application_get_signed_in (self));
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, self->busy);
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
es_application_class_init (EsApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = es_application_dispose;
  object_class->finalize = es_application_finalize;
  object_class->get_property = es_application_get_property;

  app_class->startup = es_application_startup;
  app_class->activate = es_application_activate;
  app_class->shutdown = es_application_shutdown;
  app_class->handle_local_options = es_application_handle_local_options;

  properties[PROP_CALL] =
    g_param_spec_object ("call", NULL, NULL, ES_TYPE_CALL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SIGNED_IN] =
    g_param_spec_boolean ("signed-in", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ERROR] =
    g_param_spec_string ("error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * EsApplication::call-ended:
   * @call: the call that just ended; it is no longer the current call
   */
  signals[CALL_ENDED] =
    g_signal_new ("call-ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, ES_TYPE_CALL);
}

static void
es_application_init (EsApplication *self)
{
  static const GOptionEntry options[] = {
    { "test-media", 0, 0, G_OPTION_ARG_NONE, NULL,
      N_("Use test patterns instead of the microphone and camera"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Show the version"), NULL },
    { NULL }
  };

  self->test_media = g_strcmp0 (g_getenv ("EARSHOT_TEST_MEDIA"), "1") == 0;
  self->automation = g_strcmp0 (g_getenv ("EARSHOT_AUTOMATION"), "1") == 0;
  g_application_add_main_option_entries (G_APPLICATION (self), options);
}

EsApplication *
es_application_new (void)
{
  return g_object_new (ES_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/org/earshot/Earshot",
                       NULL);
}

GSettings *
es_application_get_settings (EsApplication *self)
{
  g_return_val_if_fail (ES_IS_APPLICATION (self), NULL);

  return self->settings;
}

EsCallHistory *
es_application_get_history (EsApplication *self)
{
  g_return_val_if_fail (ES_IS_APPLICATION (self), NULL);

  return self->history;
}

EsCall *
es_application_get_call (EsApplication *self)
{
  g_return_val_if_fail (ES_IS_APPLICATION (self), NULL);

  return self->call;
}

gboolean
es_application_get_signed_in (EsApplication *self)
{
  g_autofree char *token = NULL;

  g_return_val_if_fail (ES_IS_APPLICATION (self), FALSE);

  if (self->store == NULL)
    return FALSE;

  token = es_client_store_dup_setting (self->store, ES_SETTING_TOKEN);
  return token != NULL && token[0] != '\0';
}

gboolean
es_application_get_busy (EsApplication *self)
{
  g_return_val_if_fail (ES_IS_APPLICATION (self), FALSE);

  return self->busy;
}

const char *
es_application_get_error (EsApplication *self)
{
  g_return_val_if_fail (ES_IS_APPLICATION (self), NULL);

  return self->error;
}

char *
es_application_dup_user (EsApplication *self)
{
  g_return_val_if_fail (ES_IS_APPLICATION (self), NULL);

  return self->store ? es_client_store_dup_setting (self->store, ES_SETTING_USER) : NULL;
}

gboolean
es_application_get_camera_off (EsApplication *self)
{
  g_autoptr(GVariant) state = NULL;

  g_return_val_if_fail (ES_IS_APPLICATION (self), FALSE);

  state = g_action_group_get_action_state (G_ACTION_GROUP (self), "camera-off");
  return state != NULL && g_variant_get_boolean (state);
}

gboolean
es_application_get_test_media (EsApplication *self)
{
  g_return_val_if_fail (ES_IS_APPLICATION (self), FALSE);

  return self->test_media;
}
