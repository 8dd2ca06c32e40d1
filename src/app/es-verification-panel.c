/* es-verification-panel.c: five emoji to compare, and what the users say about them
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "es-application.h"
#include "es-sas-emoji.h"
#include "es-verification-panel.h"

struct _EsVerificationPanel
{
  GtkWidget       parent_instance;

  /* Template widgets */
  GtkWidget      *box;
  GtkWidget      *title;
  GtkWidget      *subtitle;
  GtkWidget      *warning;
  GtkWidget      *emoji_box;
  GtkWidget      *buttons;
  GtkWidget      *verified;
  GtkWidget      *emoji[5];
  GtkWidget      *names[5];
  GtkWidget      *cells[5];

  /* Owned */
  EsVerification *verification;
  char           *peer_name;
  gulong          state_id;
};

G_DEFINE_FINAL_TYPE (EsVerificationPanel, es_verification_panel, GTK_TYPE_WIDGET)

/* The UI tests compare what the panel shows with what the peer shows, by the
 * emoji's English names. */
static void
publish_emoji (EsVerificationPanel *self,
               const guint8         indices[5])
{
  GApplication *app = g_application_get_default ();
  g_autoptr(GVariantBuilder) names = g_variant_builder_new (G_VARIANT_TYPE_STRING_ARRAY);

  if (!ES_IS_APPLICATION (app))
    return;

  for (guint i = 0; indices != NULL && i < 5; i++)
    g_variant_builder_add (names, "s", es_sas_emoji_get (indices[i])->name);
  es_application_set_automation_state (ES_APPLICATION (app), "sas",
                                       g_variant_builder_end (names));
}

static void
set_emoji (EsVerificationPanel *self,
           const guint8         indices[5])
{
  for (guint i = 0; i < 5; i++)
    {
      const char *emoji = indices ? es_sas_emoji_get_emoji (indices[i]) : "";
      /* Translated in core, from data/sas-emoji.tsv's English names. */
      const char *name = indices ? es_sas_emoji_get_name (indices[i]) : "";

      gtk_label_set_label (GTK_LABEL (self->emoji[i]), emoji);
      gtk_label_set_label (GTK_LABEL (self->names[i]), name);
      /* Screen readers read the name, not the code point's Unicode name. */
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->cells[i]),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, name,
                                      -1);
    }
}

void
es_verification_panel_show (EsVerificationPanel *self,
                            EsVerificationState  state,
                            const guint8         indices[5])
{
  const char *peer = self->peer_name ? self->peer_name : _("your contact");
  g_autofree char *subtitle = NULL;

  g_return_if_fail (ES_IS_VERIFICATION_PANEL (self));

  set_emoji (self, indices);

  gtk_widget_set_visible (self->warning, state == ES_VERIFICATION_STATE_KEY_CHANGED);
  gtk_widget_set_visible (self->emoji_box,
                          indices != NULL &&
                          (state == ES_VERIFICATION_STATE_COMPARING ||
                           state == ES_VERIFICATION_STATE_KEY_CHANGED));
  gtk_widget_set_visible (self->buttons,
                          state == ES_VERIFICATION_STATE_COMPARING ||
                          state == ES_VERIFICATION_STATE_KEY_CHANGED);
  gtk_widget_set_visible (self->verified, state == ES_VERIFICATION_STATE_VERIFIED);
  publish_emoji (self, gtk_widget_get_visible (self->emoji_box) ? indices : NULL);

  gtk_widget_remove_css_class (self->box, "error");

  switch (state)
    {
    case ES_VERIFICATION_STATE_WAITING:
      gtk_label_set_label (GTK_LABEL (self->title), _("Preparing Verification…"));
      subtitle = g_strdup ("");
      break;

    case ES_VERIFICATION_STATE_COMPARING:
      gtk_label_set_label (GTK_LABEL (self->title), _("Compare Emoji"));
      /* Translators: %s is the other person's user name */
      subtitle = g_strdup_printf (_("Read these out loud. If %s sees the same five, nobody is listening in."),
                                  peer);
      break;

    case ES_VERIFICATION_STATE_KEY_CHANGED:
      gtk_label_set_label (GTK_LABEL (self->title), _("Security Key Changed"));
      subtitle = g_strdup_printf (_("The device of %s has a different key than last time. "
                                    "This happens after reinstalling, but it can also mean that someone is in the middle. "
                                    "Compare the emoji again before you say anything private."),
                                  peer);
      break;

    case ES_VERIFICATION_STATE_VERIFIED:
      gtk_label_set_label (GTK_LABEL (self->title), _("Verified"));
      subtitle = g_strdup_printf (_("You confirmed that this is the device of %s."), peer);
      break;

    case ES_VERIFICATION_STATE_MISMATCH:
      gtk_label_set_label (GTK_LABEL (self->title), _("The Emoji Did Not Match"));
      subtitle = g_strdup (_("Someone may be listening in. The call was ended."));
      gtk_widget_add_css_class (self->box, "error");
      break;

    case ES_VERIFICATION_STATE_FAILED:
    default:
      gtk_label_set_label (GTK_LABEL (self->title), _("Verification Failed"));
      subtitle = g_strdup (self->verification && es_verification_get_failure_reason (self->verification)
                           ? es_verification_get_failure_reason (self->verification)
                           : _("A security check failed. The call was ended."));
      gtk_widget_add_css_class (self->box, "error");
      break;
    }

  gtk_label_set_label (GTK_LABEL (self->subtitle), subtitle);
  gtk_widget_set_visible (self->subtitle, subtitle[0] != '\0');
}

