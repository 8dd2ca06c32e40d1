/* es-server-mitm.h: TEST ONLY. A compromised server for the verification tests
 *
 * Compiled only into tests/integration's earshot-server-mitm, with -DES_SERVER_MITM; the
 * production earshot-server holds none of it. See es-server-mitm.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#ifndef ES_SERVER_MITM
#error "es-server-mitm.h is for the test-only earshot-server-mitm"
#endif

#include "es-protocol.h"
#include "es-server-store.h"

G_BEGIN_DECLS

gboolean  es_server_mitm_spoof  (EsServerStore  *store,
                                 const char     *device_id,
                                 const char     *user,
                                 const EsFrame  *frame,
                                 char          **out_device_id,
                                 char          **out_user);
char     *es_server_mitm_divert (EsServerStore  *store,
                                 EsFrame        *out,
                                 const char     *to_device);

G_END_DECLS
