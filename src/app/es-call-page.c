/* es-call-page.c: a call in progress: video, controls, connection and verification
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>
#include <gst/app/gstappsink.h>

#include "es-call-page.h"
#include "es-verification-panel.h"
#include "es-video-paintable.h"

/* Without a new remote frame for this long, a video call says it paused. */
#define VIDEO_STALL_US (2 * G_USEC_PER_SEC)

struct _EsCallPage
{
  GtkWidget         parent_instance;

  /* Template widgets */
  AdwWindowTitle   *title;
  GtkWidget        *remote_picture;
  GtkWidget        *self_picture;
  GtkWidget        *self_frame;
  GtkWidget        *placeholder;
  AdwAvatar        *avatar;
  GtkWidget        *status_label;
  GtkWidget        *paused_label;
  GtkWidget        *connection_button;
  GtkWidget        *path_value;
  GtkWidget        *rtt_value;
  GtkWidget        *loss_value;
  GtkWidget        *jitter_value;
  GtkWidget        *codec_value;
  GtkWidget        *bitrate_value;
  GtkWidget        *verified_icon;
  GtkWidget        *verification_panel;

  /* Owned */
  EsCall           *call;
  EsCallBranch     *branch;
  EsVerification   *verification;
  EsVideoPaintable *remote_video;
  EsVideoPaintable *self_video;
  GstElement       *self_pipeline;
  gulong            state_id;
  gulong            stats_id;
  gulong            sample_id;
  gulong            verify_id;
  guint             tick_id;
  gint64            last_frame_us;
  guint             last_n_frames;

  guint             camera_on : 1;
  guint             test_media : 1;
};

G_DEFINE_FINAL_TYPE (EsCallPage, es_call_page, GTK_TYPE_WIDGET)

static void
video_sample_cb (EsCallBranch *branch,
                 GstSample    *sample,
                 gpointer      data)
{
  EsVideoPaintable *paintable = data;

  /* Streaming thread: the paintable hands the frame to the main thread. */
  es_video_paintable_push_sample (paintable, sample);
}

static GstFlowReturn
self_sample_cb (GstAppSink *sink,
                gpointer    data)
{
  g_autoptr(GstSample) sample = gst_app_sink_pull_sample (sink);

  if (sample != NULL)
    es_video_paintable_push_sample (data, sample);

  return GST_FLOW_OK;
}

static void
stop_self_view (EsCallPage *self)
{
  if (self->self_pipeline != NULL)
    {
      gst_element_set_state (self->self_pipeline, GST_STATE_NULL);
      gst_clear_object (&self->self_pipeline);
    }
  es_video_paintable_clear (self->self_video);
  gtk_widget_set_visible (self->self_frame, FALSE);
}

