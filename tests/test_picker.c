/* The deployment picker: what it lists and that a choice goes through the action path. */
#include <criterion/criterion.h>

#include "arena.h"
#include "canvas.h"
#include "view.h"

#include <string.h>

static struct snapshot *two_deployments(void)
{
    struct snapshot *s = snapshot_new();
    struct arena *a = snapshot_arena(s);
    s->n_deployments = 2;
    s->deployments = arena_calloc(a, 2, sizeof(struct deployment));
    const char *ids[2] = {"3f9a1c7e52b04d8a", "aa00bb11cc22dd33"};
    const char *fqdns[2] = {"omantel.omani.works", "acme.example.org\x1b]0;pwned\x07"};
    for (int i = 0; i < 2; i++) {
        struct deployment *d = &s->deployments[i];
        d->id = ids[i];
        d->sovereign_fqdn = fqdns[i];
        d->status = i ? "phase1-watching" : "ready";
        d->region = "fsn1";
        d->started_at = INT64_C(1778572800000);
    }
    cr_assert_eq(snapshot_finalize(s), 0);
    return s;
}

static bool screen_has(const struct canvas *c, const char *needle)
{
    char row[1024];
    for (int y = 0; y < c->h; y++) {
        canvas_row_text(c, y, row, sizeof(row));
        if (strstr(row, needle))
            return true;
    }
    return false;
}

Test(picker, lists_every_deployment_sanitized)
{
    const struct view_ops *ops = view_by_name("deployments");
    cr_assert_not_null(ops);
    struct snapshot *s = two_deployments();
    struct canvas *c = canvas_new(120, 20, false);
    void *st = ops->open(NULL);
    struct view_ctx ctx = {.now_ms = INT64_C(1778572800000) + 60000, .ui = NULL};
    ops->model(st, s, &ctx, c);
    cr_assert(screen_has(c, "2 deployments"));
    cr_assert(screen_has(c, "omantel.omani.works"));
    cr_assert(screen_has(c, "aa00bb11cc22dd33"));
    cr_assert(screen_has(c, "phase1-watching"));
    /* The OSC title in the FQDN is shown as a placeholder, never passed on. */
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++)
            cr_assert_neq(canvas_at(c, y, x)->ch, 0x1b);
    cr_assert_not(screen_has(c, "]0;pwned\x07"));
    /* Moving down selects the second row (no UI: nothing is sent). */
    cr_assert_eq(ops->key(st, s, &ctx, 'j'), KEY_HANDLED);
    cr_assert_eq(ops->key(st, s, &ctx, '\r'), KEY_UNHANDLED);
    ops->close(st);
    canvas_free(c);
    snapshot_release(s);
}

Test(picker, empty_list_and_tiny_canvas)
{
    const struct view_ops *ops = view_by_name("deployments");
    struct snapshot *s = snapshot_new();
    cr_assert_eq(snapshot_finalize(s), 0);
    struct view_ctx ctx = {.now_ms = 0};
    void *st = ops->open(NULL);
    for (int w = 1; w < 40; w += 7)
        for (int h = 1; h < 10; h += 2) {
            struct canvas *c = canvas_new(w, h, true);
            ops->model(st, s, &ctx, c);
            canvas_free(c);
        }
    struct canvas *c = canvas_new(80, 10, false);
    ops->model(st, s, &ctx, c);
    cr_assert(screen_has(c, "no deployments to choose from"));
    canvas_free(c);
    ops->close(st);
    snapshot_release(s);
}
