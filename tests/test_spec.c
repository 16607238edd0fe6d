/*
 * Tests for the spec loader: the embedded demo Sovereign, every validation
 * error class with its line:column, and hostile input.
 */
#include <criterion/criterion.h>

#include "spec.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct spec *load(const char *yaml, struct error *err)
{
    return spec_load_buffer(yaml, strlen(yaml), "t.yaml", err);
}

/* Loads yaml, which must fail at line:col with a message containing want. */
static void expect_error(const char *yaml, int line, int col, const char *want)
{
    struct error err;
    struct spec *s = load(yaml, &err);
    cr_assert_null(s, "expected an error containing \"%s\"", want);
    cr_assert_eq(err.code, EXIT_USAGE, "code %d for: %s", err.code, err.msg);
    cr_assert_str_eq(err.file, "t.yaml");
    cr_assert(strstr(err.msg, want), "message \"%s\" lacks \"%s\"", err.msg, want);
    cr_assert_eq(err.line, line, "line %d, want %d (%s)", err.line, line, err.msg);
    cr_assert_eq(err.column, col, "column %d, want %d (%s)", err.column, col, err.msg);
}

/* Loads data, which must fail with some message (hostile input). */
static void expect_refused(const char *data, size_t len)
{
    struct error err;
    struct spec *s = spec_load_buffer(data, len, "h.yaml", &err);
    cr_assert_null(s);
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert_gt(strlen(err.msg), 0);
}

static const struct spec_job *find_job(const struct spec *s, const char *name)
{
    for (size_t g = 0; g < s->n_groups; g++)
        for (size_t j = 0; j < s->groups[g].n_jobs; j++)
            if (strcmp(s->groups[g].jobs[j].name, name) == 0)
                return &s->groups[g].jobs[j];
    return NULL;
}

static const struct spec_group *find_group(const struct spec *s, const char *name)
{
    for (size_t g = 0; g < s->n_groups; g++)
        if (strcmp(s->groups[g].name, name) == 0)
            return &s->groups[g];
    return NULL;
}

static bool has_dep(const struct spec_job *j, const char *dep)
{
    for (size_t i = 0; i < j->n_depends_on; i++)
        if (strcmp(j->depends_on[i], dep) == 0)
            return true;
    return false;
}

static int blueprint_depth(const struct spec *s, const char *name, int guard)
{
    const struct spec_blueprint *b = spec_find_blueprint(s, name);
    cr_assert_not_null(b);
    cr_assert_lt(guard, 64);
    int best = 0;
    for (size_t i = 0; i < b->n_depends; i++) {
        int d = 1 + blueprint_depth(s, b->depends[i], guard + 1);
        if (d > best)
            best = d;
    }
    return best;
}

/* ---- the demo --------------------------------------------------------- */

Test(spec_demo, loads_with_identity)
{
    struct error err;
    struct spec *s = spec_load_demo(&err);
    cr_assert_not_null(s, "%s:%d:%d: %s", err.file, err.line, err.column, err.msg);
    cr_assert_str_eq(s->file, "<demo>");
    cr_assert_str_eq(s->name, "omantel");
    cr_assert_str_eq(s->fqdn, "omantel.omani.works");
    cr_assert_str_eq(s->provider, "hetzner");
    cr_assert_eq(s->n_regions, 1);
    cr_assert_str_eq(s->regions[0], "fsn1");
    cr_assert_str_eq(s->deployment_id, "3f9a1c7e52b04d8a");
    const char *order[] = {"provisioner", "bootstrap-kit", "apps", "handover"};
    cr_assert_eq(s->n_groups, 4);
    for (size_t g = 0; g < 4; g++)
        cr_assert_str_eq(s->groups[g].name, order[g]);
    cr_assert_str_eq(s->groups[0].display_name, "Provision Hetzner");
    cr_assert_str_eq(s->groups[2].display_name, "Apps");
    cr_assert_eq(s->groups[2].n_after, 1);
    cr_assert_str_eq(s->groups[2].after[0], "bootstrap-kit");
    spec_free(s);
}

Test(spec_demo, provisioner_chain)
{
    struct spec *s = spec_load_demo(NULL);
    cr_assert_not_null(s);
    const struct spec_group *g = find_group(s, "provisioner");
    cr_assert_not_null(g);
    const char *names[] = {"tofu-init", "tofu-plan", "tofu-apply", "tofu-output",
                           "cluster-bootstrap"};
    const char *labels[] = {"Terraform Init", "Terraform Plan", "Terraform Apply",
                            "Terraform Output", "Bootstrap Cluster"};
    cr_assert_eq(g->n_jobs, 5);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_str_eq(g->jobs[i].name, names[i]);
        cr_assert_str_eq(g->jobs[i].display_name, labels[i]);
        cr_assert_str_eq(g->jobs[i].group, "provisioner");
        cr_assert(g->jobs[i].simulated);
        cr_assert_eq(g->jobs[i].n_depends_on, i ? 1u : 0u);
        if (i)
            cr_assert_str_eq(g->jobs[i].depends_on[0], names[i - 1]);
    }
    spec_free(s);
}

