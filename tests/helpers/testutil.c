/* testutil: setup shared by the engine, store and cutover tests (see testutil.h). */
#include "testutil.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct spec *tu_load(const char *yaml)
{
    struct error err;
    error_clear(&err);
    struct spec *sp = spec_load_buffer(yaml, strlen(yaml), "test.yaml", &err);
    cr_assert_not_null(sp, "spec: %s", err.msg);
    return sp;
}

void tu_tmpdir(const char *tag, char *out, size_t n)
{
    char t[256];
    snprintf(t, sizeof(t), "/tmp/catalyst-%s-......", tag);
    memset(t + strlen(t) - 6, 'X', 6); /* mkdtemp template */
    cr_assert_not_null(mkdtemp(t));
    snprintf(out, n, "%s", t);
}

void tu_rm_rf(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'.old-*", path, path);
    int rc = system(cmd);
    (void)rc;
}

bool tu_wait_for(struct engine *e, bool (*pred)(const struct engine_progress *),
                 struct engine_progress *last)
{
    uint64_t g = 0;
    struct engine_progress p;
    int64_t until = mono_ms() + 30000;
    bool ok;
    for (;;) {
        engine_progress(e, &p);
        ok = pred(&p);
        if (ok || mono_ms() > until)
            break;
        g = engine_wait(e, g, 100);
    }
    if (last)
        *last = p;
    return ok;
}

bool tu_jobs_done(const struct engine_progress *p) { return p->jobs_done; }

bool tu_settled(const struct engine_progress *p)
{
    return p->jobs_done && (p->cutover_complete || p->cutover_failed);
}

struct snapshot *tu_snap(struct engine *e, const char *watch)
{
    struct snapshot *s = snapshot_new();
    cr_assert_not_null(s);
    cr_assert_eq(engine_fill_snapshot(e, s, watch), 0);
    cr_assert_eq(snapshot_finalize(s), 0);
    return s;
}
