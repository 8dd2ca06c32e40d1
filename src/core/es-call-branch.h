/* es-call-branch.h: one peer connection of a call, on webrtcbin
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gst/gst.h>

#include "es-call-stats.h"
#include "es-media-settings.h"
#include "es-verification.h"

G_BEGIN_DECLS

/* TODO: move the domain next to EsCall once es-call.h exists. */
#define ES_CALL_ERROR (es_call_error_quark ())

typedef enum
{
  ES_CALL_ERROR_FAILED,
  ES_CALL_ERROR_INVALID_SETTINGS,
  ES_CALL_ERROR_INVALID_STATE,
  ES_CALL_ERROR_INVALID_SDP,
  ES_CALL_ERROR_INVALID_CANDIDATE,
  ES_CALL_ERROR_NO_COMMON_CODEC,
  ES_CALL_ERROR_MISSING_ELEMENT,
  ES_CALL_ERROR_PIPELINE,
  ES_CALL_ERROR_ICE_FAILED,
  ES_CALL_ERROR_CHANNEL,
  ES_CALL_ERROR_VERIFICATION,
} EsCallError;

GQuark es_call_error_quark (void);

typedef enum
{
  ES_CALL_BRANCH_ROLE_OFFERER,
  ES_CALL_BRANCH_ROLE_ANSWERER,
} EsCallBranchRole;

/**
 * EsCallBranchState:
 * @ES_CALL_BRANCH_STATE_NEW: constructed, nothing started
 * @ES_CALL_BRANCH_STATE_CONNECTING: negotiating, ICE and DTLS under way
 * @ES_CALL_BRANCH_STATE_CONNECTED: ICE and DTLS connected and the
 *   "earshot-verify" data channel open; media flows once the gates open
 * @ES_CALL_BRANCH_STATE_FAILED: gave up, see #EsCallBranch::failed
 * @ES_CALL_BRANCH_STATE_CLOSED: es_call_branch_close() was called
 */
typedef enum
{
  ES_CALL_BRANCH_STATE_NEW,
  ES_CALL_BRANCH_STATE_CONNECTING,
  ES_CALL_BRANCH_STATE_CONNECTED,
  ES_CALL_BRANCH_STATE_FAILED,
  ES_CALL_BRANCH_STATE_CLOSED,
} EsCallBranchState;

#define ES_TYPE_CALL_BRANCH_ROLE  (es_call_branch_role_get_type ())
#define ES_TYPE_CALL_BRANCH_STATE (es_call_branch_state_get_type ())
#define ES_TYPE_CALL_BRANCH       (es_call_branch_get_type ())

GType es_call_branch_role_get_type  (void) G_GNUC_CONST;
GType es_call_branch_state_get_type (void) G_GNUC_CONST;

#define ES_CALL_BRANCH_CONTROL_LABEL "earshot-verify"

G_DECLARE_FINAL_TYPE (EsCallBranch, es_call_branch, ES, CALL_BRANCH, GObject)

EsCallBranch      *es_call_branch_new                       (EsCallBranchRole        role,
                                                             const EsMediaSettings  *settings,
                                                             const char             *peer_device_id);
EsCallBranchRole   es_call_branch_get_role                  (EsCallBranch           *self);
EsCallBranchState  es_call_branch_get_state                 (EsCallBranch           *self);
const char        *es_call_branch_get_peer_device_id        (EsCallBranch           *self);
const EsMediaSettings *
                   es_call_branch_get_settings              (EsCallBranch           *self);
const GError      *es_call_branch_get_error                 (EsCallBranch           *self);

gboolean           es_call_branch_start                     (EsCallBranch           *self,
                                                             GError                **error);
gboolean           es_call_branch_set_remote_description    (EsCallBranch           *self,
                                                             const char             *type,
                                                             const char             *sdp,
                                                             GError                **error);
gboolean           es_call_branch_add_remote_candidate      (EsCallBranch           *self,
                                                             guint                   mline,
                                                             const char             *candidate,
                                                             GError                **error);
void               es_call_branch_open_gates                (EsCallBranch           *self);
gboolean           es_call_branch_get_gates_open            (EsCallBranch           *self);
void               es_call_branch_set_sending               (EsCallBranch           *self,
                                                             gboolean                audio,
                                                             gboolean                video);
gboolean           es_call_branch_send_control              (EsCallBranch           *self,
                                                             const char             *json,
                                                             GError                **error);
void               es_call_branch_set_video_bitrate         (EsCallBranch           *self,
                                                             guint                   kbps);
guint              es_call_branch_get_video_bitrate         (EsCallBranch           *self);
void               es_call_branch_close                     (EsCallBranch           *self);

void               es_call_branch_set_verification          (EsCallBranch           *self,
                                                             EsVerification         *verification);
EsVerification    *es_call_branch_get_verification          (EsCallBranch           *self);
char              *es_call_branch_dup_local_fingerprint     (EsCallBranch           *self);

const char        *es_call_branch_get_video_codec           (EsCallBranch           *self);
guint64            es_call_branch_get_audio_buffers_decoded (EsCallBranch           *self);
guint64            es_call_branch_get_video_frames_decoded  (EsCallBranch           *self);
guint64            es_call_branch_get_audio_packets_sent    (EsCallBranch           *self);
guint64            es_call_branch_get_video_packets_sent    (EsCallBranch           *self);
gint64             es_call_branch_get_media_started_time    (EsCallBranch           *self,
                                                             const char             *kind);
const EsCallStats *es_call_branch_get_last_stats            (EsCallBranch           *self);
GstSample         *es_call_branch_dup_last_video_sample     (EsCallBranch           *self);

G_END_DECLS
