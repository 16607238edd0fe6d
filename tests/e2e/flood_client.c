/*
 * flood_client: the issue 8 floods against `serve` on 127.0.0.1, for
 * tests/e2e/flood.sh (which compiles it). Usage:
 *
 *   flood_client PORT SLOW STREAMS SECONDS [TOKEN]
 *
 * Connections come from 127.0.0.2-9 (8 peers, so both the per-peer and the
 * server-wide limits are reached). SLOW connections send a request head one
 * byte every 2 s (slowloris);
 * STREAMS connections open the cutover event stream (with the bearer TOKEN
 * when given) and never read, with a small receive buffer. A connection the
 * server closes is opened again a second later, so the pressure stays for
 * SECONDS. Prints
 * how many connections were opened, dropped by the server and refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 2048

struct peer {
    int fd;
    int src;                   /* source address 127.0.0.(2 + src) */
    int stream;                /* 1: event stream that never reads */
    size_t sent;               /* slowloris: bytes of the head sent */
    long long next;            /* slowloris: when the next byte goes, ms */
};

static struct sockaddr_in target;
static char stream_req[512];
static const char slow_req[] = "GET /api/v1/deployments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
static long opened, dropped, refused;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void open_peer(struct peer *p)
{
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    p->sent = 0;
    p->next = now_ms();
    if (p->fd < 0)
        return;
    if (p->stream) {
        int small = 4096;
        setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    }
    /* Spread over 8 loopback sources: the server-wide limit is hit, not only the per-peer one. */
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000002u + (unsigned)p->src);
    bind(p->fd, (struct sockaddr *)&src, sizeof(src));
    if (connect(p->fd, (struct sockaddr *)&target, sizeof(target)) < 0) {
        close(p->fd);
        p->fd = -1;
        p->next = now_ms() + 1000;
        refused++;
        return;
    }
    opened++;
    if (p->stream && write(p->fd, stream_req, strlen(stream_req)) < 0) {
        close(p->fd);
        p->fd = -1;
    }
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: flood_client PORT SLOW STREAMS SECONDS [TOKEN]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl = {MAX_CONNS + 64, MAX_CONNS + 64};
    setrlimit(RLIMIT_NOFILE, &rl);
    int port = atoi(argv[1]), n_slow = atoi(argv[2]), n_stream = atoi(argv[3]);
    long long end = now_ms() + 1000LL * atoi(argv[4]);
    if (n_slow < 0 || n_stream < 0 || n_slow + n_stream > MAX_CONNS)
        return 2;
    target.sin_family = AF_INET;
    target.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, "127.0.0.1", &target.sin_addr);
    snprintf(stream_req, sizeof(stream_req),
             "GET /api/v1/sovereign/cutover/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Accept: text/event-stream\r\n%s%s%s\r\n",
             argc > 5 ? "Authorization: Bearer " : "", argc > 5 ? argv[5] : "",
             argc > 5 ? "\r\n" : "");
    static struct peer peers[MAX_CONNS];
    static struct pollfd pfd[MAX_CONNS];
    int n = n_slow + n_stream;
    for (int i = 0; i < n; i++) {
        peers[i].stream = i >= n_slow;
        peers[i].src = i % 8;
        open_peer(&peers[i]);
    }
    while (now_ms() < end) {
        for (int i = 0; i < n; i++) {
            pfd[i].fd = peers[i].fd;
            pfd[i].events = POLLRDHUP;
            pfd[i].revents = 0;
        }
        poll(pfd, (nfds_t)n, 100);
        long long t = now_ms();
        for (int i = 0; i < n; i++) {
            struct peer *p = &peers[i];
            if (p->fd >= 0 && (pfd[i].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
                close(p->fd);
                p->fd = -1;
                p->next = t + 1000; /* back in a second: pressure, not a fork bomb */
                dropped++;
            }
            if (p->fd < 0) {
                if (t >= p->next)
                    open_peer(p);
                continue;
            }
            if (!p->stream && t >= p->next && p->sent < sizeof(slow_req) - 1) {
                if (write(p->fd, slow_req + p->sent, 1) == 1)
                    p->sent++;
                p->next = t + 2000;
            }
        }
    }
    int open_now = 0;
    for (int i = 0; i < n; i++)
        if (peers[i].fd >= 0) {
            open_now++;
            close(peers[i].fd);
        }
    printf("opened %ld dropped %ld refused %ld open-at-end %d\n", opened, dropped, refused,
           open_now);
    return 0;
}
