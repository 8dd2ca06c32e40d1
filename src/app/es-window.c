/* es-window.c: the main window: first run, calls and contacts, and the call pages
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "es-call-page.h"
#include "es-window.h"

struct _EsWindow
{
  AdwApplicationWindow  parent_instance;

  /* Template widgets */
  AdwToastOverlay      *toasts;
  GtkStack             *stack;
  /* first run */
  AdwEntryRow          *server_row;
  AdwEntryRow          *user_row;
  AdwPasswordEntryRow  *password_row;
  AdwEntryRow          *device_row;
  GtkWidget            *register_button;
  GtkWidget            *login_button;
  GtkWidget            *welcome_spinner;
  GtkWidget            *welcome_error;
  /* main */
  GtkSearchEntry       *search_entry;
  GtkStack             *main_stack;
  AdwStatusPage        *empty_page;
  GtkWidget            *call_group;
  AdwActionRow         *call_row;
  GtkWidget            *recents_group;
  GtkListBox           *recents_list;
  GtkWidget            *contacts_group;
  GtkListBox           *contacts_list;
  /* outgoing */
  AdwAvatar            *outgoing_avatar;
  GtkLabel             *outgoing_name;
  GtkLabel             *outgoing_state;
  /* incoming */
  AdwAvatar            *incoming_avatar;
  GtkLabel             *incoming_name;
  GtkLabel             *incoming_state;
  GtkWidget            *accept_video_button;
  /* call */
  EsCallPage           *call_page;

  /* Borrowed */
  EsApplication        *app;

  /* Owned */
  GtkFilterListModel   *recents_model;
  GtkFilterListModel   *contacts_model;
  GtkCustomFilter      *recents_filter;
  GtkCustomFilter      *contacts_filter;
  EsCall               *call;
  GHashTable           *ringing_devices;
  gulong                call_state_id;
  gulong                ringing_id;
};

G_DEFINE_FINAL_TYPE (EsWindow, es_window, ADW_TYPE_APPLICATION_WINDOW)

static void update_page (EsWindow *self);

/* Recent calls and contacts */

static char *
format_duration (gint64 ms)
{
  gint64 s = MAX (ms, 0) / 1000;

  if (s >= 3600)
    return g_strdup_printf ("%d:%02d:%02d", (int) (s / 3600), (int) (s / 60 % 60), (int) (s % 60));
  return g_strdup_printf ("%d:%02d", (int) (s / 60), (int) (s % 60));
}

static char *
describe_history_item (EsHistoryItem *item)
{
  gboolean outgoing = es_history_item_get_direction (item) == ES_CALL_DIRECTION_OUTGOING;

  if (es_history_item_get_elsewhere_device (item) != NULL &&
      es_history_item_get_end_reason (item) == ES_CALL_END_REASON_ANSWERED_ELSEWHERE)
    /* Translators: %s is the name of another device of the user */
    return g_strdup_printf (_("Answered on %s"), es_history_item_get_elsewhere_device (item));

  if (es_history_item_is_missed (item))
    return g_strdup (_("Missed"));

  if (es_history_item_is_answered (item))
    {
      g_autofree char *duration = format_duration (es_history_item_get_duration_ms (item));

      /* Translators: "Outgoing · 3:12", a call and its duration */
      return g_strdup_printf (outgoing ? _("Outgoing · %s") : _("Incoming · %s"), duration);
    }

  switch (es_history_item_get_end_reason (item))
    {
    case ES_CALL_END_REASON_DECLINED:
      return g_strdup (_("Declined"));
    case ES_CALL_END_REASON_DECLINED_ELSEWHERE:
      return g_strdup (_("Declined on another device"));
    case ES_CALL_END_REASON_NO_ANSWER:
      return g_strdup (_("No answer"));
    case ES_CALL_END_REASON_BUSY:
      return g_strdup (_("Busy"));
    case ES_CALL_END_REASON_CANCELLED:
      return g_strdup (_("Cancelled"));
    case ES_CALL_END_REASON_FAILED:
      return g_strdup (_("Failed"));
    default:
      return g_strdup (outgoing ? _("Outgoing") : _("Incoming"));
    }
}

static GtkWidget *
make_call_button (const char *icon,
                  const char *action,
                  const char *user,
                  const char *label)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "flat");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "s", user);
  gtk_widget_set_tooltip_text (button, label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);

  return button;
}

