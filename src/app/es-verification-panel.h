/* es-verification-panel.h: five emoji to compare, and what the users say about them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "es-verification.h"

G_BEGIN_DECLS

#define ES_TYPE_VERIFICATION_PANEL (es_verification_panel_get_type ())

G_DECLARE_FINAL_TYPE (EsVerificationPanel, es_verification_panel, ES, VERIFICATION_PANEL, GtkWidget)

GtkWidget      *es_verification_panel_new              (void);
EsVerification *es_verification_panel_get_verification (EsVerificationPanel *self);
void            es_verification_panel_set_verification (EsVerificationPanel *self,
                                                        EsVerification      *verification);
void            es_verification_panel_set_peer_name    (EsVerificationPanel *self,
                                                        const char          *peer_name);
/* For what the panel shows without a verification object (tests, previews). */
void            es_verification_panel_show             (EsVerificationPanel *self,
                                                        EsVerificationState  state,
                                                        const guint8         indices[5]);

G_END_DECLS
