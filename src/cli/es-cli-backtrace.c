/* es-cli-backtrace.c: a warning or critical prints the stack that raised it
 *
 * earshot-cli runs as the peer of the integration tests, under
 * G_DEBUG=fatal-warnings. A critical raised inside GStreamer, libnice or
 * libsoup then ends the peer with one line that names no caller; a rare one
 * cannot be run again under a debugger. The stack printed here, library and
 * offset per frame, says whose it was.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <execinfo.h>
#include <unistd.h>

#include "es-cli.h"

#define MAX_FRAMES 64

static GLogWriterOutput
backtrace_writer (GLogLevelFlags   log_level,
                  const GLogField *fields,
                  gsize            n_fields,
                  gpointer         user_data)
{
  /* Before the message: the default writer aborts on a fatal one. */
  if ((log_level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) != 0)
    {
      void *frames[MAX_FRAMES];
      int n = backtrace (frames, G_N_ELEMENTS (frames));

      /* Straight to the descriptor: nothing to allocate in a process in trouble. */
      backtrace_symbols_fd (frames, n, STDERR_FILENO);
    }

  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

void
es_cli_print_backtrace_on_warning (void)
{
  g_log_set_writer_func (backtrace_writer, NULL, NULL);
}
