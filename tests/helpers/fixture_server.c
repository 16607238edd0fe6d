/* fixture_server: scripted HTTP/1.1 server for tests (see fixture_server.h). */
#include "fixture_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD 65536
#define MAX_SEEN 64

struct route {
    struct route *next;
    char *method, *path, *content_type, *body, *etag;
    size_t body_len;
    enum fx_mode mode;
    int status;
    bool hold;
    unsigned hits;
};

struct conn {
    struct conn *next;
    struct fx_server *srv;
    pthread_t th;
    int fd;
};

struct fx_server {
    int lfd;
    int wake[2];
    int port;
    char base[64];
    pthread_t accept_th;
    atomic_bool stopping;
    pthread_mutex_t mu;
    struct route *routes;
    struct conn *conns;
    unsigned total;
    char *seen_name[MAX_SEEN], *seen_value[MAX_SEEN];
    char **targets;
    size_t n_targets, cap_targets;
};

static char *dup_or(const char *s, const char *def)
{
    return strdup(s ? s : def);
}

static void route_free(struct route *r)
{
    free(r->method);
    free(r->path);
    free(r->content_type);
    free(r->body);
    free(r->etag);
    free(r);
}

static bool stopped(struct fx_server *s) { return atomic_load(&s->stopping); }

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Waits until the peer closes or the server stops (for hang/hold modes). */
static void idle_until_closed(struct fx_server *s, int fd)
{
    char buf[4096];
    while (!stopped(s)) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, 50);
        if (r > 0) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n <= 0)
                return;
        }
    }
}

static const char *reason(int st)
{
    switch (st) {
    case 200: return "OK";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 424: return "Failed Dependency";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static void remember_header(struct fx_server *s, const char *name, size_t nl, const char *val,
                            size_t vl)
{
    for (int i = 0; i < MAX_SEEN; i++) {
        if (s->seen_name[i] && strlen(s->seen_name[i]) == nl &&
            strncasecmp(s->seen_name[i], name, nl) == 0) {
            free(s->seen_value[i]);
            s->seen_value[i] = strndup(val, vl);
            return;
        }
        if (!s->seen_name[i]) {
            s->seen_name[i] = strndup(name, nl);
            s->seen_value[i] = strndup(val, vl);
            return;
        }
    }
}

static struct route *match(struct fx_server *s, const char *method, const char *target)
{
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target);
    for (struct route *r = s->routes; r; r = r->next)
        if (strcmp(r->method, method) == 0 && strcmp(r->path, target) == 0)
            return r;
    for (struct route *r = s->routes; r; r = r->next)
        if (strcmp(r->method, method) == 0 && !strchr(r->path, '?') &&
            strlen(r->path) == plen && strncmp(r->path, target, plen) == 0)
            return r;
    return NULL;
}

/* Reads one request head into buf; returns its length, 0 on close/stop, -1 on error. */
static ssize_t read_head(struct fx_server *s, int fd, char *buf, size_t cap, size_t *have)
{
    for (;;) {
        buf[*have] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end)
            return (end + 4) - buf;
        if (*have + 1 >= cap)
            return -1;
        if (stopped(s))
            return 0;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, 50);
        if (r <= 0)
            continue;
        ssize_t n = recv(fd, buf + *have, cap - 1 - *have, 0);
        if (n <= 0)
            return 0;
        *have += (size_t)n;
    }
}

