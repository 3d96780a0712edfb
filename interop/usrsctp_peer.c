/*
 * usrsctp_peer: a small SCTP peer built on usrsctp (Debian's libusrsctp,
 * 0.9.x), speaking SCTP over UDP encapsulation (RFC 6951), for interop
 * tests and side-by-side benchmarks against usctp.
 *
 * Build: gcc -O2 -Wall -Wextra -o usrsctp_peer usrsctp_peer.c -lusrsctp -lpthread
 *
 *   usrsctp_peer server --service daytime|echo|discard --udp-port U
 *       [--sctp-port P] [--bind IP]... [--streams N] [--once]
 *       [--close-after N] [--remote-udp-port R] [--buffer BYTES]
 *       [--pd-point BYTES] [--verbose]
 *       [--progress-ms MS]  (discard: "t=S received=BYTES" lines on stderr)
 *   both: [--rto-min MS] [--rto-max MS] [--rto-initial MS] [--hb-interval MS]
 *       [--path-max-retrans N] [--pf-threshold N]  (usrsctp's sysctls)
 *   usrsctp_peer client --service daytime|echo|discard|bench|ping|handshake
 *       --connect IP:UDPPORT [--peer-addr IP]... [--bind IP]... [--udp-port U]
 *       [--sctp-port P] [--streams N] [--unordered] [--bytes N]
 *       [--msg-size S[,S...]] [--count N] [--close client|server]
 *       [--buffer BYTES] [--pd-point BYTES] [--timeout SECONDS] [--verbose]
 *
 * Servers (one thread per association; --once: serve one and exit with its
 * outcome):
 *   daytime  local time (ctime format) on stream 0, GMT on stream 1, then a
 *            graceful shutdown.
 *   echo     every message back on its stream with its PPID and unordered
 *            flag; --close-after N: shut down after echoing N messages.
 *   discard  counts; prints {"bytes":N,"messages":M,"seconds":S} when the
 *            association ends; --close-after N: shut down after N messages.
 *
 * Clients (stdout carries only the result; diagnostics go to stderr):
 *   daytime  prints "(Local) ..." (stream 0) and "(GMT  ) ..." (stream 1).
 *   echo     --count messages (sizes cycled from --msg-size) round-robin
 *            over --streams streams, ordered unless --unordered, all in
 *            flight at once; checks every echo byte for byte (and its
 *            stream, PPID, unordered flag and, when ordered, the order on
 *            its stream); prints {"messages":N,"bytes":B,"ok":true}.
 *   bench    --bytes in --msg-size messages round-robin over --streams,
 *            timed until the association is closed (everything acked);
 *            prints {"bytes":N,"messages":M,"seconds":S,"MBps":X}.
 *   discard  like bench without the rate: --count messages of --msg-size
 *            (or --bytes).
 *   ping     --count round trips of --msg-size bytes, one at a time;
 *            prints {"count":N,"p50_us":..,"p99_us":..}.
 *   handshake --count associations set up and shut down one after another;
 *            --parallel P splits them over P threads running at once;
 *            prints {"count":N,"seconds":S,"per_second":X}.
 * Every JSON line also carries "ok" (false when a check failed or the
 * association did not close gracefully).
 * --close client (default): the client shuts down when done; --close server:
 * it waits for the server to shut down (daytime always does).
 *
 * Exit status: 0 when the service did its job and every association ended
 * with a graceful shutdown (SHUTDOWN_COMPLETE); 1 otherwise; 2 for usage
 * errors; 124 when --timeout (client, default 30 s; 0: none) expires.
 *
 * Defaults: --streams 10 (server) or 1 (client); --msg-size 1200; --count 10
 * (echo, ping) or 1; --buffer 4 MiB (SO_SNDBUF and SO_RCVBUF); --pd-point
 * 1 MiB (SCTP_PARTIAL_DELIVERY_POINT: smaller messages are delivered whole;
 * 0 leaves usrsctp's default, which splits 150,000-byte messages); the
 * client's --udp-port is a free one. The remote encapsulation port is --connect's
 * port on the client; a server learns each client's from its packets
 * (--remote-udp-port forces one). Without --bind the socket is bound to the
 * wildcard, and usrsctp then lists every address of the host in its INIT or
 * INIT ACK; --bind 127.0.0.1 keeps an association on loopback. SCTP_NODELAY
 * is set except for bench and discard.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <usrsctp.h>

#ifndef SCTP_DEBUG
/* Exported by the library, declared by the header only with SCTP_DEBUG. */
int usrsctp_sysctl_set_sctp_debug_on(uint32_t value);
#endif

#define MAX_ADDRS 8
#define MAX_SIZES 16

enum service { SVC_NONE, SVC_DAYTIME, SVC_ECHO, SVC_DISCARD, SVC_BENCH, SVC_PING, SVC_HANDSHAKE };

struct options {
	int is_server;
	enum service service;
	uint16_t udp_port;        /* local encapsulation port */
	uint16_t remote_udp_port; /* peer's encapsulation port (0: learn it) */
	uint16_t sctp_port;       /* 0: the service's default */
	struct sockaddr_storage bind[MAX_ADDRS];
	int nbind;
	struct sockaddr_storage peer[MAX_ADDRS]; /* [0] from --connect */
	int npeer;
	uint16_t streams;
	int once;
	long close_after;
	int unordered;
	uint64_t bytes;
	size_t sizes[MAX_SIZES];
	int nsizes;
	long count;
	long parallel; /* handshake: clients at once, each on its own thread */
	int close_by_server;
	int buffer;
	uint32_t pd_point;
	int timeout;
	int verbose;
	/* usrsctp's defaults unless set (ms, counts); -1: not set */
	long rto_min, rto_max, rto_initial, hb_interval, path_max_retrans, pf_threshold;
	long progress_ms; /* discard server: print progress this often */
};

