/*
 * A test peer on Linux kernel SCTP, for the QEMU guest of guest.sh: the
 * lksctp API as libsctp offers it, one-to-one sockets.
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
 *   kpeer ping IP PORT COUNT SIZE STREAMS
 *                               send COUNT messages of SIZE bytes, over
 *                               STREAMS streams in turn, odd ones
 *                               unordered, each with its number as PPID;
 *                               wait for each echo and compare its bytes,
 *                               stream and PPID; then close
 *
 * Each prints one JSON line per association when done: {"mode":...,"messages":N,"bytes":N,
 * "ok":true|false}. Messages are read whole (up to 1 MiB; a message longer
 * than the buffer arrives in pieces until MSG_EOR).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_MESSAGE (1 << 20)

static char buffer[MAX_MESSAGE];

static int fail(const char *what)
{
    perror(what);
    printf("{\"mode\":\"error\",\"what\":\"%s\",\"ok\":false}\n", what);
    return 1;
}

static int sctp_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
    if (fd < 0)
        return -1;
    struct sctp_initmsg init = {.sinit_num_ostreams = 16, .sinit_max_instreams = 16};
    setsockopt(fd, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof init);
    struct sctp_event_subscribe events = {.sctp_data_io_event = 1};
    setsockopt(fd, IPPROTO_SCTP, SCTP_EVENTS, &events, sizeof events);
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
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

/* Reads one whole message; its length, 0 at the end, -1 on error. */
static long read_message(int fd, struct sctp_sndrcvinfo *info)
{
    long len = 0;
    for (;;) {
        int flags = 0;
        struct sctp_sndrcvinfo piece;
        memset(&piece, 0, sizeof piece);
        int n = sctp_recvmsg(fd, buffer + len, sizeof buffer - len, NULL, 0, &piece, &flags);
        if (n < 0)
            return errno == ECONNRESET ? 0 : -1;
        if (n == 0)
            return len;
        if (len == 0)
            *info = piece;
        len += n;
        if ((flags & MSG_EOR) || len == (long)sizeof buffer)
            return len;
    }
}

static int serve_one(int listener, int echo)
{
    int fd = accept(listener, NULL, NULL);
    if (fd < 0)
        return fail("accept");
    unsigned long long messages = 0, bytes = 0;
    int ok = 1;
    for (;;) {
        struct sctp_sndrcvinfo info;
        long n = read_message(fd, &info);
        if (n < 0) {
            ok = 0;
            break;
        }
        if (n == 0)
            break;
        messages++;
        bytes += n;
        if (echo) {
            uint32_t flags = info.sinfo_flags & SCTP_UNORDERED;
            /* sinfo_ppid arrives in network order and is sent as given. */
            if (sctp_sendmsg(fd, buffer, n, NULL, 0, info.sinfo_ppid, flags, info.sinfo_stream,
                             0, 0) != n) {
                ok = 0;
                break;
            }
        }
    }
    close(fd);
    printf("{\"mode\":\"%s\",\"messages\":%llu,\"bytes\":%llu,\"ok\":%s}\n",
           echo ? "echo" : "discard", messages, bytes, ok ? "true" : "false");
    fflush(stdout);
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
    printf("{\"mode\":\"abort\",\"messages\":%d,\"bytes\":%ld,\"ok\":%s}\n", n > 0, n,
           n > 0 ? "true" : "false");
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

static int connect_to(const char *ip, int port)
{
    int fd = sctp_socket();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = inet_addr(ip);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa))
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
    unsigned long long sent = 0, messages = 0;
    int ok = 1;
    while (sent < total) {
        long n = total - sent < (unsigned long long)size ? (long)(total - sent) : size;
        if (sctp_sendmsg(fd, buffer, n, NULL, 0, 0, 0, messages % streams, 0, 0) != n) {
            ok = 0;
            break;
        }
        sent += n;
        messages++;
    }
    close_gracefully(fd);
    printf("{\"mode\":\"send\",\"messages\":%llu,\"bytes\":%llu,\"ok\":%s}\n", messages, sent,
           ok ? "true" : "false");
    return ok ? 0 : 1;
}

static char sent[MAX_MESSAGE];

static int ping(const char *ip, int port, int count, long size, int streams)
{
    if (size <= 0 || size > MAX_MESSAGE || streams <= 0)
        return fail("arguments");
    int fd = connect_to(ip, port);
    if (fd < 0)
        return fail("connect");
    int mismatches = 0, echoed = 0;
    for (int i = 0; i < count; i++) {
        for (long j = 0; j < size; j++)
            sent[j] = (char)(i * 31 + j * 7);
        uint32_t flags = (i % 2) ? SCTP_UNORDERED : 0;
        if (sctp_sendmsg(fd, sent, size, NULL, 0, htonl(i), flags, i % streams, 0, 0) != size)
            return fail("sctp_sendmsg");
        struct sctp_sndrcvinfo info;
        long n = read_message(fd, &info);
        if (n <= 0)
            break;
        echoed++;
        if (n != size || memcmp(buffer, sent, size) || info.sinfo_stream != i % streams
            || ntohl(info.sinfo_ppid) != (uint32_t)i
            || (info.sinfo_flags & SCTP_UNORDERED) != (flags & SCTP_UNORDERED))
            mismatches++;
    }
    close_gracefully(fd);
    int ok = echoed == count && mismatches == 0;
    printf("{\"mode\":\"ping\",\"messages\":%d,\"bytes\":%lld,\"mismatches\":%d,\"ok\":%s}\n",
           echoed, (long long)echoed * size, mismatches, ok ? "true" : "false");
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
        return ping(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]), atoi(argv[6]));
    fprintf(stderr, "usage: kpeer echo PORT [COUNT] | discard PORT [COUNT] | "
                    "send IP PORT BYTES SIZE STREAMS | ping IP PORT COUNT SIZE STREAMS | abort PORT\n");
    return 2;
}