static void
update (EsVerificationPanel *self)
{
  EsVerificationState state;
  const guint8 *indices;

  if (self->verification == NULL)
    {
      es_verification_panel_show (self, ES_VERIFICATION_STATE_WAITING, NULL);
      return;
    }

  state = es_verification_get_state (self->verification);
  /* Already the five emoji indices, not the MAC they come from. */
  indices = es_verification_get_sas (self->verification);

  es_verification_panel_show (self, state, indices);
}

static void
state_changed_cb (EsVerificationPanel *self)
{
  update (self);
}

void
es_verification_panel_set_verification (EsVerificationPanel *self,
                                        EsVerification      *verification)
{
  g_return_if_fail (ES_IS_VERIFICATION_PANEL (self));
  g_return_if_fail (!verification || ES_IS_VERIFICATION (verification));

  if (self->verification == verification)
    return;

  if (self->verification != NULL)
    g_clear_signal_handler (&self->state_id, self->verification);
  g_set_object (&self->verification, verification);
  if (verification != NULL)
    self->state_id = g_signal_connect_swapped (verification, "notify::state",
                                               G_CALLBACK (state_changed_cb), self);

  update (self);
}

EsVerification *
es_verification_panel_get_verification (EsVerificationPanel *self)
{
  g_return_val_if_fail (ES_IS_VERIFICATION_PANEL (self), NULL);

  return self->verification;
}

void
es_verification_panel_set_peer_name (EsVerificationPanel *self,
                                     const char          *peer_name)
{
  g_return_if_fail (ES_IS_VERIFICATION_PANEL (self));

  g_free (self->peer_name);
  self->peer_name = g_strdup (peer_name);
  update (self);
}

static void
es_verification_panel_dispose (GObject *object)
{
  EsVerificationPanel *self = ES_VERIFICATION_PANEL (object);

  if (self->verification != NULL)
    g_clear_signal_handler (&self->state_id, self->verification);
  g_clear_object (&self->verification);
  gtk_widget_dispose_template (GTK_WIDGET (self), ES_TYPE_VERIFICATION_PANEL);

  G_OBJECT_CLASS (es_verification_panel_parent_class)->dispose (object);
}

static void
es_verification_panel_finalize (GObject *object)
{
  g_free (ES_VERIFICATION_PANEL (object)->peer_name);

  G_OBJECT_CLASS (es_verification_panel_parent_class)->finalize (object);
}

static void
es_verification_panel_class_init (EsVerificationPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = es_verification_panel_dispose;
  object_class->finalize = es_verification_panel_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/earshot/Earshot/ui/es-verification-panel.ui");
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "verificationpanel");

  gtk_widget_class_bind_template_child (widget_class, EsVerificationPanel, box);
  gtk_widget_class_bind_template_child (widget_class, EsVerificationPanel, title);
  gtk_widget_class_bind_template_child (widget_class, EsVerificationPanel, subtitle);
  gtk_widget_class_bind_template_child (widget_class, EsVerificationPanel, warning);
  gtk_widget_class_bind_template_child (widget_class, EsVerificationPanel, emoji_box);
  gtk_widget_class_bind_template_child (widget_class, EsVerificationPanel, buttons);
  gtk_widget_class_bind_template_child (widget_class, EsVerificationPanel, verified);
  gtk_widget_class_bind_template_child_full (widget_class, "emoji0", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, emoji[0]));
  gtk_widget_class_bind_template_child_full (widget_class, "emoji1", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, emoji[1]));
  gtk_widget_class_bind_template_child_full (widget_class, "emoji2", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, emoji[2]));
  gtk_widget_class_bind_template_child_full (widget_class, "emoji3", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, emoji[3]));
  gtk_widget_class_bind_template_child_full (widget_class, "emoji4", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, emoji[4]));
  gtk_widget_class_bind_template_child_full (widget_class, "name0", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, names[0]));
  gtk_widget_class_bind_template_child_full (widget_class, "name1", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, names[1]));
  gtk_widget_class_bind_template_child_full (widget_class, "name2", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, names[2]));
  gtk_widget_class_bind_template_child_full (widget_class, "name3", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, names[3]));
  gtk_widget_class_bind_template_child_full (widget_class, "name4", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, names[4]));
  gtk_widget_class_bind_template_child_full (widget_class, "cell0", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, cells[0]));
  gtk_widget_class_bind_template_child_full (widget_class, "cell1", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, cells[1]));
  gtk_widget_class_bind_template_child_full (widget_class, "cell2", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, cells[2]));
  gtk_widget_class_bind_template_child_full (widget_class, "cell3", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, cells[3]));
  gtk_widget_class_bind_template_child_full (widget_class, "cell4", FALSE, G_STRUCT_OFFSET (EsVerificationPanel, cells[4]));
}

static void
es_verification_panel_init (EsVerificationPanel *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  update (self);
}

GtkWidget *
es_verification_panel_new (void)
{
  return g_object_new (ES_TYPE_VERIFICATION_PANEL, NULL);
}
