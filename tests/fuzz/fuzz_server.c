/*
 * libFuzzer harness for `serve`'s request handling: each input is one HTTP
 * request handed to server_handle (server.h), which runs the same head
 * checks (size, framing, Host, browser checks, token, method, read-only) and
 * handlers as the libmicrohttpd access handler, without a socket per input.
 *
 * Input format (text; bytes after a NUL in a line are ignored):
 *
 *   METHOD SP URL LF            first line; URL may carry ?query (percent-encoded)
 *   Name: value LF              zero or more header lines (CR before LF is dropped;
 *                               a line without ':' is skipped), at most 64
 *   LF                          a blank line ends the headers
 *   body...                     the rest, as the request body
 *
 * The server runs once per process over an in-memory engine (simulated jobs,
 * fast clock), so mutations retry jobs and start the cutover for real; it
 * listens on an ephemeral loopback port that no input uses. Checked: no
 * crash or sanitizer report, and every answer has a valid status and a body
 * of the length reported.
 */
#include "engine.h"
#include "server.h"
#include "source_local.h"
#include "spec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FUZZ_HEADERS 64

static const char fuzz_spec[] =
    "sovereign: {name: fuzzsov, fqdn: fuzz.example.org, provider: hetzner, regions: [fsn1],\n"
    "            deploymentId: 0123456789abcdef}\n"
    "blueprints:\n"
    "  - {name: valkey, version: 7.2.5, depends: []}\n"
    "organizations:\n"
    "  - name: acme\n"
    "    environments:\n"
    "      - type: prod\n"
    "        applications: [{name: cache, blueprint: valkey}]\n"
    "groups:\n"
    "  - name: provisioner\n"
    "    jobs:\n"
    "      - {name: tofu-init, simulate: {duration: 1s, logs: [\"init\"]}}\n"
    "      - {name: install-flux, app: flux, dependsOn: [tofu-init],\n"
    "         simulate: {duration: 1s, failFirst: 1}}\n"
    "cutover:\n"
    "  steps:\n"
    "    - {name: gitea-mirror, simulate: {duration: 1s}}\n";

static struct server *srv;

static void fuzz_init(void)
{
    struct error err;
    error_clear(&err);
    struct spec *sp = spec_load_buffer(fuzz_spec, strlen(fuzz_spec), "fuzz.yaml", &err);
    struct engine_config cfg = {.workers = 2, .speed = 1000, .mode = "serve"};
    struct engine *e = sp ? engine_new(sp, &cfg, &err) : NULL;
    if (!e || engine_start(e, &err) < 0) {
        fprintf(stderr, "fuzz_server: engine: %s\n", err.msg);
        abort();
    }
    struct source *src = source_local_new(e, NULL, NULL, &err);
    struct server_options o = {.listen = "127.0.0.1:0", .max_body = 4096};
    srv = src ? server_start(src, e, &o, &err) : NULL;
    if (!srv) {
        fprintf(stderr, "fuzz_server: server: %s\n", err.msg);
        abort();
    }
    /* Answers other than the probes are 503 until the first snapshot. */
    for (int i = 0; i < 500; i++) {
        struct snapshot *s = source_snapshot(src);
        if (s) {
            snapshot_release(s);
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The next line of [*p, end) as a NUL-terminated string in place; NULL at the end. */
static char *next_line(char **p, char *end)
{
    if (*p >= end)
        return NULL;
    char *line = *p;
    char *nl = memchr(line, '\n', (size_t)(end - line));
    char *stop = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    if (stop > line && stop[-1] == '\r')
        stop--;
    *stop = '\0';
    return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv)
        fuzz_init();
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *p = buf, *end = buf + size;
    char *first = next_line(&p, end);
    char *sp = first ? strchr(first, ' ') : NULL;
    if (!sp) {
        free(buf);
        return 0;
    }
    *sp = '\0';
    const char *method = first, *url = sp + 1;
    struct server_header h[FUZZ_HEADERS];
    size_t n = 0;
    char *line;
    while ((line = next_line(&p, end)) && *line) {
        char *colon = strchr(line, ':');
        if (!colon || n == FUZZ_HEADERS)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        h[n].name = line;
        h[n++].value = v;
    }
    char *body = NULL;
    size_t len = 0;
    int status = server_handle(srv, method, url, h, n, p, (size_t)(end - p), &body, &len);
    if (status != 0 && (status < 100 || status > 599))
        abort();
    if (body && strlen(body) > len)
        abort();
    if (status == 0 && body)
        abort();
    free(body);
    free(buf);
    return 0;
}
