/* es-device-list.h: microphones, speakers and cameras, as GstDeviceMonitor sees them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef enum
{
  ES_DEVICE_KIND_MICROPHONE,
  ES_DEVICE_KIND_SPEAKER,
  ES_DEVICE_KIND_CAMERA,
} EsDeviceKind;

#define ES_TYPE_DEVICE_LIST (es_device_list_get_type ())

G_DECLARE_FINAL_TYPE (EsDeviceList, es_device_list, ES, DEVICE_LIST, GObject)

EsDeviceList *es_device_list_new       (void);
/* First item is always "Default"; the others are device display names. */
GtkStringList *es_device_list_get_names (EsDeviceList *self,
                                         EsDeviceKind  kind);

G_END_DECLS