Test(spec_demo, bootstrap_kit_has_wire_edges)
{
    struct spec *s = spec_load_demo(NULL);
    cr_assert_not_null(s);
    const struct spec_group *g = find_group(s, "bootstrap-kit");
    cr_assert_not_null(g);
    cr_assert_eq(g->n_jobs, 35);
    cr_assert_eq(g->n_after, 1);
    cr_assert_str_eq(g->after[0], "provisioner");
    size_t edges = 0, roots = 0;
    for (size_t i = 0; i < g->n_jobs; i++) {
        edges += g->jobs[i].n_depends_on;
        roots += g->jobs[i].n_depends_on == 0;
        cr_assert_eq(strncmp(g->jobs[i].name, "install-", 8), 0);
        cr_assert_str_eq(g->jobs[i].app, g->jobs[i].name + 8);
    }
    cr_assert_eq(edges, 44);
    cr_assert_eq(roots, 3);
    const struct spec_job *j = find_job(s, "install-cert-manager");
    cr_assert(j && j->n_depends_on == 1 && has_dep(j, "install-cilium"));
    j = find_job(s, "install-grafana");
    cr_assert(j && j->n_depends_on == 5);
    const char *grafana[] = {"install-cnpg", "install-loki", "install-mimir", "install-tempo",
                             "install-keycloak"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(j->depends_on[i], grafana[i]);
    j = find_job(s, "install-harbor");
    cr_assert(j && j->n_depends_on == 3 && has_dep(j, "install-cnpg") &&
              has_dep(j, "install-seaweedfs") && has_dep(j, "install-cert-manager"));
    j = find_job(s, "install-external-secrets");
    cr_assert(j && j->n_depends_on == 2 && has_dep(j, "install-openbao"));
    j = find_job(s, "install-catalyst-platform");
    cr_assert(j && j->n_depends_on == 1 && has_dep(j, "install-gitea"));
    j = find_job(s, "install-external-dns");
    cr_assert(j && j->n_depends_on == 2 && has_dep(j, "install-powerdns"));
    cr_assert_eq(find_job(s, "install-reloader")->n_depends_on, 0);
    cr_assert_eq(find_job(s, "install-vpa")->n_depends_on, 0);
    cr_assert_eq(find_job(s, "install-coraza")->n_depends_on, 2);
    spec_free(s);
}

Test(spec_demo, cutover_steps_in_order)
{
    struct spec *s = spec_load_demo(NULL);
    cr_assert_not_null(s);
    const char *steps[] = {"gitea-mirror", "harbor-projects", "harbor-prewarm", "registry-pivot",
                           "flux-gitrepository-patch", "helmrepository-patches",
                           "catalyst-api-env-patch", "egress-block-test", "gitea-token-mint",
                           "vcluster-registry-pivot", "crossplane-provider-pivot"};
    cr_assert(s->cutover.present);
    cr_assert(s->cutover.auto_start);
    cr_assert_eq(s->cutover.n_after, 1);
    cr_assert_str_eq(s->cutover.after[0], "handover");
    cr_assert_eq(s->cutover.n_steps, 11);
    for (size_t i = 0; i < 11; i++) {
        cr_assert_str_eq(s->cutover.steps[i].name, steps[i]);
        cr_assert_gt(strlen(s->cutover.steps[i].label), 0);
        bool egress = strcmp(steps[i], "egress-block-test") == 0;
        int64_t hold = s->cutover.steps[i].hold_ms;
        if (egress)
            cr_assert(hold >= 30000 && hold <= 60000, "hold %lld", (long long)hold);
        else
            cr_assert_eq(hold, 0);
    }
    cr_assert_str_eq(s->cutover.steps[0].label, "Mirror GitOps repository");
    cr_assert_str_eq(s->cutover.steps[7].label, "Egress-block self-test");
    const struct spec_group *h = find_group(s, "handover");
    cr_assert(h && h->n_jobs >= 2 && h->n_jobs <= 4);
    cr_assert_str_eq(h->after[0], "apps");
    for (size_t i = 0; i < h->n_jobs; i++)
        cr_assert_eq(strncmp(h->jobs[i].name, "handover-step-", 14), 0);
    spec_free(s);
}

Test(spec_demo, organizations_and_blueprints)
{
    struct spec *s = spec_load_demo(NULL);
    cr_assert_not_null(s);
    cr_assert_geq(s->n_orgs, 3);
    size_t apps = 0;
    for (size_t o = 0; o < s->n_orgs; o++) {
        cr_assert(s->orgs[o].n_envs >= 2 && s->orgs[o].n_envs <= 3);
        for (size_t e = 0; e < s->orgs[o].n_envs; e++) {
            const struct spec_env *env = &s->orgs[o].envs[e];
            char want[128];
            snprintf(want, sizeof(want), "%s-%s", s->orgs[o].name, env->type);
            cr_assert_str_eq(env->name, want);
            apps += env->n_apps;
            for (size_t a = 0; a < env->n_apps; a++) {
                char jn[256];
                snprintf(jn, sizeof(jn), "install-%s-%s", env->name, env->apps[a].name);
                const struct spec_job *j = find_job(s, jn);
                cr_assert_not_null(j, "no job %s", jn);
                cr_assert_str_eq(j->group, "apps");
                cr_assert_str_eq(j->app, env->apps[a].name);
                const struct spec_blueprint *b = spec_find_blueprint(s, env->apps[a].blueprint);
                cr_assert_not_null(b);
                char disp[256];
                snprintf(disp, sizeof(disp), "%s/%s (%s@%s)", env->name, env->apps[a].name,
                         b->name, b->version);
                cr_assert_str_eq(j->display_name, disp);
                cr_assert_eq(j->n_depends_on, b->n_depends);
            }
        }
    }
    cr_assert_geq(apps, 8);
    int deepest = 0;
    for (size_t i = 0; i < s->n_blueprints; i++) {
        int d = blueprint_depth(s, s->blueprints[i].name, 0);
        if (d > deepest)
            deepest = d;
    }
    cr_assert_geq(deepest, 3);
    cr_assert_null(spec_find_blueprint(s, "no-such-blueprint"));
    /* The dependency closure reaches down to the leaves, once per Environment. */
    const struct spec_job *j = find_job(s, "install-nizwa-health-prod-keycloak-realm");
    cr_assert(j && has_dep(j, "install-nizwa-health-prod-postgres"));
    j = find_job(s, "install-nizwa-health-prod-postgres");
    cr_assert(j && has_dep(j, "install-nizwa-health-prod-s3-bucket"));
    cr_assert_not_null(find_job(s, "install-nizwa-health-uat-s3-bucket"));
    spec_free(s);
}

Test(spec_demo, exactly_one_recovering_failure)
{
    struct spec *s = spec_load_demo(NULL);
    cr_assert_not_null(s);
    int failing = 0;
    for (size_t g = 0; g < s->n_groups; g++)
        for (size_t i = 0; i < s->groups[g].n_jobs; i++) {
            const struct spec_job *j = &s->groups[g].jobs[i];
            if (j->sim_fail_first > 0) {
                failing++;
                cr_assert_gt(j->retries, j->sim_fail_first - 1);
                cr_assert_str_eq(j->name, "install-openbao");
            }
        }
    for (size_t i = 0; i < s->cutover.n_steps; i++)
        cr_assert_eq(s->cutover.steps[i].sim_fail_first, 0);
    cr_assert_eq(failing, 1);
    spec_free(s);
}

/*
 * What the engine does with the demo at --speed 1 and 4 workers: list
 * scheduling in declaration order (a job without dependsOn also waits for
 * its group's `after` groups), a failing-first job running its duration once
 * per attempt, then the cutover steps one after the other (duration + hold).
 */
static int64_t demo_makespan(const struct spec *s, int workers)
{
    size_t n = spec_job_count(s);
    const struct spec_job **jobs = calloc(n, sizeof(*jobs));
    size_t *group = calloc(n, sizeof(*group));
    int64_t *end = calloc(n, sizeof(*end));
    int *state = calloc(n, sizeof(*state)); /* 0 waiting, 1 running, 2 done */
    cr_assert(jobs && group && end && state);
    size_t k = 0;
    for (size_t g = 0; g < s->n_groups; g++)
        for (size_t i = 0; i < s->groups[g].n_jobs; i++, k++) {
            jobs[k] = &s->groups[g].jobs[i];
            group[k] = g;
        }
    int64_t now = 0;
    size_t done = 0;
    int running = 0;
    while (done < n) {
        for (size_t i = 0; i < n && running < workers; i++) {
            if (state[i])
                continue;
            bool ready = true, root = jobs[i]->n_depends_on == 0;
            for (size_t d = 0; d < jobs[i]->n_depends_on; d++)
                for (size_t x = 0; x < n; x++)
                    if (strcmp(jobs[x]->name, jobs[i]->depends_on[d]) == 0)
                        ready = ready && state[x] == 2;
            const struct spec_group *g = &s->groups[group[i]];
            for (size_t a = 0; root && a < g->n_after; a++)
                for (size_t x = 0; x < n; x++)
                    if (strcmp(s->groups[group[x]].name, g->after[a]) == 0 && state[x] != 2)
                        ready = false;
            if (!ready)
                continue;
            state[i] = 1;
            running++;
            end[i] = now + jobs[i]->sim_duration_ms * (1 + jobs[i]->sim_fail_first);
        }
        cr_assert_gt(running, 0, "demo deadlocks");
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < n; i++)
            if (state[i] == 1 && end[i] < next)
                next = end[i];
        now = next;
        for (size_t i = 0; i < n; i++)
            if (state[i] == 1 && end[i] == now) {
                state[i] = 2;
                running--;
                done++;
            }
    }
    for (size_t i = 0; i < s->cutover.n_steps; i++)
        now += s->cutover.steps[i].sim_duration_ms + s->cutover.steps[i].hold_ms;
    free(jobs);
    free(group);
    free(end);
    free(state);
    return now;
}

