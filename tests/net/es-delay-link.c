/* es-delay-link.c: a user-space network link with delay, jitter, loss and rate.
 *
 * This kernel has no netem, so the network tests route traffic between two namespaces through
 * two TUN devices and this forwarder: every IP packet read from one TUN is held for the
 * configured one-way delay (plus or minus jitter, possibly dropped, possibly paced to a rate)
 * and then written to the other TUN, where the kernel routes it on. Both directions get the same
 * settings. It runs one thread with ppoll() and nanosecond timeouts, timer slack of 1 ns and
 * optionally SCHED_FIFO, so a packet leaves within tens of microseconds of its due time.
 *
 * Usage: es-delay-link --tun-a NAME --tun-b NAME --delay MS [--jitter MS] [--loss PCT]
 *        [--rate KBIT] [--limit PACKETS] [--reorder] [--seed N] [--realtime]
 *
 * The TUN devices are attached by name (created as non-persistent ones if they do not exist);
 * netns-link.sh creates them persistent and configured before it starts this program. SIGUSR1
 * prints statistics to stderr; SIGINT and SIGTERM print them and exit 0.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#define NS_PER_MS   1000000LL
#define MAX_PACKET  65536
#define READ_BURST  64

typedef struct
{
  gint64  due;    /* CLOCK_MONOTONIC, ns */
  guint64 seq;    /* ties keep arrival order */
  gsize   len;
  guint8 *data;
} Packet;

typedef struct
{
  const char *name;      /* "a->b" */
  int         in_fd;
  int         out_fd;
  Packet     *heap;
  gsize       n_heap;
  gsize       heap_size;
  gint64      last_due;  /* for order keeping */
  gint64      link_free; /* when the rate limiter's wire is free again */
  guint64     seq;
  /* Statistics */
  guint64     rx;
  guint64     tx;
  guint64     tx_bytes;
  guint64     drop_loss;
  guint64     drop_limit;
  guint64     drop_write;
  gint64      late_max;
  gint64      late_sum;
  guint64     late_over_1ms;
} Direction;

static double   opt_delay_ms = 0.0;
static double   opt_jitter_ms = 0.0;
static double   opt_loss_pct = 0.0;
static double   opt_rate_kbit = 0.0;
static gint     opt_limit = 10000;
static gboolean opt_reorder = FALSE;
static gint64   opt_seed = 0;
static gboolean opt_realtime = FALSE;
static char    *opt_tun_a = NULL;
static char    *opt_tun_b = NULL;

static volatile sig_atomic_t quit_requested = 0;
static volatile sig_atomic_t stats_requested = 0;

static GOptionEntry entries[] = {
  { "tun-a", 'a', 0, G_OPTION_ARG_STRING, &opt_tun_a, "First TUN device", "NAME" },
  { "tun-b", 'b', 0, G_OPTION_ARG_STRING, &opt_tun_b, "Second TUN device", "NAME" },
  { "delay", 'd', 0, G_OPTION_ARG_DOUBLE, &opt_delay_ms, "One-way delay in ms", "MS" },
  { "jitter", 'j', 0, G_OPTION_ARG_DOUBLE, &opt_jitter_ms,
    "Uniform jitter: each packet's delay is delay ± jitter", "MS" },
  { "loss", 'l', 0, G_OPTION_ARG_DOUBLE, &opt_loss_pct, "Random loss in percent", "PCT" },
  { "rate", 'r', 0, G_OPTION_ARG_DOUBLE, &opt_rate_kbit,
    "Link rate in kbit/s, 0 for unlimited (packets queue behind each other)", "KBIT" },
  { "limit", 0, 0, G_OPTION_ARG_INT, &opt_limit,
    "Packets held per direction before tail drop (default 10000)", "N" },
  { "reorder", 0, 0, G_OPTION_ARG_NONE, &opt_reorder,
    "Let jitter reorder packets (default: a packet never overtakes an earlier one)", NULL },
  { "seed", 0, 0, G_OPTION_ARG_INT64, &opt_seed, "Random seed (default: from the clock)", "N" },
  { "realtime", 0, 0, G_OPTION_ARG_NONE, &opt_realtime,
    "Run with SCHED_FIFO and locked memory for precise timing", NULL },
  { NULL }
};

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static gboolean
packet_before (const Packet *x,
               const Packet *y)
{
  return x->due < y->due || (x->due == y->due && x->seq < y->seq);
}

static void
heap_push (Direction *d,
           Packet     p)
{
  gsize i;

  if (d->n_heap == d->heap_size)
    {
      d->heap_size = MAX (64, d->heap_size * 2);
      d->heap = g_renew (Packet, d->heap, d->heap_size);
    }

  i = d->n_heap++;
  while (i > 0)
    {
      gsize parent = (i - 1) / 2;

      if (!packet_before (&p, &d->heap[parent]))
        break;
      d->heap[i] = d->heap[parent];
      i = parent;
    }
  d->heap[i] = p;
}

