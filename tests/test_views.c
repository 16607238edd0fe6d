/* View models rendered from fixed snapshots into canvases, without a terminal. */
#include "helpers/fixture.h"

#include "canvas.h"
#include "view.h"
#include "viewutil.h"
#include "wire.h"

#include <criterion/criterion.h>
#include <curses.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

static void setup(void) { setlocale(LC_ALL, "C.UTF-8"); }

TestSuite(views, .init = setup);

struct rig {
    const struct view_ops *v;
    void *st;
    struct canvas *c;
    struct view_ctx ctx;
};

static struct rig rig_open(const char *name, const char *arg, int w, int h, bool ascii)
{
    struct rig r = {0};
    r.v = view_by_name(name);
    cr_assert_not_null(r.v, "view %s", name);
    r.st = r.v->open(arg);
    cr_assert_not_null(r.st);
    r.c = canvas_new(w, h, ascii);
    cr_assert_not_null(r.c);
    r.ctx.now_ms = FIXTURE_NOW;
    r.ctx.ascii = ascii;
    return r;
}

static void rig_draw(struct rig *r, const struct snapshot *s)
{
    canvas_clear(r->c);
    r->v->model(r->st, s, &r->ctx, r->c);
}

static void rig_key(struct rig *r, const struct snapshot *s, int ch)
{
    r->v->key(r->st, s, &r->ctx, ch);
}

static void rig_close(struct rig *r)
{
    r->v->close(r->st);
    canvas_free(r->c);
}

static const char *row(const struct canvas *c, int y)
{
    static char buf[8192];
    canvas_row_text(c, y, buf, sizeof(buf));
    return buf;
}

static int find_row(const struct canvas *c, const char *needle)
{
    for (int y = 0; y < c->h; y++)
        if (strstr(row(c, y), needle))
            return y;
    return -1;
}

static bool has(const struct canvas *c, const char *needle) { return find_row(c, needle) >= 0; }

static int count_rows(const struct canvas *c, const char *needle)
{
    int n = 0;
    for (int y = 0; y < c->h; y++)
        n += strstr(row(c, y), needle) != NULL;
    return n;
}

static bool has_cell(const struct canvas *c, uint32_t ch)
{
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++)
            if (canvas_at(c, y, x)->ch == ch)
                return true;
    return false;
}

static bool has_role(const struct canvas *c, enum role r)
{
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++)
            if (canvas_at(c, y, x)->role == r && canvas_at(c, y, x)->ch != ' ')
                return true;
    return false;
}

/* The row drawn with the selection (reverse video from column 0). */
static int selected_row(const struct canvas *c)
{
    for (int y = 0; y < c->h; y++)
        if (canvas_at(c, y, 0)->attr & ATTR_REVERSE)
            return y;
    return -1;
}

static const char *const all_views[] = {"dashboard", "jobs", "dag", "timeline",
                                        "tree",      "cutover", "job"};

Test(views, registry_numbers_and_names)
{
    static const char *const want[] = {"dashboard", "jobs", "dag", "timeline", "tree",
                                       "cutover"};
    for (int n = 1; n <= 6; n++) {
        const struct view_ops *v = view_by_number(n);
        cr_assert_not_null(v);
        cr_assert_str_eq(v->name, want[n - 1]);
        cr_assert_eq(view_by_name(want[n - 1]), v);
        cr_assert_not_null(v->help);
        cr_assert_not_null(v->help()[0].key);
    }
    cr_assert_null(view_by_number(0));
    cr_assert_null(view_by_number(7));
    cr_assert_not_null(view_by_name("job"));
    cr_assert_not_null(view_by_name("deployments"));
    cr_assert_null(view_by_name("nope"));
    cr_assert_eq(view_count(), 8); /* six numbered, job detail, deployments picker */
}

