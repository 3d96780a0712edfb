/*
 * A test peer on Linux kernel SCTP, for the QEMU guest of guest.sh (and,
 * built for the host, under `usctp run`): the lksctp API as libsctp offers
 * it, one-to-one sockets.
 *
 *   kpeer echo PORT [COUNT]     accept COUNT associations (1), one after
 *                               another; send every message back on its
 *                               stream with its PPID and unordered flag
 *                               until the peer shuts down
 *   kpeer discard PORT [COUNT]  likewise, counting what arrives
 *   kpeer abort PORT            accept one association, read one message,
 *                               then abort it (SO_LINGER 0: an ABORT chunk)
 *   kpeer send IP PORT BYTES SIZE STREAMS
 *                               send BYTES in SIZE-byte messages over
 *                               STREAMS streams in turn, then close
 *   kpeer ping IP PORT COUNT SIZE[+SIZE...] STREAMS
 *                               send COUNT messages of SIZE bytes (the
 *                               sizes in turn), over STREAMS streams in
 *                               turn, odd ones
 *                               unordered, each with its number as PPID;
 *                               wait for each echo and compare its bytes,
 *                               stream and PPID; then close
 *   kpeer restart IP PORT COUNT SIZE
 *                               (in the guest only) ping COUNT messages
 *                               from KPEER_PORT, then lose the association
 *                               without a word to the peer (eth0 down, an
 *                               ABORT that goes nowhere, eth0 up) and ping
 *                               COUNT more in a new association from the
 *                               same port: RFC 9260 §5.2's restart
 *   kpeer exchange IP PORT COUNT SIZE
 *                               connect from KPEER_PORT (the peer may be
 *                               connecting to us at the same time), send
 *                               COUNT messages on stream 0 and read COUNT,
 *                               comparing each with the peer's pattern
 *
 * Environment: KPEER_PORT (the local SCTP port of an association this
 * program starts), KPEER_INTERVAL_MS (ping: a pause before each message,
 * and a line "kpeer: echoed N" after each echo), KPEER_FAST=1 (RTO 200 ms
 * to 1 s, heartbeats every 300 ms, Path.Max.Retrans 2),
 * KPEER_RTO_INITIAL_MS (RTO.Initial alone), KPEER_PATHS=N
 * (after connecting or accepting, wait until N of the peer's addresses
 * are active).
 *
 * Each prints one JSON line per association when done: {"mode":...,"messages":N,"bytes":N,
 * "end":...,"ok":true|false}, where "end" says how the association
 * ended: "shutdown" (the peer shut down), "abort" (it was aborted),
 * "closed" (this program closed it) or "error". Messages are read whole
 * (up to 1 MiB; a message longer than the buffer arrives in pieces until
 * MSG_EOR).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_MESSAGE (1 << 20)

static char buffer[MAX_MESSAGE];
static char sent[MAX_MESSAGE];

static int fail(const char *what)
{
    perror(what);
    printf("{\"mode\":\"error\",\"what\":\"%s\",\"ok\":false}\n", what);
    return 1;
}

static long env_number(const char *name)
{
    const char *value = getenv(name);
    return value ? atol(value) : 0;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int sctp_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
    if (fd < 0)
        return -1;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sctp_initmsg init = {.sinit_num_ostreams = 16, .sinit_max_instreams = 16};
    setsockopt(fd, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof init);
    struct sctp_event_subscribe events = {.sctp_data_io_event = 1};
    setsockopt(fd, IPPROTO_SCTP, SCTP_EVENTS, &events, sizeof events);
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    long rto_initial = env_number("KPEER_RTO_INITIAL_MS");
    if (rto_initial) {
        /* 0: RTO.Min and RTO.Max as they are. */
        struct sctp_rtoinfo rto = {.srto_initial = rto_initial};
        setsockopt(fd, IPPROTO_SCTP, SCTP_RTOINFO, &rto, sizeof rto);
    }
    if (env_number("KPEER_FAST")) {
        struct sctp_rtoinfo rto = {.srto_initial = 500, .srto_max = 1000, .srto_min = 200};
        setsockopt(fd, IPPROTO_SCTP, SCTP_RTOINFO, &rto, sizeof rto);
        struct sctp_paddrparams params = {.spp_hbinterval = 300, .spp_pathmaxrxt = 2,
                                          .spp_flags = SPP_HB_ENABLE};
        setsockopt(fd, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &params, sizeof params);
        struct sctp_assocparams assoc = {.sasoc_asocmaxrxt = 30};
        setsockopt(fd, IPPROTO_SCTP, SCTP_ASSOCINFO, &assoc, sizeof assoc);
    }
    return fd;
}

