/* es-window.h: the main window: first run, calls and contacts, and the call pages
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "es-application.h"
#include "es-call-page.h"

G_BEGIN_DECLS

#define ES_TYPE_WINDOW (es_window_get_type ())

G_DECLARE_FINAL_TYPE (EsWindow, es_window, ES, WINDOW, AdwApplicationWindow)

EsWindow   *es_window_new        (EsApplication *application);
void        es_window_show_error (EsWindow      *self,
                                  const char    *message);
const char *es_window_get_page   (EsWindow      *self);
EsCallPage *es_window_get_call_page (EsWindow   *self);

G_END_DECLS