Test(views, dashboard_demo_120x40_and_80x24)
{
    struct snapshot *s = fixture_demo();
    int sizes[2][2] = {{120, 40}, {80, 24}};
    for (int k = 0; k < 2; k++) {
        struct rig r = rig_open("dashboard", NULL, sizes[k][0], sizes[k][1], false);
        rig_draw(&r, s);
        const char *strip = row(r.c, 0);
        cr_assert(strstr(strip, "Provisioner") && strstr(strip, "Bootstrap") &&
                      strstr(strip, "Apps") && strstr(strip, "Handover") &&
                      strstr(strip, "Cutover"),
                  "strip: %s", strip);
        cr_assert(strstr(strip, "\xE2\x9C\x97 Apps"), "failed Apps glyph: %s", strip);
        cr_assert(has(r.c, "5/5"));
        cr_assert(has(r.c, "12/12"));
        cr_assert(has(r.c, "1 blocked"));
        cr_assert(has(r.c, "TETHERED"));
        cr_assert(has(r.c, "cutover step 7 of 11"));
        cr_assert(has(r.c, "hold 09:12 left"));
        cr_assert(has(r.c, "install-globex-prod-postgres failed"));
        cr_assert(has(r.c, "install-globex-prod-erp blocked by install-globex-prod-postgres"));
        cr_assert(has(r.c, "waiting for valkey-0"), "newest activity line shown");
        cr_assert(has(r.c, "ETA"));
        cr_assert(has(r.c, "HelmReleases 52/54 ready"));
        rig_close(&r);
    }
    snapshot_release(s);
}

Test(views, dashboard_sovereign_card)
{
    struct snapshot *s = fixture_sovereign();
    struct rig r = rig_open("dashboard", NULL, 120, 40, false);
    rig_draw(&r, s);
    cr_assert(has(r.c, "SOVEREIGN"));
    cr_assert(!has(r.c, "TETHERED"));
    cr_assert(has(r.c, "mirrored commit 4e1f0c9a2b7d"));
    cr_assert(!has(r.c, "4e1f0c9a2b7d8"), "only 12 characters of the SHA");
    cr_assert(has(r.c, "Harbor projects 7"));
    cr_assert(has(r.c, "egress passed"));
    rig_close(&r);
    snapshot_release(s);
}

/* Status word of table row y (after the glyph). */
static int rank_of_row(const struct canvas *c, int y)
{
    const char *t = row(c, y);
    if (strstr(t, " running "))
        return 0;
    if (strstr(t, " pending "))
        return 1;
    if (strstr(t, " succeeded "))
        return 2;
    if (strstr(t, " failed ") || strstr(t, " blocked "))
        return 3;
    return -1;
}

Test(views, jobs_default_order_and_words)
{
    struct snapshot *s = fixture_demo();
    struct rig r = rig_open("jobs", NULL, 120, 60, false);
    r.ctx.once = true;
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 0), "STATUS") && strstr(row(r.c, 0), "NAME"));
    cr_assert(strstr(row(r.c, 1), "running"), "first row is running: %s", row(r.c, 1));
    int prev = 0, rows = 0;
    for (int y = 1; y < r.c->h && rank_of_row(r.c, y) >= 0; y++, rows++) {
        int rk = rank_of_row(r.c, y);
        cr_assert_geq(rk, prev, "row %d out of order: %s", y, row(r.c, y));
        prev = rk;
    }
    cr_assert_eq(rows, s->counts.total, "every leaf listed once");
    int y = find_row(r.c, "install-globex-prod-postgres");
    cr_assert_geq(y, 0);
    cr_assert(strstr(row(r.c, y), "failed"));
    y = find_row(r.c, "install-globex-prod-erp");
    cr_assert(strstr(row(r.c, y), "blocked"), "blocked shown in words: %s", row(r.c, y));
    cr_assert_eq(selected_row(r.c), -1, "--once draws no selection");
    /* Among succeeded rows: newest start first. */
    int ya = find_row(r.c, "cutover-step-catalyst-api-env-patch");
    int yb = find_row(r.c, "cutover-step-gitea-mirror ");
    cr_assert_lt(ya, yb);
    rig_close(&r);
    snapshot_release(s);
}

Test(views, jobs_sort_by_name_and_invert)
{
    struct snapshot *s = fixture_demo();
    struct rig r = rig_open("jobs", NULL, 120, 60, false);
    rig_key(&r, s, 's'); /* NAME */
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 1), "cluster-bootstrap"), "first by name: %s", row(r.c, 1));
    cr_assert_lt(find_row(r.c, "install-acme-prod-cnpg"), find_row(r.c, "tofu-apply"));
    rig_key(&r, s, 'S');
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 1), "tofu-plan"), "inverted: %s", row(r.c, 1));
    cr_assert_gt(find_row(r.c, "install-acme-prod-cnpg"), find_row(r.c, "tofu-apply"));
    /* Cycle on to DURATION, longest first. */
    for (int k = 0; k < 5; k++)
        rig_key(&r, s, 's');
    rig_key(&r, s, 'i');
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 0), "DURATION"));
    cr_assert(strstr(row(r.c, 1), "6m 40s"), "longest first: %s", row(r.c, 1));
    cr_assert_lt(find_row(r.c, "tofu-apply"), find_row(r.c, "tofu-init "));
    rig_close(&r);
    snapshot_release(s);
}

