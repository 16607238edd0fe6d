/* http: libcurl client for the catalyst-api (see http.h). */
#include "http.h"

#include "arena.h"
#include "wire.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CACHE_SLOTS 32
#define DETAIL_MAX 300

struct cache_entry {
    char *path;
    char *etag;
    char *body;
    size_t len;
};

struct http_client {
    CURL *curl;
    char *base;
    char *auth_header;     /* "Authorization: Bearer ..." or NULL (secret) */
    char *cookie;          /* "catalyst_session=..." or NULL (secret) */
    char *unix_socket;     /* AF_UNIX path the requests go to instead of TCP, or NULL */
    long connect_timeout_ms, timeout_ms;
    size_t max_body;
    atomic_bool *stop;
    struct cache_entry cache[CACHE_SLOTS];
    size_t cache_next;
    size_t bytes_received;
    char errbuf[CURL_ERROR_SIZE];
};

/* Per-transfer state shared with the curl callbacks. */
struct transfer {
    struct http_client *c;
    struct strbuf body;
    bool too_large;
    char etag[256];
    char content_type[96];
    /* streaming */
    int (*on_data)(void *ctx, const char *buf, size_t n);
    void *ctx;
    bool streaming_ok;     /* status known to be 2xx: bytes go to on_data */
    bool status_checked;
    bool user_ended;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static void secret_wipe(char *s)
{
    if (!s)
        return;
    volatile char *v = s;
    while (*v)
        *v++ = 0;
}

void http_secret_free(char *s)
{
    secret_wipe(s);
    free(s);
}

struct http_client *http_client_new(const struct http_options *o, struct error *err)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        error_set(err, EXIT_API, "libcurl could not be initialised: %s",
                  curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    if (!o->base_url || !*o->base_url) {
        error_set(err, EXIT_USAGE, "no catalyst-api URL given");
        return NULL;
    }
    if (strncmp(o->base_url, "http://", 7) != 0 && strncmp(o->base_url, "https://", 8) != 0) {
        error_set(err, EXIT_USAGE, "the API URL must start with http:// or https://: %s",
                  o->base_url);
        return NULL;
    }
    struct http_client *c = calloc(1, sizeof(*c));
    if (!c)
        goto oom;
    c->curl = curl_easy_init();
    c->base = strdup(o->base_url);
    if (!c->curl || !c->base)
        goto oom;
    size_t bl = strlen(c->base);
    while (bl > 0 && c->base[bl - 1] == '/')
        c->base[--bl] = 0;
    if (o->token && *o->token) {
        if (asprintf(&c->auth_header, "Authorization: Bearer %s", o->token) < 0) {
            c->auth_header = NULL;
            goto oom;
        }
    }
    if (o->session && *o->session) {
        if (asprintf(&c->cookie, "catalyst_session=%s", o->session) < 0) {
            c->cookie = NULL;
            goto oom;
        }
    }
    c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 15000;
    c->max_body = o->max_body ? o->max_body : HTTP_MAX_BODY_DEFAULT;
    c->stop = o->stop;
    if (o->unix_socket && *o->unix_socket && !(c->unix_socket = strdup(o->unix_socket)))
        goto oom;

    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "catalyst-tui");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (o->cacert && *o->cacert)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->cacert);
    if (o->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->cookie)
        curl_easy_setopt(h, CURLOPT_COOKIE, c->cookie);
    /* The URL still names the scheme, host and path; only the transport changes. */
    if (c->unix_socket &&
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->unix_socket) != CURLE_OK) {
        http_client_free(c);
        error_set(err, EXIT_API, "this libcurl cannot connect to a Unix socket");
        return NULL;
    }
    return c;
oom:
    http_client_free(c);
    error_set(err, EXIT_API, "out of memory creating the HTTP client");
    return NULL;
}

void http_cache_clear(struct http_client *c)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(c->cache[i].path);
        free(c->cache[i].etag);
        free(c->cache[i].body);
        memset(&c->cache[i], 0, sizeof(c->cache[i]));
    }
    c->cache_next = 0;
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    http_cache_clear(c);
    http_secret_free(c->auth_header);
    http_secret_free(c->cookie);
    free(c->base);
    free(c->unix_socket);
    free(c);
}

const char *http_client_base(const struct http_client *c) { return c->base; }

bool http_unix_listening(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (!path || strlen(path) >= sizeof(sa.sun_path))
        return false;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    /* A listening socket accepts into its backlog at once; a stale file refuses. */
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}
size_t http_bytes_received(const struct http_client *c) { return c->bytes_received; }

void http_response_init(struct http_response *r) { memset(r, 0, sizeof(*r)); }

void http_response_fini(struct http_response *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static struct cache_entry *cache_find(struct http_client *c, const char *path)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (c->cache[i].path && strcmp(c->cache[i].path, path) == 0)
            return &c->cache[i];
    return NULL;
}

