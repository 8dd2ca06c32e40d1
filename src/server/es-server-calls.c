/* es-server-calls.c: the server's call state machine (invite, ringing, accept, glare, timeouts)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "es-server-calls.h"

#ifdef ES_SERVER_MITM
/* TEST ONLY: built into tests/integration's earshot-server-mitm, never into earshot-server. */
#include "es-server-mitm.h"
#endif

/* Every state the machine knows lives in the store, written in the server's open transaction:
 * if that transaction rolls back, nothing here is out of step with it. The one thing kept in
 * memory is the ring timer, a single GLib timeout armed for the earliest stored deadline. */

#define RETRY_AFTER_FAILURE_US (1 * G_USEC_PER_SEC)

#define calls_log(level, event, ...) \
  g_log_structured (G_LOG_DOMAIN, level, "ES_EVENT", event, "MESSAGE", __VA_ARGS__)

struct _EsServerCalls
{
  GObject parent_instance;

  /* Owned */
  EsServerStore *store;

  /* Borrowed */
  EsServerCallsSink  sink;
  gpointer           sink_data;
  EsServerCallsClock clock;
  gpointer           clock_data;

  guint  ring_timeout; /* seconds */
  gint64 timer_deadline;
  guint  timer_source_id;
};

G_DEFINE_FINAL_TYPE (EsServerCalls, es_server_calls, G_TYPE_OBJECT)

G_DEFINE_QUARK (es-server-calls-error-quark, es_server_calls_error)

static const char * const error_codes[] = {
  [ES_SERVER_CALLS_ERROR_BAD_FRAME] = "bad_frame",
  [ES_SERVER_CALLS_ERROR_NOT_ALLOWED] = "not_allowed",
  [ES_SERVER_CALLS_ERROR_UNKNOWN_USER] = "unknown_user",
  [ES_SERVER_CALLS_ERROR_UNKNOWN_CALL] = "unknown_call",
  [ES_SERVER_CALLS_ERROR_CALL_ENDED] = "call_ended",
};

/**
 * es_server_calls_error_to_code:
 *
 * Returns: the "code" of the error frame for @code.
 */
const char *
es_server_calls_error_to_code (EsServerCallsError code)
{
  g_return_val_if_fail (code < G_N_ELEMENTS (error_codes), "bad_frame");

  return error_codes[code];
}

static gint64
default_clock (gpointer user_data)
{
  return g_get_real_time ();
}

static gint64
now (EsServerCalls *self)
{
  return self->clock (self->clock_data);
}

static gboolean
is_live (EsServerCallState state)
{
  return state == ES_SERVER_CALL_RINGING || state == ES_SERVER_CALL_ACCEPTED;
}

/* Output ------------------------------------------------------------------------------------ */

static EsFrame *
call_frame_new (EsMessageType  type,
                const char    *call_id,
                const char    *from_device,
                const char    *from_user)
{
  EsFrame *frame = es_frame_new (type);

  frame->call_id = g_strdup (call_id);
  frame->from_device = g_strdup (from_device);
  frame->from_user = g_strdup (from_user);
  return frame;
}

static gboolean
queue (EsServerCalls  *self,
       const char     *device_id,
       const EsFrame  *frame,
       GError        **error)
{
  g_debug ("Call %s: %s to device %s", frame->call_id, es_message_type_to_string (frame->type),
           device_id);
  return self->sink.queue (self->sink_data, device_id, frame, error);
}

/* Queues @frame to every device of @user except @except_device (may be NULL). The devices are
 * those @user has now; one added since the invite gets news of a call it never heard of, which
 * clients ignore. */