Test(spec_demo, reaches_sovereign_in_two_to_five_minutes)
{
    struct spec *s = spec_load_demo(NULL);
    cr_assert_not_null(s);
    int64_t ms = demo_makespan(s, 4);
    cr_assert(ms >= 150000 && ms <= 270000, "demo makespan %lld ms", (long long)ms);
    /* Even one worker at a time stays in a sane range (the hold is fixed). */
    cr_assert_lt(demo_makespan(s, 1), 600000);
    spec_free(s);
}

/* ---- good specs -------------------------------------------------------- */

static const char *fixture(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "tests/fixtures/spec/%s", name);
    if (access(buf, R_OK) == 0)
        return buf;
    /* Run from elsewhere: the fixtures sit next to this source file. */
    const char *src = __FILE__;
    const char *slash = strrchr(src, '/');
    int dir = slash ? (int)(slash - src) : 1;
    snprintf(buf, n, "%.*s/fixtures/spec/%s", dir, slash ? src : ".", name);
    return buf;
}

Test(spec_good, minimal_fixture_file)
{
    char path[512];
    struct error err;
    struct spec *s = spec_load_file(fixture("good-minimal.yaml", path, sizeof(path)), &err);
    cr_assert_not_null(s, "%s:%d:%d: %s", err.file, err.line, err.column, err.msg);
    cr_assert_str_eq(s->file, path);
    cr_assert_str_eq(s->name, "acme");
    cr_assert_str_eq(s->deployment_id, "");
    cr_assert_eq(s->n_groups, 1);
    cr_assert_eq(spec_job_count(s), 3);
    const struct spec_job *j = find_job(s, "build");
    cr_assert(j && !j->simulated && strcmp(j->run, "make all") == 0);
    cr_assert_eq(j->timeout_ms, 90 * 60 * 1000);
    cr_assert_eq(j->retries, 2);
    cr_assert_eq(j->n_env, 2);
    cr_assert_str_eq(j->env[0].key, "GOFLAGS");
    cr_assert_str_eq(j->env[0].value, "-mod=vendor");
    cr_assert_str_eq(j->env[1].key, "EMPTY");
    cr_assert_str_eq(j->env[1].value, "");
    j = find_job(s, "noop");
    cr_assert(j && j->simulated && j->sim_duration_ms == 0 && j->run == NULL);
    j = find_job(s, "sim");
    cr_assert(j && j->simulated && j->sim_duration_ms == 250 && j->n_sim_logs == 3);
    cr_assert_str_eq(j->sim_logs[1], "WARN: slow");
    cr_assert(!s->cutover.present);
    spec_free(s);
}