static GtkWidget *
create_recent_row (gpointer item_ptr,
                   gpointer data)
{
  EsHistoryItem *item = item_ptr;
  const char *user = es_history_item_get_peer_user (item);
  g_autofree char *subtitle = describe_history_item (item);
  g_autofree char *when = NULL;
  g_autofree char *call_label = NULL;
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local (es_history_item_get_started (item) / G_USEC_PER_SEC);
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *icon;
  const char *icon_name;
  const char *direction;

  if (es_history_item_is_missed (item))
    {
      icon_name = "call-missed-symbolic";
      direction = _("Missed call");
    }
  else if (es_history_item_get_direction (item) == ES_CALL_DIRECTION_OUTGOING)
    {
      icon_name = "call-outgoing-symbolic";
      direction = _("Outgoing call");
    }
  else
    {
      icon_name = "call-incoming-symbolic";
      direction = _("Incoming call");
    }

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), user);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);

  icon = gtk_image_new_from_icon_name (icon_name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (icon), GTK_ACCESSIBLE_PROPERTY_LABEL, direction, -1);
  if (es_history_item_is_missed (item))
    gtk_widget_add_css_class (icon, "error");
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);

  if (es_history_item_get_verified (item))
    {
      GtkWidget *shield = gtk_image_new_from_icon_name ("security-high-symbolic");

      gtk_widget_add_css_class (shield, "success");
      gtk_widget_set_tooltip_text (shield, _("Verified"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (shield), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("Verified"), -1);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), shield);
    }

  if (time != NULL)
    {
      GtkWidget *label;

      when = g_date_time_format (time, "%x %R");
      label = gtk_label_new (when);
      gtk_widget_add_css_class (label, "dim-label");
      gtk_widget_add_css_class (label, "caption");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);
    }

  /* Translators: %s is a user name */
  call_label = g_strdup_printf (_("Call %s"), user);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             make_call_button (es_history_item_get_video (item)
                                               ? "camera-web-symbolic" : "call-start-symbolic",
                                               es_history_item_get_video (item) ? "app.call" : "app.call-audio",
                                               user, call_label));

  return row;
}

static GtkWidget *
create_contact_row (gpointer item,
                    gpointer data)
{
  const char *user = g_object_get_data (item, "user");
  g_autofree char *audio_label = g_strdup_printf (_("Audio call with %s"), user);
  g_autofree char *video_label = g_strdup_printf (_("Video call with %s"), user);
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *avatar = adw_avatar_new (32, user, TRUE);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), user);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), avatar);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             make_call_button ("call-start-symbolic", "app.call-audio", user, audio_label));
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             make_call_button ("camera-web-symbolic", "app.call", user, video_label));

  return row;
}

static gboolean
matches_search (EsWindow   *self,
                const char *user)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  g_autofree char *needle = NULL;
  g_autofree char *haystack = NULL;

  if (text[0] == '\0')
    return TRUE;

  needle = g_utf8_casefold (text, -1);
  haystack = g_utf8_casefold (user, -1);
  return strstr (haystack, needle) != NULL;
}

static gboolean
recent_filter_func (gpointer item,
                    gpointer data)
{
  return matches_search (data, es_history_item_get_peer_user (item));
}

static gboolean
contact_filter_func (gpointer item,
                     gpointer data)
{
  return matches_search (data, g_object_get_data (item, "user"));
}

static void
update_main (EsWindow *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  g_autofree char *query = g_strstrip (g_strdup (text));
  guint n_recents = g_list_model_get_n_items (G_LIST_MODEL (self->recents_model));
  guint n_contacts = g_list_model_get_n_items (G_LIST_MODEL (self->contacts_model));
  g_autofree char *user = es_application_dup_user (self->app);

  gtk_widget_set_visible (self->call_group, query[0] != '\0');
  if (query[0] != '\0')
    {
      /* Translators: %s is what the user typed in the search field */
      g_autofree char *title = g_strdup_printf (_("Call “%s”"), query);

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->call_row), title);
    }

  gtk_widget_set_visible (self->recents_group, n_recents > 0);
  gtk_widget_set_visible (self->contacts_group, n_contacts > 0);

  if (query[0] == '\0' && n_recents == 0)
    {
      g_autofree char *description = NULL;

      if (user != NULL)
        /* Translators: %s is the user's own user name */
        description = g_markup_printf_escaped (_("Type a user name in the search field above to call someone. "
                                                 "Others can call you at <b>%s</b>."), user);
      else
        description = g_strdup (_("Type a user name in the search field above to call someone."));
      adw_status_page_set_description (self->empty_page, description);
      gtk_stack_set_visible_child_name (self->main_stack, "empty");
    }
  else
    gtk_stack_set_visible_child_name (self->main_stack, "list");
}

