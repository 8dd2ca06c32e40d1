/* es-server-metrics.c: counters of earshot-server, shown as Prometheus text on /metrics
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "es-server-metrics.h"

static const char * const reason_names[ES_REJECT_N_REASONS] = {
  [ES_REJECT_BAD_FRAME] = "bad_frame",
  [ES_REJECT_NOT_ALLOWED] = "not_allowed",
  [ES_REJECT_UNKNOWN_DEVICE] = "unknown_device",
  [ES_REJECT_UNSUPPORTED] = "unsupported",
  [ES_REJECT_DUPLICATE] = "duplicate",
  [ES_REJECT_GAP] = "gap",
  [ES_REJECT_BEFORE_HELLO] = "before_hello",
  [ES_REJECT_WRONG_DEVICE] = "wrong_device",
  [ES_REJECT_RATE_LIMITED] = "rate_limited",
  [ES_REJECT_UNKNOWN_USER] = "unknown_user",
  [ES_REJECT_UNKNOWN_CALL] = "unknown_call",
  [ES_REJECT_CALL_ENDED] = "call_ended",
};

const char *
es_reject_reason_to_string (EsRejectReason reason)
{
  g_return_val_if_fail (reason < ES_REJECT_N_REASONS, NULL);

  return reason_names[reason];
}

static void
metric (GString    *out,
        const char *name,
        const char *type,
        const char *help,
        guint64     value)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n%s %" G_GUINT64_FORMAT "\n",
                          name, help, name, type, name, value);
}

void
es_server_metrics_render (const EsServerMetrics *metrics,
                          GString               *out)
{
  g_return_if_fail (metrics != NULL);
  g_return_if_fail (out != NULL);

  metric (out, "earshot_connected_devices", "gauge", "Devices with an open WebSocket.",
          MAX (metrics->connected_devices, 0));
  metric (out, "earshot_messages_queued", "gauge", "Durable frames waiting for an ack.",
          MAX (metrics->messages_queued, 0));
  metric (out, "earshot_connections_total", "counter", "WebSockets accepted.",
          metrics->connections_total);
  metric (out, "earshot_frames_received_total", "counter", "Frames received from devices.",
          metrics->frames_received);
  metric (out, "earshot_frames_relayed_total", "counter", "Frames queued for a target device.",
          metrics->frames_relayed);
  metric (out, "earshot_frames_delivered_total", "counter",
          "Queued frames written to a socket, resends included.", metrics->frames_delivered);

  g_string_append (out, "# HELP earshot_frames_rejected_total Frames not relayed, by reason.\n"
                        "# TYPE earshot_frames_rejected_total counter\n");
  for (guint i = 0; i < ES_REJECT_N_REASONS; i++)
    g_string_append_printf (out, "earshot_frames_rejected_total{reason=\"%s\"} %" G_GUINT64_FORMAT "\n",
                            reason_names[i], metrics->frames_rejected[i]);

  metric (out, "earshot_commit_batches_total", "counter", "Group commits.",
          metrics->commit_batches);
  metric (out, "earshot_commit_failures_total", "counter", "Group commits that failed.",
          metrics->commit_failures);
  metric (out, "earshot_commit_frames_total", "counter", "Frames made durable by group commits.",
          metrics->commit_frames);
  g_string_append_printf (out,
                          "# HELP earshot_commit_latency_seconds Time spent in COMMIT.\n"
                          "# TYPE earshot_commit_latency_seconds summary\n"
                          "earshot_commit_latency_seconds_sum %.6f\n"
                          "earshot_commit_latency_seconds_count %" G_GUINT64_FORMAT "\n",
                          metrics->commit_latency_us_sum / (double) G_USEC_PER_SEC,
                          metrics->commit_batches);
  g_string_append_printf (out,
                          "# HELP earshot_commit_latency_max_seconds Longest COMMIT.\n"
                          "# TYPE earshot_commit_latency_max_seconds gauge\n"
                          "earshot_commit_latency_max_seconds %.6f\n",
                          metrics->commit_latency_us_max / (double) G_USEC_PER_SEC);
  metric (out, "earshot_registrations_total", "counter", "Users registered.",
          metrics->registrations);
  metric (out, "earshot_logins_total", "counter", "Successful logins.", metrics->logins);
  metric (out, "earshot_logins_failed_total", "counter", "Logins with a wrong user or password.",
          metrics->logins_failed);
  metric (out, "earshot_ws_unauthorized_total", "counter",
          "WebSocket requests refused with 401.", metrics->ws_unauthorized);
}