Test(spec_good, durations)
{
    const char *yaml =
        "sovereign: {name: x}\n"
        "groups:\n"
        "  - name: g\n"
        "    jobs:\n"
        "      - {name: a, timeout: 5s}\n"
        "      - {name: b, timeout: 10m}\n"
        "      - {name: c, timeout: 1h30m}\n"
        "      - {name: d, simulate: {duration: 250ms}}\n";
    struct error err;
    struct spec *s = load(yaml, &err);
    cr_assert_not_null(s, "%s", err.msg);
    cr_assert_eq(find_job(s, "a")->timeout_ms, 5000);
    cr_assert_eq(find_job(s, "b")->timeout_ms, 600000);
    cr_assert_eq(find_job(s, "c")->timeout_ms, 5400000);
    cr_assert_eq(find_job(s, "d")->sim_duration_ms, 250);
    spec_free(s);
}

Test(spec_good, apps_group_inserted_before_handover_with_reuse)
{
    const char *yaml =
        "sovereign: {name: x}\n"
        "blueprints:\n"
        "  - {name: db, version: '1', depends: []}\n"
        "  - {name: cache, version: '2'}\n"
        "  - {name: web, version: '3', depends: [db, cache]}\n"
        "organizations:\n"
        "  - name: acme\n"
        "    environments:\n"
        "      - type: prod\n"
        "        applications:\n"
        "          - {name: site, blueprint: web}\n"
        "          - {name: db, blueprint: db}\n"
        "groups:\n"
        "  - {name: kit, jobs: [{name: k1}]}\n"
        "  - {name: handover, after: [apps], jobs: [{name: h1}]}\n";
    struct error err;
    struct spec *s = load(yaml, &err);
    cr_assert_not_null(s, "%s", err.msg);
    cr_assert_eq(s->n_groups, 3);
    cr_assert_str_eq(s->groups[1].name, "apps");
    cr_assert_str_eq(s->groups[1].after[0], "kit");
    /* site -> install-acme-prod-db (the db Application itself) + cache. */
    cr_assert_eq(s->groups[1].n_jobs, 3);
    const struct spec_job *j = find_job(s, "install-acme-prod-site");
    cr_assert(j && has_dep(j, "install-acme-prod-db") && has_dep(j, "install-acme-prod-cache"));
    cr_assert_str_eq(j->display_name, "acme-prod/site (web@3)");
    cr_assert_gt(j->sim_duration_ms, 0);
    j = find_job(s, "install-acme-prod-db");
    cr_assert(j && strcmp(j->display_name, "acme-prod/db (db@1)") == 0);
    spec_free(s);
}

Test(spec_good, declared_apps_group_and_no_apps)
{
    const char *yaml =
        "sovereign: {name: x}\n"
        "blueprints: [{name: a, version: '1', depends: [b]}, {name: b, version: '1'}]\n"
        "organizations: [{name: acme, environments: [{type: dev, applications: "
        "[{name: s, blueprint: a}]}]}]\n"
        "groups:\n"
        "  - {name: first, jobs: [{name: f}]}\n"
        "  - {name: apps, displayName: Workloads, after: [first], jobs: [{name: extra}]}\n"
        "  - {name: last, jobs: [{name: l}]}\n";
    struct error err;
    struct spec *s = load(yaml, &err);
    cr_assert_not_null(s, "%s", err.msg);
    cr_assert_eq(s->n_groups, 3);
    cr_assert_str_eq(s->groups[1].display_name, "Workloads");
    cr_assert_eq(s->groups[1].n_jobs, 3);
    cr_assert_str_eq(s->groups[1].jobs[0].name, "extra");
    cr_assert_str_eq(s->groups[1].jobs[1].name, "install-acme-dev-b");
    cr_assert_str_eq(s->groups[1].jobs[2].name, "install-acme-dev-s");
    spec_free(s);

    s = load("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: a}]}]\n", &err);
    cr_assert_not_null(s, "%s", err.msg);
    cr_assert_null(find_group(s, "apps"));
    spec_free(s);
}

Test(spec_good, apps_group_at_end_and_prefixed_deps)
{
    const char *yaml =
        "sovereign: {name: x, deploymentId: 0123456789abcdef}\n"
        "blueprints: [{name: a, version: '1'}]\n"
        "organizations: [{name: acme, environments: [{type: poc, applications: "
        "[{name: s, blueprint: a}]}]}]\n"
        "groups:\n"
        "  - {name: g, jobs: [{name: a1}, {name: a2, dependsOn: ['0123456789abcdef:a1']}]}\n";
    struct error err;
    struct spec *s = load(yaml, &err);
    cr_assert_not_null(s, "%s", err.msg);
    cr_assert_eq(s->n_groups, 2);
    cr_assert_str_eq(s->groups[1].name, "apps");
    cr_assert_str_eq(s->groups[1].after[0], "g");
    cr_assert_str_eq(find_job(s, "a2")->depends_on[0], "0123456789abcdef:a1");
    spec_free(s);
}

/* ---- one test per error class ------------------------------------------ */

Test(spec_errors, yaml_syntax)
{
    expect_error("sovereign: {name: x}\ngroups: [\n  - a\n", 3, 3, "YAML syntax error");
    expect_error("sovereign:\n  name: x\n fqdn: y\n", 3, 2, "YAML syntax error");
}