static Packet
heap_pop (Direction *d)
{
  Packet top = d->heap[0];
  Packet last = d->heap[--d->n_heap];
  gsize  i = 0;

  for (;;)
    {
      gsize l = 2 * i + 1;
      gsize r = l + 1;
      gsize m = i;
      const Packet *best = &last;

      if (l < d->n_heap && packet_before (&d->heap[l], best))
        {
          m = l;
          best = &d->heap[l];
        }
      if (r < d->n_heap && packet_before (&d->heap[r], best))
        m = r;
      if (m == i)
        break;
      d->heap[i] = d->heap[m];
      i = m;
    }
  if (d->n_heap > 0)
    d->heap[i] = last;

  return top;
}

static int
tun_open (const char *name)
{
  struct ifreq ifr = { 0 };
  int          fd;

  fd = open ("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      g_printerr ("es-delay-link: /dev/net/tun: %s\n", g_strerror (errno));
      return -1;
    }

  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  g_strlcpy (ifr.ifr_name, name, IFNAMSIZ);
  if (ioctl (fd, TUNSETIFF, &ifr) < 0)
    {
      g_printerr ("es-delay-link: TUNSETIFF %s: %s\n", name, g_strerror (errno));
      close (fd);
      return -1;
    }

  return fd;
}

static void
signal_cb (int signum)
{
  if (signum == SIGUSR1)
    stats_requested = 1;
  else
    quit_requested = 1;
}

static void
print_stats (const Direction *d)
{
  guint64 sent = d->tx;

  g_printerr ("es-delay-link: %s rx %" G_GUINT64_FORMAT " tx %" G_GUINT64_FORMAT
              " (%" G_GUINT64_FORMAT " bytes) lost %" G_GUINT64_FORMAT
              " overflow %" G_GUINT64_FORMAT " write-errors %" G_GUINT64_FORMAT
              " queued %" G_GSIZE_FORMAT " late mean %.3f ms max %.3f ms >1ms %" G_GUINT64_FORMAT
              "\n",
              d->name, d->rx, d->tx, d->tx_bytes, d->drop_loss, d->drop_limit, d->drop_write,
              d->n_heap, sent ? (double) d->late_sum / sent / NS_PER_MS : 0.0,
              (double) d->late_max / NS_PER_MS, d->late_over_1ms);
}

/* Reads what the TUN has, stamps each packet with its due time and queues it. */
static void
receive (Direction *d,
         GRand     *rand,
         guint8    *buf)
{
  for (int n = 0; n < READ_BURST; n++)
    {
      ssize_t len = read (d->in_fd, buf, MAX_PACKET);
      gint64  now;
      gint64  due;
      Packet  p;

      if (len < 0)
        {
          if (errno != EAGAIN && errno != EINTR)
            g_printerr ("es-delay-link: read %s: %s\n", d->name, g_strerror (errno));
          return;
        }
      if (len == 0)
        return;

      now = now_ns ();
      d->rx++;

      if (opt_loss_pct > 0 && g_rand_double (rand) * 100.0 < opt_loss_pct)
        {
          d->drop_loss++;
          continue;
        }
      if (d->n_heap >= (gsize) opt_limit)
        {
          d->drop_limit++;
          continue;
        }

      due = now;
      if (opt_rate_kbit > 0)
        {
          /* The packet is on the wire once the ones before it have left it. */
          d->link_free = MAX (d->link_free, now) + (gint64) (len * 8 * 1e6 / opt_rate_kbit);
          due = d->link_free;
        }
      due += (gint64) (opt_delay_ms * NS_PER_MS);
      if (opt_jitter_ms > 0)
        due += (gint64) (g_rand_double_range (rand, -opt_jitter_ms, opt_jitter_ms) * NS_PER_MS);
      due = MAX (due, now);
      if (!opt_reorder)
        due = MAX (due, d->last_due);
      d->last_due = MAX (d->last_due, due);

      p.due = due;
      p.seq = d->seq++;
      p.len = len;
      p.data = g_memdup2 (buf, len);
      heap_push (d, p);
    }
}

/* Writes every packet whose time has come and returns the next due time, or -1. */
static gint64
transmit (Direction *d)
{
  while (d->n_heap > 0)
    {
      gint64 now = now_ns ();
      gint64 late;
      Packet p;

      if (d->heap[0].due > now)
        return d->heap[0].due;

      p = heap_pop (d);
      if (write (d->out_fd, p.data, p.len) < 0)
        {
          d->drop_write++;
        }
      else
        {
          late = now - p.due;
          d->tx++;
          d->tx_bytes += p.len;
          d->late_sum += late;
          d->late_max = MAX (d->late_max, late);
          if (late > NS_PER_MS)
            d->late_over_1ms++;
        }
      g_free (p.data);
    }
  return -1;
}