static void cache_store(struct http_client *c, const char *path, const char *etag,
                        const char *body, size_t len)
{
    struct cache_entry *e = cache_find(c, path);
    if (!e) {
        e = &c->cache[c->cache_next];
        c->cache_next = (c->cache_next + 1) % CACHE_SLOTS;
    }
    free(e->path);
    free(e->etag);
    free(e->body);
    e->path = strdup(path);
    e->etag = strdup(etag);
    e->body = malloc(len + 1);
    if (!e->path || !e->etag || !e->body) {
        free(e->path);
        free(e->etag);
        free(e->body);
        memset(e, 0, sizeof(*e));
        return;
    }
    memcpy(e->body, body, len);
    e->body[len] = 0;
    e->len = len;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct transfer *t = ud;
    size_t n = size * nmemb;
    t->c->bytes_received += n;
    if (t->on_data && !t->status_checked) {
        long st = 0;
        curl_easy_getinfo(t->c->curl, CURLINFO_RESPONSE_CODE, &st);
        t->streaming_ok = st >= 200 && st < 300;
        t->status_checked = true;
    }
    if (t->on_data && t->streaming_ok) {
        if (t->on_data(t->ctx, ptr, n)) {
            t->user_ended = true;
            return 0;
        }
        return n;
    }
    if (t->body.len + n > t->c->max_body) {
        t->too_large = true;
        return 0;
    }
    sb_append(&t->body, ptr, n);
    if (t->body.oom) {
        t->too_large = true;
        return 0;
    }
    return n;
}

static void copy_header_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= cap)
        n = 0; /* an absurd header is ignored rather than truncated */
    memcpy(dst, v, n);
    dst[n] = 0;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct transfer *t = ud;
    size_t n = size * nmemb;
    t->c->bytes_received += n;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        /* A new response (e.g. after 100 Continue): forget earlier headers. */
        t->etag[0] = t->content_type[0] = 0;
    } else if (n > 5 && strncasecmp(ptr, "etag:", 5) == 0) {
        copy_header_value(t->etag, sizeof(t->etag), ptr + 5, n - 5);
    } else if (n > 13 && strncasecmp(ptr, "content-type:", 13) == 0) {
        copy_header_value(t->content_type, sizeof(t->content_type), ptr + 13, n - 13);
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct http_client *c = ud;
    return c->stop && atomic_load(c->stop) ? 1 : 0;
}

/* Error text from a server body: bounded and free of control bytes. */
static void clean_text(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && o + 1 < cap; p++)
        dst[o++] = (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
    dst[o] = 0;
    if (o + 1 >= cap && cap > 4)
        memcpy(dst + cap - 4, "...", 4);
}

static void classify_status(const char *method, const char *path, struct http_response *r,
                            struct error *err)
{
    struct arena *a = arena_new();
    const char *code = "", *detail = "";
    if (a && r->body)
        wire_decode_error(r->body, r->len, a, &code, &detail);
    char ccode[96], cdetail[DETAIL_MAX];
    clean_text(ccode, sizeof(ccode), code ? code : "");
    clean_text(cdetail, sizeof(cdetail), detail ? detail : "");
    int cls = r->status == 401 ? EXIT_AUTH : EXIT_API;
    const char *sep1 = ccode[0] ? " " : "";
    const char *sep2 = cdetail[0] ? ": " : "";
    if (r->status == 401 && !cdetail[0])
        error_set(err, cls, "%s %s: HTTP 401%s%s: the catalyst-api refused the credentials",
                  method, path, sep1, ccode);
    else
        error_set(err, cls, "%s %s: HTTP %ld%s%s%s%s", method, path, r->status, sep1, ccode,
                  sep2, cdetail);
    arena_free(a);
}

static struct curl_slist *build_headers(struct http_client *c, bool post, const char *etag,
                                        bool stream)
{
    struct curl_slist *h = NULL, *n;
#define ADD(s)                                                                                 \
    do {                                                                                       \
        n = curl_slist_append(h, s);                                                           \
        if (!n)                                                                                \
            goto fail;                                                                         \
        h = n;                                                                                 \
    } while (0)
    ADD(stream ? "Accept: text/event-stream" : "Accept: application/json");
    if (c->auth_header)
        ADD(c->auth_header);
    if (post)
        ADD("Content-Type: application/json");
    if (etag) {
        char buf[300];
        snprintf(buf, sizeof(buf), "If-None-Match: %s", etag);
        ADD(buf);
    }
    ADD("Expect:");
    return h;
#undef ADD
fail:
    curl_slist_free_all(h);
    return NULL;
}

