/* es-cli.h: shared helpers of earshot-cli's commands
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

#include "es-client-store.h"

G_BEGIN_DECLS

typedef struct
{
  char *server;  /* --server, or NULL */
  char *profile; /* --profile, or the default profile */
} EsCliOptions;

typedef int (*EsCliCommandFunc) (EsCliOptions *options,
                                 int           argc,
                                 char        **argv);

typedef struct
{
  const char       *name;
  const char       *args;
  const char       *summary;
  EsCliCommandFunc  func;
} EsCliCommand;

/* Option entries every command accepts too, so that `cmd --profile DIR` works as well. */
GOptionGroup  *es_cli_global_option_group (EsCliOptions   *options);

gboolean       es_cli_parse               (GOptionContext *context,
                                           EsCliOptions   *options,
                                           int            *argc,
                                           char         ***argv);
EsClientStore *es_cli_open_store          (EsCliOptions   *options);
void           es_cli_print_json          (JsonBuilder    *builder);
int            es_cli_fail                (const char     *format,
                                           ...) G_GNUC_PRINTF (1, 2);
int            es_cli_usage_error         (GOptionContext *context,
                                           const char     *message);
void           es_cli_options_clear       (EsCliOptions   *options);
void           es_cli_print_backtrace_on_warning (void);

int            es_cli_register            (EsCliOptions   *options,
                                           int             argc,
                                           char          **argv);
int            es_cli_login               (EsCliOptions   *options,
                                           int             argc,
                                           char          **argv);
int            es_cli_whoami              (EsCliOptions   *options,
                                           int             argc,
                                           char          **argv);
int            es_cli_soak                (EsCliOptions   *options,
                                           int             argc,
                                           char          **argv);
int            es_cli_log                 (EsCliOptions   *options,
                                           int             argc,
                                           char          **argv);
int            es_cli_call                (EsCliOptions   *options,
                                           int             argc,
                                           char          **argv);
int            es_cli_answer              (EsCliOptions   *options,
                                           int             argc,
                                           char          **argv);
int            es_cli_trust               (EsCliOptions   *options,
                                           int             argc,
                                           char          **argv);
int            es_cli_reset_identity      (EsCliOptions   *options,
                                           int             argc,
                                           char          **argv);

G_END_DECLS