static void
enable_realtime (void)
{
  struct sched_param param = { .sched_priority = 50 };

  if (sched_setscheduler (0, SCHED_FIFO, &param) < 0)
    g_printerr ("es-delay-link: SCHED_FIFO: %s (continuing)\n", g_strerror (errno));
  if (mlockall (MCL_CURRENT | MCL_FUTURE) < 0)
    g_printerr ("es-delay-link: mlockall: %s (continuing)\n", g_strerror (errno));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = NULL;
  g_autofree guint8 *buf = NULL;
  Direction          dirs[2] = { { 0 } };
  struct sigaction   sa = { 0 };
  sigset_t           block, unblocked;
  int                fd_a, fd_b;

  context = g_option_context_new ("- delay, jitter and loss between two TUN devices");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("es-delay-link: %s\n", error->message);
      return 2;
    }
  if (opt_tun_a == NULL || opt_tun_b == NULL)
    {
      g_printerr ("es-delay-link: --tun-a and --tun-b are required\n");
      return 2;
    }
  if (opt_delay_ms < 0 || opt_jitter_ms < 0 || opt_loss_pct < 0 || opt_loss_pct > 100
      || opt_rate_kbit < 0 || opt_limit < 1)
    {
      g_printerr ("es-delay-link: bad value: delay, jitter and rate must be >= 0, "
                  "loss in 0..100, limit >= 1\n");
      return 2;
    }

  fd_a = tun_open (opt_tun_a);
  fd_b = tun_open (opt_tun_b);
  if (fd_a < 0 || fd_b < 0)
    return 1;

  rand = opt_seed ? g_rand_new_with_seed ((guint32) opt_seed) : g_rand_new ();
  buf = g_malloc (MAX_PACKET);

  dirs[0].name = "a->b";
  dirs[0].in_fd = fd_a;
  dirs[0].out_fd = fd_b;
  dirs[1].name = "b->a";
  dirs[1].in_fd = fd_b;
  dirs[1].out_fd = fd_a;

  /* The kernel's default timer slack (50 µs) would be added to every wake-up. */
  prctl (PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  if (opt_realtime)
    enable_realtime ();

  /* Signals are only delivered inside ppoll(), so the handler never races the loop. */
  sa.sa_handler = signal_cb;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGUSR1, &sa, NULL);
  sigemptyset (&block);
  sigaddset (&block, SIGINT);
  sigaddset (&block, SIGTERM);
  sigaddset (&block, SIGUSR1);
  sigprocmask (SIG_BLOCK, &block, &unblocked);
  sigdelset (&unblocked, SIGINT);
  sigdelset (&unblocked, SIGTERM);
  sigdelset (&unblocked, SIGUSR1);

  g_printerr ("es-delay-link: %s <-> %s delay %.3f ms jitter %.3f ms loss %.2f%% rate %s%.0f "
              "kbit/s%s\n",
              opt_tun_a, opt_tun_b, opt_delay_ms, opt_jitter_ms, opt_loss_pct,
              opt_rate_kbit > 0 ? "" : "unlimited ", opt_rate_kbit,
              opt_reorder ? " reorder" : "");

  while (!quit_requested)
    {
      struct pollfd   pfd[2] = { { fd_a, POLLIN, 0 }, { fd_b, POLLIN, 0 } };
      struct timespec timeout, *timeout_p = NULL;
      gint64          next = -1;

      for (int i = 0; i < 2; i++)
        {
          gint64 due = transmit (&dirs[i]);

          if (due >= 0 && (next < 0 || due < next))
            next = due;
        }

      if (next >= 0)
        {
          /* MAX() would read the clock twice, and a negative timeout is EINVAL. */
          gint64 wait = next - now_ns ();

          wait = MAX (wait, 0);

          timeout.tv_sec = wait / 1000000000LL;
          timeout.tv_nsec = wait % 1000000000LL;
          timeout_p = &timeout;
        }

      if (ppoll (pfd, 2, timeout_p, &unblocked) < 0)
        {
          if (errno != EINTR)
            {
              g_printerr ("es-delay-link: ppoll: %s\n", g_strerror (errno));
              return 1;
            }
        }
      else
        {
          for (int i = 0; i < 2; i++)
            {
              if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL))
                {
                  g_printerr ("es-delay-link: TUN device %s went away\n",
                              i == 0 ? opt_tun_a : opt_tun_b);
                  return 1;
                }
              if (pfd[i].revents & POLLIN)
                receive (&dirs[i], rand, buf);
            }
        }

      if (stats_requested)
        {
          stats_requested = 0;
          print_stats (&dirs[0]);
          print_stats (&dirs[1]);
        }
    }

  print_stats (&dirs[0]);
  print_stats (&dirs[1]);
  return 0;
}