Test(spec_errors, unknown_keys)
{
    expect_error("sovereign: {name: x}\nbogus: 1\n", 2, 1, "unknown key \"bogus\"");
    expect_error("sovereign: {name: x}\ngroups:\n  - name: g\n    jobs:\n"
                 "      - {name: a, sleep: 3}\n", 5, 19, "unknown key \"sleep\" in job");
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: a, hold: 3s}]}]\n",
                 2, 37, "unknown key \"hold\" in job");
    expect_error("sovereign: {name: x}\ncutover: {steps: [{name: s, dependsOn: [a]}]}\n", 2, 29,
                 "unknown key \"dependsOn\" in cutover step");
}

Test(spec_errors, wrong_types)
{
    expect_error("sovereign: {name: x}\ngroups: {a: 1}\n", 2, 9,
                 "expected a sequence for \"groups\", found a mapping");
    expect_error("sovereign: [x]\n", 1, 12, "expected a mapping for \"sovereign\"");
    expect_error("sovereign: {name: [x]}\n", 1, 19, "expected a string for \"name\"");
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: a, retries: two}]}]\n",
                 2, 46, "expected an integer for \"retries\"");
    expect_error("sovereign: {name: x}\ncutover: {auto: maybe}\n", 2, 17,
                 "expected true or false for \"auto\"");
    expect_error("- a\n", 1, 1, "expected a mapping at the top level");
}

Test(spec_errors, duplicate_names)
{
    expect_error("sovereign: {name: x}\ngroups:\n  - {name: g, jobs: [{name: a}]}\n"
                 "  - {name: h, jobs: [{name: b}, {name: a}]}\n", 4, 33,
                 "duplicate job name \"a\" (first declared at 3:22)");
    expect_error("sovereign: {name: x}\ngroups:\n  - {name: g}\n  - {name: g}\n", 4, 5,
                 "duplicate group \"g\"");
    expect_error("sovereign: {name: x}\norganizations: [{name: acme}, {name: acme}]\n", 2, 38,
                 "duplicate organization \"acme\"");
    expect_error("sovereign: {name: x}\nblueprints: [{name: a}, {name: a}]\n", 2, 25,
                 "duplicate blueprint \"a\"");
    expect_error("sovereign: {name: x}\nblueprints: [{name: a}]\norganizations: [{name: acme, "
                 "environments: [{type: dev, applications: [{name: s, blueprint: a}, "
                 "{name: s, blueprint: a}]}]}]\n", 3, 104, "duplicate application \"s\"");
    expect_error("sovereign: {name: x, name: y}\n", 1, 22, "duplicate key \"name\"");
    /* A derived job colliding with a declared one. */
    expect_error("sovereign: {name: x}\nblueprints: [{name: a}]\norganizations: [{name: acme, "
                 "environments: [{type: dev, applications: [{name: s, blueprint: a}]}]}]\n"
                 "groups: [{name: g, jobs: [{name: install-acme-dev-s}]}]\n", 3, 72,
                 "duplicate job name \"install-acme-dev-s\"");
    /* A cutover step whose job name is taken, and a repeated step. */
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: cutover-step-m}]}]\n"
                 "cutover: {steps: [{name: m}]}\n", 3, 19,
                 "duplicate job name \"cutover-step-m\"");
    expect_error("sovereign: {name: x}\ncutover: {steps: [{name: m}, {name: m}]}\n", 2, 30,
                 "duplicate cutover step \"m\"");
    expect_error("sovereign: {name: x}\ngroups: [{name: cutover}]\n", 2, 10,
                 "\"cutover\" is reserved");
}

Test(spec_errors, unknown_dependency_named)
{
    expect_error("sovereign: {name: x}\ngroups:\n  - name: g\n    jobs:\n"
                 "      - {name: a}\n      - {name: b, dependsOn: [a, zz]}\n", 6, 34,
                 "job \"b\" depends on unknown job \"zz\"");
    /* A prefixed entry must name this deployment. */
    expect_error("sovereign: {name: x, deploymentId: 0123456789abcdef}\n"
                 "groups: [{name: g, jobs: [{name: a}, {name: b, dependsOn: ['ffff:a']}]}]\n",
                 2, 60, "depends on unknown job \"ffff:a\"");
    expect_error("sovereign: {name: x}\ngroups: [{name: g, after: [nope]}]\n", 2, 28,
                 "group \"g\" is after unknown group \"nope\"");
    expect_error("sovereign: {name: x}\ngroups: [{name: g, after: [g]}]\n", 2, 28,
                 "group \"g\" is after itself");
    expect_error("sovereign: {name: x}\ncutover: {after: [nope]}\n", 2, 19,
                 "cutover is after unknown group \"nope\"");
}

Test(spec_errors, cycle_is_named)
{
    expect_error("sovereign: {name: x}\ngroups:\n  - name: g\n    jobs:\n"
                 "      - {name: a, dependsOn: [c]}\n"
                 "      - {name: b, dependsOn: [a]}\n"
                 "      - {name: c, dependsOn: [b]}\n"
                 "      - {name: d}\n",
                 5, 9, "dependency cycle: a -> c -> b -> a");
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: s, dependsOn: [s]}]}]\n",
                 2, 27, "dependency cycle: s -> s");
}

Test(spec_errors, after_cycle_between_groups)
{
    expect_error("sovereign: {name: x}\ngroups:\n"
                 "  - {name: one, after: [two], jobs: [{name: a}]}\n"
                 "  - {name: two, after: [one], jobs: [{name: b}]}\n",
                 3, 38, "dependency cycle: a -> (group two) -> b -> (group one) -> a");
    /* A job-level edge against the after order closes a cycle too. */
    expect_error("sovereign: {name: x}\ngroups:\n"
                 "  - {name: one, jobs: [{name: a, dependsOn: [b]}]}\n"
                 "  - {name: two, after: [one], jobs: [{name: b}]}\n",
                 3, 24, "dependency cycle: a -> b -> (group one) -> a");
}