/* A listening socket on PORT. */
static int listen_on(int port)
{
    int listener = sctp_socket();
    if (listener < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(listener, (struct sockaddr *)&sa, sizeof sa) || listen(listener, 1))
        return -1;
    printf("kpeer: listening on sctp port %d\n", port);
    fflush(stdout);
    return listener;
}

/* Reads one whole message: its length, 0 when the peer has shut down, -1
 * on an error (errno ECONNRESET: the association was aborted). */
static long read_message(int fd, struct sctp_sndrcvinfo *info)
{
    long len = 0;
    for (;;) {
        int flags = 0;
        struct sctp_sndrcvinfo piece;
        memset(&piece, 0, sizeof piece);
        int n = sctp_recvmsg(fd, buffer + len, sizeof buffer - len, NULL, 0, &piece, &flags);
        if (n < 0)
            return -1;
        if (n == 0)
            return len;
        if (len == 0)
            *info = piece;
        len += n;
        if ((flags & MSG_EOR) || len == (long)sizeof buffer)
            return len;
    }
}

/* How an association ended, from read_message's result. */
static const char *ending(long n)
{
    if (n == 0)
        return "shutdown";
    return errno == ECONNRESET ? "abort" : "error";
}

static void report(const char *mode, unsigned long long messages, unsigned long long bytes,
                   const char *extra, const char *end, int ok)
{
    printf("{\"mode\":\"%s\",\"messages\":%llu,\"bytes\":%llu,%s\"end\":\"%s\",\"ok\":%s}\n",
           mode, messages, bytes, extra, end, ok ? "true" : "false");
    fflush(stdout);
}

/* Waits up to 30 s until `want` of the peer's addresses are active. */
static int wait_for_paths(int fd, int want)
{
    for (int tries = 0; tries < 300; tries++) {
        struct sockaddr *addrs;
        int n = sctp_getpaddrs(fd, 0, &addrs), active = 0;
        for (int i = 0; i < n; i++) {
            struct sctp_paddrinfo info;
            memset(&info, 0, sizeof info);
            memcpy(&info.spinfo_address, (struct sockaddr_in *)addrs + i,
                   sizeof(struct sockaddr_in));
            socklen_t len = sizeof info;
            if (!getsockopt(fd, IPPROTO_SCTP, SCTP_GET_PEER_ADDR_INFO, &info, &len)
                && info.spinfo_state == SCTP_ACTIVE)
                active++;
        }
        if (n > 0)
            sctp_freepaddrs(addrs);
        if (active >= want) {
            printf("kpeer: %d paths active\n", active);
            fflush(stdout);
            return 0;
        }
        usleep(100 * 1000);
    }
    return -1;
}

static int serve_one(int listener, int echo)
{
    int fd = accept(listener, NULL, NULL);
    if (fd < 0)
        return fail("accept");
    long paths = env_number("KPEER_PATHS");
    if (paths && wait_for_paths(fd, paths))
        return fail("paths");
    unsigned long long messages = 0, bytes = 0;
    const char *end = "closed";
    int ok = 1;
    for (;;) {
        struct sctp_sndrcvinfo info;
        long n = read_message(fd, &info);
        if (n <= 0) {
            end = ending(n);
            ok = n == 0;
            break;
        }
        messages++;
        bytes += n;
        if (echo) {
            uint32_t flags = info.sinfo_flags & SCTP_UNORDERED;
            /* sinfo_ppid arrives in network order and is sent as given. */
            if (sctp_sendmsg(fd, buffer, n, NULL, 0, info.sinfo_ppid, flags, info.sinfo_stream,
                             0, 0) != n) {
                end = "error";
                ok = 0;
                break;
            }
        }
    }
    close(fd);
    report(echo ? "echo" : "discard", messages, bytes, "", end, ok);
    return ok ? 0 : 1;
}

static int abort_after_one(int port)
{
    int listener = listen_on(port);
    if (listener < 0)
        return fail("listen");
    int fd = accept(listener, NULL, NULL);
    if (fd < 0)
        return fail("accept");
    struct sctp_sndrcvinfo info;
    long n = read_message(fd, &info);
    /* Linux sends ABORT when a socket lingering for 0 s is closed. */
    struct linger linger = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    close(fd);
    close(listener);
    report("abort", n > 0, n > 0 ? n : 0, "", "closed", n > 0);
    return n > 0 ? 0 : 1;
}

static int serve(int port, int count, int echo)
{
    int listener = listen_on(port);
    if (listener < 0)
        return fail("listen");
    int failed = 0;
    for (int i = 0; i < count; i++)
        failed |= serve_one(listener, echo);
    close(listener);
    return failed;
}