Test(views, jobs_filter_and_inverse)
{
    struct snapshot *s = fixture_demo();
    struct rig r = rig_open("jobs", NULL, 120, 60, false);
    r.v->set_filter(r.st, "globex-prod-postgres");
    rig_draw(&r, s);
    /* The job itself and the one whose deps name it. */
    cr_assert(has(r.c, "install-globex-prod-postgres"));
    cr_assert(has(r.c, "install-globex-prod-erp"));
    cr_assert(!has(r.c, "tofu-init"));
    cr_assert(has(r.c, "2 of 43"));
    r.v->set_filter(r.st, "!install");
    rig_draw(&r, s);
    cr_assert(has(r.c, "tofu-init"));
    cr_assert(has(r.c, "cutover-step-gitea-mirror"));
    for (int y = 1; y < r.c->h - 1; y++)
        cr_assert(!strstr(row(r.c, y), "install-"), "inverse filter leaked: %s", row(r.c, y));
    r.v->set_filter(r.st, "");
    rig_key(&r, s, 'f');
    rig_draw(&r, s);
    cr_assert_eq(count_rows(r.c, "install-globex-prod"), 2);
    cr_assert(!has(r.c, "succeeded"));
    rig_key(&r, s, 'r');
    rig_draw(&r, s);
    cr_assert_eq(count_rows(r.c, "\xE2\x97\x90 running "), 2);
    cr_assert_eq(count_rows(r.c, "succeeded"), 0);
    rig_key(&r, s, 'a');
    rig_key(&r, s, 't');
    rig_draw(&r, s);
    cr_assert(has(r.c, "43 of 43"), "groups included: %s", row(r.c, r.c->h - 1));
    cr_assert(has(r.c, "Provision Hetzner"), "group shown by display name");
    rig_close(&r);
    snapshot_release(s);
}

Test(views, jobs_selection_follows_id_across_snapshots)
{
    struct snapshot *a = fixture_demo();
    struct snapshot *b = fixture_demo_restatused();
    struct rig r = rig_open("jobs", NULL, 120, 60, false);
    rig_draw(&r, a);
    for (int k = 0; k < 6; k++)
        rig_key(&r, a, 'j');
    rig_draw(&r, a);
    int y = selected_row(r.c);
    cr_assert_eq(y, 7);
    int yp = find_row(r.c, "install-globex-prod-postgres");
    /* Select the failed postgres job, wherever it is. */
    while (selected_row(r.c) < yp) {
        rig_key(&r, a, KEY_DOWN);
        rig_draw(&r, a);
    }
    cr_assert(strstr(row(r.c, selected_row(r.c)), "install-globex-prod-postgres"));
    rig_draw(&r, b); /* it succeeded now: it moved up among the succeeded rows */
    int ys = selected_row(r.c);
    cr_assert_neq(ys, yp, "the row moved");
    cr_assert(strstr(row(r.c, ys), "install-globex-prod-postgres"), "still selected: %s",
              row(r.c, ys));
    cr_assert(strstr(row(r.c, ys), "succeeded"));
    rig_close(&r);
    snapshot_release(a);
    snapshot_release(b);
}