Test(spec_errors, organization_names)
{
    expect_error("sovereign: {name: x}\norganizations: [{name: Acme}]\n", 2, 24,
                 "invalid organization name \"Acme\"");
    expect_error("sovereign: {name: x}\norganizations: [{name: ab}]\n", 2, 24,
                 "invalid organization name \"ab\"");
    expect_error("sovereign: {name: x}\norganizations: [{name: gitea}]\n", 2, 24,
                 "organization name \"gitea\" is reserved");
    expect_error("sovereign: {name: x}\norganizations: [{name: kube-public}]\n", 2, 24,
                 "organization name \"kube-public\" is reserved");
    expect_error("sovereign: {name: x}\norganizations: [{name: mgmt}]\n", 2, 24,
                 "is reserved");
    expect_error("sovereign: {name: x}\norganizations: [{name: prod}]\n", 2, 24,
                 "is reserved");
    expect_error("sovereign: {name: x}\n"
                 "organizations: [{name: abcdefghijklmnopqrstuvwxyz0123456}]\n", 2, 24,
                 "invalid organization name");
}

Test(spec_errors, environment_types)
{
    expect_error("sovereign: {name: x}\norganizations:\n  - name: acme\n    environments:\n"
                 "      - type: qa\n", 5, 15, "invalid environment type \"qa\"");
    expect_error("sovereign: {name: x}\norganizations:\n  - name: acme\n    environments:\n"
                 "      - type: prod\n      - type: dr\n", 6, 15, "invalid environment type");
    expect_error("sovereign: {name: x}\norganizations:\n  - name: acme\n    environments:\n"
                 "      - type: prod\n      - type: prod\n", 6, 15,
                 "duplicate environment type \"prod\"");
}

Test(spec_errors, blueprint_dependencies)
{
    expect_error("sovereign: {name: x}\nblueprints:\n  - {name: a, depends: [b, nope]}\n"
                 "  - {name: b}\n", 3, 28,
                 "blueprint \"a\" depends on unknown blueprint \"nope\"");
    expect_error("sovereign: {name: x}\nblueprints:\n  - {name: a, depends: [b]}\n"
                 "  - {name: b, depends: [c]}\n  - {name: c, depends: [a]}\n", 3, 5,
                 "blueprint dependency cycle: a -> b -> c -> a");
    expect_error("sovereign: {name: x}\nblueprints: [{name: a}]\norganizations: [{name: acme, "
                 "environments: [{type: dev, applications: [{name: s, blueprint: zz}]}]}]\n",
                 3, 72, "application \"s\" names unknown blueprint \"zz\"");
}

Test(spec_errors, bad_durations)
{
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: a, timeout: 5x}]}]\n",
                 2, 46, "bad duration \"5x\" for \"timeout\"");
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: a, timeout: 30}]}]\n",
                 2, 46, "bad duration \"30\"");
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: a, "
                 "simulate: {duration: -1s}}]}]\n", 2, 58, "bad duration \"-1s\"");
    expect_error("sovereign: {name: x}\ncutover: {steps: [{name: e, hold: ten}]}\n", 2, 35,
                 "bad duration \"ten\" for \"hold\"");
    /* Each part is in range, their sum is not: refused, never wrapped (or UB). */
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: a, timeout: "
                 "999999999999h999999999999h999999999999h}]}]\n",
                 2, 46, "bad duration \"999999999999h999999999999h999999999999h\"");
}

Test(spec_errors, negative_retries)
{
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: a, retries: -1}]}]\n",
                 2, 46, "\"retries\" must be >= 0");
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: a, "
                 "simulate: {failFirst: -2}}]}]\n", 2, 59, "\"failFirst\" must be >= 0");
}

Test(spec_errors, empty_document)
{
    expect_error("", 1, 1, "empty document");
    expect_error("# nothing here\n", 2, 1, "empty document");
    expect_error("---\n...\n", 2, 1, "empty document");
    expect_error("{}\n", 1, 1, "missing required key \"sovereign\"");
}

Test(spec_errors, missing_required_keys)
{
    expect_error("sovereign: {fqdn: a.b}\n", 1, 12, "missing required key \"name\" in sovereign");
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{run: 'true'}]}]\n", 2, 27,
                 "missing required key \"name\" in job");
    expect_error("sovereign: {name: x}\ngroups: [{jobs: []}]\n", 2, 10,
                 "missing required key \"name\" in group");
    expect_error("sovereign: {name: x}\nblueprints: [{name: a}]\norganizations: [{name: acme, "
                 "environments: [{type: dev, applications: [{name: s}]}]}]\n", 3, 72,
                 "missing required key \"blueprint\"");
}

Test(spec_errors, other_refusals)
{
    expect_error("sovereign: {name: x, deploymentId: 3F9A}\n", 1, 36, "bad deploymentId");
    /* Not a plain word: named by its position only (a spec path may point at anything). */
    expect_error("sovereign: {name: x}\ngroups: [{name: 'a b'}]\n", 2, 17,
                 "invalid group name \"(not shown)\"");
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: a, run: x, "
                 "simulate: {}}]}]\n", 2, 27, "has both \"run\" and \"simulate\"");
    expect_error("sovereign: &s {name: x}\ngroups: *s\n", 2, 9, "aliases (*s) are not supported");
    expect_error("sovereign: {name: x}\n---\nsovereign: {name: y}\n", 2, 1,
                 "only one YAML document");
    expect_error("sovereign: {name: \"a\\0b\"}\n", 1, 19, "NUL character");
    expect_error("sovereign: {name: x}\ngroups: [{name: g, jobs: [{name: a, env: {'1X': y}}]}]\n",
                 2, 43, "invalid environment variable name \"1X\"");
}

/* ---- hostile input ----------------------------------------------------- */

Test(spec_hostile, empty_and_whitespace)
{
    expect_refused("", 0);
    expect_refused(NULL, 0);
    expect_refused("   \n\n\t\n", 7);
    expect_refused("\xef\xbb\xbf", 3);
}

