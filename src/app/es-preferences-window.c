/* es-preferences-window.c: devices, video, privacy and network settings
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "es-device-list.h"
#include "es-preferences-window.h"

struct _EsPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  /* Template widgets */
  AdwComboRow          *microphone_row;
  AdwComboRow          *speaker_row;
  AdwComboRow          *camera_row;
  AdwComboRow          *codec_row;
  GtkAdjustment        *bitrate_min;
  GtkAdjustment        *bitrate_start;
  GtkAdjustment        *bitrate_max;
  GtkAdjustment        *latency;
  GtkSwitch            *hide_address_switch;
  GtkSwitch            *hide_strangers_switch;
  AdwEntryRow          *stun_row;
  AdwEntryRow          *turn_row;

  /* Owned */
  GSettings            *settings;
  EsDeviceList         *devices;
};

G_DEFINE_FINAL_TYPE (EsPreferencesWindow, es_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static const char *device_keys[] = { "microphone", "speaker", "camera" };

static AdwComboRow *
device_row (EsPreferencesWindow *self,
            EsDeviceKind         kind)
{
  AdwComboRow *rows[] = { self->microphone_row, self->speaker_row, self->camera_row };

  return rows[kind];
}

/* Selects the stored device, or "Default" when it is absent (unplugged). */
static void
select_device (EsPreferencesWindow *self,
               EsDeviceKind         kind)
{
  GtkStringList *names = es_device_list_get_names (self->devices, kind);
  g_autofree char *wanted = g_settings_get_string (self->settings, device_keys[kind]);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (names));
  guint selected = 0;

  for (guint i = 1; i < n; i++)
    if (g_strcmp0 (gtk_string_list_get_string (names, i), wanted) == 0)
      selected = i;

  if (adw_combo_row_get_selected (device_row (self, kind)) != selected)
    adw_combo_row_set_selected (device_row (self, kind), selected);
}

static void
device_selected_cb (AdwComboRow         *row,
                    GParamSpec          *pspec,
                    EsPreferencesWindow *self)
{
  EsDeviceKind kind = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (row), "kind"));
  GtkStringList *names = es_device_list_get_names (self->devices, kind);
  guint selected = adw_combo_row_get_selected (row);
  const char *name;

  if (selected == GTK_INVALID_LIST_POSITION)
    return;

  name = selected == 0 ? "" : gtk_string_list_get_string (names, selected);
  if (name != NULL)
    {
      g_autofree char *current = g_settings_get_string (self->settings, device_keys[kind]);

      if (g_strcmp0 (current, name) != 0)
        g_settings_set_string (self->settings, device_keys[kind], name);
    }
}

static void
devices_changed_cb (GListModel          *model,
                    guint                position,
                    guint                removed,
                    guint                added,
                    EsPreferencesWindow *self)
{
  EsDeviceKind kind = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (model), "kind"));

  select_device (self, kind);
}

/* Codec priority: the combo row picks the first codec, the others follow. */
static const char *codec_orders[][3] = {
  { "VP8", "H264", NULL },
  { "H264", "VP8", NULL },
};

static void
codec_selected_cb (EsPreferencesWindow *self)
{
  guint selected = adw_combo_row_get_selected (self->codec_row);

  if (selected < G_N_ELEMENTS (codec_orders))
    g_settings_set_strv (self->settings, "video-codecs", codec_orders[selected]);
}

static void
turn_changed_cb (EsPreferencesWindow *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->turn_row));
  g_auto(GStrv) parts = g_regex_split_simple ("[,\\s]+", text, 0, 0);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) uris = NULL;

  for (guint i = 0; parts[i] != NULL; i++)
    if (parts[i][0] != '\0')
      g_strv_builder_add (builder, parts[i]);

  uris = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "turn-servers", (const char * const *) uris);
}

static void
es_preferences_window_dispose (GObject *object)
{
  EsPreferencesWindow *self = ES_PREFERENCES_WINDOW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), ES_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->devices);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (es_preferences_window_parent_class)->dispose (object);
}

static void
es_preferences_window_class_init (EsPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = es_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/earshot/Earshot/ui/es-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, EsPreferencesWindow, microphone_row);
  gtk_widget_class_bind_template_child (widget_class, EsPreferencesWindow, speaker_row);
  gtk_widget_class_bind_template_child (widget_class, EsPreferencesWindow, camera_row);
  gtk_widget_class_bind_template_child (widget_class, EsPreferencesWindow, codec_row);
  gtk_widget_class_bind_template_child (widget_class, EsPreferencesWindow, bitrate_min);
  gtk_widget_class_bind_template_child (widget_class, EsPreferencesWindow, bitrate_start);
  gtk_widget_class_bind_template_child (widget_class, EsPreferencesWindow, bitrate_max);
  gtk_widget_class_bind_template_child (widget_class, EsPreferencesWindow, latency);
  gtk_widget_class_bind_template_child (widget_class, EsPreferencesWindow, hide_address_switch);
  gtk_widget_class_bind_template_child (widget_class, EsPreferencesWindow, hide_strangers_switch);
  gtk_widget_class_bind_template_child (widget_class, EsPreferencesWindow, stun_row);
  gtk_widget_class_bind_template_child (widget_class, EsPreferencesWindow, turn_row);
}

static void
es_preferences_window_init (EsPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWindow *
es_preferences_window_new (GSettings *settings)
{
  EsPreferencesWindow *self = g_object_new (ES_TYPE_PREFERENCES_WINDOW, NULL);
  g_auto(GStrv) codecs = NULL;
  g_auto(GStrv) turn = NULL;
  g_autofree char *turn_text = NULL;

  self->settings = g_object_ref (settings);
  self->devices = es_device_list_new ();

  for (EsDeviceKind kind = ES_DEVICE_KIND_MICROPHONE; kind <= ES_DEVICE_KIND_CAMERA; kind++)
    {
      GtkStringList *names = es_device_list_get_names (self->devices, kind);
      AdwComboRow *row = device_row (self, kind);

      g_object_set_data (G_OBJECT (row), "kind", GUINT_TO_POINTER (kind));
      g_object_set_data (G_OBJECT (names), "kind", GUINT_TO_POINTER (kind));
      adw_combo_row_set_model (row, G_LIST_MODEL (names));
      select_device (self, kind);
      g_signal_connect (row, "notify::selected", G_CALLBACK (device_selected_cb), self);
      g_signal_connect_object (names, "items-changed", G_CALLBACK (devices_changed_cb), self, 0);
    }

  codecs = g_settings_get_strv (settings, "video-codecs");
  adw_combo_row_set_selected (self->codec_row, g_strcmp0 (codecs[0], "H264") == 0 ? 1 : 0);
  g_signal_connect_swapped (self->codec_row, "notify::selected", G_CALLBACK (codec_selected_cb), self);

  g_settings_bind (settings, "video-bitrate-min", self->bitrate_min, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "video-bitrate-start", self->bitrate_start, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "video-bitrate-max", self->bitrate_max, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "latency", self->latency, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "hide-address-until-answer", self->hide_address_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "hide-address-from-strangers", self->hide_strangers_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "stun-server", self->stun_row, "text", G_SETTINGS_BIND_DEFAULT);

  turn = g_settings_get_strv (settings, "turn-servers");
  turn_text = g_strjoinv (", ", turn);
  gtk_editable_set_text (GTK_EDITABLE (self->turn_row), turn_text);
  g_signal_connect_swapped (self->turn_row, "apply", G_CALLBACK (turn_changed_cb), self);

  return GTK_WINDOW (self);
}
