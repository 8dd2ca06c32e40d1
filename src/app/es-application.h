/* es-application.h: the Earshot application: account, signaling, calls, actions
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "es-call-history.h"
#include "es-call-manager.h"
#include "es-client-store.h"

G_BEGIN_DECLS

#define ES_TYPE_APPLICATION (es_application_get_type ())

G_DECLARE_FINAL_TYPE (EsApplication, es_application, ES, APPLICATION, AdwApplication)

EsApplication *es_application_new           (void);
GSettings     *es_application_get_settings  (EsApplication *self);
EsCallHistory *es_application_get_history   (EsApplication *self);
EsCall        *es_application_get_call      (EsApplication *self);
gboolean       es_application_get_signed_in (EsApplication *self);
gboolean       es_application_get_busy      (EsApplication *self);
const char    *es_application_get_error     (EsApplication *self);
char          *es_application_dup_user      (EsApplication *self);
gboolean       es_application_get_camera_off (EsApplication *self);
gboolean       es_application_get_test_media (EsApplication *self);
void           es_application_set_page      (EsApplication *self,
                                             const char    *page);
void           es_application_set_automation_state (EsApplication *self,
                                                    const char    *name,
                                                    GVariant      *value);

G_END_DECLS