Test(spec_hostile, binary_garbage)
{
    size_t n = 1 << 16;
    char *buf = malloc(n);
    cr_assert_not_null(buf);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 8; round++) {
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (char)(x >> 24);
        }
        expect_refused(buf, n - (size_t)round * 997);
    }
    /* NUL bytes inside otherwise fine YAML. */
    expect_refused("sovereign: {name: x}\n\0\0\0", 24);
    free(buf);
}

Test(spec_hostile, invalid_utf8)
{
    struct error err;
    const char bad[] = "sovereign: {name: x}\ngroups: [{name: \xff\xfe}]\n";
    cr_assert_null(spec_load_buffer(bad, sizeof(bad) - 1, "u.yaml", &err));
    cr_assert(strstr(err.msg, "invalid"), "%s", err.msg);
    cr_assert_eq(err.line, 2);
    cr_assert_eq(err.column, 17);
    const char overlong[] = "sovereign: {name: \xc0\xaf}\n";
    expect_refused(overlong, sizeof(overlong) - 1);
    const char truncated[] = "sovereign: {name: \xe2\x82}\n";
    expect_refused(truncated, sizeof(truncated) - 1);
}

static char *repeat(const char *prefix, char c, size_t n, const char *suffix, size_t *len)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *buf = malloc(pl + n + sl + 1);
    cr_assert_not_null(buf);
    memcpy(buf, prefix, pl);
    memset(buf + pl, c, n);
    memcpy(buf + pl + n, suffix, sl + 1);
    *len = pl + n + sl;
    return buf;
}

Test(spec_hostile, ten_megabyte_line)
{
    size_t len, big = (size_t)10 << 20;
    const char *shapes[][2] = {
        {"", ""},                                   /* one plain scalar */
        {"sovereign: {name: x}\nbogus", ": 1\n"},   /* a huge key */
        {"sovereign: {name: ", "}\n"},              /* a huge (invalid) name */
        {"sovereign: {name: x, provider: '", "'}\n"}, /* a huge quoted value, valid */
        {"sovereign: {name: x}\ngroups: [", "\n"},  /* an unterminated flow sequence */
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        char *buf = repeat(shapes[i][0], 'a', big, shapes[i][1], &len);
        struct error err;
        struct spec *s = spec_load_buffer(buf, len, "big.yaml", &err);
        if (i == 3) {
            cr_assert_not_null(s, "%s", err.msg);
            cr_assert_eq(strlen(s->provider), big);
            spec_free(s);
        } else {
            cr_assert_null(s, "shape %zu loaded", i);
            cr_assert_gt(strlen(err.msg), 0);
        }
        free(buf);
    }
}

Test(spec_hostile, deep_nesting)
{
    size_t depth = 10000, len;
    char *open = repeat("", '[', depth, "", &len);
    char *buf = malloc(2 * depth + 64);
    cr_assert(open && buf);
    const char *prefixes[] = {"", "sovereign: ", "sovereign: {name: x}\ngroups: "};
    for (size_t p = 0; p < 3; p++) {
        size_t pl = strlen(prefixes[p]);
        memcpy(buf, prefixes[p], pl);
        memcpy(buf + pl, open, depth);
        memset(buf + pl + depth, ']', depth);
        expect_refused(buf, pl + 2 * depth);
    }
    /* Block-style nesting, and mappings. */
    struct strbuf sb;
    sb_init(&sb);
    for (size_t i = 0; i < depth; i++)
        sb_puts(&sb, "{a: ");
    for (size_t i = 0; i < depth; i++)
        sb_putc(&sb, '}');
    expect_refused(sb.buf, sb.len);
    sb_reset(&sb);
    sb_puts(&sb, "sovereign: {name: x}\ngroups:\n");
    for (size_t i = 0; i < 2000; i++) {
        for (size_t k = 0; k < i; k++)
            sb_putc(&sb, ' ');
        sb_puts(&sb, "-\n");
    }
    expect_refused(sb.buf, sb.len);
    sb_fini(&sb);
    free(open);
    free(buf);
}

Test(spec_hostile, size_cap)
{
    size_t cap = (size_t)64 << 20;
    char *buf = calloc(cap + 1, 1);
    cr_assert_not_null(buf);
    struct error err;
    cr_assert_null(spec_load_buffer(buf, cap + 1, "huge.yaml", &err));
    cr_assert(strstr(err.msg, "larger than"), "%s", err.msg);
    free(buf);

    char dir[] = "/tmp/test_spec_......";
    memset(dir + strlen(dir) - 6, 'X', 6); /* the mkdtemp template */
    cr_assert_not_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/huge.yaml", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)cap + 4096), 0);
    close(fd);
    cr_assert_null(spec_load_file(path, &err));
    cr_assert(strstr(err.msg, "larger than"), "%s", err.msg);
    cr_assert_str_eq(err.file, path);
    unlink(path);
    snprintf(path, sizeof(path), "%s/absent.yaml", dir);
    cr_assert_null(spec_load_file(path, &err));
    cr_assert(strstr(err.msg, "cannot read"), "%s", err.msg);
    cr_assert_eq(err.code, EXIT_USAGE);
    rmdir(dir);
}

Test(spec_hostile, bad_fixture_files)
{
    static const struct {
        const char *file, *want;
        int line, col;
    } cases[] = {
        {"bad-cycle.yaml", "dependency cycle: tofu-plan -> tofu-apply -> tofu-plan", 6, 9},
        {"bad-reserved-org.yaml", "organization name \"flux\" is reserved", 4, 11},
        {"bad-syntax.yaml", "did not find expected node content", 6, 1},
        {"bad-unknown-dep.yaml", "job \"b\" depends on unknown job \"zz\"", 6, 34},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[512];
        struct error err;
        fixture(cases[i].file, path, sizeof(path));
        cr_assert_null(spec_load_file(path, &err), "%s loaded", path);
        cr_assert(strstr(err.msg, cases[i].want), "%s: %s", path, err.msg);
        cr_assert_str_eq(err.file, path);
        cr_assert_eq(err.line, cases[i].line, "%s: line %d", path, err.line);
        cr_assert_eq(err.column, cases[i].col, "%s: column %d", path, err.column);
    }
}