static void
search_changed_cb (EsWindow *self)
{
  gtk_filter_changed (GTK_FILTER (self->recents_filter), GTK_FILTER_CHANGE_DIFFERENT);
  gtk_filter_changed (GTK_FILTER (self->contacts_filter), GTK_FILTER_CHANGE_DIFFERENT);
  update_main (self);
}

static void
call_query (EsWindow *self,
            gboolean  video)
{
  g_autofree char *query = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->search_entry))));

  if (query[0] == '\0')
    return;

  g_action_group_activate_action (G_ACTION_GROUP (self->app), video ? "call" : "call-audio",
                                  g_variant_new_string (query));
}

static void
call_query_video_cb (EsWindow *self)
{
  call_query (self, TRUE);
}

static void
call_query_audio_cb (EsWindow *self)
{
  call_query (self, FALSE);
}

static void
search_activate_cb (EsWindow *self)
{
  call_query (self, TRUE);
}

/* First run */

static void
sign_in (EsWindow *self,
         gboolean  login)
{
  GVariant *parameter =
    g_variant_new ("(ssss)",
                   gtk_editable_get_text (GTK_EDITABLE (self->server_row)),
                   gtk_editable_get_text (GTK_EDITABLE (self->user_row)),
                   gtk_editable_get_text (GTK_EDITABLE (self->password_row)),
                   gtk_editable_get_text (GTK_EDITABLE (self->device_row)));

  g_action_group_activate_action (G_ACTION_GROUP (self->app), login ? "login" : "register", parameter);
}

static void
register_clicked_cb (EsWindow *self)
{
  sign_in (self, FALSE);
}

static void
login_clicked_cb (EsWindow *self)
{
  sign_in (self, TRUE);
}

static void
busy_changed_cb (EsWindow *self)
{
  gboolean busy = es_application_get_busy (self->app);
  const char *error = es_application_get_error (self->app);

  gtk_widget_set_visible (self->welcome_spinner, busy);
  gtk_spinner_set_spinning (GTK_SPINNER (self->welcome_spinner), busy);
  gtk_widget_set_sensitive (self->register_button, !busy);
  gtk_widget_set_sensitive (self->login_button, !busy);
  gtk_label_set_label (GTK_LABEL (self->welcome_error), error ? error : "");
  gtk_widget_set_visible (self->welcome_error, error != NULL);
}

/* Calls */

static void
update_outgoing (EsWindow *self)
{
  EsCallState state = es_call_get_state (self->call);
  guint n_devices = g_hash_table_size (self->ringing_devices);
  g_autofree char *text = NULL;

  switch (state)
    {
    case ES_CALL_STATE_DIALING:
      text = g_strdup (_("Calling…"));
      break;
    case ES_CALL_STATE_RINGING:
      if (n_devices <= 1)
        text = g_strdup (_("Ringing…"));
      else
        text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Ringing on %u device",
                                             "Ringing on %u devices", n_devices), n_devices);
      break;
    default:
      text = g_strdup (_("Connecting…"));
      break;
    }

  gtk_label_set_label (self->outgoing_state, text);
}

static void
update_incoming (EsWindow *self)
{
  gboolean video = !es_call_get_audio_only (self->call);

  gtk_label_set_label (self->incoming_state, video ? _("Incoming video call") : _("Incoming audio call"));
  gtk_widget_set_visible (self->accept_video_button, video);
}

static void
set_page (EsWindow   *self,
          const char *name)
{
  gtk_stack_set_visible_child_name (self->stack, name);
  es_application_set_page (self->app, name);
}

static void
update_page (EsWindow *self)
{
  if (self->call != NULL)
    {
      EsCallState state = es_call_get_state (self->call);
      gboolean incoming = es_call_get_direction (self->call) == ES_CALL_DIRECTION_INCOMING;

      if (incoming && state == ES_CALL_STATE_RINGING)
        {
          update_incoming (self);
          set_page (self, "incoming");
        }
      else if (!incoming && (state == ES_CALL_STATE_DIALING || state == ES_CALL_STATE_RINGING))
        {
          update_outgoing (self);
          set_page (self, "outgoing");
        }
      else
        {
          es_call_page_set_camera_on (self->call_page, !es_application_get_camera_off (self->app));
          set_page (self, "call");
        }
      return;
    }

  if (es_application_get_signed_in (self->app))
    {
      update_main (self);
      set_page (self, "main");
    }
  else
    set_page (self, "welcome");
}