Test(views, cutover_mid_run_with_hold)
{
    struct snapshot *s = fixture_demo();
    int sizes[2][2] = {{120, 40}, {80, 24}};
    for (int k = 0; k < 2; k++) {
        struct rig r = rig_open("cutover", NULL, sizes[k][0], sizes[k][1], false);
        rig_draw(&r, s);
        cr_assert(has(r.c, "TETHERED"));
        cr_assert(has(r.c, "Step 7 of 11 complete"));
        cr_assert(has(r.c, "63%"));
        cr_assert(has(r.c, "hold: 09:12 left"), "countdown for the pinned clock");
        cr_assert(has(r.c, wire_cutover_step_label("gitea-mirror")));
        cr_assert(has(r.c, "08:50:00 08:56:40"), "start and finish times");
        int y8 = find_row(r.c, wire_cutover_step_label("egress-block-test"));
        cr_assert_geq(y8, 0);
        cr_assert(has(r.c, "running"));
        cr_assert_eq(count_rows(r.c, "pending"), 3);
        if (k == 0) {
            cr_assert(has(r.c, "Mirrored commit  4e1f0c9a2b7d"));
            cr_assert(has(r.c, "Harbor projects  7"));
            cr_assert(has(r.c, "Settled-roll overrides"));
            cr_assert(has(r.c, "flux-system/bp-velero=DependencyNotReady"));
        }
        cr_assert(!has(r.c, "Press S"), "no start action while a run is in progress");
        rig_close(&r);
    }
    snapshot_release(s);
}

Test(views, cutover_failed_and_sovereign)
{
    struct snapshot *s = fixture_demo();
    s->cutover.steps[7].result = STEP_FAILED;
    s->cutover.steps[7].message = "egress reached github.com";
    s->cutover.steps[7].hold_until = 0;
    s->cutover.running = false;
    struct rig r = rig_open("cutover", NULL, 120, 40, false);
    rig_draw(&r, s);
    cr_assert(has(r.c, "halted on a failed step"));
    cr_assert(has(r.c, "fix and re-trigger"));
    cr_assert(has(r.c, "error: egress reached github.com"));
    cr_assert(has(r.c, "Press S or Enter"));
    cr_assert(has(r.c, "Achieve true sovereignty"));
    r.ctx.read_only = true;
    rig_draw(&r, s);
    cr_assert(!has(r.c, "Press S"));
    rig_close(&r);
    snapshot_release(s);

    s = fixture_sovereign();
    r = rig_open("cutover", NULL, 120, 40, false);
    rig_draw(&r, s);
    cr_assert(has(r.c, "SOVEREIGN"));
    cr_assert(has(r.c, "All 11 steps completed"));
    cr_assert(has(r.c, "100%"));
    cr_assert(has(r.c, "Sovereignty achieved"));
    cr_assert(has(r.c, "Egress test      passed"));
    cr_assert(!has(r.c, "Press S"));
    rig_close(&r);
    snapshot_release(s);
}

Test(views, tree_default_expand_collapse)
{
    struct snapshot *s = fixture_demo();
    struct rig r = rig_open("tree", NULL, 120, 40, false);
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 0), "omantel"));
    cr_assert(has(r.c, "acme-prod [prod]"));
    cr_assert(has(r.c, "initech-uat [uat]"));
    cr_assert(has(r.c, "shop  succeeded  wordpress@6.5.2"));
    cr_assert(has(r.c, "erp  failed  odoo@17.0"));
    cr_assert(!has(r.c, "mysql@8.4.0"), "dependencies start collapsed");
    rig_key(&r, s, 'e');
    rig_draw(&r, s);
    cr_assert(has(r.c, "mysql@8.4.0"));
    cr_assert(has(r.c, "cnpg@1.23.1"), "three deep");
    int ym = find_row(r.c, "mysql@8.4.0"), yc = find_row(r.c, "cnpg@1.23.1");
    cr_assert_gt(yc, ym);
    rig_key(&r, s, 'c');
    rig_draw(&r, s);
    cr_assert(has(r.c, "acme"));
    cr_assert(!has(r.c, "acme-prod"));
    /* Enter on the first org opens it again. */
    rig_key(&r, s, 'j');
    rig_key(&r, s, '\n');
    rig_draw(&r, s);
    cr_assert(has(r.c, "acme-prod"));
    cr_assert(!has(r.c, "globex-prod"));
    rig_close(&r);
    snapshot_release(s);
}

Test(views, tree_without_blueprints_and_unavailable)
{
    struct snapshot *s = fixture_demo();
    s->n_blueprints = 0;
    struct rig r = rig_open("tree", NULL, 120, 40, false);
    rig_key(&r, s, 'e');
    rig_draw(&r, s);
    cr_assert(has(r.c, "mysql"), "flattened application depends_on");
    s->orgs_available = false;
    rig_draw(&r, s);
    cr_assert(has(r.c, "not available on this server"));
    rig_close(&r);
    snapshot_release(s);
}

