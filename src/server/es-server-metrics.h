/* es-server-metrics.h: counters of earshot-server, shown as Prometheus text on /metrics
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  ES_REJECT_BAD_FRAME,
  ES_REJECT_NOT_ALLOWED,
  ES_REJECT_UNKNOWN_DEVICE,
  ES_REJECT_UNSUPPORTED,
  ES_REJECT_DUPLICATE,
  ES_REJECT_GAP,
  ES_REJECT_BEFORE_HELLO,
  ES_REJECT_WRONG_DEVICE,
  ES_REJECT_RATE_LIMITED,
  ES_REJECT_UNKNOWN_USER,
  ES_REJECT_UNKNOWN_CALL,
  ES_REJECT_CALL_ENDED,
  ES_REJECT_N_REASONS
} EsRejectReason;

typedef struct
{
  /* Gauges */
  gint64  connected_devices;
  gint64  messages_queued;
  /* Counters */
  guint64 connections_total;
  guint64 frames_received;
  guint64 frames_relayed;   /* queued for another device */
  guint64 frames_delivered; /* durable frames written to a socket, resends included */
  guint64 frames_rejected[ES_REJECT_N_REASONS];
  guint64 commit_batches;
  guint64 commit_failures;
  guint64 commit_frames;    /* frames received in committed batches */
  guint64 commit_latency_us_sum;
  guint64 commit_latency_us_max;
  guint64 registrations;
  guint64 logins;
  guint64 logins_failed;
  guint64 ws_unauthorized;
} EsServerMetrics;

const char *es_reject_reason_to_string (EsRejectReason          reason);
void        es_server_metrics_render   (const EsServerMetrics  *metrics,
                                        GString                *out);

G_END_DECLS