static void
ringing_device_cb (EsCall     *call,
                   const char *device_id,
                   const char *device_name,
                   EsWindow   *self)
{
  g_hash_table_add (self->ringing_devices, g_strdup (device_id));
  update_page (self);
}

static void
call_changed_cb (EsWindow *self)
{
  EsCall *call = es_application_get_call (self->app);

  if (call == self->call)
    return;

  if (self->call != NULL)
    {
      g_clear_signal_handler (&self->call_state_id, self->call);
      g_clear_signal_handler (&self->ringing_id, self->call);
    }
  g_set_object (&self->call, call);
  g_hash_table_remove_all (self->ringing_devices);

  if (call != NULL)
    {
      const char *peer = es_call_get_peer_user (call);

      self->call_state_id = g_signal_connect_swapped (call, "notify::state",
                                                      G_CALLBACK (update_page), self);
      self->ringing_id = g_signal_connect (call, "ringing-device",
                                           G_CALLBACK (ringing_device_cb), self);
      adw_avatar_set_text (self->outgoing_avatar, peer);
      adw_avatar_set_text (self->incoming_avatar, peer);
      gtk_label_set_label (self->outgoing_name, peer);
      gtk_label_set_label (self->incoming_name, peer);
      es_call_page_set_test_media (self->call_page, es_application_get_test_media (self->app));
    }
  es_call_page_set_call (self->call_page, call);

  update_page (self);
}

static void
call_ended_cb (EsApplication *app,
               EsCall        *call,
               EsWindow      *self)
{
  g_autofree char *message = NULL;
  const char *peer = es_call_get_peer_user (call);
  gboolean verified = es_call_page_get_verified (self->call_page);

  switch (es_call_get_end_reason (call))
    {
    case ES_CALL_END_REASON_ANSWERED_ELSEWHERE:
      message = g_strdup_printf (_("Answered on %s"),
                                 es_call_get_elsewhere_device_name (call)
                                 ? es_call_get_elsewhere_device_name (call) : _("another device"));
      break;
    case ES_CALL_END_REASON_DECLINED_ELSEWHERE:
      message = g_strdup (_("Declined on another device"));
      break;
    case ES_CALL_END_REASON_DECLINED:
      message = es_call_get_direction (call) == ES_CALL_DIRECTION_OUTGOING
                ? g_strdup_printf (_("%s declined the call"), peer) : NULL;
      break;
    case ES_CALL_END_REASON_BUSY:
      message = g_strdup_printf (_("%s is busy"), peer);
      break;
    case ES_CALL_END_REASON_NO_ANSWER:
      message = g_strdup_printf (_("%s did not answer"), peer);
      break;
    case ES_CALL_END_REASON_MISSED:
      message = g_strdup_printf (_("Missed call from %s"), peer);
      break;
    case ES_CALL_END_REASON_REMOTE_HANGUP:
      message = g_strdup_printf (_("%s hung up"), peer);
      break;
    case ES_CALL_END_REASON_FAILED:
      message = g_strdup_printf (_("Call failed: %s"),
                                 es_call_get_error (call) ? es_call_get_error (call)->message : _("unknown error"));
      break;
    default:
      break;
    }

  es_call_history_add_call (es_application_get_history (self->app), call, verified);

  if (message != NULL)
    {
      AdwToast *toast = adw_toast_new (message);

      adw_toast_set_timeout (toast, 5);
      adw_toast_overlay_add_toast (self->toasts, toast);
      es_application_set_automation_state (self->app, "toast", g_variant_new_string (message));
    }
}

void
es_window_show_error (EsWindow   *self,
                      const char *message)
{
  g_return_if_fail (ES_IS_WINDOW (self));

  adw_toast_overlay_add_toast (self->toasts, adw_toast_new (message));
}

const char *
es_window_get_page (EsWindow *self)
{
  g_return_val_if_fail (ES_IS_WINDOW (self), NULL);

  return gtk_stack_get_visible_child_name (self->stack);
}

EsCallPage *
es_window_get_call_page (EsWindow *self)
{
  g_return_val_if_fail (ES_IS_WINDOW (self), NULL);

  return self->call_page;
}

static void
search_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  EsWindow *self = ES_WINDOW (widget);

  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "main") == 0)
    gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

/* Window */

static void
models_changed_cb (EsWindow *self)
{
  update_main (self);
}