Test(views, dag_nodes_and_edges)
{
    struct snapshot *s = fixture_demo();
    struct rig r = rig_open("dag", NULL, 120, 40, false);
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 0), "scope all"));
    cr_assert(has(r.c, "tofu-init"));
    cr_assert(has(r.c, "tofu-plan"));
    cr_assert(has(r.c, "\xE2\x9C\x93 tofu-init"), "status glyph before the name");
    cr_assert(has_cell(r.c, 0x2500), "horizontal box-drawing edge");
    cr_assert(has_cell(r.c, 0x2192), "arrow into the target");
    rig_close(&r);

    r = rig_open("dag", "install-harbor", 160, 40, false);
    rig_draw(&r, s);
    cr_assert(has(r.c, "install-harbor succeeded"), "header: %s", row(r.c, 0));
    cr_assert(has(r.c, "install-seaweedfs"));
    cr_assert(has_cell(r.c, 0x2502) || has_cell(r.c, 0x250C) || has_cell(r.c, 0x2518),
              "vertical or corner pieces for fan-in");
    cr_assert(has_role(r.c, ROLE_UPSTREAM));
    cr_assert(has_role(r.c, ROLE_DOWNSTREAM));
    /* Left follows an edge upstream. */
    rig_key(&r, s, KEY_LEFT);
    rig_draw(&r, s);
    const char *h = row(r.c, 0);
    cr_assert(strstr(h, "install-cnpg") || strstr(h, "install-seaweedfs") ||
                  strstr(h, "install-cert-manager"),
              "focus moved to a dependency: %s", h);
    /* Scope to the apps group. */
    for (int k = 0; k < 8 && !strstr(row(r.c, 0), "scope apps"); k++) {
        rig_key(&r, s, 'g');
        rig_draw(&r, s);
    }
    cr_assert(strstr(row(r.c, 0), "scope apps"), "%s", row(r.c, 0));
    cr_assert(strstr(row(r.c, 0), "9 jobs"), "%s", row(r.c, 0));
    cr_assert(!has(r.c, "tofu-init"));
    rig_close(&r);
    snapshot_release(s);
}

Test(views, dag_critical_path_highlighted)
{
    struct snapshot *s = fixture_demo();
    struct rig r = rig_open("dag", NULL, 200, 50, false);
    r.ctx.once = true;
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 0), "critical path"));
    cr_assert(has_role(r.c, ROLE_CRITICAL));
    rig_close(&r);
    snapshot_release(s);
}

Test(views, timeline_bars_and_placeholder)
{
    struct snapshot *s = fixture_demo();
    struct rig r = rig_open("timeline", NULL, 120, 60, false);
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 0), "08:00:00"), "%s", row(r.c, 0));
    cr_assert(strstr(row(r.c, 0), "09:50:00"), "axis ends at now (running jobs)");
    int y = find_row(r.c, "tofu-apply");
    cr_assert_geq(y, 0);
    cr_assert(strstr(row(r.c, y), "\xE2\x96\x88"), "bar: %s", row(r.c, y));
    y = find_row(r.c, "install-initech-prod-cache");
    cr_assert(strstr(row(r.c, y), "\xE2\x96\x91"), "pending placeholder: %s", row(r.c, y));
    cr_assert(strstr(row(r.c, y), "pending"));
    /* Started rows come first, in start order. */
    cr_assert_lt(find_row(r.c, "tofu-init"), find_row(r.c, "tofu-plan"));
    cr_assert_lt(find_row(r.c, "install-initech-prod-valkey"),
                 find_row(r.c, "install-initech-prod-cache"));
    /* Zoom in: the tick gets smaller. */
    char before[256];
    snprintf(before, sizeof(before), "%.200s", row(r.c, 0));
    rig_key(&r, s, '+');
    rig_key(&r, s, '+');
    rig_key(&r, s, '+');
    rig_draw(&r, s);
    cr_assert_str_neq(before, row(r.c, 0));
    rig_close(&r);
    snapshot_release(s);
}