Test(spec_errors, fqdn_shape)
{
    /* "sovereign: {name: x, fqdn: " is 27 characters: the value starts at column 28. */
    expect_error("sovereign: {name: x, fqdn: -a.example.org}\n", 1, 28,
                 "a label starts or ends with '-'");
    expect_error("sovereign: {name: x, fqdn: a-.example.org}\n", 1, 28,
                 "a label starts or ends with '-'");
    expect_error("sovereign: {name: x, fqdn: a..example.org}\n", 1, 28, "empty label");
    expect_error("sovereign: {name: x, fqdn: example.org..}\n", 1, 28, "empty label");
    expect_error("sovereign: {name: x, fqdn: .example.org.}\n", 1, 28, "empty label");
    expect_error("sovereign: {name: x, fqdn: \".\"}\n", 1, 28, "empty label");
    expect_error("sovereign: {name: x, fqdn: a-.example.org.}\n", 1, 28,
                 "a label starts or ends with '-'");
    expect_error("sovereign: {name: x, fqdn: a_b.example.org}\n", 1, 28,
                 "character 2 is not a letter");
    expect_error("sovereign:\n  name: x\n  fqdn: \"a b.org\"\n", 3, 9,
                 "character 2 is not a letter");

    char label[80];
    memset(label, 'a', 64);
    label[64] = 0;
    char yaml[400];
    snprintf(yaml, sizeof(yaml), "sovereign: {name: x, fqdn: %s.org}\n", label);
    expect_error(yaml, 1, 28, "label 64 characters long (at most 63)");
    label[63] = 0; /* 63 is the most a label may have */
    snprintf(yaml, sizeof(yaml), "sovereign: {name: x, fqdn: %s.org}\n", label);
    struct error err;
    struct spec *s = load(yaml, &err);
    cr_assert_not_null(s, "%s", err.msg);
    spec_free(s);
    /* An absolute name: one trailing dot, kept as written. */
    s = load("sovereign: {name: x, fqdn: omantel.example.com.}\n", &err);
    cr_assert_not_null(s, "%s", err.msg);
    cr_assert_str_eq(s->fqdn, "omantel.example.com.");
    spec_free(s);
}

Test(spec_errors, fqdn_length)
{
    /* 63+1+63+1+63+1+61 = 253 characters: the longest accepted. */
    char name[300], yaml[400];
    memset(name, 'b', sizeof(name));
    name[63] = name[127] = name[191] = '.';
    name[253] = 0;
    snprintf(yaml, sizeof(yaml), "sovereign: {name: x, fqdn: %s}\n", name);
    struct error err;
    struct spec *s = load(yaml, &err);
    cr_assert_not_null(s, "%s", err.msg);
    cr_assert_eq(strlen(s->fqdn), 253);
    spec_free(s);
    name[253] = 'b';
    name[254] = 0;
    snprintf(yaml, sizeof(yaml), "sovereign: {name: x, fqdn: %s}\n", name);
    expect_error(yaml, 1, 28, "fqdn is 254 characters long (at most 253)");
    /* The trailing dot of an absolute name is not counted. */
    name[253] = '.';
    snprintf(yaml, sizeof(yaml), "sovereign: {name: x, fqdn: %s}\n", name);
    s = load(yaml, &err);
    cr_assert_not_null(s, "%s", err.msg);
    cr_assert_eq(strlen(s->fqdn), 254);
    spec_free(s);
    name[253] = 'b';
    name[254] = '.';
    name[255] = 0;
    snprintf(yaml, sizeof(yaml), "sovereign: {name: x, fqdn: %s}\n", name);
    expect_error(yaml, 1, 28, "fqdn is 254 characters long (at most 253)");

    /* A 10 MB value is refused, not kept. */
    size_t big = (size_t)10 << 20;
    char *huge = malloc(big + 64);
    cr_assert_not_null(huge);
    int n = snprintf(huge, 64, "sovereign: {name: x, fqdn: ");
    memset(huge + n, 'c', big);
    memcpy(huge + n + big, "}\n", 3);
    s = spec_load_buffer(huge, strlen(huge), "t.yaml", &err);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, "at most 253"), "%s", err.msg);
    cr_assert_eq(err.line, 1);
    cr_assert_eq(err.column, 28);
    free(huge);
}

/* --spec FIFO (no writer) or a directory: refused at once; a secret's first line is not shown. */
Test(spec_hostile, fifo_directory_and_secret_file, .timeout = 10)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ctui-spec-fifo-%d", (int)getpid());
    unlink(path);
    cr_assert_eq(mkfifo(path, 0600), 0);
    struct error err;
    error_clear(&err);
    cr_expect_null(spec_load_file(path, &err));
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect(strstr(err.msg, "is a FIFO, not a regular file"), "%s", err.msg);
    unlink(path);
    error_clear(&err);
    cr_expect_null(spec_load_file("/tmp", &err));
    cr_expect(strstr(err.msg, "is a directory"), "%s", err.msg);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("root:*:20228:0:99999:7:::\n\"hunter2 pw\": 1\n", f);
    fclose(f);
    error_clear(&err);
    cr_expect_null(spec_load_file(path, &err));
    char buf[1400];
    error_format(&err, buf, sizeof(buf));
    cr_expect_null(strstr(buf, "20228"), "%s", buf);
    cr_expect_null(strstr(buf, "hunter2"), "%s", buf);
    cr_expect_gt(err.line, 0, "%s", buf);
    unlink(path);
}
