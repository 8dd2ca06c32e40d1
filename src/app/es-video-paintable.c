/* es-video-paintable.c: decoded video frames as a GdkPaintable
 *
 * Debian 12 has no gtk4paintablesink, so BGRA samples from an appsink are
 * turned into GdkMemoryTextures here (DESIGN.md §5). Samples arrive on a
 * streaming thread; only the newest one is kept and the conversion happens on
 * the main thread, so a slow main loop drops frames instead of queueing them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <gst/video/video.h>

#include "es-video-paintable.h"

struct _EsVideoPaintable
{
  GObject     parent_instance;

  /* Owned */
  GdkTexture *texture;
  GMutex      lock;
  GstSample  *pending;      /* guarded by lock */

  guint       n_frames;      /* guarded by lock */
  guint       update_queued : 1; /* guarded by lock */
};

static void paintable_iface_init (GdkPaintableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (EsVideoPaintable, es_video_paintable, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (GDK_TYPE_PAINTABLE, paintable_iface_init))

static void
es_video_paintable_snapshot (GdkPaintable *paintable,
                             GdkSnapshot  *snapshot,
                             double        width,
                             double        height)
{
  EsVideoPaintable *self = ES_VIDEO_PAINTABLE (paintable);

  if (self->texture != NULL)
    gdk_paintable_snapshot (GDK_PAINTABLE (self->texture), snapshot, width, height);
}

static int
es_video_paintable_get_intrinsic_width (GdkPaintable *paintable)
{
  EsVideoPaintable *self = ES_VIDEO_PAINTABLE (paintable);

  return self->texture ? gdk_texture_get_width (self->texture) : 0;
}

static int
es_video_paintable_get_intrinsic_height (GdkPaintable *paintable)
{
  EsVideoPaintable *self = ES_VIDEO_PAINTABLE (paintable);

  return self->texture ? gdk_texture_get_height (self->texture) : 0;
}

static double
es_video_paintable_get_intrinsic_aspect_ratio (GdkPaintable *paintable)
{
  EsVideoPaintable *self = ES_VIDEO_PAINTABLE (paintable);

  if (self->texture == NULL)
    return 0.0;

  return (double) gdk_texture_get_width (self->texture) / gdk_texture_get_height (self->texture);
}

static void
paintable_iface_init (GdkPaintableInterface *iface)
{
  iface->snapshot = es_video_paintable_snapshot;
  iface->get_intrinsic_width = es_video_paintable_get_intrinsic_width;
  iface->get_intrinsic_height = es_video_paintable_get_intrinsic_height;
  iface->get_intrinsic_aspect_ratio = es_video_paintable_get_intrinsic_aspect_ratio;
}

static GdkTexture *
texture_from_sample (GstSample *sample)
{
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  GstCaps *caps = gst_sample_get_caps (sample);
  GstVideoInfo info;
  GstVideoFrame frame;
  g_autoptr(GBytes) bytes = NULL;
  GdkTexture *texture;
  gsize stride, height;

  if (buffer == NULL || caps == NULL || !gst_video_info_from_caps (&info, caps))
    return NULL;
  if (GST_VIDEO_INFO_FORMAT (&info) != GST_VIDEO_FORMAT_BGRA &&
      GST_VIDEO_INFO_FORMAT (&info) != GST_VIDEO_FORMAT_BGRx)
    return NULL;
  if (!gst_video_frame_map (&frame, &info, buffer, GST_MAP_READ))
    return NULL;

  stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
  height = GST_VIDEO_FRAME_HEIGHT (&frame);
  bytes = g_bytes_new (GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), stride * height);
  /* videoconvert writes opaque alpha, so premultiplied and straight are the same. */
  texture = gdk_memory_texture_new (GST_VIDEO_FRAME_WIDTH (&frame), height,
                                    GDK_MEMORY_B8G8R8A8_PREMULTIPLIED, bytes, stride);
  gst_video_frame_unmap (&frame);

  return texture;
}