static struct options opt;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* One diagnostic line on stderr, prefixed with the program's name. */
static void
vsay(const char *fmt, va_list ap)
{
	fputs("usrsctp_peer: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void
verbose(const char *fmt, ...)
{
	va_list ap;

	if (!opt.verbose)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static void
warnx_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static void
die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	fputs("usage: usrsctp_peer server --service daytime|echo|discard --udp-port U [options]\n"
	      "       usrsctp_peer client --service daytime|echo|discard|bench|ping|handshake"
	      " --connect IP:UDPPORT [options]\n"
	      "(see the comment at the top of usrsctp_peer.c)\n",
	      stderr);
	exit(2);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- addresses */

static socklen_t
sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void
sa_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

/* "IP" or "[IPv6]" into ss (port 0); 0 on success. */
static int
parse_ip(const char *text, struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(text);

	memset(ss, 0, sizeof(*ss));
	if (n >= sizeof(buf))
		return -1;
	if (text[0] == '[' && n > 2 && text[n - 1] == ']') {
		memcpy(buf, text + 1, n - 2);
		buf[n - 2] = '\0';
	} else {
		memcpy(buf, text, n + 1);
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* "IP:PORT" or "[IPv6]:PORT". */
static int
parse_ip_port(const char *text, struct sockaddr_storage *ss, uint16_t *port)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *colon = strrchr(text, ':');
	char *end;
	long p;

	if (colon == NULL || (size_t)(colon - text) >= sizeof(buf))
		return -1;
	memcpy(buf, text, (size_t)(colon - text));
	buf[colon - text] = '\0';
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || p <= 0 || p > 65535)
		return -1;
	if (parse_ip(buf, ss) != 0)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

static long
parse_long(const char *name, const char *text, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < min)
		die_usage("--%s: not a number >= %ld: %s", name, min, text);
	return v;
}

/* A free UDP port on this host, for the client's encapsulation socket. */
static uint16_t
ephemeral_udp_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	uint16_t port = 0;

	if (fd < 0)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* ------------------------------------------------------------ associations */

/* What one association has been through, from its notifications. */
struct assoc {
	struct socket *sock;
	int comm_up;
	int peer_shutdown;  /* SCTP_SHUTDOWN_EVENT: the peer sent SHUTDOWN */
	int shutdown_comp;  /* SCTP_ASSOC_CHANGE SCTP_SHUTDOWN_COMP */
	int lost;           /* COMM_LOST, CANT_STR_ASSOC, or a receive error */
	int we_shut_down;
	uint16_t in_streams, out_streams;
	unsigned char *buf;
	size_t cap;
};

static const char *
assoc_state_name(uint16_t state)
{
	switch (state) {
	case SCTP_COMM_UP: return "COMM_UP";
	case SCTP_COMM_LOST: return "COMM_LOST";
	case SCTP_RESTART: return "RESTART";
	case SCTP_SHUTDOWN_COMP: return "SHUTDOWN_COMP";
	case SCTP_CANT_STR_ASSOC: return "CANT_STR_ASSOC";
	default: return "?";
	}
}

static void
handle_notification(struct assoc *a, const unsigned char *data, size_t len)
{
	const union sctp_notification *n = (const union sctp_notification *)data;

	if (len < sizeof(n->sn_header))
		return;
	switch (n->sn_header.sn_type) {
	case SCTP_ASSOC_CHANGE: {
		const struct sctp_assoc_change *ac = &n->sn_assoc_change;
		verbose("assoc change: %s (error %u, streams in/out %u/%u)",
		    assoc_state_name(ac->sac_state), ac->sac_error,
		    ac->sac_inbound_streams, ac->sac_outbound_streams);
		switch (ac->sac_state) {
		case SCTP_COMM_UP:
		case SCTP_RESTART:
			a->comm_up = 1;
			a->in_streams = ac->sac_inbound_streams;
			a->out_streams = ac->sac_outbound_streams;
			break;
		case SCTP_SHUTDOWN_COMP:
			a->shutdown_comp = 1;
			break;
		default:
			warnx_("association %s (error %u)", assoc_state_name(ac->sac_state),
			    ac->sac_error);
			a->lost = 1;
			break;
		}
		break;
	}
	case SCTP_SHUTDOWN_EVENT:
		verbose("peer shut down");
		a->peer_shutdown = 1;
		break;
	case SCTP_REMOTE_ERROR:
		warnx_("remote error %u", ntohs(n->sn_remote_error.sre_error));
		break;
	case SCTP_PARTIAL_DELIVERY_EVENT:
		warnx_("partial delivery aborted");
		a->lost = 1;
		break;
	case SCTP_PEER_ADDR_CHANGE:
		verbose("peer address change: state %u error %u",
		    n->sn_paddr_change.spc_state, n->sn_paddr_change.spc_error);
		break;
	case SCTP_SEND_FAILED_EVENT:
		/* One per message left unsent when the association went away. */
		verbose("send failed");
		break;
	default:
		verbose("notification %u", n->sn_header.sn_type);
		break;
	}
}

/*
 * Receives one whole message (reassembling partial reads up to MSG_EOR) into
 * a->buf. Returns its length (> 0) with *info filled, 0 when the association
 * has ended (or the socket was shut down for reading), -1 on error.
 * Notifications are handled on the way; it returns 0 as soon as one says
 * that the association is gone (SHUTDOWN_COMP, COMM_LOST, ...).
 */
static ssize_t
recv_message(struct assoc *a, struct sctp_rcvinfo *info)
{
	size_t len = 0;
	int notification = 0, reads = 0;

	for (;;) {
		struct sctp_rcvinfo rcv;
		socklen_t infolen = sizeof(rcv);
		unsigned int infotype = 0;
		int flags = 0;
		ssize_t n;

		if (a->cap - len < 65536) {
			size_t cap = a->cap ? a->cap * 2 : 1 << 20;
			unsigned char *b = realloc(a->buf, cap);
			if (b == NULL) {
				warnx_("out of memory");
				return -1;
			}
			a->buf = b;
			a->cap = cap;
		}
		memset(&rcv, 0, sizeof(rcv));
		n = usrsctp_recvv(a->sock, a->buf + len, a->cap - len, NULL, NULL,
		    &rcv, &infolen, &infotype, &flags);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ENOTCONN && (a->shutdown_comp || a->peer_shutdown))
				return 0;
			verbose("usrsctp_recvv: %s", strerror(errno));
			if (!a->shutdown_comp)
				a->lost = 1;
			return -1;
		}
		if (n == 0) {
			if (len > 0) {
				warnx_("association ended in the middle of a message");
				a->lost = 1;
				return -1;
			}
			return 0;
		}
		if (len == 0) {
			notification = (flags & MSG_NOTIFICATION) != 0;
			if (!notification) {
				if (infotype != SCTP_RECVV_RCVINFO) {
					warnx_("no SCTP_RCVINFO with a message");
					return -1;
				}
				*info = rcv;
			}
		} else if (!notification && (rcv.rcv_sid != info->rcv_sid ||
		    rcv.rcv_assoc_id != info->rcv_assoc_id)) {
			warnx_("partial read of another message after %zu bytes: stream %u ssn %u "
			    "tsn %u flags 0x%x ppid %u infotype %u, expected stream %u ssn %u tsn %u "
			    "flags 0x%x ppid %u",
			    len, rcv.rcv_sid, rcv.rcv_ssn, rcv.rcv_tsn, rcv.rcv_flags,
			    ntohl(rcv.rcv_ppid), infotype, info->rcv_sid, info->rcv_ssn,
			    info->rcv_tsn, info->rcv_flags, ntohl(info->rcv_ppid));
			return -1;
		}
		len += (size_t)n;
		reads++;
		if (!(flags & MSG_EOR))
			continue;
		if (notification) {
			handle_notification(a, a->buf, len);
			len = 0;
			reads = 0;
			if (a->shutdown_comp || a->lost)
				return 0;
			continue;
		}
		if (reads > 1)
			verbose("message of %zu bytes on stream %u in %d reads", len, info->rcv_sid,
			    reads);
		return (ssize_t)len;
	}
}

static int
send_message(struct assoc *a, const void *data, size_t len, uint16_t sid, uint32_t ppid, int unordered)
{
	struct sctp_sndinfo snd;

	memset(&snd, 0, sizeof(snd));
	snd.snd_sid = sid;
	snd.snd_ppid = ppid;
	snd.snd_flags = unordered ? SCTP_UNORDERED : 0;
	for (;;) {
		ssize_t n = usrsctp_sendv(a->sock, data, len, NULL, 0, &snd, sizeof(snd),
		    SCTP_SENDV_SNDINFO, 0);
		if (n >= 0)
			return 0;
		if (errno == EINTR || errno == EAGAIN)
			continue;
		warnx_("usrsctp_sendv (%zu bytes, stream %u): %s", len, sid, strerror(errno));
		return -1;
	}
}

/* Starts a graceful shutdown (SHUTDOWN once everything queued is acked). */
static int
shut_down(struct assoc *a)
{
	a->we_shut_down = 1;
	if (usrsctp_shutdown(a->sock, SHUT_WR) < 0) {
		/*
		 * The peer's SHUTDOWN got here first (both sides closing at
		 * once): the association is closing anyway, and wait_end()
		 * tells how it ends.
		 */
		if (errno == ENOTCONN) {
			verbose("usrsctp_shutdown: the peer is already shutting down");
			return 0;
		}
		warnx_("usrsctp_shutdown: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Waits for the association to end; returns 0 when it ended gracefully.
 * Data that still arrives is counted in *extra (NULL: it is an error).
 */
/* --close-after N: after the Nth message, shut down (a failure sets *rc
 * to -1). Returns whether the count was reached. */
static int
closed_after(struct assoc *a, long count, int *rc)
{
	if (opt.close_after <= 0 || count != opt.close_after)
		return 0;
	if (shut_down(a) != 0)
		*rc = -1;
	return 1;
}

static int
wait_end(struct assoc *a, long *extra)
{
	struct sctp_rcvinfo info;
	double deadline;

	while (!a->shutdown_comp && !a->lost) {
		ssize_t n = recv_message(a, &info);
		if (n > 0) {
			if (extra == NULL) {
				warnx_("unexpected message of %zd bytes while closing", n);
				a->lost = 1;
				return -1;
			}
			(*extra)++;
			continue;
		}
		if (n < 0)
			break;
		if (n == 0)
			break;
	}
	/*
	 * An end of file can come before the SHUTDOWN_COMP notification: ask
	 * the stack until the association is gone (bounded).
	 */
	deadline = now_seconds() + 5.0;
	while (!a->shutdown_comp && !a->lost && now_seconds() < deadline) {
		struct sctp_status status;
		socklen_t len = sizeof(status);

		memset(&status, 0, sizeof(status));
		if (usrsctp_getsockopt(a->sock, IPPROTO_SCTP, SCTP_STATUS, &status, &len) < 0 ||
		    status.sstat_state == SCTP_CLOSED) {
			/* Gone without a loss reported: it closed gracefully. */
			a->shutdown_comp = 1;
			break;
		}
		usleep(10000);
	}
	if (a->lost || !a->shutdown_comp) {
		warnx_("association did not end with a graceful shutdown%s",
		    a->lost ? " (lost or aborted)" : " (timeout)");
		return -1;
	}
	verbose("association closed gracefully (%s)",
	    a->we_shut_down ? "we shut down" : "peer shut down");
	return 0;
}

static void
assoc_free(struct assoc *a)
{
	if (a->sock != NULL)
		usrsctp_close(a->sock);
	a->sock = NULL;
	free(a->buf);
	a->buf = NULL;
	a->cap = 0;
}

/* -------------------------------------------------------------- the socket */

static void
setopt(struct socket *s, int level, int name, const void *val, socklen_t len, const char *what)
{
	if (usrsctp_setsockopt(s, level, name, val, len) < 0)
		warnx_("setsockopt %s: %s", what, strerror(errno));
}

static int
family_of_addresses(void)
{
	int i;

	for (i = 0; i < opt.nbind; i++)
		if (opt.bind[i].ss_family == AF_INET6)
			return AF_INET6;
	for (i = 0; i < opt.npeer; i++)
		if (opt.peer[i].ss_family == AF_INET6)
			return AF_INET6;
	return AF_INET;
}

static struct socket *
make_socket(uint16_t out_streams, uint16_t in_streams, int nodelay)
{
	int family = family_of_addresses();
	struct socket *s = usrsctp_socket(family, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
	const int on = 1;
	struct sctp_initmsg init;
	struct sctp_event ev;
	static const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_SHUTDOWN_EVENT, SCTP_REMOTE_ERROR,
	    SCTP_PARTIAL_DELIVERY_EVENT, SCTP_PEER_ADDR_CHANGE, SCTP_SEND_FAILED_EVENT};
	size_t i;

	if (s == NULL) {
		warnx_("usrsctp_socket: %s", strerror(errno));
		return NULL;
	}
	if (family == AF_INET6)
		setopt(s, IPPROTO_SCTP, SCTP_I_WANT_MAPPED_V4_ADDR, &on, sizeof(on),
		    "SCTP_I_WANT_MAPPED_V4_ADDR");
	setopt(s, SOL_SOCKET, SO_RCVBUF, &opt.buffer, sizeof(opt.buffer), "SO_RCVBUF");
	setopt(s, SOL_SOCKET, SO_SNDBUF, &opt.buffer, sizeof(opt.buffer), "SO_SNDBUF");
	setopt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on), "SCTP_RECVRCVINFO");
	/*
	 * Whole messages up to --pd-point bytes (usrsctp caps it at half the
	 * receive buffer); larger ones come in pieces that recv_message()
	 * puts together. usrsctp 0.9.5 mishandles the partial delivery of
	 * unordered messages (heap corruption, or an ABORT "Reass ...").
	 */
	if (opt.pd_point > 0)
		setopt(s, IPPROTO_SCTP, SCTP_PARTIAL_DELIVERY_POINT, &opt.pd_point,
		    sizeof(opt.pd_point), "SCTP_PARTIAL_DELIVERY_POINT");
	if (nodelay)
		setopt(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on), "SCTP_NODELAY");
	memset(&init, 0, sizeof(init));
	init.sinit_num_ostreams = out_streams;
	init.sinit_max_instreams = in_streams;
	setopt(s, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init), "SCTP_INITMSG");
	memset(&ev, 0, sizeof(ev));
	ev.se_assoc_id = SCTP_FUTURE_ASSOC;
	ev.se_on = 1;
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		ev.se_type = events[i];
		setopt(s, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev), "SCTP_EVENT");
	}
	if (opt.remote_udp_port != 0) {
		struct sctp_udpencaps encaps;

		memset(&encaps, 0, sizeof(encaps));
		encaps.sue_address.ss_family = (sa_family_t)family;
		encaps.sue_port = htons(opt.remote_udp_port);
		setopt(s, IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, &encaps, sizeof(encaps),
		    "SCTP_REMOTE_UDP_ENCAPS_PORT");
	}
	return s;
}