Test(views, timeline_nice_ticks)
{
    cr_assert_eq(vu_nice_tick(100, 10), 1000);
    cr_assert_eq(vu_nice_tick(1000, 10), 10000);
    cr_assert_eq(vu_nice_tick(2000, 10), 30000);
    cr_assert_eq(vu_nice_tick(5000, 10), 60000);
    cr_assert_eq(vu_nice_tick(10000, 10), 300000);
    cr_assert_eq(vu_nice_tick(60000, 10), 900000);
    cr_assert_eq(vu_nice_tick(120000, 10), 3600000);
    cr_assert_eq(vu_nice_tick(1000000, 10), 3 * 3600000);
    cr_assert_eq(vu_nice_tick(0, 0), 1000);
}

Test(views, job_detail_log_and_deps)
{
    struct snapshot *s = fixture_demo();
    struct rig r = rig_open("job", "install-globex-prod-postgres", 120, 40, false);
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 0), "install-globex-prod-postgres"));
    cr_assert(strstr(row(r.c, 0), "failed"));
    cr_assert(has(r.c, "app postgres"));
    cr_assert(has(r.c, "group apps"));
    cr_assert(has(r.c, "Upstream (1):"));
    cr_assert(has(r.c, "install-globex-prod-cnpg"));
    cr_assert(has(r.c, "Downstream (1):"));
    cr_assert(has(r.c, "Executions (2)"));
    cr_assert_lt(find_row(r.c, "08:28:20"), find_row(r.c, "08:25:06"), "newest first");
    cr_assert(has(r.c, "following"));
    cr_assert(has(r.c, "08:29:10.123 ERROR helm install failed"));
    cr_assert(has_role(r.c, ROLE_LOG_WARN));
    for (int y = 0; y < r.c->h; y++)
        for (int x = 0; x < r.c->w; x++) {
            uint32_t ch = canvas_at(r.c, y, x)->ch;
            cr_assert(ch >= 0x20 && ch != 0x7f, "control character reached the canvas");
        }
    /* Level filter: ERROR only. */
    rig_key(&r, s, 'L');
    rig_key(&r, s, 'L');
    rig_draw(&r, s);
    cr_assert(has(r.c, "2 of 12 lines"));
    cr_assert(!has(r.c, "DEBUG"));
    rig_key(&r, s, 'L');
    /* Search with n. */
    r.v->set_filter(r.st, "imagepull");
    rig_key(&r, s, 'n');
    rig_draw(&r, s);
    cr_assert(has(r.c, "2 hits"));
    cr_assert(has(r.c, "resume tail (F)"), "searching pauses the tail");
    rig_key(&r, s, 'F');
    rig_draw(&r, s);
    cr_assert(has(r.c, "following"));
    rig_key(&r, s, 'k');
    rig_draw(&r, s);
    cr_assert(has(r.c, "resume tail (F)"));
    /* The engine's own reason for failing an execution follows its line count. */
    cr_assert(!has(r.c, "cannot write the log"));
    cr_assert_gt(s->detail.n_executions, 0);
    s->detail.executions[0].error = "cannot write the log: No space left on device";
    rig_draw(&r, s);
    int y = find_row(r.c, "cannot write the log: No space left on device");
    cr_assert_geq(y, 0, "the execution's error is shown");
    cr_assert(strstr(row(r.c, y), "lines"), "on the execution's row: %s", row(r.c, y));
    s->detail.executions[0].error = NULL;
    rig_close(&r);
    snapshot_release(s);
}

Test(views, job_detail_blocked_and_loading)
{
    struct snapshot *s = fixture_demo();
    struct rig r = rig_open("job", "install-globex-prod-erp", 120, 40, false);
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 0), "blocked by install-globex-prod-postgres"), "%s",
              row(r.c, 0));
    cr_assert(has(r.c, "loading\xE2\x80\xA6"), "detail for another job not yet here");
    cr_assert(has(r.c, "No execution recorded yet"));
    rig_close(&r);
    r = rig_open("job", "install-acme-prod-shop", 120, 40, false);
    rig_draw(&r, s);
    cr_assert(has(r.c, "Upstream (2):"));
    cr_assert(has(r.c, "Executions (1)"), "falls back to the snapshot's executions");
    rig_close(&r);
    r = rig_open("job", "no-such-job", 80, 24, false);
    rig_draw(&r, s);
    cr_assert(has(r.c, "job no-such-job not found"));
    rig_close(&r);
    snapshot_release(s);
}