static void serve_endless(struct fx_server *s, int fd)
{
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache\r\nConnection: close\r\n\r\ndata: ";
    if (send_all(fd, head, strlen(head)) < 0)
        return;
    char chunk[4096];
    memset(chunk, 'x', sizeof(chunk));
    while (!stopped(s)) {
        if (send_all(fd, chunk, sizeof(chunk)) < 0)
            return;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct fx_server *s = c->srv;
    char *buf = malloc(MAX_HEAD);
    size_t have = 0;
    while (buf && !stopped(s)) {
        ssize_t hl = read_head(s, c->fd, buf, MAX_HEAD, &have);
        if (hl <= 0)
            break;
        char method[16] = "", target[4096] = "";
        if (sscanf(buf, "%15s %4095s", method, target) != 2)
            break;
        size_t clen = 0;
        char inm[300] = "";
        pthread_mutex_lock(&s->mu);
        s->total++;
        if (s->n_targets == s->cap_targets) {
            size_t nc = s->cap_targets ? s->cap_targets * 2 : 64;
            char **nt = realloc(s->targets, nc * sizeof(*nt));
            if (nt) {
                s->targets = nt;
                s->cap_targets = nc;
            }
        }
        if (s->n_targets < s->cap_targets)
            s->targets[s->n_targets++] = strdup(target);
        for (char *line = strstr(buf, "\r\n") + 2; line < buf + hl - 2;) {
            char *eol = strstr(line, "\r\n");
            char *colon = memchr(line, ':', (size_t)(eol - line));
            if (colon) {
                const char *v = colon + 1;
                while (*v == ' ')
                    v++;
                remember_header(s, line, (size_t)(colon - line), v, (size_t)(eol - v));
                if (strncasecmp(line, "content-length:", 15) == 0)
                    clen = strtoul(v, NULL, 10);
                if (strncasecmp(line, "if-none-match:", 14) == 0)
                    snprintf(inm, sizeof(inm), "%.*s", (int)(eol - v), v);
            }
            line = eol + 2;
        }
        struct route *r = match(s, method, target);
        struct route copy = {0};
        if (r) {
            r->hits++;
            copy = *r;
            copy.body = malloc(r->body_len + 1);
            if (copy.body)
                memcpy(copy.body, r->body, r->body_len + 1);
            copy.content_type = strdup(r->content_type);
            copy.etag = r->etag ? strdup(r->etag) : NULL;
        }
        pthread_mutex_unlock(&s->mu);
        /* Drop the request body (and keep any pipelined bytes). */
        size_t consumed = (size_t)hl;
        while (have - consumed < clen && !stopped(s)) {
            struct pollfd p = {c->fd, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0)
                continue;
            ssize_t n = recv(c->fd, buf + have, MAX_HEAD - 1 - have, 0);
            if (n <= 0)
                goto out;
            have += (size_t)n;
        }
        consumed += clen;
        memmove(buf, buf + consumed, have - consumed);
        have -= consumed;

        bool keep = true;
        char head[1024];
        if (!r) {
            const char *nf = "404 page not found\n";
            snprintf(head, sizeof(head),
                     "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n\r\n%s", strlen(nf), nf);
            keep = send_all(c->fd, head, strlen(head)) == 0;
        } else if (copy.mode == FX_HANG) {
            idle_until_closed(s, c->fd);
            keep = false;
        } else if (copy.mode == FX_SSE_ENDLESS) {
            serve_endless(s, c->fd);
            keep = false;
        } else if (copy.mode == FX_SSE) {
            snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/event-stream\r\n"
                     "Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
                     copy.status, reason(copy.status));
            if (send_all(c->fd, head, strlen(head)) == 0 &&
                send_all(c->fd, copy.body, copy.body_len) == 0 && copy.hold)
                idle_until_closed(s, c->fd);
            keep = false;
        } else if (copy.etag && inm[0] && strcmp(inm, copy.etag) == 0) {
            snprintf(head, sizeof(head), "HTTP/1.1 304 Not Modified\r\nETag: %s\r\n\r\n",
                     copy.etag);
            keep = send_all(c->fd, head, strlen(head)) == 0;
        } else {
            char etag_line[400] = "";
            if (copy.etag)
                snprintf(etag_line, sizeof(etag_line), "ETag: %s\r\n", copy.etag);
            size_t announce = copy.body_len;
            size_t send_n = copy.mode == FX_CLOSE_MID ? copy.body_len / 2 : copy.body_len;
            snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
                     copy.status, reason(copy.status), copy.content_type, announce, etag_line);
            keep = send_all(c->fd, head, strlen(head)) == 0 &&
                   send_all(c->fd, copy.body, send_n) == 0 && copy.mode != FX_CLOSE_MID;
        }
        free(copy.body);
        free(copy.content_type);
        free(copy.etag);
        if (!keep)
            break;
    }