/* Not in constructed(): GtkWindow:application is set after it. */
static void
es_window_setup (EsWindow *self)
{
  GSettings *settings;
  EsCallHistory *history;
  g_autofree char *server = NULL;

  self->app = ES_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  settings = es_application_get_settings (self->app);
  history = es_application_get_history (self->app);

  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (settings, "window-width"),
                               g_settings_get_int (settings, "window-height"));
  if (g_settings_get_boolean (settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  server = g_settings_get_string (settings, "server-url");
  gtk_editable_set_text (GTK_EDITABLE (self->server_row), server);
  gtk_editable_set_text (GTK_EDITABLE (self->device_row), g_get_host_name ());

  self->recents_filter = gtk_custom_filter_new (recent_filter_func, self, NULL);
  self->contacts_filter = gtk_custom_filter_new (contact_filter_func, self, NULL);
  self->recents_model = gtk_filter_list_model_new (g_object_ref (es_call_history_get_calls (history)),
                                                   g_object_ref (GTK_FILTER (self->recents_filter)));
  self->contacts_model = gtk_filter_list_model_new (g_object_ref (es_call_history_get_contacts (history)),
                                                    g_object_ref (GTK_FILTER (self->contacts_filter)));
  gtk_list_box_bind_model (self->recents_list, G_LIST_MODEL (self->recents_model),
                           create_recent_row, self, NULL);
  gtk_list_box_bind_model (self->contacts_list, G_LIST_MODEL (self->contacts_model),
                           create_contact_row, self, NULL);
  g_signal_connect_object (self->recents_model, "items-changed",
                           G_CALLBACK (models_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->contacts_model, "items-changed",
                           G_CALLBACK (models_changed_cb), self, G_CONNECT_SWAPPED);

  g_signal_connect_object (self->app, "notify::call", G_CALLBACK (call_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->app, "notify::signed-in", G_CALLBACK (update_page), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->app, "notify::busy", G_CALLBACK (busy_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->app, "notify::error", G_CALLBACK (busy_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->app, "call-ended", G_CALLBACK (call_ended_cb), self, 0);

  busy_changed_cb (self);
  call_changed_cb (self);
  update_page (self);
}

static gboolean
es_window_close_request (GtkWindow *window)
{
  EsWindow *self = ES_WINDOW (window);
  GSettings *settings = es_application_get_settings (self->app);
  int width, height;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_int (settings, "window-width", width);
  g_settings_set_int (settings, "window-height", height);
  g_settings_set_boolean (settings, "window-maximized", gtk_window_is_maximized (window));

  return GTK_WINDOW_CLASS (es_window_parent_class)->close_request (window);
}

static void
es_window_dispose (GObject *object)
{
  EsWindow *self = ES_WINDOW (object);

  if (self->call != NULL)
    {
      g_clear_signal_handler (&self->call_state_id, self->call);
      g_clear_signal_handler (&self->ringing_id, self->call);
    }
  g_clear_object (&self->call);
  gtk_widget_dispose_template (GTK_WIDGET (self), ES_TYPE_WINDOW);
  g_clear_object (&self->recents_model);
  g_clear_object (&self->contacts_model);
  g_clear_object (&self->recents_filter);
  g_clear_object (&self->contacts_filter);
  g_clear_pointer (&self->ringing_devices, g_hash_table_unref);

  G_OBJECT_CLASS (es_window_parent_class)->dispose (object);
}

static void
es_window_class_init (EsWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = es_window_dispose;
  window_class->close_request = es_window_close_request;

  g_type_ensure (ES_TYPE_CALL_PAGE);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/earshot/Earshot/ui/es-window.ui");

  gtk_widget_class_bind_template_child (widget_class, EsWindow, toasts);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, server_row);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, user_row);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, password_row);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, device_row);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, register_button);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, login_button);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, welcome_spinner);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, welcome_error);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, empty_page);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, call_group);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, call_row);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, recents_group);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, recents_list);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, contacts_group);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, contacts_list);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, outgoing_avatar);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, outgoing_name);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, outgoing_state);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, incoming_avatar);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, incoming_name);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, incoming_state);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, accept_video_button);
  gtk_widget_class_bind_template_child (widget_class, EsWindow, call_page);

  gtk_widget_class_bind_template_callback (widget_class, register_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, login_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, search_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, search_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, call_query_video_cb);
  gtk_widget_class_bind_template_callback (widget_class, call_query_audio_cb);

  gtk_widget_class_install_action (widget_class, "win.search", NULL, search_action);
}

static void
es_window_init (EsWindow *self)
{
  self->ringing_devices = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  gtk_widget_init_template (GTK_WIDGET (self));
}

EsWindow *
es_window_new (EsApplication *application)
{
  EsWindow *self = g_object_new (ES_TYPE_WINDOW, "application", application, NULL);

  es_window_setup (self);

  return self;
}
