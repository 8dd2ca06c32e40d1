/* fuzz-frame.c: libFuzzer target for the signaling frame parser
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Besides "no crash, no leak, no sanitizer report", it checks one invariant: whatever the parser
 * accepts serializes to a frame that parses again to the same text.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "es-protocol.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(EsFrame) frame = NULL;
  g_autoptr(EsFrame) again = NULL;
  g_autoptr(EsFrame) copy = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_again = NULL;
  gsize length;

  frame = es_frame_parse ((const char *) data, size, &error);
  if (frame == NULL)
    {
      if (error == NULL || error->domain != ES_PROTOCOL_ERROR)
        abort ();
      return 0;
    }

  copy = es_frame_copy (frame);
  text = es_frame_serialize (copy, &length);
  again = es_frame_parse (text, length, NULL);
  /* A frame grown by escaping may pass the size limit; anything else must come back. */
  if (again == NULL && length <= ES_PROTOCOL_MAX_FRAME_SIZE)
    abort ();
  if (again != NULL)
    {
      text_again = es_frame_serialize (again, NULL);
      if (strcmp (text, text_again) != 0)
        abort ();
    }

  return 0;
}