/* An association to IP:PORT, from KPEER_PORT if set. */
static int connect_to(const char *ip, int port)
{
    int fd = sctp_socket();
    if (fd < 0)
        return -1;
    long local = env_number("KPEER_PORT");
    if (local) {
        struct sockaddr_in here = {.sin_family = AF_INET, .sin_port = htons(local)};
        here.sin_addr.s_addr = htonl(INADDR_ANY);
        if (bind(fd, (struct sockaddr *)&here, sizeof here))
            return -1;
    }
    printf("kpeer: connecting to %s sctp port %d\n", ip, port);
    fflush(stdout);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = inet_addr(ip);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa))
        return -1;
    long paths = env_number("KPEER_PATHS");
    if (paths && wait_for_paths(fd, paths))
        return -1;
    return fd;
}

/* Closes gracefully and waits, up to 30 s, for the shutdown to complete:
 * the guest powers off when this program ends. */
static void close_gracefully(int fd)
{
    struct linger linger = {.l_onoff = 1, .l_linger = 30};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    close(fd);
}

static int send_all(const char *ip, int port, unsigned long long total, long size, int streams)
{
    if (size <= 0 || size > MAX_MESSAGE || streams <= 0)
        return fail("arguments");
    int fd = connect_to(ip, port);
    if (fd < 0)
        return fail("connect");
    for (long i = 0; i < size; i++)
        buffer[i] = (char)(i * 7);
    unsigned long long sent_bytes = 0, messages = 0;
    int ok = 1;
    while (sent_bytes < total) {
        long n = total - sent_bytes < (unsigned long long)size ? (long)(total - sent_bytes) : size;
        if (sctp_sendmsg(fd, buffer, n, NULL, 0, 0, 0, messages % streams, 0, 0) != n) {
            ok = 0;
            break;
        }
        sent_bytes += n;
        messages++;
    }
    close_gracefully(fd);
    report("send", messages, sent_bytes, "", ok ? "closed" : "error", ok);
    return ok ? 0 : 1;
}

/* Message `i` of `size` bytes, as ping and exchange send it. */
static void pattern(int i, long size)
{
    for (long j = 0; j < size; j++)
        sent[j] = (char)(i * 31 + j * 7);
}

/* Message sizes, used in turn: "SIZE" or "SIZE+SIZE+...". */
struct sizes {
    long size[8];
    int count;
};

static int parse_sizes(const char *text, struct sizes *sizes)
{
    sizes->count = 0;
    for (;;) {
        char *end;
        long size = strtol(text, &end, 10);
        if (end == text || size <= 0 || size > MAX_MESSAGE || sizes->count == 8)
            return -1;
        sizes->size[sizes->count++] = size;
        if (*end == 0)
            return 0;
        if (*end != '+')
            return -1;
        text = end + 1;
    }
}

/* COUNT echoes on association `fd`, which is then closed; one report. */
static int ping_on(int fd, int count, const struct sizes *sizes, int streams)
{
    long interval = env_number("KPEER_INTERVAL_MS");
    int mismatches = 0, echoed = 0;
    unsigned long long bytes = 0;
    double max_rtt = 0;
    const char *end = "closed";
    for (int i = 0; i < count; i++) {
        if (interval)
            usleep(interval * 1000);
        long size = sizes->size[i % sizes->count];
        pattern(i, size);
        uint32_t flags = (i % 2) ? SCTP_UNORDERED : 0;
        double start = now_ms();
        if (sctp_sendmsg(fd, sent, size, NULL, 0, htonl(i), flags, i % streams, 0, 0) != size) {
            end = errno == ECONNRESET || errno == EPIPE ? "abort" : "error";
            break;
        }
        struct sctp_sndrcvinfo info;
        long n = read_message(fd, &info);
        if (n <= 0) {
            end = ending(n);
            break;
        }
        double rtt = now_ms() - start;
        if (rtt > max_rtt)
            max_rtt = rtt;
        echoed++;
        bytes += n;
        if (n != size || memcmp(buffer, sent, size) || info.sinfo_stream != i % streams
            || ntohl(info.sinfo_ppid) != (uint32_t)i
            || (info.sinfo_flags & SCTP_UNORDERED) != (flags & SCTP_UNORDERED))
            mismatches++;
        if (interval) {
            printf("kpeer: echoed %d\n", echoed);
            fflush(stdout);
        }
    }
    close_gracefully(fd);
    int ok = echoed == count && mismatches == 0;
    char extra[96];
    snprintf(extra, sizeof extra, "\"mismatches\":%d,\"max_rtt_ms\":%.0f,", mismatches, max_rtt);
    report("ping", echoed, bytes, extra, end, ok);
    return ok ? 0 : 1;
}