static gboolean
queue_to_user (EsServerCalls  *self,
               const char     *user,
               const char     *except_device,
               const EsFrame  *frame,
               GError        **error)
{
  g_autoptr(GPtrArray) devices = es_server_store_list_user_devices (self->store, user, error);

  if (devices == NULL)
    return FALSE;

  for (guint i = 0; i < devices->len; i++)
    {
      EsServerDeviceRecord *device = g_ptr_array_index (devices, i);

      if (g_strcmp0 (device->id, except_device) == 0)
        continue;
      if (!queue (self, device->id, frame, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
set_state (EsServerCalls       *self,
           EsServerCallRecord  *call,
           EsServerCallState    state,
           GError             **error)
{
  calls_log (G_LOG_LEVEL_INFO, "call-state", "Call %s from %s to %s: %s → %s", call->id,
             call->caller_user, call->callee_user, es_server_call_state_to_string (call->state),
             es_server_call_state_to_string (state));
  call->state = state;
  if (state != ES_SERVER_CALL_RINGING)
    call->deadline = 0;
  return es_server_store_update_call (self->store, call, error);
}

/* The ring timer ----------------------------------------------------------------------------- */

static gboolean ring_timer_cb (gpointer user_data);

/* Arms the one timer for @deadline (0: none). */
static void
arm_timer (EsServerCalls *self,
           gint64         deadline)
{
  gint64 delay_ms;

  if (deadline == self->timer_deadline && (deadline == 0) == (self->timer_source_id == 0))
    return;

  g_clear_handle_id (&self->timer_source_id, g_source_remove);
  self->timer_deadline = deadline;
  if (deadline == 0)
    return;

  /* Rounded up, so the timer never fires just before the deadline and finds nothing due. */
  delay_ms = (deadline - now (self) + 999) / 1000;
  delay_ms = CLAMP (delay_ms, 0, G_MAXUINT);
  self->timer_source_id = g_timeout_add_full (G_PRIORITY_DEFAULT, (guint) delay_ms, ring_timer_cb,
                                              self, NULL);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->timer_source_id),
                            "[earshot-server] ring timeout");
}

/**
 * es_server_calls_reschedule:
 *
 * Arms the ring timer for the earliest deadline in the store. The server calls it once at start,
 * so calls that rang while it was down time out as they should.
 */
gboolean
es_server_calls_reschedule (EsServerCalls  *self,
                            GError        **error)
{
  gint64 deadline;

  g_return_val_if_fail (ES_IS_SERVER_CALLS (self), FALSE);

  deadline = es_server_store_next_ring_deadline (self->store, error);
  if (deadline < 0)
    return FALSE;
  arm_timer (self, deadline);
  return TRUE;
}

/**
 * es_server_calls_batch_failed:
 *
 * Tells the machine that the server's transaction was rolled back. Its effects on calls are
 * gone with it; the timer is armed again from what the store holds, and no sooner than a second
 * from now so a failing disk is not hammered.
 */
void
es_server_calls_batch_failed (EsServerCalls *self)
{
  g_autoptr(GError) error = NULL;
  gint64 deadline;

  g_return_if_fail (ES_IS_SERVER_CALLS (self));

  deadline = es_server_store_next_ring_deadline (self->store, &error);
  if (deadline < 0)
    deadline = now (self);
  if (deadline != 0)
    deadline = MAX (deadline, now (self) + RETRY_AFTER_FAILURE_US);
  arm_timer (self, deadline);
}

/* Moves the timer earlier when a new call rings out before the one it waits for. */
static void
timer_consider (EsServerCalls *self,
                gint64         deadline)
{
  if (self->timer_source_id == 0 || deadline < self->timer_deadline)
    arm_timer (self, deadline);
}

static gboolean
expire_call (EsServerCalls       *self,
             EsServerCallRecord  *call,
             GError             **error)
{
  g_autoptr(EsFrame) missed = NULL;
  g_autoptr(EsFrame) no_answer = NULL;

  if (!set_state (self, call, ES_SERVER_CALL_MISSED, error))
    return FALSE;

  missed = call_frame_new (ES_MESSAGE_MISSED, call->id, call->caller_device, call->caller_user);
  no_answer = call_frame_new (ES_MESSAGE_NO_ANSWER, call->id, NULL, call->callee_user);
  return queue_to_user (self, call->callee_user, NULL, missed, error) &&
         queue (self, call->caller_device, no_answer, error);
}

/**
 * es_server_calls_run_timeouts:
 *
 * Ends every ringing call whose deadline has passed: `missed` to the callee's devices,
 * `no_answer` to the caller's device. Runs from the ring timer; tests call it after moving
 * their clock. Then arms the timer for the next deadline.
 */
gboolean
es_server_calls_run_timeouts (EsServerCalls  *self,
                              GError        **error)
{
  g_autoptr(GPtrArray) due = NULL;

  g_return_val_if_fail (ES_IS_SERVER_CALLS (self), FALSE);

  if (!self->sink.begin (self->sink_data, error))
    return FALSE;

  due = es_server_store_list_due_calls (self->store, now (self), error);
  if (due == NULL)
    return FALSE;

  for (guint i = 0; i < due->len; i++)
    {
      if (!expire_call (self, g_ptr_array_index (due, i), error))
        return FALSE;
    }

  return es_server_calls_reschedule (self, error);
}

static gboolean
ring_timer_cb (gpointer user_data)
{
  EsServerCalls *self = user_data;
  g_autoptr(GError) error = NULL;

  self->timer_source_id = 0;
  self->timer_deadline = 0;

  if (!es_server_calls_run_timeouts (self, &error))
    {
      calls_log (G_LOG_LEVEL_WARNING, "call-timer-failed", "Could not time calls out: %s",
                 error->message);
      self->sink.fail (self->sink_data, error);
      es_server_calls_batch_failed (self);
    }

  return G_SOURCE_REMOVE;
}

/* Frames ------------------------------------------------------------------------------------- */

static gboolean
reject (GError              **error,
        EsServerCallsError    code,
        const char           *format,
        ...) G_GNUC_PRINTF (3, 4);

static gboolean
reject (GError             **error,
        EsServerCallsError   code,
        const char          *format,
        ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (ES_SERVER_CALLS_ERROR, code, format, args));
  va_end (args);
  return FALSE;
}

static gboolean
reject_ended (GError                   **error,
              const EsServerCallRecord  *call)
{
  return reject (error, ES_SERVER_CALLS_ERROR_CALL_ENDED, "Call “%s” is over (%s)", call->id,
                 es_server_call_state_to_string (call->state));
}

/* The name a device is shown by; its ID when the device is gone. */
static char *
dup_device_name (EsServerCalls  *self,
                 const char     *device_id,
                 GError        **error)
{
  g_autoptr(EsServerDeviceRecord) record = NULL;
  g_autoptr(GError) local_error = NULL;

  record = es_server_store_lookup_device (self->store, device_id, &local_error);
  if (record != NULL)
    return g_strdup (record->name);
  if (g_error_matches (local_error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND))
    return g_strdup (device_id);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

static gboolean
queue_incoming (EsServerCalls             *self,
                const EsServerCallRecord  *call,
                const char                *device_name,
                GError                   **error)
{
  g_autoptr(EsFrame) incoming = NULL;

  incoming = call_frame_new (ES_MESSAGE_INCOMING, call->id, call->caller_device, call->caller_user);
  json_object_set_string_member (incoming->body, "from_user", call->caller_user);
  json_object_set_string_member (incoming->body, "from_device", call->caller_device);
  json_object_set_string_member (incoming->body, "from_device_name", device_name);
  json_object_set_string_member (incoming->body, "media", call->media);
  return queue_to_user (self, call->callee_user, NULL, incoming, error);
}

static gboolean
queue_folded_cancel (EsServerCalls  *self,
                     const char     *call_id,
                     const char     *into,
                     const char     *device_id,
                     GError        **error)
{
  g_autoptr(EsFrame) cancel = call_frame_new (ES_MESSAGE_CANCEL, call_id, NULL, NULL);

  json_object_set_string_member (cancel->body, "reason", "folded");
  json_object_set_string_member (cancel->body, "into", into);
  return queue (self, device_id, cancel, error);
}

static gboolean
handle_invite (EsServerCalls  *self,
               const char     *device_id,
               const char     *device_name,
               const char     *user,
               const EsFrame  *frame,
               GError        **error)
{
  g_autoptr(EsServerCallRecord) existing = NULL;
  g_autoptr(EsServerCallRecord) counter = NULL;
  g_autoptr(GPtrArray) callee_devices = NULL;
  g_autoptr(GError) local_error = NULL;
  EsServerCallRecord call = { 0 };
  const char *to_user;
  const char *media;
  gboolean in_call = FALSE;

  to_user = json_object_get_string_member_with_default (frame->body, "to_user", NULL);
  media = json_object_get_string_member_with_default (frame->body, "media", NULL);
  if (to_user == NULL || media == NULL)
    return reject (error, ES_SERVER_CALLS_ERROR_BAD_FRAME, "invite needs “to_user” and “media”");

  existing = es_server_store_lookup_call (self->store, frame->call_id, &local_error);
  if (existing != NULL)
    return reject (error, ES_SERVER_CALLS_ERROR_NOT_ALLOWED, "Call ID “%s” is taken",
                   frame->call_id);
  if (!g_error_matches (local_error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_clear_error (&local_error);

  if (g_str_equal (to_user, user))
    return reject (error, ES_SERVER_CALLS_ERROR_NOT_ALLOWED, "You cannot call yourself");

  callee_devices = es_server_store_list_user_devices (self->store, to_user, error);
  if (callee_devices == NULL)
    return FALSE;
  if (callee_devices->len == 0)
    return reject (error, ES_SERVER_CALLS_ERROR_UNKNOWN_USER, "No user “%s”", to_user);

  call.id = frame->call_id;
  call.caller_user = (char *) user;
  call.caller_device = (char *) device_id;
  call.callee_user = (char *) to_user;
  call.media = (char *) media;
  call.created_at = now (self);

  if (!es_server_store_user_in_call (self->store, to_user, &in_call, error))
    return FALSE;
  if (in_call)
    {
      g_autoptr(EsFrame) busy = call_frame_new (ES_MESSAGE_BUSY, call.id, NULL, to_user);

      calls_log (G_LOG_LEVEL_INFO, "call-state", "Call %s from %s to %s: busy", call.id, user,
                 to_user);
      call.state = ES_SERVER_CALL_BUSY;
      return es_server_store_insert_call (self->store, &call, error) &&
             queue (self, device_id, busy, error);
    }

  /* Glare: the callee is calling us right now. Both calls fold into the one with the smaller
   * ID, so both sides pick the same call without talking to each other. */
  counter = es_server_store_find_ringing_call (self->store, to_user, user, &local_error);
  if (counter == NULL &&
      !g_error_matches (local_error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  if (counter != NULL && strcmp (counter->id, call.id) < 0)
    {
      calls_log (G_LOG_LEVEL_INFO, "call-state", "Call %s from %s to %s: folded into %s",
                 call.id, user, to_user, counter->id);
      call.state = ES_SERVER_CALL_CANCELLED;
      return es_server_store_insert_call (self->store, &call, error) &&
             queue_folded_cancel (self, call.id, counter->id, device_id, error);
    }

  if (counter != NULL)
    {
      g_autoptr(EsFrame) cancel = call_frame_new (ES_MESSAGE_CANCEL, counter->id,
                                                  counter->caller_device, counter->caller_user);

      calls_log (G_LOG_LEVEL_INFO, "call-state", "Call %s folded into %s", counter->id, call.id);
      if (!set_state (self, counter, ES_SERVER_CALL_CANCELLED, error) ||
          !queue_folded_cancel (self, counter->id, call.id, counter->caller_device, error) ||
          !queue_to_user (self, counter->callee_user, NULL, cancel, error))
        return FALSE;
    }

  call.state = ES_SERVER_CALL_RINGING;
  call.deadline = call.created_at + (gint64) self->ring_timeout * G_USEC_PER_SEC;
  calls_log (G_LOG_LEVEL_INFO, "call-state", "Call %s from %s to %s: ringing on %u devices",
             call.id, user, to_user, callee_devices->len);
  if (!es_server_store_insert_call (self->store, &call, error) ||
      !queue_incoming (self, &call, device_name, error))
    return FALSE;

  timer_consider (self, call.deadline);
  return TRUE;
}

/* A callee device acted on a call that is no longer ringing: tell it what became of the call,
 * as the other devices were told, or refuse if there is nothing to tell. */
static gboolean
tell_outcome (EsServerCalls             *self,
              const EsServerCallRecord  *call,
              const char                *device_id,
              GError                   **error)
{
  g_autoptr(EsFrame) frame = NULL;

  switch (call->state)
    {
    case ES_SERVER_CALL_ACCEPTED:
    case ES_SERVER_CALL_ENDED:
      {
        g_autofree char *name = NULL;

        if (g_strcmp0 (call->callee_device, device_id) == 0)
          return reject_ended (error, call);
        name = dup_device_name (self, call->callee_device, error);
        if (name == NULL)
          return FALSE;
        frame = call_frame_new (ES_MESSAGE_ANSWERED_ELSEWHERE, call->id, call->callee_device,
                                call->callee_user);
        json_object_set_string_member (frame->body, "device_name", name);
      }
      break;

    case ES_SERVER_CALL_DECLINED:
      frame = call_frame_new (ES_MESSAGE_DECLINED_ELSEWHERE, call->id, NULL, call->callee_user);
      break;

    case ES_SERVER_CALL_CANCELLED:
      frame = call_frame_new (ES_MESSAGE_CANCEL, call->id, call->caller_device, call->caller_user);
      break;

    case ES_SERVER_CALL_MISSED:
      frame = call_frame_new (ES_MESSAGE_MISSED, call->id, call->caller_device, call->caller_user);
      break;

    case ES_SERVER_CALL_RINGING:
    case ES_SERVER_CALL_BUSY:
    default:
      return reject_ended (error, call);
    }

  return queue (self, device_id, frame, error);
}

static gboolean
handle_ringing (EsServerCalls       *self,
                EsServerCallRecord  *call,
                const char          *device_id,
                const char          *device_name,
                GError             **error)
{
  g_autoptr(EsFrame) ringing = NULL;

  if (call->state == ES_SERVER_CALL_ACCEPTED && g_strcmp0 (call->callee_device, device_id) == 0)
    return TRUE; /* late, and harmless */
  if (call->state != ES_SERVER_CALL_RINGING)
    return reject_ended (error, call);

  /* The body is the server's word, not the device's. */
  ringing = call_frame_new (ES_MESSAGE_RINGING, call->id, device_id, call->callee_user);
  json_object_set_string_member (ringing->body, "device_id", device_id);
  json_object_set_string_member (ringing->body, "device_name", device_name);
  return queue (self, call->caller_device, ringing, error);
}

/* offer, answer, ice: between the caller's device and one device of the callee, the accepted
 * one once there is one. */
static gboolean
handle_route (EsServerCalls             *self,
              const EsServerCallRecord  *call,
              gboolean                   from_caller,
              const char                *device_id,
              const char                *user,
              const EsFrame             *frame,
              GError                   **error)
{
  g_autoptr(EsFrame) out = NULL;
  gboolean accepted = call->state == ES_SERVER_CALL_ACCEPTED;

  if (!is_live (call->state))
    return reject_ended (error, call);
  if (frame->to_device == NULL)
    return reject (error, ES_SERVER_CALLS_ERROR_BAD_FRAME, "%s needs “to_device”",
                   es_message_type_to_string (frame->type));

  if (from_caller)
    {
      if (accepted && g_strcmp0 (frame->to_device, call->callee_device) != 0)
        return reject (error, ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
                       "Call “%s” was answered on another device than “%s”", call->id,
                       frame->to_device);
      if (!accepted)
        {
          g_autoptr(EsServerDeviceRecord) target = NULL;
          g_autoptr(GError) local_error = NULL;

          target = es_server_store_lookup_device (self->store, frame->to_device, &local_error);
          if (target == NULL &&
              !g_error_matches (local_error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          if (target == NULL || g_strcmp0 (target->user, call->callee_user) != 0)
            return reject (error, ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
                           "Device “%s” is not a device of the user called in “%s”",
                           frame->to_device, call->id);
        }
    }
  else
    {
      if (accepted && g_strcmp0 (device_id, call->callee_device) != 0)
        return reject (error, ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
                       "Call “%s” was answered on another device", call->id);
      if (g_strcmp0 (frame->to_device, call->caller_device) != 0)
        return reject (error, ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
                       "Device “%s” is not the calling device of “%s”", frame->to_device,
                       call->id);
    }

  out = es_frame_copy (frame);
  out->seq = 0;
  out->ack = 0;
  g_free (out->from_device);
  out->from_device = g_strdup (device_id);
  g_free (out->from_user);
  out->from_user = g_strdup (user);
#ifdef ES_SERVER_MITM
  {
    g_autofree char *divert = es_server_mitm_divert (self->store, out, frame->to_device);

    if (divert != NULL)
      return queue (self, divert, out, error);
  }
#endif
  return queue (self, frame->to_device, out, error);
}

static gboolean
handle_accept (EsServerCalls       *self,
               EsServerCallRecord  *call,
               const char          *device_id,
               const char          *device_name,
               GError             **error)
{
  g_autoptr(EsFrame) accept = NULL;
  g_autoptr(EsFrame) elsewhere = NULL;

  if (call->state == ES_SERVER_CALL_ACCEPTED && g_strcmp0 (call->callee_device, device_id) == 0)
    return TRUE; /* said twice */
  if (call->state != ES_SERVER_CALL_RINGING)
    return tell_outcome (self, call, device_id, error);

  g_free (call->callee_device);
  call->callee_device = g_strdup (device_id);
  if (!set_state (self, call, ES_SERVER_CALL_ACCEPTED, error))
    return FALSE;

  accept = call_frame_new (ES_MESSAGE_ACCEPT, call->id, device_id, call->callee_user);
  elsewhere = call_frame_new (ES_MESSAGE_ANSWERED_ELSEWHERE, call->id, device_id,
                              call->callee_user);
  json_object_set_string_member (elsewhere->body, "device_name", device_name);
  return queue (self, call->caller_device, accept, error) &&
         queue_to_user (self, call->callee_user, device_id, elsewhere, error);
}

static gboolean
handle_decline (EsServerCalls       *self,
                EsServerCallRecord  *call,
                const char          *device_id,
                GError             **error)
{
  g_autoptr(EsFrame) decline = NULL;
  g_autoptr(EsFrame) elsewhere = NULL;

  if (call->state == ES_SERVER_CALL_ACCEPTED && g_strcmp0 (call->callee_device, device_id) == 0)
    return reject (error, ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
                   "Call “%s” was accepted on this device: hang up instead", call->id);
  if (call->state != ES_SERVER_CALL_RINGING)
    return tell_outcome (self, call, device_id, error);

  if (!set_state (self, call, ES_SERVER_CALL_DECLINED, error))
    return FALSE;

  decline = call_frame_new (ES_MESSAGE_DECLINE, call->id, device_id, call->callee_user);
  elsewhere = call_frame_new (ES_MESSAGE_DECLINED_ELSEWHERE, call->id, device_id,
                              call->callee_user);
  return queue (self, call->caller_device, decline, error) &&
         queue_to_user (self, call->callee_user, device_id, elsewhere, error);
}

static gboolean
hang_up (EsServerCalls       *self,
         EsServerCallRecord  *call,
         gboolean             from_caller,
         const char          *reason,
         GError             **error)
{
  g_autoptr(EsFrame) hangup = NULL;
  const char *from_device = from_caller ? call->caller_device : call->callee_device;
  const char *from_user = from_caller ? call->caller_user : call->callee_user;
  const char *to_device = from_caller ? call->callee_device : call->caller_device;

  hangup = call_frame_new (ES_MESSAGE_HANGUP, call->id, from_device, from_user);
  if (reason != NULL)
    json_object_set_string_member (hangup->body, "reason", reason);

  if (!set_state (self, call, ES_SERVER_CALL_ENDED, error) ||
      !queue (self, to_device, hangup, error))
    return FALSE;
#ifdef ES_SERVER_MITM
  {
    g_autoptr(EsFrame) copy = es_frame_copy (hangup);
    g_autofree char *middleman = es_server_mitm_divert (self->store, copy, to_device);

    if (middleman != NULL)
      return queue (self, middleman, copy, error);
  }
#endif
  return TRUE;
}

static gboolean
handle_cancel (EsServerCalls       *self,
               EsServerCallRecord  *call,
               GError             **error)
{
  g_autoptr(EsFrame) cancel = NULL;

  if (call->state == ES_SERVER_CALL_ACCEPTED)
    return hang_up (self, call, TRUE, NULL, error);
  if (call->state != ES_SERVER_CALL_RINGING)
    return reject_ended (error, call);

  if (!set_state (self, call, ES_SERVER_CALL_CANCELLED, error))
    return FALSE;

  cancel = call_frame_new (ES_MESSAGE_CANCEL, call->id, call->caller_device, call->caller_user);
  return queue_to_user (self, call->callee_user, NULL, cancel, error);
}

static gboolean
handle_hangup (EsServerCalls       *self,
               EsServerCallRecord  *call,
               gboolean             from_caller,
               const char          *device_id,
               const EsFrame       *frame,
               GError             **error)
{
  const char *reason = json_object_get_string_member_with_default (frame->body, "reason", NULL);

  /* Hanging up a call that still rings is what a user does when they give up (caller) or do
   * not want it (callee); the protocol has words for those. */
  if (call->state == ES_SERVER_CALL_RINGING)
    return from_caller ? handle_cancel (self, call, error)
                       : handle_decline (self, call, device_id, error);
  if (call->state != ES_SERVER_CALL_ACCEPTED)
    return reject_ended (error, call);
  if (!from_caller && g_strcmp0 (call->callee_device, device_id) != 0)
    return reject (error, ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
                   "Call “%s” was answered on another device", call->id);

  return hang_up (self, call, from_caller, reason, error);
}

/**
 * es_server_calls_handle_frame:
 * @device_id: the sending device
 * @device_name: its name
 * @user: its user
 * @frame: a durable frame other than `data`
 *
 * Applies one call frame, writing to the store and queueing what it causes through the sink,
 * inside the server's open transaction. A frame the machine refuses fails with
 * ES_SERVER_CALLS_ERROR, and nothing was written; any other error is a storage failure, after
 * which the transaction must be rolled back.
 */
gboolean
es_server_calls_handle_frame (EsServerCalls  *self,
                              const char     *device_id,
                              const char     *device_name,
                              const char     *user,
                              const EsFrame  *frame,
                              GError        **error)
{
  g_autoptr(EsServerCallRecord) call = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean from_caller;
#ifdef ES_SERVER_MITM
  g_autofree char *spoof_device = NULL;
  g_autofree char *spoof_user = NULL;
#endif

  g_return_val_if_fail (ES_IS_SERVER_CALLS (self), FALSE);
  g_return_val_if_fail (device_id != NULL, FALSE);
  g_return_val_if_fail (device_name != NULL, FALSE);
  g_return_val_if_fail (user != NULL, FALSE);
  g_return_val_if_fail (frame != NULL, FALSE);

  switch (frame->type)
    {
    case ES_MESSAGE_INVITE:
    case ES_MESSAGE_RINGING:
    case ES_MESSAGE_OFFER:
    case ES_MESSAGE_ANSWER:
    case ES_MESSAGE_ICE:
    case ES_MESSAGE_ACCEPT:
    case ES_MESSAGE_DECLINE:
    case ES_MESSAGE_CANCEL:
    case ES_MESSAGE_HANGUP:
      break;

    case ES_MESSAGE_INCOMING:
    case ES_MESSAGE_ANSWERED_ELSEWHERE:
    case ES_MESSAGE_DECLINED_ELSEWHERE:
    case ES_MESSAGE_BUSY:
    case ES_MESSAGE_MISSED:
    case ES_MESSAGE_NO_ANSWER:
      return reject (error, ES_SERVER_CALLS_ERROR_NOT_ALLOWED, "Only the server sends “%s”",
                     es_message_type_to_string (frame->type));

    default:
      return reject (error, ES_SERVER_CALLS_ERROR_BAD_FRAME, "“%s” is not a call frame",
                     es_message_type_to_string (frame->type));
    }

  if (frame->call_id == NULL)
    return reject (error, ES_SERVER_CALLS_ERROR_BAD_FRAME, "%s needs “call_id”",
                   es_message_type_to_string (frame->type));

#ifdef ES_SERVER_MITM
  if (es_server_mitm_spoof (self->store, device_id, user, frame, &spoof_device, &spoof_user))
    {
      device_id = spoof_device;
      device_name = spoof_device;
      user = spoof_user;
    }
#endif

  if (!self->sink.begin (self->sink_data, error))
    return FALSE;

  if (frame->type == ES_MESSAGE_INVITE)
    return handle_invite (self, device_id, device_name, user, frame, error);

  call = es_server_store_lookup_call (self->store, frame->call_id, &local_error);
  if (call == NULL)
    {
      if (g_error_matches (local_error, ES_SERVER_STORE_ERROR, ES_SERVER_STORE_ERROR_NOT_FOUND))
        return reject (error, ES_SERVER_CALLS_ERROR_UNKNOWN_CALL, "No call “%s”", frame->call_id);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  /* Parties: the caller's one device, and any device of the callee user. The caller's other
   * devices have no part in the call. */
  from_caller = g_str_equal (device_id, call->caller_device);
  if (!from_caller && !g_str_equal (user, call->callee_user))
    return reject (error, ES_SERVER_CALLS_ERROR_NOT_ALLOWED, "You are not a party of call “%s”",
                   call->id);

  switch (frame->type)
    {
    case ES_MESSAGE_OFFER:
    case ES_MESSAGE_ANSWER:
    case ES_MESSAGE_ICE:
      return handle_route (self, call, from_caller, device_id, user, frame, error);

    case ES_MESSAGE_HANGUP:
      return handle_hangup (self, call, from_caller, device_id, frame, error);

    case ES_MESSAGE_CANCEL:
      if (!from_caller)
        return reject (error, ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
                       "Only the calling device can cancel “%s”; decline instead", call->id);
      return handle_cancel (self, call, error);

    case ES_MESSAGE_RINGING:
    case ES_MESSAGE_ACCEPT:
    case ES_MESSAGE_DECLINE:
      if (from_caller)
        return reject (error, ES_SERVER_CALLS_ERROR_NOT_ALLOWED,
                       "Only the devices called can send “%s”",
                       es_message_type_to_string (frame->type));
      if (frame->type == ES_MESSAGE_RINGING)
        return handle_ringing (self, call, device_id, device_name, error);
      if (frame->type == ES_MESSAGE_ACCEPT)
        return handle_accept (self, call, device_id, device_name, error);
      return handle_decline (self, call, device_id, error);

    default:
      g_assert_not_reached ();
    }
}

/* Life cycle --------------------------------------------------------------------------------- */

static void
es_server_calls_dispose (GObject *object)
{
  EsServerCalls *self = (EsServerCalls *) object;

  g_clear_handle_id (&self->timer_source_id, g_source_remove);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (es_server_calls_parent_class)->dispose (object);
}

static void
es_server_calls_class_init (EsServerCallsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = es_server_calls_dispose;
}

static void
es_server_calls_init (EsServerCalls *self)
{
  self->clock = default_clock;
  self->ring_timeout = ES_SERVER_CALLS_DEFAULT_RING_TIMEOUT;
}

/**
 * es_server_calls_new:
 * @store: where calls are kept
 * @ring_timeout: seconds a call rings before it is missed
 * @sink: (not nullable): where frames go; copied
 * @sink_data: passed to @sink's functions
 *
 * The timer is not armed until es_server_calls_reschedule() or the first invite.
 */
EsServerCalls *
es_server_calls_new (EsServerStore           *store,
                     guint                    ring_timeout,
                     const EsServerCallsSink *sink,
                     gpointer                 sink_data)
{
  EsServerCalls *self;

  g_return_val_if_fail (ES_IS_SERVER_STORE (store), NULL);
  g_return_val_if_fail (ring_timeout > 0, NULL);
  g_return_val_if_fail (sink != NULL && sink->begin != NULL && sink->queue != NULL &&
                        sink->fail != NULL, NULL);

  self = g_object_new (ES_TYPE_SERVER_CALLS, NULL);
  self->store = g_object_ref (store);
  self->ring_timeout = ring_timeout;
  self->sink = *sink;
  self->sink_data = sink_data;
  return self;
}

/* For tests: a clock they move by hand. NULL goes back to g_get_real_time(). */
void
es_server_calls_set_clock (EsServerCalls      *self,
                           EsServerCallsClock  clock,
                           gpointer            clock_data)
{
  g_return_if_fail (ES_IS_SERVER_CALLS (self));

  self->clock = clock != NULL ? clock : default_clock;
  self->clock_data = clock_data;
}

guint
es_server_calls_get_ring_timeout (EsServerCalls *self)
{
  g_return_val_if_fail (ES_IS_SERVER_CALLS (self), 0);

  return self->ring_timeout;
}

/* The deadline the ring timer is armed for, 0 when it is not armed. */
gint64
es_server_calls_get_timer_deadline (EsServerCalls *self)
{
  g_return_val_if_fail (ES_IS_SERVER_CALLS (self), 0);

  return self->timer_source_id != 0 ? self->timer_deadline : 0;
}
