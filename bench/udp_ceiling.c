/*
 * The batched-UDP ceiling: how fast the kernel moves datagrams of one size
 * over loopback when both ends batch the way usctp's driver does (UDP_SEGMENT
 * sends of up to 64 KiB, UDP_GRO receives). bench/compare.sh runs it beside
 * usctp with the datagram size usctp's 1200-byte messages take (12-byte
 * common header + 16-byte DATA header + 1200 = 1228 bytes of UDP payload).
 *
 *   udp_ceiling recv PORT                 # prints one JSON line when done
 *   udp_ceiling send PORT BYTES SIZE
 *
 * The receiver counts UDP payload bytes from the first datagram to the
 * sender's end marker (datagrams shorter than 16 bytes) and prints
 * {"bytes":N,"datagrams":N,"seconds":S,"MBps":M}. What the kernel dropped is
 * not counted: the figure is what arrived.
 *
 * Build: gcc -O2 -o target/udp_ceiling bench/udp_ceiling.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define BATCH_LIMIT 65000 /* UDP's 64 KiB less headers */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int udp_socket(int port, int bind_it)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        die("socket");
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind_it ? bind(fd, (struct sockaddr *)&sa, sizeof sa)
                : connect(fd, (struct sockaddr *)&sa, sizeof sa))
        die(bind_it ? "bind" : "connect");
    return fd;
}

static int receive(int port)
{
    int fd = udp_socket(port, 1);
    int on = 1;
    if (setsockopt(fd, IPPROTO_UDP, UDP_GRO, &on, sizeof on))
        die("UDP_GRO");
    static char data[1 << 16];
    char control[CMSG_SPACE(sizeof(int))];
    unsigned long long bytes = 0, datagrams = 0;
    double start = 0;
    for (;;) {
        struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control, .msg_controllen = sizeof control};
        ssize_t n = recvmsg(fd, &msg, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("recvmsg");
        }
        if (n < 16)
            break;
        if (start == 0)
            start = now();
        int segment = (int)n;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO)
                memcpy(&segment, CMSG_DATA(c), sizeof segment);
        bytes += n;
        datagrams += (n + segment - 1) / segment;
    }
    double seconds = now() - start;
    printf("{\"bytes\":%llu,\"datagrams\":%llu,\"seconds\":%.6f,\"MBps\":%.1f}\n", bytes,
           datagrams, seconds, seconds > 0 ? bytes / seconds / 1e6 : 0.0);
    return 0;
}

static int send_all(int port, unsigned long long total, int size)
{
    if (size < 16 || size > BATCH_LIMIT) {
        fprintf(stderr, "SIZE must be 16..%d\n", BATCH_LIMIT);
        return 2;
    }
    int fd = udp_socket(port, 0);
    if (setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &size, sizeof size))
        die("UDP_SEGMENT");
    int per_call = BATCH_LIMIT / size;
    if (per_call > 64) /* the kernel's UDP_MAX_SEGMENTS */
        per_call = 64;
    static char data[BATCH_LIMIT];
    memset(data, 0xab, sizeof data);
    unsigned long long sent = 0;
    while (sent < total) {
        unsigned long long left = total - sent;
        size_t len = (size_t)per_call * size;
        if (len > left)
            len = left < (unsigned long long)size ? (size_t)size : (size_t)(left / size) * size;
        ssize_t n = send(fd, data, len, 0);
        if (n < 0) {
            if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN)
                continue;
            die("send");
        }
        sent += n;
    }
    /* The end marker, a short datagram sent without segmentation; sent a few
     * times in case one is dropped. */
    int off = 0;
    setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &off, sizeof off);
    for (int i = 0; i < 20; i++) {
        send(fd, "end", 3, 0);
        usleep(1000);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "recv"))
        return receive(atoi(argv[2]));
    if (argc == 5 && !strcmp(argv[1], "send"))
        return send_all(atoi(argv[2]), strtoull(argv[3], NULL, 10), atoi(argv[4]));
    fprintf(stderr, "usage: %s recv PORT | send PORT BYTES SIZE\n", argv[0]);
    return 2;
}
