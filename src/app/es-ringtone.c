/* es-ringtone.c: the sound of an incoming call
 *
 * Two short tones, then silence, repeated: a sine from audiotestsrc gated by
 * a volume element, so no sound file has to ship. Without an audio device the
 * pipeline fails to start and the call simply rings silently.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <gst/gst.h>

#include "es-ringtone.h"

#define CADENCE_MS 200

struct _EsRingtone
{
  GObject     parent_instance;

  GstElement *pipeline;
  GstElement *volume;
  guint       tick_id;
  guint       step;
};

G_DEFINE_FINAL_TYPE (EsRingtone, es_ringtone, G_TYPE_OBJECT)

/* On, off, on, then seven steps of silence: 2 s per ring. */
static const gboolean cadence[] = { 1, 0, 1, 0, 0, 0, 0, 0, 0, 0 };

static gboolean
tick_cb (gpointer data)
{
  EsRingtone *self = data;

  g_object_set (self->volume, "mute", !cadence[self->step], NULL);
  self->step = (self->step + 1) % G_N_ELEMENTS (cadence);

  return G_SOURCE_CONTINUE;
}

static gboolean
bus_cb (GstBus     *bus,
        GstMessage *message,
        gpointer    data)
{
  EsRingtone *self = data;

  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR)
    {
      g_autoptr(GError) error = NULL;

      gst_message_parse_error (message, &error, NULL);
      g_debug ("Ringtone unavailable: %s", error->message);
      es_ringtone_stop (self);
    }

  return G_SOURCE_CONTINUE;
}

void
es_ringtone_start (EsRingtone *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GstBus) bus = NULL;
  const char *sink;

  g_return_if_fail (ES_IS_RINGTONE (self));

  if (self->pipeline != NULL)
    return;

  /* Tests and headless runs have no sound server; they should not try one. */
  sink = g_getenv ("EARSHOT_TEST_MEDIA") ? "fakesink sync=true" : "autoaudiosink";
  {
    g_autofree char *description =
      g_strdup_printf ("audiotestsrc is-live=true wave=sine freq=660 volume=0.25 "
                       "! volume name=gate mute=true ! audioconvert ! audioresample ! %s", sink);

    self->pipeline = gst_parse_launch (description, &error);
  }
  if (self->pipeline == NULL)
    {
      g_debug ("Ringtone unavailable: %s", error->message);
      return;
    }

  self->volume = gst_bin_get_by_name (GST_BIN (self->pipeline), "gate");
  bus = gst_element_get_bus (self->pipeline);
  gst_bus_add_watch (bus, bus_cb, self);
  self->step = 0;
  self->tick_id = g_timeout_add (CADENCE_MS, tick_cb, self);
  gst_element_set_state (self->pipeline, GST_STATE_PLAYING);
}

void
es_ringtone_stop (EsRingtone *self)
{
  g_return_if_fail (ES_IS_RINGTONE (self));

  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (self->pipeline != NULL)
    {
      g_autoptr(GstBus) bus = gst_element_get_bus (self->pipeline);

      gst_bus_remove_watch (bus);
      gst_element_set_state (self->pipeline, GST_STATE_NULL);
    }
  gst_clear_object (&self->volume);
  gst_clear_object (&self->pipeline);
}

gboolean
es_ringtone_is_playing (EsRingtone *self)
{
  g_return_val_if_fail (ES_IS_RINGTONE (self), FALSE);

  return self->pipeline != NULL;
}

static void
es_ringtone_dispose (GObject *object)
{
  es_ringtone_stop (ES_RINGTONE (object));

  G_OBJECT_CLASS (es_ringtone_parent_class)->dispose (object);
}

static void
es_ringtone_class_init (EsRingtoneClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = es_ringtone_dispose;
}

static void
es_ringtone_init (EsRingtone *self)
{
}

EsRingtone *
es_ringtone_new (void)
{
  return g_object_new (ES_TYPE_RINGTONE, NULL);
}
