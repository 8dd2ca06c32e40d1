/* es-server-config.h: settings of earshot-server, from a GKeyFile and command-line flags
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ES_SERVER_CONFIG_ERROR (es_server_config_error_quark ())

typedef enum
{
  ES_SERVER_CONFIG_ERROR_INVALID,
} EsServerConfigError;

typedef enum
{
  ES_PASSWORD_HASH_INTERACTIVE,
  ES_PASSWORD_HASH_MIN, /* only for tests and benchmarks */
} EsPasswordHashStrength;

#define ES_SERVER_DEFAULT_LISTEN       "127.0.0.1:7878"
#define ES_SERVER_DEFAULT_RATE_LIMIT   500
#define ES_SERVER_DEFAULT_RATE_BURST   1000
#define ES_SERVER_DEFAULT_IDLE_TIMEOUT 300
#define ES_SERVER_DEFAULT_TURN_TTL     86400
#define ES_SERVER_DEFAULT_RING_TIMEOUT 60
#define ES_SERVER_MAX_IO_THREADS       256

typedef struct
{
  char                   *listen_host;
  guint16                 listen_port;
  char                   *database;
  char                   *tls_certificate;
  char                   *tls_key;
  guint                   rate_limit;   /* frames per second per connection */
  guint                   rate_burst;
  EsPasswordHashStrength  password_hash;
  char                   *turn_secret;
  char                  **turn_uris;
  guint                   turn_ttl;     /* seconds */
  guint                   idle_timeout; /* seconds without a frame before a socket is closed; 0: never */
  guint                   ring_timeout; /* seconds a call rings before it is missed */
  guint                   io_threads;   /* threads that serve the WebSocket connections; by
                                         * default one per core, up to 16 */
} EsServerConfig;

GQuark          es_server_config_error_quark (void);

EsServerConfig *es_server_config_new         (void);
void            es_server_config_free        (EsServerConfig   *config);
gboolean        es_server_config_load_file   (EsServerConfig   *config,
                                              const char       *path,
                                              GError          **error);
gboolean        es_server_config_parse_args  (EsServerConfig   *config,
                                              int              *argc,
                                              char           ***argv,
                                              GError          **error);
gboolean        es_server_config_set_listen  (EsServerConfig   *config,
                                              const char       *listen,
                                              GError          **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsServerConfig, es_server_config_free)

G_END_DECLS
