/* es-call.h: one call, outgoing or incoming, over one or more call branches
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

#include "es-call-branch.h"
#include "es-call-stats.h"
#include "es-media-settings.h"
#include "es-verification.h"

G_BEGIN_DECLS

typedef enum
{
  ES_CALL_DIRECTION_OUTGOING,
  ES_CALL_DIRECTION_INCOMING,
} EsCallDirection;

/**
 * EsCallState:
 * @ES_CALL_STATE_DIALING: outgoing, invite sent, no callee device rings yet
 * @ES_CALL_STATE_RINGING: outgoing: at least one callee device rings (branches
 *   are being built or are connected, media gated); incoming: this device rings
 * @ES_CALL_STATE_CONNECTING: picked up, the chosen branch is not connected yet
 * @ES_CALL_STATE_ACTIVE: picked up and connected, media flows both ways
 * @ES_CALL_STATE_ENDED: over, see #EsCall:end-reason
 */
typedef enum
{
  ES_CALL_STATE_DIALING,
  ES_CALL_STATE_RINGING,
  ES_CALL_STATE_CONNECTING,
  ES_CALL_STATE_ACTIVE,
  ES_CALL_STATE_ENDED,
} EsCallState;

/**
 * EsCallEndReason:
 * @ES_CALL_END_REASON_NONE: not ended
 * @ES_CALL_END_REASON_HANGUP: we hung up an accepted call
 * @ES_CALL_END_REASON_REMOTE_HANGUP: the peer hung up an accepted call
 * @ES_CALL_END_REASON_CANCELLED: the caller cancelled before pickup (we or they)
 * @ES_CALL_END_REASON_DECLINED: the callee declined (we or they)
 * @ES_CALL_END_REASON_DECLINED_ELSEWHERE: another device of ours declined
 * @ES_CALL_END_REASON_ANSWERED_ELSEWHERE: another device of ours picked up
 * @ES_CALL_END_REASON_MISSED: incoming, nobody picked up in time
 * @ES_CALL_END_REASON_NO_ANSWER: outgoing, nobody picked up in time
 * @ES_CALL_END_REASON_BUSY: the callee is in another call
 * @ES_CALL_END_REASON_FOLDED: outgoing, the peer called us at the same time and
 *   the server kept their call, which is accepted by itself (see
 *   #EsCall::folded)
 * @ES_CALL_END_REASON_FAILED: an error, see es_call_get_error()
 */
typedef enum
{
  ES_CALL_END_REASON_NONE,
  ES_CALL_END_REASON_HANGUP,
  ES_CALL_END_REASON_REMOTE_HANGUP,
  ES_CALL_END_REASON_CANCELLED,
  ES_CALL_END_REASON_DECLINED,
  ES_CALL_END_REASON_DECLINED_ELSEWHERE,
  ES_CALL_END_REASON_ANSWERED_ELSEWHERE,
  ES_CALL_END_REASON_MISSED,
  ES_CALL_END_REASON_NO_ANSWER,
  ES_CALL_END_REASON_BUSY,
  ES_CALL_END_REASON_FOLDED,
  ES_CALL_END_REASON_FAILED,
} EsCallEndReason;

#define ES_TYPE_CALL_DIRECTION  (es_call_direction_get_type ())
#define ES_TYPE_CALL_STATE      (es_call_state_get_type ())
#define ES_TYPE_CALL_END_REASON (es_call_end_reason_get_type ())
#define ES_TYPE_CALL            (es_call_get_type ())

GType es_call_direction_get_type  (void) G_GNUC_CONST;
GType es_call_state_get_type      (void) G_GNUC_CONST;
GType es_call_end_reason_get_type (void) G_GNUC_CONST;

G_DECLARE_FINAL_TYPE (EsCall, es_call, ES, CALL, GObject)

const char        *es_call_state_to_string        (EsCallState      state);
const char        *es_call_end_reason_to_string   (EsCallEndReason  reason);

const char        *es_call_get_id                 (EsCall          *self);
EsCallDirection    es_call_get_direction          (EsCall          *self);
EsCallState        es_call_get_state              (EsCall          *self);
EsCallEndReason    es_call_get_end_reason         (EsCall          *self);
const GError      *es_call_get_error              (EsCall          *self);
const char        *es_call_get_media              (EsCall          *self);
gboolean           es_call_get_audio_only         (EsCall          *self);
const char        *es_call_get_peer_user          (EsCall          *self);
const char        *es_call_get_peer_device_id     (EsCall          *self);
const char        *es_call_get_peer_device_name   (EsCall          *self);
const char        *es_call_get_elsewhere_device_name (EsCall       *self);
const char        *es_call_get_folded_into        (EsCall          *self);
const char        *es_call_get_video_codec        (EsCall          *self);
const char        *es_call_get_path               (EsCall          *self);
gint64             es_call_get_pickup_time        (EsCall          *self);
gint64             es_call_get_duration_ms        (EsCall          *self);
const EsCallStats *es_call_get_last_stats         (EsCall          *self);
EsCallBranch      *es_call_get_active_branch      (EsCall          *self);
guint              es_call_get_n_branches         (EsCall          *self);

guint64            es_call_get_audio_buffers_decoded (EsCall       *self);
guint64            es_call_get_video_frames_decoded  (EsCall       *self);
guint64            es_call_get_audio_packets_sent    (EsCall       *self);
guint64            es_call_get_video_packets_sent    (EsCall       *self);

EsVerification    *es_call_get_verification       (EsCall          *self);
EsVerificationState es_call_get_verification_state (EsCall         *self);
const guint8      *es_call_get_sas                (EsCall          *self);
const char        *es_call_get_peer_key           (EsCall          *self);
const char        *es_call_get_verification_reason (EsCall         *self);
gboolean           es_call_confirm_sas            (EsCall          *self,
                                                   GError         **error);
gboolean           es_call_deny_sas               (EsCall          *self,
                                                   GError         **error);

gboolean           es_call_accept                 (EsCall          *self,
                                                   GError         **error);
gboolean           es_call_decline                (EsCall          *self,
                                                   GError         **error);
void               es_call_cancel                 (EsCall          *self);
void               es_call_hangup                 (EsCall          *self);

void               es_call_set_muted                 (EsCall          *self,
                                                      gboolean         muted);
gboolean           es_call_get_muted                 (EsCall          *self);
void               es_call_set_camera_enabled        (EsCall          *self,
                                                      gboolean         enabled);
gboolean           es_call_get_camera_enabled        (EsCall          *self);

G_END_DECLS
