/* es-call-manager.h: a device's calls, fed by its signaling client
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "es-call.h"
#include "es-identity.h"
#include "es-trust-store.h"
#include "es-signaling-client.h"

G_BEGIN_DECLS

#define ES_TYPE_CALL_MANAGER (es_call_manager_get_type ())

G_DECLARE_FINAL_TYPE (EsCallManager, es_call_manager, ES, CALL_MANAGER, GObject)

EsCallManager         *es_call_manager_new                    (EsSignalingClient      *client);
EsCallManager         *es_call_manager_new_for_profile        (EsSignalingClient      *client,
                                                               const char             *profile_dir);
EsIdentity            *es_call_manager_get_identity           (EsCallManager          *self);
EsTrustStore          *es_call_manager_get_trust_store        (EsCallManager          *self);
EsSignalingClient     *es_call_manager_get_client             (EsCallManager          *self);
const EsMediaSettings *es_call_manager_get_incoming_settings  (EsCallManager          *self);
void                   es_call_manager_set_incoming_settings  (EsCallManager          *self,
                                                               const EsMediaSettings  *settings);
EsCall                *es_call_manager_place_call             (EsCallManager          *self,
                                                               const char             *user,
                                                               const char             *media,
                                                               const EsMediaSettings  *settings,
                                                               GError                **error);
EsCall                *es_call_manager_lookup_call            (EsCallManager          *self,
                                                               const char             *call_id);
guint                  es_call_manager_get_n_calls            (EsCallManager          *self);

G_END_DECLS
