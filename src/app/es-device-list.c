/* es-device-list.c: microphones, speakers and cameras, as GstDeviceMonitor sees them
 *
 * The lists follow hot-plug: the monitor's bus reports added and removed
 * devices on the main context.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>
#include <gst/gst.h>

#include "es-device-list.h"

struct _EsDeviceList
{
  GObject           parent_instance;

  GstDeviceMonitor *monitor;
  GtkStringList    *names[3];
};

G_DEFINE_FINAL_TYPE (EsDeviceList, es_device_list, G_TYPE_OBJECT)

static int
kind_of (GstDevice *device)
{
  if (gst_device_has_classes (device, "Audio/Source"))
    return ES_DEVICE_KIND_MICROPHONE;
  if (gst_device_has_classes (device, "Audio/Sink"))
    return ES_DEVICE_KIND_SPEAKER;
  if (gst_device_has_classes (device, "Video/Source"))
    return ES_DEVICE_KIND_CAMERA;
  return -1;
}

static guint
find_name (GtkStringList *list,
           const char    *name)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (list));

  for (guint i = 1; i < n; i++)
    if (g_strcmp0 (gtk_string_list_get_string (list, i), name) == 0)
      return i;

  return G_MAXUINT;
}

static void
add_device (EsDeviceList *self,
            GstDevice    *device)
{
  g_autofree char *name = gst_device_get_display_name (device);
  int kind = kind_of (device);

  if (kind < 0 || name == NULL || find_name (self->names[kind], name) != G_MAXUINT)
    return;

  gtk_string_list_append (self->names[kind], name);
}

static void
remove_device (EsDeviceList *self,
               GstDevice    *device)
{
  g_autofree char *name = gst_device_get_display_name (device);
  int kind = kind_of (device);
  guint pos;

  if (kind < 0 || name == NULL)
    return;

  pos = find_name (self->names[kind], name);
  if (pos != G_MAXUINT)
    gtk_string_list_remove (self->names[kind], pos);
}

static gboolean
bus_cb (GstBus     *bus,
        GstMessage *message,
        gpointer    data)
{
  EsDeviceList *self = data;
  g_autoptr(GstDevice) device = NULL;

  switch (GST_MESSAGE_TYPE (message))
    {
    case GST_MESSAGE_DEVICE_ADDED:
      gst_message_parse_device_added (message, &device);
      add_device (self, device);
      break;

    case GST_MESSAGE_DEVICE_REMOVED:
      gst_message_parse_device_removed (message, &device);
      remove_device (self, device);
      break;

    default:
      break;
    }

  return G_SOURCE_CONTINUE;
}

static void
es_device_list_dispose (GObject *object)
{
  EsDeviceList *self = ES_DEVICE_LIST (object);

  if (self->monitor != NULL)
    {
      g_autoptr(GstBus) bus = gst_device_monitor_get_bus (self->monitor);

      gst_bus_remove_watch (bus);
      gst_device_monitor_stop (self->monitor);
      gst_clear_object (&self->monitor);
    }

  for (guint i = 0; i < G_N_ELEMENTS (self->names); i++)
    g_clear_object (&self->names[i]);

  G_OBJECT_CLASS (es_device_list_parent_class)->dispose (object);
}

static void
es_device_list_class_init (EsDeviceListClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = es_device_list_dispose;
}

static void
es_device_list_init (EsDeviceList *self)
{
  g_autoptr(GstBus) bus = NULL;
  GList *devices;

  for (guint i = 0; i < G_N_ELEMENTS (self->names); i++)
    {
      const char *first[] = { _("Default"), NULL };

      self->names[i] = gtk_string_list_new (first);
    }

  self->monitor = gst_device_monitor_new ();
  gst_device_monitor_add_filter (self->monitor, "Audio/Source", NULL);
  gst_device_monitor_add_filter (self->monitor, "Audio/Sink", NULL);
  gst_device_monitor_add_filter (self->monitor, "Video/Source", NULL);

  bus = gst_device_monitor_get_bus (self->monitor);
  gst_bus_add_watch (bus, bus_cb, self);

  if (!gst_device_monitor_start (self->monitor))
    {
      g_debug ("No device providers; only the default devices are offered");
      return;
    }

  devices = gst_device_monitor_get_devices (self->monitor);
  for (GList *l = devices; l != NULL; l = l->next)
    add_device (self, l->data);
  g_list_free_full (devices, gst_object_unref);
}

EsDeviceList *
es_device_list_new (void)
{
  return g_object_new (ES_TYPE_DEVICE_LIST, NULL);
}

GtkStringList *
es_device_list_get_names (EsDeviceList *self,
                          EsDeviceKind  kind)
{
  g_return_val_if_fail (ES_IS_DEVICE_LIST (self), NULL);
  g_return_val_if_fail (kind <= ES_DEVICE_KIND_CAMERA, NULL);

  return self->names[kind];
}
