/* es-sas-emoji.h: the 64 emoji that the short authentication string picks from
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ES_SAS_EMOJI_COUNT 64

typedef struct
{
  const char *emoji;   /* UTF-8, with U+FE0F where the emoji presentation needs it */
  const char *name;    /* English, untranslated; see es_sas_emoji_get_name() */
  const char *unicode; /* code points as data/sas-emoji.tsv writes them: "U+2601U+FE0F" */
} EsSasEmoji;

const EsSasEmoji *es_sas_emoji_get       (guint index);
const char       *es_sas_emoji_get_emoji (guint index);
const char       *es_sas_emoji_get_name  (guint index);

G_END_DECLS
