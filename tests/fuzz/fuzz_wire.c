/*
 * fuzz_wire: every JSON decoder of core/wire.c. The first input byte picks
 * the frame type (a letter from the table below; any other byte is taken
 * modulo the table size), the rest is the frame. Frames that decode are
 * encoded again where an encoder exists, and our own encoding must decode:
 * what `serve` sends, the console has to read.
 */
#include "arena.h"
#include "fuzz.h"
#include "wire.h"

enum frame {
    F_JOBS, F_DETAIL, F_LOG, F_CUTOVER, F_CONFIGMAP, F_DEPLOYMENT, F_DEPLOYMENTS,
    F_SELF, F_SOVSTATUS, F_ORGS, F_APPS, F_EVENT, F_RETRY, F_ERROR, F_COUNT
};

/* Seed files start with these letters (tests/fuzz/corpus/wire/). */
static const char selectors[F_COUNT + 1] = "jdlcmDLwsoaerx";

static void roundtrip_jobs(const struct job *jobs, size_t n)
{
    struct strbuf sb;
    sb_init(&sb);
    wire_encode_jobs(&sb, jobs, n);
    struct arena *a = arena_new();
    struct job *back = NULL;
    size_t nb = 0;
    struct error err;
    error_clear(&err);
    FUZZ_CHECK(a && !sb.oom);
    FUZZ_CHECK(wire_decode_jobs(sb.buf, sb.len, a, &back, &nb, &err) == 0);
    FUZZ_CHECK(nb == n);
    arena_free(a);
    sb_fini(&sb);
}

static void decode(enum frame f, const char *p, size_t n, struct arena *a)
{
    struct error err;
    error_clear(&err);
    struct strbuf sb;
    sb_init(&sb);
    int rc = 0;
    switch (f) {
    case F_JOBS: {
        struct job *jobs = NULL;
        size_t nj = 0;
        rc = wire_decode_jobs(p, n, a, &jobs, &nj, &err);
        if (rc == 0)
            roundtrip_jobs(jobs, nj);
        break;
    }
    case F_DETAIL: {
        struct job job;
        struct execution *x = NULL;
        size_t nx = 0;
        rc = wire_decode_job_detail(p, n, a, &job, &x, &nx, &err);
        if (rc == 0) {
            const struct execution **ptrs = arena_calloc(a, nx ? nx : 1, sizeof(*ptrs));
            FUZZ_CHECK(ptrs);
            for (size_t i = 0; i < nx; i++)
                ptrs[i] = &x[i];
            wire_encode_job_detail(&sb, &job, ptrs, nx);
            struct job j2;
            struct execution *x2 = NULL;
            size_t n2 = 0;
            FUZZ_CHECK(wire_decode_job_detail(sb.buf, sb.len, a, &j2, &x2, &n2, &err) == 0);
            FUZZ_CHECK(n2 == nx);
        }
        break;
    }
    case F_LOG: {
        struct log_page lp;
        rc = wire_decode_log_page(p, n, a, &lp, &err);
        if (rc == 0) {
            wire_encode_log_page(&sb, &lp);
            struct log_page back;
            FUZZ_CHECK(wire_decode_log_page(sb.buf, sb.len, a, &back, &err) == 0);
            FUZZ_CHECK(back.n_lines == lp.n_lines);
        }
        break;
    }
    case F_CUTOVER: {
        struct cutover_status cs;
        rc = wire_decode_cutover_status(p, n, a, &cs, &err);
        if (rc == 0) {
            wire_encode_cutover_status(&sb, &cs);
            struct cutover_status back;
            FUZZ_CHECK(wire_decode_cutover_status(sb.buf, sb.len, a, &back, &err) == 0);
        }
        break;
    }
    case F_CONFIGMAP: {
        struct cutover_status cs;
        rc = wire_decode_cutover_configmap(p, n, a, &cs, &err);
        break;
    }
    case F_DEPLOYMENT: {
        struct deployment d;
        rc = wire_decode_deployment(p, n, a, &d, &err);
        if (rc == 0) {
            wire_encode_deployment(&sb, &d);
            struct deployment back;
            FUZZ_CHECK(wire_decode_deployment(sb.buf, sb.len, a, &back, &err) == 0);
        }
        break;
    }
    case F_DEPLOYMENTS: {
        struct deployment *d = NULL;
        size_t nd = 0;
        rc = wire_decode_deployments(p, n, a, &d, &nd, &err);
        break;
    }
    case F_SELF: {
        const char *id = NULL, *fqdn = NULL;
        rc = wire_decode_sovereign_self(p, n, a, &id, &fqdn, &err);
        if (rc == 0)
            FUZZ_CHECK(id && fqdn);
        break;
    }
    case F_SOVSTATUS: {
        struct sovereign_status st;
        rc = wire_decode_sovereign_status(p, n, &st, &err);
        break;
    }
    case F_ORGS: {
        struct organization *o = NULL;
        struct blueprint *b = NULL;
        size_t no = 0, nb = 0;
        rc = wire_decode_organizations(p, n, a, &o, &no, &b, &nb, &err);
        if (rc == 0) {
            wire_encode_organizations(&sb, o, no, b, nb);
            struct organization *o2 = NULL;
            struct blueprint *b2 = NULL;
            size_t no2 = 0, nb2 = 0;
            FUZZ_CHECK(wire_decode_organizations(sb.buf, sb.len, a, &o2, &no2, &b2, &nb2,
                                                 &err) == 0);
            FUZZ_CHECK(no2 == no && nb2 == nb);
        }
        break;
    }
    case F_APPS: {
        struct organization *o = NULL;
        size_t no = 0;
        rc = wire_decode_applications(p, n, a, &o, &no, &err);
        break;
    }
    case F_EVENT: {
        struct wire_event ev;
        rc = wire_decode_event(p, n, a, &ev, &err);
        if (rc == 0) {
            FUZZ_CHECK(ev.phase && ev.message && ev.component && ev.state && ev.step);
            /* A cutover-status frame carries the ConfigMap as its message. */
            struct cutover_status cs;
            (void)wire_decode_cutover_configmap(ev.message, strlen(ev.message), a, &cs, &err);
        }
        break;
    }
    case F_RETRY: {
        const char *xid = NULL, *action = NULL;
        rc = wire_decode_retry(p, n, a, &xid, &action, &err);
        break;
    }
    case F_ERROR: {
        const char *code = NULL, *detail = NULL;
        wire_decode_error(p, n, a, &code, &detail);
        FUZZ_CHECK(code && detail);
        break;
    }
    case F_COUNT:
        break;
    }
    if (rc != 0)
        FUZZ_CHECK(err.msg[0] != 0);
    sb_fini(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *sel = memchr(selectors, data[0], F_COUNT);
    enum frame f = sel ? (enum frame)(sel - selectors) : (enum frame)(data[0] % F_COUNT);
    char *buf = fuzz_copy(data + 1, size - 1);
    struct arena *a = arena_new();
    if (buf && a)
        decode(f, buf, size - 1, a);
    arena_free(a);
    free(buf);
    return 0;
}
