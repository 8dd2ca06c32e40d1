/* es-video-paintable.h: decoded video frames as a GdkPaintable
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gst/gst.h>
#include <gtk/gtk.h>

G_BEGIN_DECLS

#define ES_TYPE_VIDEO_PAINTABLE (es_video_paintable_get_type ())

G_DECLARE_FINAL_TYPE (EsVideoPaintable, es_video_paintable, ES, VIDEO_PAINTABLE, GObject)

EsVideoPaintable *es_video_paintable_new         (void);
void              es_video_paintable_push_sample (EsVideoPaintable *self,
                                                  GstSample        *sample);
void              es_video_paintable_clear       (EsVideoPaintable *self);
gboolean          es_video_paintable_has_frame   (EsVideoPaintable *self);
guint             es_video_paintable_get_n_frames (EsVideoPaintable *self);

G_END_DECLS