static void
es_video_paintable_set_texture (EsVideoPaintable *self,
                                GdkTexture       *texture)
{
  gboolean size_changed;

  size_changed = self->texture == NULL || texture == NULL ||
                 gdk_texture_get_width (self->texture) != gdk_texture_get_width (texture) ||
                 gdk_texture_get_height (self->texture) != gdk_texture_get_height (texture);

  g_set_object (&self->texture, texture);

  if (size_changed)
    gdk_paintable_invalidate_size (GDK_PAINTABLE (self));
  gdk_paintable_invalidate_contents (GDK_PAINTABLE (self));
}

static void
free_weak_ref (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

static gboolean
update_cb (gpointer data)
{
  GWeakRef *ref = data;
  g_autoptr(EsVideoPaintable) self = g_weak_ref_get (ref);
  g_autoptr(GstSample) sample = NULL;
  g_autoptr(GdkTexture) texture = NULL;

  if (self == NULL)
    return G_SOURCE_REMOVE;

  g_mutex_lock (&self->lock);
  sample = g_steal_pointer (&self->pending);
  self->update_queued = FALSE;
  g_mutex_unlock (&self->lock);

  if (sample != NULL && (texture = texture_from_sample (sample)) != NULL)
    es_video_paintable_set_texture (self, texture);

  return G_SOURCE_REMOVE;
}

/**
 * es_video_paintable_push_sample:
 * @sample: a BGRA video sample
 *
 * Thread-safe: may be called from a streaming thread.
 */
void
es_video_paintable_push_sample (EsVideoPaintable *self,
                                GstSample        *sample)
{
  gboolean queue;

  g_return_if_fail (ES_IS_VIDEO_PAINTABLE (self));
  g_return_if_fail (GST_IS_SAMPLE (sample));

  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->pending, gst_sample_unref);
  self->pending = gst_sample_ref (sample);
  self->n_frames++;
  queue = !self->update_queued;
  self->update_queued = TRUE;
  g_mutex_unlock (&self->lock);

  if (queue)
    {
      GWeakRef *ref = g_new0 (GWeakRef, 1);

      g_weak_ref_init (ref, self);
      g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, update_cb, ref, free_weak_ref);
    }
}

void
es_video_paintable_clear (EsVideoPaintable *self)
{
  g_return_if_fail (ES_IS_VIDEO_PAINTABLE (self));

  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->pending, gst_sample_unref);
  g_mutex_unlock (&self->lock);

  if (self->texture != NULL)
    es_video_paintable_set_texture (self, NULL);
}

gboolean
es_video_paintable_has_frame (EsVideoPaintable *self)
{
  g_return_val_if_fail (ES_IS_VIDEO_PAINTABLE (self), FALSE);

  return self->texture != NULL;
}

static void
es_video_paintable_finalize (GObject *object)
{
  EsVideoPaintable *self = ES_VIDEO_PAINTABLE (object);

  g_clear_object (&self->texture);
  g_clear_pointer (&self->pending, gst_sample_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (es_video_paintable_parent_class)->finalize (object);
}

static void
es_video_paintable_class_init (EsVideoPaintableClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = es_video_paintable_finalize;
}

static void
es_video_paintable_init (EsVideoPaintable *self)
{
  g_mutex_init (&self->lock);
}

EsVideoPaintable *
es_video_paintable_new (void)
{
  return g_object_new (ES_TYPE_VIDEO_PAINTABLE, NULL);
}

/* Thread-safe: how many samples were pushed so far. */
guint
es_video_paintable_get_n_frames (EsVideoPaintable *self)
{
  guint n;

  g_return_val_if_fail (ES_IS_VIDEO_PAINTABLE (self), 0);

  g_mutex_lock (&self->lock);
  n = self->n_frames;
  g_mutex_unlock (&self->lock);

  return n;
}