static void
start_self_view (EsCallPage *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GstElement) sink = NULL;
  GstAppSinkCallbacks callbacks = { .new_sample = self_sample_cb };
  const char *source;
  g_autofree char *description = NULL;

  if (self->self_pipeline != NULL)
    return;

  source = self->test_media ? "videotestsrc is-live=true pattern=ball" : "autovideosrc";
  description = g_strdup_printf ("%s ! videoconvert ! videoscale "
                                 "! video/x-raw,format=BGRA,width=192,height=108 "
                                 "! appsink name=sink sync=false max-buffers=1 drop=true",
                                 source);
  self->self_pipeline = gst_parse_launch (description, &error);
  if (self->self_pipeline == NULL)
    {
      g_debug ("No self-view: %s", error->message);
      return;
    }

  sink = gst_bin_get_by_name (GST_BIN (self->self_pipeline), "sink");
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks,
                              g_object_ref (self->self_video), g_object_unref);
  if (gst_element_set_state (self->self_pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    {
      g_debug ("No self-view: the camera does not start");
      gst_clear_object (&self->self_pipeline);
      return;
    }

  gtk_widget_set_visible (self->self_frame, TRUE);
}

static void
update_self_view (EsCallPage *self)
{
  gboolean want = self->call != NULL &&
                  self->camera_on &&
                  !es_call_get_audio_only (self->call) &&
                  es_call_get_state (self->call) != ES_CALL_STATE_ENDED;

  if (want)
    start_self_view (self);
  else
    stop_self_view (self);
}

static void
disconnect_branch (EsCallPage *self)
{
  if (self->branch != NULL)
    {
      g_clear_signal_handler (&self->sample_id, self->branch);
      g_clear_object (&self->branch);
    }
}

static void
connect_branch (EsCallPage *self)
{
  EsCallBranch *branch = self->call ? es_call_get_active_branch (self->call) : NULL;

  if (branch == self->branch)
    return;

  disconnect_branch (self);
  es_video_paintable_clear (self->remote_video);
  if (branch != NULL)
    {
      self->branch = g_object_ref (branch);
      self->sample_id = g_signal_connect_object (branch, "video-sample",
                                                 G_CALLBACK (video_sample_cb),
                                                 self->remote_video, 0);
    }
}

static char *
format_duration (gint64 ms)
{
  gint64 s = MAX (ms, 0) / 1000;

  if (s >= 3600)
    return g_strdup_printf ("%d:%02d:%02d", (int) (s / 3600), (int) (s / 60 % 60), (int) (s % 60));
  return g_strdup_printf ("%d:%02d", (int) (s / 60), (int) (s % 60));
}

static void
update_status (EsCallPage *self)
{
  EsCallState state;
  g_autofree char *subtitle = NULL;
  gboolean has_video;

  if (self->call == NULL)
    return;

  state = es_call_get_state (self->call);
  has_video = es_video_paintable_has_frame (self->remote_video);

  switch (state)
    {
    case ES_CALL_STATE_ACTIVE:
      subtitle = format_duration (es_call_get_duration_ms (self->call));
      break;
    case ES_CALL_STATE_ENDED:
      subtitle = g_strdup (_("Call Ended"));
      break;
    default:
      subtitle = g_strdup (_("Connecting…"));
      break;
    }
  adw_window_title_set_subtitle (self->title, subtitle);
  gtk_label_set_label (GTK_LABEL (self->status_label),
                       state == ES_CALL_STATE_ACTIVE ? "" : subtitle);

  gtk_widget_set_visible (self->placeholder, !has_video);
  gtk_widget_set_visible (self->remote_picture, has_video);
}

static void
update_video_paused (EsCallPage *self)
{
  gboolean paused = FALSE;

  if (self->call != NULL &&
      !es_call_get_audio_only (self->call) &&
      es_call_get_state (self->call) == ES_CALL_STATE_ACTIVE &&
      es_call_get_duration_ms (self->call) > VIDEO_STALL_US / 1000)
    {
      gint64 now = g_get_monotonic_time ();
      guint n_frames = es_video_paintable_get_n_frames (self->remote_video);

      if (n_frames != self->last_n_frames)
        {
          self->last_n_frames = n_frames;
          self->last_frame_us = now;
        }
      paused = now - self->last_frame_us > VIDEO_STALL_US;
    }

  gtk_widget_set_visible (self->paused_label, paused);
}

static gboolean
tick_cb (gpointer data)
{
  EsCallPage *self = data;
  EsVerification *verification;

  connect_branch (self);

  /* The branch creates its verification when it negotiates; follow it. */
  verification = self->branch ? es_call_branch_get_verification (self->branch) : NULL;
  if (verification != self->verification)
    es_call_page_set_verification (self, verification);

  update_status (self);
  update_video_paused (self);

  return G_SOURCE_CONTINUE;
}

static void
set_value (GtkWidget  *label,
           const char *text)
{
  gtk_label_set_label (GTK_LABEL (label), text ? text : "—");
}

static void
stats_cb (EsCall            *call,
          const EsCallStats *stats,
          EsCallPage        *self)
{
  g_autofree char *rtt = NULL;
  g_autofree char *loss = NULL;
  g_autofree char *jitter = NULL;
  g_autofree char *bitrate = NULL;
  g_autofree char *line = NULL;
  const char *path;

  path = stats->relayed ? _("Relayed") : _("Direct");
  if (stats->rtt_ms >= 0)
    /* Translators: round-trip time in milliseconds */
    rtt = g_strdup_printf (_("%.0f ms"), stats->rtt_ms);
  if (stats->fraction_lost >= 0)
    loss = g_strdup_printf ("%.1f %%", stats->fraction_lost * 100.0);
  if (stats->jitter_ms >= 0)
    jitter = g_strdup_printf (_("%.0f ms"), stats->jitter_ms);
  /* Translators: received and sent bitrate */
  bitrate = g_strdup_printf (_("↓ %.0f kbit/s  ↑ %.0f kbit/s"), stats->in_kbps, stats->out_kbps);

  set_value (self->path_value, path);
  set_value (self->rtt_value, rtt);
  set_value (self->loss_value, loss);
  set_value (self->jitter_value, jitter);
  set_value (self->bitrate_value, bitrate);
  {
    g_autofree char *codecs = g_strjoin (" / ",
                                         stats->audio_codec ? stats->audio_codec : "—",
                                         stats->video_codec ? stats->video_codec : "—",
                                         NULL);
    set_value (self->codec_value, codecs);
  }

  if (stats->relayed)
    line = rtt ? g_strdup_printf (_("Relayed · %s"), rtt) : g_strdup (_("Relayed"));
  else
    line = rtt ? g_strdup_printf (_("Direct · %s"), rtt) : g_strdup (_("Direct"));
  gtk_menu_button_set_label (GTK_MENU_BUTTON (self->connection_button), line);
}

static void
state_cb (EsCallPage *self)
{
  connect_branch (self);
  update_status (self);
  update_self_view (self);
}

static void
verification_state_cb (EsCallPage *self)
{
  EsVerificationState state = self->verification
                              ? es_verification_get_state (self->verification)
                              : ES_VERIFICATION_STATE_WAITING;

  gtk_widget_set_visible (self->verified_icon, state == ES_VERIFICATION_STATE_VERIFIED);
  gtk_widget_set_visible (self->verification_panel,
                          self->verification != NULL &&
                          state != ES_VERIFICATION_STATE_WAITING &&
                          state != ES_VERIFICATION_STATE_VERIFIED);
}

void
es_call_page_set_verification (EsCallPage     *self,
                               EsVerification *verification)
{
  g_return_if_fail (ES_IS_CALL_PAGE (self));

  if (self->verification != NULL)
    g_clear_signal_handler (&self->verify_id, self->verification);
  g_set_object (&self->verification, verification);
  if (verification != NULL)
    self->verify_id = g_signal_connect_swapped (verification, "notify::state",
                                                G_CALLBACK (verification_state_cb), self);

  es_verification_panel_set_verification (ES_VERIFICATION_PANEL (self->verification_panel),
                                          verification);
  verification_state_cb (self);
}

gboolean
es_call_page_get_verified (EsCallPage *self)
{
  g_return_val_if_fail (ES_IS_CALL_PAGE (self), FALSE);

  return self->verification != NULL &&
         es_verification_get_state (self->verification) == ES_VERIFICATION_STATE_VERIFIED;
}

void
es_call_page_set_call (EsCallPage *self,
                       EsCall     *call)
{
  g_return_if_fail (ES_IS_CALL_PAGE (self));
  g_return_if_fail (!call || ES_IS_CALL (call));

  if (self->call == call)
    return;

  if (self->call != NULL)
    {
      g_clear_signal_handler (&self->state_id, self->call);
      g_clear_signal_handler (&self->stats_id, self->call);
    }
  disconnect_branch (self);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  es_video_paintable_clear (self->remote_video);
  es_call_page_set_verification (self, NULL);

  g_set_object (&self->call, call);

  if (call != NULL)
    {
      const char *peer = es_call_get_peer_user (call);

      adw_window_title_set_title (self->title, peer);
      adw_avatar_set_text (self->avatar, peer);
      es_verification_panel_set_peer_name (ES_VERIFICATION_PANEL (self->verification_panel), peer);
      gtk_menu_button_set_label (GTK_MENU_BUTTON (self->connection_button), _("Connecting…"));
      self->state_id = g_signal_connect_swapped (call, "notify::state",
                                                 G_CALLBACK (state_cb), self);
      self->stats_id = g_signal_connect (call, "stats", G_CALLBACK (stats_cb), self);
      self->last_frame_us = g_get_monotonic_time ();
      self->tick_id = g_timeout_add (500, tick_cb, self);
    }

  state_cb (self);
}

/* Where the remote video is drawn, relative to @relative_to, and what covers
 * parts of it, for the UI tests (EARSHOT_AUTOMATION=1). Returns FALSE when no
 * remote frame is shown. */
gboolean
es_call_page_get_video_regions (EsCallPage      *self,
                                GtkWidget       *relative_to,
                                graphene_rect_t *video,
                                GArray          *covered)
{
  GtkWidget *overlays[] = { self->self_frame, self->verification_panel, self->paused_label };
  graphene_rect_t bounds;
  GdkPaintable *paintable = GDK_PAINTABLE (self->remote_video);
  double pw, ph, scale;

  g_return_val_if_fail (ES_IS_CALL_PAGE (self), FALSE);

  if (!gtk_widget_get_mapped (self->remote_picture) ||
      !es_video_paintable_has_frame (self->remote_video) ||
      !gtk_widget_compute_bounds (self->remote_picture, relative_to, &bounds))
    return FALSE;

  /* GtkPicture keeps the aspect ratio and centres the frame. */
  pw = gdk_paintable_get_intrinsic_width (paintable);
  ph = gdk_paintable_get_intrinsic_height (paintable);
  if (pw <= 0 || ph <= 0)
    return FALSE;
  scale = MIN (bounds.size.width / pw, bounds.size.height / ph);
  graphene_rect_init (video,
                      bounds.origin.x + (bounds.size.width - pw * scale) / 2,
                      bounds.origin.y + (bounds.size.height - ph * scale) / 2,
                      pw * scale, ph * scale);

  for (guint i = 0; i < G_N_ELEMENTS (overlays); i++)
    if (gtk_widget_get_mapped (overlays[i]) &&
        gtk_widget_compute_bounds (overlays[i], relative_to, &bounds))
      g_array_append_val (covered, bounds);

  return TRUE;
}

EsCall *
es_call_page_get_call (EsCallPage *self)
{
  g_return_val_if_fail (ES_IS_CALL_PAGE (self), NULL);

  return self->call;
}

void
es_call_page_set_camera_on (EsCallPage *self,
                            gboolean    camera_on)
{
  g_return_if_fail (ES_IS_CALL_PAGE (self));

  self->camera_on = !!camera_on;
  update_self_view (self);
}

void
es_call_page_set_test_media (EsCallPage *self,
                             gboolean    test_media)
{
  g_return_if_fail (ES_IS_CALL_PAGE (self));

  self->test_media = !!test_media;
}

static void
es_call_page_dispose (GObject *object)
{
  EsCallPage *self = ES_CALL_PAGE (object);

  es_call_page_set_call (self, NULL);
  stop_self_view (self);
  gtk_widget_dispose_template (GTK_WIDGET (self), ES_TYPE_CALL_PAGE);
  g_clear_object (&self->remote_video);
  g_clear_object (&self->self_video);

  G_OBJECT_CLASS (es_call_page_parent_class)->dispose (object);
}

static void
es_call_page_class_init (EsCallPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = es_call_page_dispose;

  g_type_ensure (ES_TYPE_VERIFICATION_PANEL);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/earshot/Earshot/ui/es-call-page.ui");
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "callpage");

  gtk_widget_class_bind_template_child (widget_class, EsCallPage, title);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, remote_picture);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, self_picture);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, self_frame);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, placeholder);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, avatar);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, status_label);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, paused_label);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, connection_button);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, path_value);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, rtt_value);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, loss_value);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, jitter_value);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, codec_value);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, bitrate_value);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, verified_icon);
  gtk_widget_class_bind_template_child (widget_class, EsCallPage, verification_panel);
}

static void
es_call_page_init (EsCallPage *self)
{
  self->remote_video = es_video_paintable_new ();
  self->self_video = es_video_paintable_new ();
  self->camera_on = TRUE;

  gtk_widget_init_template (GTK_WIDGET (self));

  gtk_picture_set_paintable (GTK_PICTURE (self->remote_picture), GDK_PAINTABLE (self->remote_video));
  gtk_picture_set_paintable (GTK_PICTURE (self->self_picture), GDK_PAINTABLE (self->self_video));
}

GtkWidget *
es_call_page_new (void)
{
  return g_object_new (ES_TYPE_CALL_PAGE, NULL);
}