static int ping(const char *ip, int port, int count, const char *size_list, int streams)
{
    struct sizes sizes;
    if (parse_sizes(size_list, &sizes) || streams <= 0)
        return fail("arguments");
    int fd = connect_to(ip, port);
    if (fd < 0)
        return fail("connect");
    return ping_on(fd, count, &sizes, streams);
}

static int restart(const char *ip, int port, int count, long size)
{
    if (!getenv("KPEER_IN_GUEST") || !env_number("KPEER_PORT"))
        return fail("restart runs in the guest, with KPEER_PORT");
    if (size <= 0 || size > MAX_MESSAGE)
        return fail("arguments");
    int fd = connect_to(ip, port);
    if (fd < 0)
        return fail("connect");
    for (int i = 0; i < count; i++) {
        pattern(i, size);
        struct sctp_sndrcvinfo info;
        if (sctp_sendmsg(fd, sent, size, NULL, 0, htonl(i), 0, 0, 0, 0) != size
            || read_message(fd, &info) != size || memcmp(buffer, sent, size))
            return fail("first association");
    }
    /* Once the last echo is acknowledged (a delayed SACK: 200 ms), the
     * peer has nothing to retransmit, which would draw an out-of-the-blue
     * ABORT (RFC 9260 §8.4) from the new association. With eth0 down its
     * routes are gone, and the ABORT this close sends has nowhere to go:
     * the peer still has the association. */
    sleep(1);
    if (system("ip link set eth0 down"))
        return fail("ip link set eth0 down");
    struct linger linger = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    close(fd);
    report("restart", count, (unsigned long long)count * size, "", "closed", 1);
    if (system("ip link set eth0 up"))
        return fail("ip link set eth0 up");
    /* The link comes back a second or two later; until then the INIT
     * would be lost (up to 10 s). */
    if (system("i=0; while [ \"$(cat /sys/class/net/eth0/carrier)\" != 1 ] && [ $i -lt 100 ]; do"
               " sleep 0.1; i=$((i + 1)); done"))
        return fail("waiting for eth0's carrier");
    fd = connect_to(ip, port);
    if (fd < 0)
        return fail("connect again");
    struct sizes sizes = {.size = {size}, .count = 1};
    return ping_on(fd, count, &sizes, 1);
}

static int exchange(const char *ip, int port, int count, long size)
{
    if (size <= 0 || size > MAX_MESSAGE || !env_number("KPEER_PORT"))
        return fail("arguments (and KPEER_PORT)");
    int fd = connect_to(ip, port);
    if (fd < 0)
        return fail("connect");
    printf("kpeer: connected\n");
    fflush(stdout);
    for (int i = 0; i < count; i++) {
        pattern(i, size);
        if (sctp_sendmsg(fd, sent, size, NULL, 0, htonl(i), 0, 0, 0, 0) != size)
            return fail("sctp_sendmsg");
    }
    int received = 0, mismatches = 0;
    const char *end = "closed";
    while (received < count) {
        struct sctp_sndrcvinfo info;
        long n = read_message(fd, &info);
        if (n <= 0) {
            end = ending(n);
            break;
        }
        pattern(received, size);
        if (n != size || memcmp(buffer, sent, size) || ntohl(info.sinfo_ppid) != (uint32_t)received)
            mismatches++;
        received++;
    }
    close_gracefully(fd);
    int ok = received == count && mismatches == 0;
    char extra[48];
    snprintf(extra, sizeof extra, "\"mismatches\":%d,", mismatches);
    report("exchange", received, (unsigned long long)received * size, extra, end, ok);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    int count = argc == 4 ? atoi(argv[3]) : 1;
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "echo"))
        return serve(atoi(argv[2]), count, 1);
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "discard"))
        return serve(atoi(argv[2]), count, 0);
    if (argc == 7 && !strcmp(argv[1], "send"))
        return send_all(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10), atol(argv[5]),
                        atoi(argv[6]));
    if (argc == 3 && !strcmp(argv[1], "abort"))
        return abort_after_one(atoi(argv[2]));
    if (argc == 7 && !strcmp(argv[1], "ping"))
        return ping(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5], atoi(argv[6]));
    if (argc == 6 && !strcmp(argv[1], "restart"))
        return restart(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]));
    if (argc == 6 && !strcmp(argv[1], "exchange"))
        return exchange(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]));
    fprintf(stderr, "usage: kpeer echo PORT [COUNT] | discard PORT [COUNT] | abort PORT | "
                    "send IP PORT BYTES SIZE STREAMS | ping IP PORT COUNT SIZE[+SIZE...] STREAMS | "
                    "restart IP PORT COUNT SIZE | exchange IP PORT COUNT SIZE\n");
    return 2;
}