/* Binds to the --bind addresses (multi-homed with several) or the wildcard. */
static int
bind_socket(struct socket *s, uint16_t port)
{
	int i;

	if (opt.nbind == 0) {
		struct sockaddr_storage any;

		memset(&any, 0, sizeof(any));
		any.ss_family = (sa_family_t)family_of_addresses();
		if (any.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&any)->sin6_addr = in6addr_any;
		sa_set_port(&any, port);
		if (port == 0)
			return 0; /* the stack binds at connect */
		if (usrsctp_bind(s, (struct sockaddr *)&any, sa_len(&any)) < 0) {
			warnx_("usrsctp_bind port %u: %s", port, strerror(errno));
			return -1;
		}
		return 0;
	}
	for (i = 0; i < opt.nbind; i++)
		sa_set_port(&opt.bind[i], port);
	if (opt.nbind == 1) {
		if (usrsctp_bind(s, (struct sockaddr *)&opt.bind[0], sa_len(&opt.bind[0])) < 0) {
			warnx_("usrsctp_bind: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	/* usrsctp_bindx takes the addresses packed one after another. */
	{
		unsigned char packed[MAX_ADDRS * sizeof(struct sockaddr_in6)];
		size_t off = 0;

		for (i = 0; i < opt.nbind; i++) {
			memcpy(packed + off, &opt.bind[i], sa_len(&opt.bind[i]));
			off += sa_len(&opt.bind[i]);
		}
		if (usrsctp_bindx(s, (struct sockaddr *)packed, opt.nbind, SCTP_BINDX_ADD_ADDR) < 0) {
			warnx_("usrsctp_bindx: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static uint16_t
default_sctp_port(void)
{
	if (opt.sctp_port != 0)
		return opt.sctp_port;
	switch (opt.service) {
	case SVC_DAYTIME: return 13;
	case SVC_ECHO:
	case SVC_PING: return 7;
	default: return 9;
	}
}

/* ------------------------------------------------------------------ server */

/* Serves one association; returns 0 when it went as it should. */
static int
serve(struct socket *s)
{
	struct assoc a;
	struct sctp_rcvinfo info;
	int rc = 0;

	memset(&a, 0, sizeof(a));
	a.sock = s;
	a.comm_up = 1;
	switch (opt.service) {
	case SVC_DAYTIME: {
		char local[64], gmt[64];
		time_t t = time(NULL);
		struct tm tm;

		ctime_r(&t, local);
		asctime_r(gmtime_r(&t, &tm), gmt);
		if (send_message(&a, local, strlen(local), 0, 0, 0) != 0 ||
		    send_message(&a, gmt, strlen(gmt), 1, 0, 0) != 0)
			rc = -1;
		if (shut_down(&a) != 0)
			rc = -1;
		if (wait_end(&a, NULL) != 0)
			rc = -1;
		break;
	}
	case SVC_ECHO: {
		long echoed = 0, extra = 0;
		ssize_t n;

		while ((n = recv_message(&a, &info)) > 0) {
			if (send_message(&a, a.buf, (size_t)n, info.rcv_sid, info.rcv_ppid,
			    (info.rcv_flags & SCTP_UNORDERED) != 0) != 0) {
				rc = -1;
				break;
			}
			if (closed_after(&a, ++echoed, &rc))
				break;
		}
		if (n < 0)
			rc = -1;
		if (wait_end(&a, &extra) != 0)
			rc = -1;
		verbose("echoed %ld messages (%ld more arrived after our shutdown)", echoed, extra);
		break;
	}
	case SVC_DISCARD: {
		uint64_t bytes = 0;
		long messages = 0;
		double start = now_seconds(), last = start;
		ssize_t n;

		double shown = start;
		while ((n = recv_message(&a, &info)) > 0) {
			bytes += (uint64_t)n;
			messages++;
			last = now_seconds();
			/* --progress-ms: a line a script can follow a failover by. */
			if (opt.progress_ms > 0 && (last - shown) * 1000.0 >= (double)opt.progress_ms) {
				shown = last;
				fprintf(stderr, "t=%.3fs received=%llu\n", last - start,
				    (unsigned long long)bytes);
			}
			if (closed_after(&a, messages, &rc))
				break;
		}
		if (n < 0)
			rc = -1;
		{
			long extra = 0;
			if (wait_end(&a, &extra) != 0)
				rc = -1;
			if (extra > 0) {
				warnx_("%ld messages arrived after our shutdown", extra);
				rc = -1;
			}
		}
		pthread_mutex_lock(&out_lock);
		printf("{\"bytes\":%llu,\"messages\":%ld,\"seconds\":%.6f,\"ok\":%s}\n",
		    (unsigned long long)bytes, messages, last - start, rc == 0 ? "true" : "false");
		fflush(stdout);
		pthread_mutex_unlock(&out_lock);
		break;
	}
	default:
		rc = -1;
		break;
	}
	assoc_free(&a);
	return rc;
}

static void *
serve_thread(void *arg)
{
	serve((struct socket *)arg);
	return NULL;
}

static int
run_server(void)
{
	struct socket *listener;
	uint16_t port = default_sctp_port();

	if (opt.service != SVC_DAYTIME && opt.service != SVC_ECHO && opt.service != SVC_DISCARD)
		die_usage("a server serves daytime, echo or discard");
	listener = make_socket(opt.streams, opt.streams, opt.service != SVC_DISCARD);
	if (listener == NULL || bind_socket(listener, port) != 0)
		return 1;
	if (usrsctp_listen(listener, 16) < 0) {
		warnx_("usrsctp_listen: %s", strerror(errno));
		return 1;
	}
	fprintf(stderr, "usrsctp_peer: %s server on udp port %u, sctp port %u\n",
	    opt.service == SVC_DAYTIME ? "daytime" : opt.service == SVC_ECHO ? "echo" : "discard",
	    opt.udp_port, port);
	for (;;) {
		struct socket *s = usrsctp_accept(listener, NULL, NULL);
		pthread_t t;

		if (s == NULL) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			warnx_("usrsctp_accept: %s", strerror(errno));
			usrsctp_close(listener);
			return 1;
		}
		verbose("association accepted");
		if (opt.once) {
			int rc = serve(s);
			usrsctp_close(listener);
			return rc == 0 ? 0 : 1;
		}
		if (pthread_create(&t, NULL, serve_thread, s) != 0) {
			warnx_("pthread_create failed");
			usrsctp_close(s);
			continue;
		}
		pthread_detach(t);
	}
}

/* ------------------------------------------------------------------ client */

static int
connect_assoc(struct assoc *a, uint16_t out_streams, uint16_t in_streams, int nodelay)
{
	uint16_t port = default_sctp_port();
	int i;

	memset(a, 0, sizeof(*a));
	a->sock = make_socket(out_streams, in_streams, nodelay);
	if (a->sock == NULL)
		return -1;
	if (opt.nbind > 0 && bind_socket(a->sock, 0) != 0)
		return -1;
	for (i = 0; i < opt.npeer; i++)
		sa_set_port(&opt.peer[i], port);
	if (opt.npeer == 1) {
		if (usrsctp_connect(a->sock, (struct sockaddr *)&opt.peer[0], sa_len(&opt.peer[0])) < 0) {
			warnx_("usrsctp_connect: %s", strerror(errno));
			return -1;
		}
	} else {
		unsigned char packed[MAX_ADDRS * sizeof(struct sockaddr_in6)];
		size_t off = 0;
		sctp_assoc_t id;

		for (i = 0; i < opt.npeer; i++) {
			memcpy(packed + off, &opt.peer[i], sa_len(&opt.peer[i]));
			off += sa_len(&opt.peer[i]);
		}
		if (usrsctp_connectx(a->sock, (struct sockaddr *)packed, opt.npeer, &id) < 0) {
			warnx_("usrsctp_connectx: %s", strerror(errno));
			return -1;
		}
	}
	/*
	 * usrsctp_connect blocks until the association is up; usrsctp_connectx
	 * returns once the INIT is out: wait for ESTABLISHED (bounded).
	 */
	{
		struct sctp_status status;
		double deadline = now_seconds() + 10.0;

		for (;;) {
			socklen_t len = sizeof(status);

			memset(&status, 0, sizeof(status));
			if (usrsctp_getsockopt(a->sock, IPPROTO_SCTP, SCTP_STATUS, &status, &len) < 0) {
				/*
				 * After a blocking usrsctp_connect the association was
				 * up; a peer that sends its data and shuts down at once
				 * (a daytime server) can have ended it already. What it
				 * sent waits in the socket.
				 */
				if (opt.npeer == 1) {
					status.sstat_instrms = in_streams;
					status.sstat_outstrms = out_streams;
					break;
				}
				warnx_("the association failed to come up: %s", strerror(errno));
				return -1;
			}
			/* Likewise, it may be shutting down already. */
			if (status.sstat_state == SCTP_ESTABLISHED || opt.npeer == 1)
				break;
			if (status.sstat_state != SCTP_COOKIE_WAIT &&
			    status.sstat_state != SCTP_COOKIE_ECHOED) {
				warnx_("the association is in state %d, not established",
				    status.sstat_state);
				return -1;
			}
			if (now_seconds() > deadline) {
				warnx_("the association did not come up within 10 s");
				return -1;
			}
			usleep(1000);
		}
		a->in_streams = status.sstat_instrms;
		a->out_streams = status.sstat_outstrms;
		verbose("connected: state %d, streams in/out %u/%u, fragmentation point %u",
		    status.sstat_state, status.sstat_instrms, status.sstat_outstrms,
		    status.sstat_fragmentation_point);
	}
	a->comm_up = 1;
	return 0;
}

/* Ends the association the way --close says; 0 when it ended gracefully. */
static int
client_close(struct assoc *a)
{
	if (!opt.close_by_server && shut_down(a) != 0)
		return -1;
	return wait_end(a, NULL);
}

/* The recognisable content of echo message i (its index in the first 4 bytes). */
static void
fill_pattern(unsigned char *p, size_t len, uint32_t i)
{
	size_t j;

	for (j = 0; j < len; j++)
		p[j] = (unsigned char)(i * 131u + j * 7u + (j >> 8));
	if (len >= 4) {
		p[0] = (unsigned char)(i >> 24);
		p[1] = (unsigned char)(i >> 16);
		p[2] = (unsigned char)(i >> 8);
		p[3] = (unsigned char)i;
	}
}

static size_t
size_of(long i)
{
	return opt.sizes[(size_t)i % (size_t)opt.nsizes];
}

struct echo_sender {
	struct assoc *a;
	uint16_t streams;
	int failed;
};

static void *
echo_send_thread(void *arg)
{
	struct echo_sender *es = arg;
	size_t max = 0;
	unsigned char *p;
	long i;
	int k;

	for (k = 0; k < opt.nsizes; k++)
		if (opt.sizes[k] > max)
			max = opt.sizes[k];
	p = malloc(max);
	if (p == NULL) {
		es->failed = 1;
		return NULL;
	}
	for (i = 0; i < opt.count; i++) {
		size_t len = size_of(i);
		fill_pattern(p, len, (uint32_t)i);
		if (send_message(es->a, p, len, (uint16_t)(i % es->streams), htonl((uint32_t)i),
		    opt.unordered) != 0) {
			es->failed = 1;
			break;
		}
	}
	free(p);
	return NULL;
}

static int
client_echo(void)
{
	struct assoc a;
	struct echo_sender es;
	pthread_t sender;
	unsigned char *seen, *expect;
	long *last_on_stream;
	long received = 0;
	uint64_t bytes = 0;
	size_t max = 0;
	int ok = 1, k;

	for (k = 0; k < opt.nsizes; k++) {
		if (opt.sizes[k] < 4)
			die_usage("echo: --msg-size at least 4 (the index goes in the first 4 bytes)");
		if (opt.sizes[k] > max)
			max = opt.sizes[k];
	}
	if (connect_assoc(&a, opt.streams, opt.streams, 1) != 0)
		return 1;
	if (a.out_streams < opt.streams || a.in_streams < opt.streams) {
		warnx_("asked for %u streams, got %u out and %u in", opt.streams, a.out_streams,
		    a.in_streams);
		assoc_free(&a);
		return 1;
	}
	seen = calloc((size_t)opt.count + 1, 1);
	expect = malloc(max);
	last_on_stream = malloc(sizeof(long) * opt.streams);
	if (seen == NULL || expect == NULL || last_on_stream == NULL)
		return 1;
	for (k = 0; k < opt.streams; k++)
		last_on_stream[k] = -1;
	es.a = &a;
	es.streams = opt.streams;
	es.failed = 0;
	if (pthread_create(&sender, NULL, echo_send_thread, &es) != 0)
		return 1;
	while (received < opt.count) {
		struct sctp_rcvinfo info;
		ssize_t n = recv_message(&a, &info);
		uint32_t i;

		if (n <= 0) {
			warnx_("association ended after %ld of %ld echoes", received, opt.count);
			ok = 0;
			break;
		}
		i = ((uint32_t)a.buf[0] << 24) | ((uint32_t)a.buf[1] << 16) |
		    ((uint32_t)a.buf[2] << 8) | a.buf[3];
		if (n < 4 || i >= (uint32_t)opt.count) {
			warnx_("echo %ld: no valid index (length %zd)", received, n);
			ok = 0;
			break;
		}
		if (seen[i]) {
			warnx_("message %u echoed twice", i);
			ok = 0;
		}
		seen[i] = 1;
		if ((size_t)n != size_of(i)) {
			warnx_("message %u: %zd bytes back, %zu sent", i, n, size_of(i));
			ok = 0;
		} else {
			fill_pattern(expect, (size_t)n, i);
			if (memcmp(expect, a.buf, (size_t)n) != 0) {
				size_t j = 0;
				while (expect[j] == a.buf[j])
					j++;
				warnx_("message %u (%zd bytes): content differs from byte %zu", i, n, j);
				ok = 0;
			}
		}
		if (info.rcv_sid != i % opt.streams) {
			warnx_("message %u: back on stream %u, sent on %lu", i, info.rcv_sid,
			    (unsigned long)(i % opt.streams));
			ok = 0;
		} else if (!opt.unordered) {
			if ((long)i <= last_on_stream[info.rcv_sid]) {
				warnx_("message %u: out of order on stream %u (after %ld)", i,
				    info.rcv_sid, last_on_stream[info.rcv_sid]);
				ok = 0;
			}
			last_on_stream[info.rcv_sid] = (long)i;
		}
		if (info.rcv_ppid != htonl(i)) {
			warnx_("message %u: PPID %u back", i, ntohl(info.rcv_ppid));
			ok = 0;
		}
		if (((info.rcv_flags & SCTP_UNORDERED) != 0) != (opt.unordered != 0)) {
			warnx_("message %u: unordered flag %s back", i,
			    (info.rcv_flags & SCTP_UNORDERED) ? "set" : "clear");
			ok = 0;
		}
		received++;
		bytes += (uint64_t)n;
	}
	pthread_join(sender, NULL);
	if (es.failed)
		ok = 0;
	if (client_close(&a) != 0)
		ok = 0;
	printf("{\"messages\":%ld,\"bytes\":%llu,\"ok\":%s}\n", received,
	    (unsigned long long)bytes, ok ? "true" : "false");
	fflush(stdout);
	free(seen);
	free(expect);
	free(last_on_stream);
	assoc_free(&a);
	return ok ? 0 : 1;
}

static int
client_bench(int timed)
{
	struct assoc a;
	uint64_t total = opt.bytes, sent = 0;
	long messages = 0;
	size_t size = opt.sizes[0];
	unsigned char *p;
	double start, seconds;
	int ok = 1;

	if (total == 0)
		total = (uint64_t)(opt.count > 0 ? opt.count : 1) * size;
	if (size == 0)
		die_usage("--msg-size must be positive");
	if (connect_assoc(&a, opt.streams, opt.streams, 0) != 0)
		return 1;
	if (a.out_streams < opt.streams) {
		warnx_("asked for %u streams, got %u", opt.streams, a.out_streams);
		assoc_free(&a);
		return 1;
	}
	p = malloc(size);
	if (p == NULL)
		return 1;
	memset(p, 'x', size);
	start = now_seconds();
	while (sent < total) {
		size_t n = total - sent < size ? (size_t)(total - sent) : size;
		if (send_message(&a, p, n, (uint16_t)(messages % opt.streams), 0, opt.unordered) != 0) {
			ok = 0;
			break;
		}
		sent += n;
		messages++;
	}
	/* Timed until the association is closed: everything was acked. */
	if (client_close(&a) != 0)
		ok = 0;
	seconds = now_seconds() - start;
	if (timed)
		printf("{\"bytes\":%llu,\"messages\":%ld,\"seconds\":%.6f,\"MBps\":%.3f,\"ok\":%s}\n",
		    (unsigned long long)sent, messages, seconds, (double)sent / seconds / 1e6,
		    ok ? "true" : "false");
	else
		printf("{\"bytes\":%llu,\"messages\":%ld,\"ok\":%s}\n", (unsigned long long)sent,
		    messages, ok ? "true" : "false");
	fflush(stdout);
	free(p);
	assoc_free(&a);
	return ok ? 0 : 1;
}

static int
cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static int
client_ping(void)
{
	struct assoc a;
	size_t size = opt.sizes[0];
	unsigned char *p;
	double *rtt;
	long i, mismatches = 0;
	int ok = 1;

	if (size < 4)
		die_usage("ping: --msg-size at least 4");
	if (connect_assoc(&a, opt.streams, opt.streams, 1) != 0)
		return 1;
	p = malloc(size);
	rtt = malloc(sizeof(double) * (size_t)opt.count);
	if (p == NULL || rtt == NULL)
		return 1;
	for (i = 0; i < opt.count; i++) {
		struct sctp_rcvinfo info;
		double t0;
		ssize_t n;

		fill_pattern(p, size, (uint32_t)i);
		t0 = now_seconds();
		if (send_message(&a, p, size, 0, htonl((uint32_t)i), opt.unordered) != 0) {
			ok = 0;
			break;
		}
		n = recv_message(&a, &info);
		rtt[i] = now_seconds() - t0;
		if (n <= 0) {
			warnx_("association ended after %ld round trips", i);
			ok = 0;
			break;
		}
		if ((size_t)n != size || memcmp(a.buf, p, size) != 0 || info.rcv_ppid != htonl((uint32_t)i))
			mismatches++;
	}
	if (mismatches > 0) {
		warnx_("%ld echoes differed", mismatches);
		ok = 0;
	}
	if (client_close(&a) != 0)
		ok = 0;
	if (i > 0) {
		qsort(rtt, (size_t)i, sizeof(double), cmp_double);
		printf("{\"count\":%ld,\"p50_us\":%.0f,\"p99_us\":%.0f,\"ok\":%s}\n", i,
		    rtt[(size_t)((double)(i - 1) * 0.5 + 0.5)] * 1e6,
		    rtt[(size_t)((double)(i - 1) * 0.99 + 0.5)] * 1e6, ok ? "true" : "false");
	} else {
		printf("{\"count\":0,\"ok\":false}\n");
	}
	fflush(stdout);
	free(p);
	free(rtt);
	assoc_free(&a);
	return ok ? 0 : 1;
}

static int
client_daytime(void)
{
	struct assoc a;
	int seen[2] = {0, 0}, ok = 1;

	if (connect_assoc(&a, opt.streams, opt.streams < 2 ? 2 : opt.streams, 1) != 0)
		return 1;
	for (;;) {
		struct sctp_rcvinfo info;
		ssize_t n = recv_message(&a, &info);
		size_t len;

		if (n <= 0)
			break;
		len = (size_t)n;
		while (len > 0 && (a.buf[len - 1] == '\n' || a.buf[len - 1] == '\r'))
			len--;
		if (info.rcv_sid == 0)
			printf("(Local) %.*s\n", (int)len, (const char *)a.buf);
		else if (info.rcv_sid == 1)
			printf("(GMT  ) %.*s\n", (int)len, (const char *)a.buf);
		else
			printf("(stream %u) %.*s\n", info.rcv_sid, (int)len, (const char *)a.buf);
		fflush(stdout);
		if (info.rcv_sid < 2)
			seen[info.rcv_sid] = 1;
	}
	/* The server shuts down; we only wait. */
	if (wait_end(&a, NULL) != 0)
		ok = 0;
	if (!seen[0] || !seen[1]) {
		warnx_("the association closed before both messages arrived");
		ok = 0;
	}
	assoc_free(&a);
	return ok ? 0 : 1;
}

/* One thread's share of the handshakes: the number that failed (0 or 1). */
static void *
handshake_worker(void *arg)
{
	long i, n = *(long *)arg;

	for (i = 0; i < n; i++) {
		struct assoc a;
		int rc = connect_assoc(&a, opt.streams, opt.streams, 1);

		if (rc == 0)
			rc = client_close(&a);
		assoc_free(&a);
		if (rc != 0) {
			warnx_("association %ld failed", i);
			*(long *)arg = -1;
			return NULL;
		}
	}
	return NULL;
}

static int
client_handshake(void)
{
	long t, nthreads = opt.parallel, failed = 0;
	long share[256];
	pthread_t threads[256];
	double start, seconds;

	if (nthreads > 256)
		nthreads = 256;
	/* Threads are set up before the clock starts. */
	for (t = 0; t < nthreads; t++)
		share[t] = opt.count / nthreads + (t < opt.count % nthreads);
	start = now_seconds();
	for (t = 0; t < nthreads; t++)
		if (pthread_create(&threads[t], NULL, handshake_worker, &share[t]) != 0) {
			warnx_("pthread_create failed");
			return 1;
		}
	for (t = 0; t < nthreads; t++) {
		pthread_join(threads[t], NULL);
		failed |= share[t] < 0;
	}
	seconds = now_seconds() - start;
	if (failed) {
		printf("{\"count\":%ld,\"ok\":false}\n", opt.count);
		return 1;
	}
	printf("{\"count\":%ld,\"seconds\":%.6f,\"per_second\":%.1f,\"ok\":true}\n", opt.count,
	    seconds, (double)opt.count / seconds);
	fflush(stdout);
	return 0;
}

static int
run_client(void)
{
	if (opt.npeer == 0)
		die_usage("client: --connect IP:UDPPORT is required");
	switch (opt.service) {
	case SVC_DAYTIME: return client_daytime();
	case SVC_ECHO: return client_echo();
	case SVC_DISCARD: return client_bench(0);
	case SVC_BENCH: return client_bench(1);
	case SVC_PING: return client_ping();
	case SVC_HANDSHAKE: return client_handshake();
	default: die_usage("client: --service is required");
	}
	return 2;
}

/* -------------------------------------------------------------------- main */

static void
on_alarm(int sig)
{
	static const char msg[] = "usrsctp_peer: timeout\n";
	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do */
	}
	_exit(124);
}

static enum service
parse_service(const char *s)
{
	if (strcmp(s, "daytime") == 0) return SVC_DAYTIME;
	if (strcmp(s, "echo") == 0) return SVC_ECHO;
	if (strcmp(s, "discard") == 0) return SVC_DISCARD;
	if (strcmp(s, "bench") == 0) return SVC_BENCH;
	if (strcmp(s, "ping") == 0) return SVC_PING;
	if (strcmp(s, "handshake") == 0) return SVC_HANDSHAKE;
	die_usage("unknown service: %s", s);
	return SVC_NONE;
}

static void
parse_sizes(const char *text)
{
	char *copy = strdup(text), *tok, *save = NULL;

	opt.nsizes = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (opt.nsizes == MAX_SIZES)
			die_usage("--msg-size: at most %d sizes", MAX_SIZES);
		opt.sizes[opt.nsizes++] = (size_t)parse_long("msg-size", tok, 1);
	}
	if (opt.nsizes == 0)
		die_usage("--msg-size: no size");
	free(copy);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{"service", required_argument, NULL, 's'},
		{"rto-min", required_argument, NULL, 1001},
		{"rto-max", required_argument, NULL, 1002},
		{"rto-initial", required_argument, NULL, 1003},
		{"hb-interval", required_argument, NULL, 1004},
		{"path-max-retrans", required_argument, NULL, 1005},
		{"pf-threshold", required_argument, NULL, 1006},
		{"progress-ms", required_argument, NULL, 1007},
		{"udp-port", required_argument, NULL, 'u'},
		{"remote-udp-port", required_argument, NULL, 'R'},
		{"sctp-port", required_argument, NULL, 'p'},
		{"bind", required_argument, NULL, 'b'},
		{"connect", required_argument, NULL, 'c'},
		{"peer-addr", required_argument, NULL, 'a'},
		{"streams", required_argument, NULL, 'n'},
		{"once", no_argument, NULL, 'o'},
		{"close-after", required_argument, NULL, 'C'},
		{"unordered", no_argument, NULL, 'U'},
		{"bytes", required_argument, NULL, 'B'},
		{"msg-size", required_argument, NULL, 'm'},
		{"count", required_argument, NULL, 'N'},
		{"parallel", required_argument, NULL, 'P'},
		{"close", required_argument, NULL, 'x'},
		{"buffer", required_argument, NULL, 'f'},
		{"pd-point", required_argument, NULL, 'D'},
		{"timeout", required_argument, NULL, 't'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc, tries;

	if (argc < 2)
		die_usage("server or client?");
	if (strcmp(argv[1], "server") == 0)
		opt.is_server = 1;
	else if (strcmp(argv[1], "client") != 0)
		die_usage("server or client, not %s", argv[1]);
	opt.streams = 0;
	opt.sizes[0] = 1200;
	opt.nsizes = 1;
	opt.count = -1;
	opt.parallel = 1;
	opt.buffer = 4 * 1024 * 1024;
	opt.pd_point = 1024 * 1024;
	opt.timeout = 30;
	opt.rto_min = opt.rto_max = opt.rto_initial = opt.hb_interval = -1;
	opt.path_max_retrans = opt.pf_threshold = -1;
	optind = 2;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': opt.service = parse_service(optarg); break;
		case 'u': opt.udp_port = (uint16_t)parse_long("udp-port", optarg, 1); break;
		case 'R': opt.remote_udp_port = (uint16_t)parse_long("remote-udp-port", optarg, 1); break;
		case 'p': opt.sctp_port = (uint16_t)parse_long("sctp-port", optarg, 1); break;
		case 'b':
			if (opt.nbind == MAX_ADDRS || parse_ip(optarg, &opt.bind[opt.nbind]) != 0)
				die_usage("--bind: bad or too many addresses: %s", optarg);
			opt.nbind++;
			break;
		case 'c': {
			uint16_t port;
			if (parse_ip_port(optarg, &opt.peer[0], &port) != 0)
				die_usage("--connect IP:UDPPORT, not %s", optarg);
			if (opt.npeer == 0)
				opt.npeer = 1;
			if (opt.remote_udp_port == 0)
				opt.remote_udp_port = port;
			break;
		}
		case 'a':
			if (opt.npeer == 0)
				opt.npeer = 1; /* slot 0 is --connect's */
			if (opt.npeer == MAX_ADDRS || parse_ip(optarg, &opt.peer[opt.npeer]) != 0)
				die_usage("--peer-addr: bad or too many addresses: %s", optarg);
			opt.npeer++;
			break;
		case 'n': opt.streams = (uint16_t)parse_long("streams", optarg, 1); break;
		case 'o': opt.once = 1; break;
		case 'C': opt.close_after = parse_long("close-after", optarg, 1); break;
		case 'U': opt.unordered = 1; break;
		case 'B': opt.bytes = (uint64_t)parse_long("bytes", optarg, 1); break;
		case 'm': parse_sizes(optarg); break;
		case 'N': opt.count = parse_long("count", optarg, 1); break;
		case 'P': opt.parallel = parse_long("parallel", optarg, 1); break;
		case 'x':
			if (strcmp(optarg, "server") == 0)
				opt.close_by_server = 1;
			else if (strcmp(optarg, "client") != 0)
				die_usage("--close client|server, not %s", optarg);
			break;
		case 'f': opt.buffer = (int)parse_long("buffer", optarg, 1024); break;
		case 'D': opt.pd_point = (uint32_t)parse_long("pd-point", optarg, 0); break;
		case 't': opt.timeout = (int)parse_long("timeout", optarg, 0); break;
		case 'v': opt.verbose = 1; break;
		case 1001: opt.rto_min = parse_long("rto-min", optarg, 1); break;
		case 1002: opt.rto_max = parse_long("rto-max", optarg, 1); break;
		case 1003: opt.rto_initial = parse_long("rto-initial", optarg, 1); break;
		case 1004: opt.hb_interval = parse_long("hb-interval", optarg, 1); break;
		case 1005: opt.path_max_retrans = parse_long("path-max-retrans", optarg, 0); break;
		case 1006: opt.pf_threshold = parse_long("pf-threshold", optarg, 0); break;
		case 1007: opt.progress_ms = parse_long("progress-ms", optarg, 1); break;
		case 'h':
			printf("usage: usrsctp_peer server --service daytime|echo|discard --udp-port U [options]\n"
			       "       usrsctp_peer client --service daytime|echo|discard|bench|ping|handshake"
			       " --connect IP:UDPPORT [options]\n"
			       "(the options are described at the top of usrsctp_peer.c)\n");
			return 0;
		default: die_usage("bad option");
		}
	}
	if (optind != argc)
		die_usage("unexpected argument: %s", argv[optind]);
	if (opt.service == SVC_NONE)
		die_usage("--service is required");
	if (opt.is_server) {
		if (opt.udp_port == 0)
			die_usage("server: --udp-port is required");
		if (opt.streams == 0)
			opt.streams = 10;
	} else {
		if (opt.peer[0].ss_family == 0)
			die_usage("client: --connect IP:UDPPORT is required");
		if (opt.udp_port == 0)
			opt.udp_port = ephemeral_udp_port();
		if (opt.streams == 0)
			opt.streams = 1;
		if (opt.count < 0)
			opt.count = opt.service == SVC_ECHO || opt.service == SVC_PING ? 10 : 1;
		if (opt.service == SVC_BENCH && opt.bytes == 0)
			die_usage("bench: --bytes is required");
		if (opt.timeout > 0) {
			signal(SIGALRM, on_alarm);
			alarm((unsigned)opt.timeout);
		}
	}

	usrsctp_init(opt.udp_port, NULL, NULL);
	usrsctp_sysctl_set_sctp_debug_on(0);
	/* Protocol timers, like usctp's options of the same names; -1 keeps
	 * usrsctp's default. */
	const struct {
		long value;
		int (*set)(uint32_t);
	} sysctls[] = {
		{ opt.rto_min, usrsctp_sysctl_set_sctp_rto_min_default },
		{ opt.rto_max, usrsctp_sysctl_set_sctp_rto_max_default },
		{ opt.rto_initial, usrsctp_sysctl_set_sctp_rto_initial_default },
		{ opt.hb_interval, usrsctp_sysctl_set_sctp_heartbeat_interval_default },
		{ opt.path_max_retrans, usrsctp_sysctl_set_sctp_path_rtx_max_default },
		{ opt.pf_threshold, usrsctp_sysctl_set_sctp_path_pf_threshold },
	};
	for (size_t i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++)
		if (sysctls[i].value >= 0)
			sysctls[i].set((uint32_t)sysctls[i].value);
	signal(SIGPIPE, SIG_IGN);

	rc = opt.is_server ? run_server() : run_client();

	/* Let the stack finish (bounded: exit regardless after 2 s). */
	for (tries = 0; tries < 20 && usrsctp_finish() != 0; tries++)
		usleep(100000);
	return rc;
}
