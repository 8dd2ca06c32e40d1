/* es-media-source.h: where a branch's audio and video come from
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gst/gst.h>

#include "es-media-codec.h"
#include "es-media-settings.h"

G_BEGIN_DECLS

GstElement *es_media_source_make (EsMediaKind             kind,
                                  const EsMediaSettings  *settings,
                                  GError                **error);

G_END_DECLS