out:
    free(buf);
    shutdown(c->fd, SHUT_RDWR);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct fx_server *s = arg;
    while (!stopped(s)) {
        struct pollfd p[2] = {{s->lfd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents || stopped(s))
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        struct conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->srv = s;
        c->fd = fd;
        if (pthread_create(&c->th, NULL, conn_main, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        pthread_mutex_lock(&s->mu);
        c->next = s->conns;
        s->conns = c;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

struct fx_server *fx_start(void)
{
    struct fx_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || pipe(s->wake) < 0)
        goto fail;
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s->lfd, 128) < 0 ||
        getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0)
        goto fail;
    s->port = ntohs(a.sin_port);
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d/api/v1", s->port);
    if (pthread_create(&s->accept_th, NULL, accept_main, s) != 0)
        goto fail;
    return s;
fail:
    if (s->lfd >= 0)
        close(s->lfd);
    free(s);
    return NULL;
}

void fx_stop(struct fx_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    if (write(s->wake[1], "x", 1) < 0) {
        /* The accept thread also polls the stop flag; nothing else to do. */
    }
    pthread_join(s->accept_th, NULL);
    close(s->lfd);
    pthread_mutex_lock(&s->mu);
    struct conn *list = s->conns;
    s->conns = NULL;
    pthread_mutex_unlock(&s->mu);
    for (struct conn *c = list; c; c = c->next)
        shutdown(c->fd, SHUT_RDWR);
    while (list) {
        struct conn *n = list->next;
        pthread_join(list->th, NULL);
        close(list->fd);
        free(list);
        list = n;
    }
    while (s->routes) {
        struct route *n = s->routes->next;
        route_free(s->routes);
        s->routes = n;
    }
    for (int i = 0; i < MAX_SEEN; i++) {
        free(s->seen_name[i]);
        free(s->seen_value[i]);
    }
    for (size_t i = 0; i < s->n_targets; i++)
        free(s->targets[i]);
    free(s->targets);
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int fx_port(const struct fx_server *s) { return s->port; }
const char *fx_base(const struct fx_server *s) { return s->base; }

void fx_set(struct fx_server *s, const struct fx_route *in)
{
    struct route *r = calloc(1, sizeof(*r));
    if (!r)
        return;
    r->method = dup_or(in->method, "GET");
    r->path = dup_or(in->path, "/");
    r->content_type = dup_or(in->content_type, "application/json");
    size_t bl = in->body_len ? in->body_len : (in->body ? strlen(in->body) : 0);
    r->body = malloc(bl + 1);
    if (r->body) {
        if (bl)
            memcpy(r->body, in->body, bl);
        r->body[bl] = 0;
    }
    r->body_len = r->body ? bl : 0;
    r->etag = in->etag ? strdup(in->etag) : NULL;
    r->mode = in->mode;
    r->status = in->status ? in->status : 200;
    r->hold = in->hold;
    pthread_mutex_lock(&s->mu);
    for (struct route **pp = &s->routes; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->method, r->method) == 0 && strcmp((*pp)->path, r->path) == 0) {
            struct route *old = *pp;
            r->next = old->next;
            r->hits = old->hits;
            *pp = r;
            route_free(old);
            pthread_mutex_unlock(&s->mu);
            return;
        }
    }
    r->next = s->routes;
    s->routes = r;
    pthread_mutex_unlock(&s->mu);
}

void fx_json(struct fx_server *s, const char *method, const char *path, int status,
             const char *body)
{
    struct fx_route r = {.method = method, .path = path, .status = status, .body = body};
    fx_set(s, &r);
}

void fx_text(struct fx_server *s, const char *method, const char *path, int status,
             const char *body)
{
    struct fx_route r = {.method = method, .path = path, .status = status, .body = body,
                         .content_type = "text/plain; charset=utf-8"};
    fx_set(s, &r);
}

void fx_remove(struct fx_server *s, const char *method, const char *path)
{
    pthread_mutex_lock(&s->mu);
    for (struct route **pp = &s->routes; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->method, method) == 0 && strcmp((*pp)->path, path) == 0) {
            struct route *old = *pp;
            *pp = old->next;
            route_free(old);
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

unsigned fx_hits(struct fx_server *s, const char *method, const char *path)
{
    unsigned n = 0;
    pthread_mutex_lock(&s->mu);
    for (struct route *r = s->routes; r; r = r->next)
        if (strcmp(r->method, method) == 0 && strcmp(r->path, path) == 0)
            n = r->hits;
    pthread_mutex_unlock(&s->mu);
    return n;
}

unsigned fx_total(struct fx_server *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->total;
    pthread_mutex_unlock(&s->mu);
    return n;
}

char *fx_last_header(struct fx_server *s, const char *name, char *buf, size_t n)
{
    buf[0] = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < MAX_SEEN && s->seen_name[i]; i++)
        if (strcasecmp(s->seen_name[i], name) == 0)
            snprintf(buf, n, "%s", s->seen_value[i] ? s->seen_value[i] : "");
    pthread_mutex_unlock(&s->mu);
    return buf;
}

bool fx_saw_target(struct fx_server *s, const char *needle)
{
    bool found = false;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_targets && !found; i++)
        found = s->targets[i] && strstr(s->targets[i], needle);
    pthread_mutex_unlock(&s->mu);
    return found;
}