Test(views, ascii_mode_has_no_high_bytes)
{
    struct snapshot *demo = fixture_demo();
    struct snapshot *sov = fixture_sovereign();
    int sizes[2][2] = {{120, 40}, {80, 24}};
    for (size_t v = 0; v < sizeof(all_views) / sizeof(all_views[0]); v++)
        for (int k = 0; k < 2; k++)
            for (int which = 0; which < 2; which++) {
                const char *arg = strcmp(all_views[v], "job") == 0
                                      ? "install-globex-prod-postgres"
                                      : NULL;
                struct rig r = rig_open(all_views[v], arg, sizes[k][0], sizes[k][1], true);
                rig_key(&r, which ? sov : demo, 'e');
                rig_draw(&r, which ? sov : demo);
                bool any = false;
                for (int y = 0; y < r.c->h; y++) {
                    const char *t = row(r.c, y);
                    any |= *t != 0;
                    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
                        cr_assert_lt(*p, 0x80, "%s row %d: %s", all_views[v], y, t);
                    for (int x = 0; x < r.c->w; x++)
                        cr_assert_lt(canvas_at(r.c, y, x)->ch, 0x80u);
                }
                cr_assert(any, "%s drew something", all_views[v]);
                rig_close(&r);
            }
    snapshot_release(demo);
    snapshot_release(sov);
}

Test(views, tiny_canvases_never_crash)
{
    struct snapshot *s = fixture_demo();
    for (size_t v = 0; v < sizeof(all_views) / sizeof(all_views[0]); v++) {
        const char *arg =
            strcmp(all_views[v], "job") == 0 ? "install-globex-prod-postgres" : NULL;
        for (int w = 1; w <= 39; w += 2)
            for (int h = 1; h <= 9; h++) {
                struct rig r = rig_open(all_views[v], arg, w, h, (w + h) % 2);
                rig_draw(&r, s);
                rig_key(&r, s, KEY_DOWN);
                rig_key(&r, s, KEY_RIGHT);
                rig_draw(&r, s);
                rig_draw(&r, NULL);
                cr_assert_eq(r.c->w, w);
                rig_close(&r);
            }
    }
    snapshot_release(s);
}

Test(views, empty_snapshot)
{
    struct snapshot *s = snapshot_new();
    cr_assert_eq(snapshot_finalize(s), 0);
    for (size_t v = 0; v < sizeof(all_views) / sizeof(all_views[0]); v++) {
        struct rig r = rig_open(all_views[v], "x", 80, 24, false);
        rig_draw(&r, s);
        for (int ch = 0; ch < 128; ch++)
            rig_key(&r, s, ch);
        static const int codes[] = {KEY_UP,   KEY_DOWN,  KEY_LEFT, KEY_RIGHT, KEY_NPAGE,
                                    KEY_PPAGE, KEY_HOME, KEY_END,  KEY_ENTER, KEY_SF,
                                    KEY_SR,   KEY_SLEFT, KEY_SRIGHT};
        for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++)
            rig_key(&r, s, codes[k]);
        rig_draw(&r, s);
        rig_close(&r);
    }
    struct rig r = rig_open("jobs", NULL, 80, 24, false);
    rig_draw(&r, s);
    cr_assert(has(r.c, "No jobs yet"));
    rig_close(&r);
    snapshot_release(s);
}

Test(views, every_key_without_ui_on_the_demo)
{
    struct snapshot *s = fixture_demo();
    for (size_t v = 0; v < sizeof(all_views) / sizeof(all_views[0]); v++) {
        const char *arg =
            strcmp(all_views[v], "job") == 0 ? "install-globex-prod-postgres" : NULL;
        struct rig r = rig_open(all_views[v], arg, 100, 30, false);
        for (int ch = 1; ch < 128; ch++) {
            rig_key(&r, s, ch);
            rig_draw(&r, s);
        }
        static const int codes[] = {KEY_UP,   KEY_DOWN,  KEY_LEFT, KEY_RIGHT, KEY_NPAGE,
                                    KEY_PPAGE, KEY_HOME, KEY_END,  KEY_ENTER, KEY_SF,
                                    KEY_SR,   KEY_SLEFT, KEY_SRIGHT};
        for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
            rig_key(&r, s, codes[k]);
            rig_draw(&r, s);
        }
        bool any = false;
        for (int y = 0; y < r.c->h; y++)
            any |= *row(r.c, y) != 0;
        cr_assert(any, "%s still draws", all_views[v]);
        rig_close(&r);
    }
    snapshot_release(s);
}
