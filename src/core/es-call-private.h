/* es-call-private.h: what EsCallManager needs of EsCall
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "es-call.h"
#include "es-identity.h"
#include "es-trust-store.h"
#include "es-protocol.h"
#include "es-signaling-client.h"

G_BEGIN_DECLS

EsCall   *es_call_new_outgoing    (EsSignalingClient      *client,
                                   const char             *call_id,
                                   const char             *to_user,
                                   const char             *media,
                                   const EsMediaSettings  *settings);
EsCall   *es_call_new_incoming    (EsSignalingClient      *client,
                                   const EsFrame          *incoming,
                                   const EsMediaSettings  *settings);
gboolean  es_call_start           (EsCall                 *self,
                                   GError                **error);
void      es_call_handle_frame    (EsCall                 *self,
                                   const EsFrame          *frame);
gboolean  es_call_handle_error    (EsCall                 *self,
                                   const EsFrame          *frame);
void      es_call_emit_folded     (EsCall                 *self,
                                   EsCall                 *into);
void      es_call_fail            (EsCall                 *self,
                                   GError                 *error);
void      es_call_set_identity    (EsCall                 *self,
                                   EsIdentity             *identity,
                                   EsTrustStore           *trust_store);

G_END_DECLS