static int perform(struct http_client *c, const char *method, const char *path,
                   const char *body, bool stream, long idle_s, struct transfer *t,
                   struct http_response *r, struct error *err)
{
    http_response_init(r);
    if (!path || path[0] != '/') {
        error_set(err, EXIT_API, "%s: the path must start with '/'", method);
        r->body = calloc(1, 1);
        return -1;
    }
    bool post = strcmp(method, "POST") == 0;
    struct cache_entry *ce = (!post && !stream) ? cache_find(c, path) : NULL;
    struct strbuf url;
    sb_init(&url);
    sb_puts(&url, c->base);
    sb_puts(&url, path);
    struct curl_slist *hdrs = build_headers(c, post, ce ? ce->etag : NULL, stream);
    if (url.oom || !hdrs) {
        sb_fini(&url);
        curl_slist_free_all(hdrs);
        error_set(err, EXIT_API, "%s %s: out of memory", method, path);
        r->body = calloc(1, 1);
        return -1;
    }
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_URL, url.buf);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (post) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    if (stream) {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, idle_s > 0 ? idle_s : 60L);
    } else {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 0L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 0L);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
    c->errbuf[0] = 0;

    CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    sb_fini(&url);

    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    snprintf(r->content_type, sizeof(r->content_type), "%s", t->content_type);
    r->len = t->body.len;
    r->body = sb_take(&t->body);

    if (rc == CURLE_WRITE_ERROR && t->user_ended) {
        r->status = status;
        return 0;
    }
    if (rc == CURLE_WRITE_ERROR && t->too_large) {
        r->status = status;
        error_set(err, EXIT_API, "%s %s: the response body exceeds %zu MB", method, path,
                  c->max_body >> 20);
        return -1;
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        error_set(err, EXIT_API, "%s %s: stopped", method, path);
        return -1;
    }
    if (rc != CURLE_OK) {
        char detail[CURL_ERROR_SIZE];
        clean_text(detail, sizeof(detail), c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        /* A response that began but broke off is still a transport failure. */
        if (c->unix_socket && rc == CURLE_COULDNT_CONNECT)
            /* curl would name "localhost port 80", which is not where we went. */
            error_set(err, EXIT_API, "could not reach the catalyst-api: nothing answers on %s",
                      c->unix_socket);
        else
            error_set(err, EXIT_API, "could not reach the catalyst-api: %s", detail);
        r->status = 0;
        return -1;
    }
    r->status = status;
    if (status == 304 && ce) {
        free(r->body);
        r->body = malloc(ce->len + 1);
        if (!r->body) {
            r->body = calloc(1, 1);
            r->len = 0;
            error_set(err, EXIT_API, "%s %s: out of memory", method, path);
            return -1;
        }
        memcpy(r->body, ce->body, ce->len + 1);
        r->len = ce->len;
        r->not_modified = true;
        return 0;
    }
    if (status >= 200 && status < 300) {
        if (!post && !stream && t->etag[0])
            cache_store(c, path, t->etag, r->body, r->len);
        return 0;
    }
    classify_status(method, path, r, err);
    return -1;
}

int http_request(struct http_client *c, const char *method, const char *path,
                 const char *body, struct http_response *r, struct error *err)
{
    struct transfer t;
    memset(&t, 0, sizeof(t));
    t.c = c;
    sb_init(&t.body);
    int rc = perform(c, method, path, body, false, 0, &t, r, err);
    sb_fini(&t.body);
    return rc;
}

int http_stream(struct http_client *c, const char *path, long idle_s,
                int (*on_data)(void *ctx, const char *buf, size_t n), void *ctx,
                struct http_response *r, struct error *err)
{
    struct transfer t;
    memset(&t, 0, sizeof(t));
    t.c = c;
    t.on_data = on_data;
    t.ctx = ctx;
    sb_init(&t.body);
    int rc = perform(c, "GET", path, NULL, true, idle_s, &t, r, err);
    sb_fini(&t.body);
    return rc;
}

int http_read_secret(const char *path, char **out, struct error *err)
{
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    struct error rerr;
    error_clear(&rerr);
    /* Followed if a symlink (agents mount secrets so); a FIFO or device is refused. */
    if (util_read_regular(path, 0, 65536, &buf, &len, &rerr) < 0) {
        error_set(err, EXIT_USAGE, "%s: cannot read the secret file: %s", path,
                  errno == EFBIG ? "larger than 64 KB" : rerr.msg);
        return -1;
    }
    size_t b = 0, e = len;
    while (b < e && (buf[b] == ' ' || buf[b] == '\t' || buf[b] == '\r' || buf[b] == '\n'))
        b++;
    while (e > b && (buf[e - 1] == ' ' || buf[e - 1] == '\t' || buf[e - 1] == '\r' ||
                     buf[e - 1] == '\n'))
        e--;
    const char *problem = NULL;
    if (e == b)
        problem = "the file is empty";
    for (size_t i = b; i < e && !problem; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            problem = "the secret contains a line break or control character";
    if (problem) {
        memset(buf, 0, len);
        free(buf);
        error_set(err, EXIT_USAGE, "%s: %s", path, problem);
        return -1;
    }
    memmove(buf, buf + b, e - b);
    memset(buf + (e - b), 0, len - (e - b));
    *out = buf;
    return 0;
}

void http_path_escape(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
            sb_putc(sb, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sb_append(sb, e, 3);
        }
    }
}
