/* es-server-private.h: state shared by EsServer and EsServerSession
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "es-rate-limit.h"
#include "es-server-io.h"
#include "es-server.h"
#include "es-server-session.h"

G_BEGIN_DECLS

/* A device the server has seen since it started. The server keeps its sequence numbers in
 * memory: last_recv_seq moves as frames are accepted into the open batch, and
 * persisted_recv_seq follows it once the commit that wrote it has returned; only the latter is
 * ever sent as an "ack". Devices live as long as the server. */
typedef struct
{
  char            *id;
  char            *user;
  char            *name;
  gint64           last_recv_seq;
  gint64           persisted_recv_seq;
  gint64           next_seq;
  gint64           delete_up_to; /* acked by the device, not yet deleted from its queue */
  EsServerSession *session; /* borrowed: the device's current connection, or NULL */
  guint            dirty : 1;
  guint            delete_pending : 1;
} EsServerDevice;

EsServerDevice *es_server_device_new_from_record (const EsServerDeviceRecord *record);
void            es_server_device_free            (EsServerDevice             *device);

/* Kept small: thousands of these are idle at any time. */
struct _EsServerSession
{
  GObject parent_instance;

  /* Owned */
  EsServerLink *link;

  /* Borrowed */
  EsServer       *server;
  EsServerDevice *device;

  EsRateLimit rate;
  gint64      last_sent_seq; /* highest server seq written to this connection */
  gint64      last_ack_sent; /* "ack" of the last frame sent */
  gint64      peer_ack;      /* highest server seq the device acknowledged */
  gint64      last_activity; /* monotonic seconds */

  guint welcomed : 1;
  guint closing : 1;  /* we or the peer started closing: ignore further frames */
  guint in_batch : 1;
  guint needs_ack : 1;
};

EsServerSession *es_server_session_new (EsServer       *server,
                                        EsServerLink   *link,
                                        EsServerDevice *device);

/* Implemented in es-server.c. */
void             es_server_session_message (EsServer        *self,
                                            EsServerSession *session,
                                            GBytes          *message,
                                            gboolean         is_text);
void             es_server_session_closed  (EsServer        *self,
                                            EsServerSession *session);

/* The store is the writer thread's while a commit is in flight (see es-server.c, "Group
 * commit"): code on the main thread that uses it outside of frame handling calls this first. */
void             es_server_wait_commit     (EsServer        *self);

void             es_server_session_send_queued (EsServerSession *self,
                                                gint64           seq,
                                                const char      *text,
                                                gsize            length);

G_END_DECLS
