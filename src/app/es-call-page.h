/* es-call-page.h: a call in progress: video, controls, connection and verification
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "es-call.h"
#include "es-verification.h"

G_BEGIN_DECLS

#define ES_TYPE_CALL_PAGE (es_call_page_get_type ())

G_DECLARE_FINAL_TYPE (EsCallPage, es_call_page, ES, CALL_PAGE, GtkWidget)

GtkWidget *es_call_page_new              (void);
EsCall    *es_call_page_get_call         (EsCallPage     *self);
void       es_call_page_set_call         (EsCallPage     *self,
                                          EsCall         *call);
void       es_call_page_set_verification (EsCallPage     *self,
                                          EsVerification *verification);
void       es_call_page_set_camera_on    (EsCallPage     *self,
                                          gboolean        camera_on);
void       es_call_page_set_test_media   (EsCallPage     *self,
                                          gboolean        test_media);
gboolean   es_call_page_get_verified     (EsCallPage     *self);
gboolean   es_call_page_get_video_regions (EsCallPage      *self,
                                           GtkWidget       *relative_to,
                                           graphene_rect_t *video,
                                           GArray          *covered);

G_END_DECLS
