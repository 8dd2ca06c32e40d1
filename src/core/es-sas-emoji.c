/* es-sas-emoji.c: the 64 emoji that the short authentication string picks from
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * data/sas-emoji.tsv is the source of truth; test-sas checks this table against it line by
 * line. Users read the names aloud to each other, so each is translated.
 */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "es-sas-emoji.h"

static const EsSasEmoji emoji_table[ES_SAS_EMOJI_COUNT] = {
  /* Translators: the names of the verification emoji. Two people read them aloud to each
   * other to make sure nobody listens in, so use the everyday word for what the picture
   * shows. */
  { "🐶", N_("Dog"), "U+1F436" },
  { "🐱", N_("Cat"), "U+1F431" },
  { "🦁", N_("Lion"), "U+1F981" },
  { "🐎", N_("Horse"), "U+1F40E" },
  { "🦄", N_("Unicorn"), "U+1F984" },
  { "🐷", N_("Pig"), "U+1F437" },
  { "🐘", N_("Elephant"), "U+1F418" },
  { "🐰", N_("Rabbit"), "U+1F430" },
  { "🐼", N_("Panda"), "U+1F43C" },
  { "🐓", N_("Rooster"), "U+1F413" },
  { "🐧", N_("Penguin"), "U+1F427" },
  { "🐢", N_("Turtle"), "U+1F422" },
  { "🐟", N_("Fish"), "U+1F41F" },
  { "🐙", N_("Octopus"), "U+1F419" },
  { "🦋", N_("Butterfly"), "U+1F98B" },
  { "🌷", N_("Flower"), "U+1F337" },
  { "🌳", N_("Tree"), "U+1F333" },
  { "🌵", N_("Cactus"), "U+1F335" },
  { "🍄", N_("Mushroom"), "U+1F344" },
  { "🌏", N_("Globe"), "U+1F30F" },
  { "🌙", N_("Moon"), "U+1F319" },
  { "☁️", N_("Cloud"), "U+2601U+FE0F" },
  { "🔥", N_("Fire"), "U+1F525" },
  { "🍌", N_("Banana"), "U+1F34C" },
  { "🍎", N_("Apple"), "U+1F34E" },
  { "🍓", N_("Strawberry"), "U+1F353" },
  { "🌽", N_("Corn"), "U+1F33D" },
  { "🍕", N_("Pizza"), "U+1F355" },
  { "🎂", N_("Cake"), "U+1F382" },
  { "❤️", N_("Heart"), "U+2764U+FE0F" },
  { "😀", N_("Smiley"), "U+1F600" },
  { "🤖", N_("Robot"), "U+1F916" },
  { "🎩", N_("Hat"), "U+1F3A9" },
  { "👓", N_("Glasses"), "U+1F453" },
  { "🔧", N_("Spanner"), "U+1F527" },
  { "🎅", N_("Santa"), "U+1F385" },
  { "👍", N_("Thumbs Up"), "U+1F44D" },
  { "☂️", N_("Umbrella"), "U+2602U+FE0F" },
  { "⌛", N_("Hourglass"), "U+231B" },
  { "⏰", N_("Clock"), "U+23F0" },
  { "🎁", N_("Gift"), "U+1F381" },
  { "💡", N_("Light Bulb"), "U+1F4A1" },
  { "📕", N_("Book"), "U+1F4D5" },
  { "✏️", N_("Pencil"), "U+270FU+FE0F" },
  { "📎", N_("Paperclip"), "U+1F4CE" },
  { "✂️", N_("Scissors"), "U+2702U+FE0F" },
  { "🔒", N_("Lock"), "U+1F512" },
  { "🔑", N_("Key"), "U+1F511" },
  { "🔨", N_("Hammer"), "U+1F528" },
  { "☎️", N_("Telephone"), "U+260EU+FE0F" },
  { "🏁", N_("Flag"), "U+1F3C1" },
  { "🚂", N_("Train"), "U+1F682" },
  { "🚲", N_("Bicycle"), "U+1F6B2" },
  { "✈️", N_("Aeroplane"), "U+2708U+FE0F" },
  { "🚀", N_("Rocket"), "U+1F680" },
  { "🏆", N_("Trophy"), "U+1F3C6" },
  { "⚽", N_("Ball"), "U+26BD" },
  { "🎸", N_("Guitar"), "U+1F3B8" },
  { "🎺", N_("Trumpet"), "U+1F3BA" },
  { "🔔", N_("Bell"), "U+1F514" },
  { "⚓", N_("Anchor"), "U+2693" },
  { "🎧", N_("Headphones"), "U+1F3A7" },
  { "📁", N_("Folder"), "U+1F4C1" },
  { "📌", N_("Pin"), "U+1F4CC" },
};

/**
 * es_sas_emoji_get:
 *
 * Returns: (nullable): the entry at @index, or %NULL when @index is not below
 *   %ES_SAS_EMOJI_COUNT
 */
const EsSasEmoji *
es_sas_emoji_get (guint index)
{
  if (index >= ES_SAS_EMOJI_COUNT)
    return NULL;

  return &emoji_table[index];
}

const char *
es_sas_emoji_get_emoji (guint index)
{
  g_return_val_if_fail (index < ES_SAS_EMOJI_COUNT, NULL);

  return emoji_table[index].emoji;
}

/**
 * es_sas_emoji_get_name:
 *
 * Returns: the name of the emoji at @index in the user's language
 */
const char *
es_sas_emoji_get_name (guint index)
{
  g_return_val_if_fail (index < ES_SAS_EMOJI_COUNT, NULL);

  return g_dgettext (GETTEXT_PACKAGE, emoji_table[index].name);
}
