/* Running an app's PostgreSQL: start (or reuse), readiness, the pid/port
 * file, stop.
 *
 * Start, under the app's lock:
 *   1. reuse: postmaster.pid names a live process that is a postgres, whose
 *      working directory is this data directory, and that answers;
 *   2. otherwise clear a stale postmaster.pid, fetch the bundle, create the
 *      cluster on first use, choose a port (last one if free), launch
 *      `postgres` itself (not pg_ctl), and wait until postmaster.pid says
 *      "ready" for that pid and an authenticated SELECT 1 over the URL works.
 *      A port lost to another process between choice and bind is retried.
 * Readiness is polled every few milliseconds (pg_ctl polls every 100 ms), and
 * early death of the postmaster is noticed at once, with its log. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "../platform/dynload.h"
#include "launcher.h"

static int app_server_stop(pgboot_server *s, pgboot_stop_mode mode);

/* ---- the server object -------------------------------------------------- */

static int server_make(pgboot_server **out, const pgb_app_paths *p, int pid, int port,
                       const char *socket_dir, const char *version, int started_here)
{
    pgboot_server *s = pgb_server_new();
    if (!s)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    s->stop = app_server_stop;
    int rc = pgb_pgpass_lookup(p->pgpass, p->app, &s->password);
    if (rc) {
        pgboot_server_free(s);
        return rc;
    }
    s->pid = pid;
    s->port = port;
    s->started_here = started_here;
    s->app = pgb_strdup(p->app);
    s->host = pgb_strdup("127.0.0.1");
    s->user = pgb_strdup(p->app);
    s->database = pgb_strdup(p->app);
    s->socket_dir = pgb_strdup(socket_dir);
    s->data_dir = pgb_strdup(p->data_dir);
    s->app_dir = pgb_strdup(p->app_dir);
    s->log_path = pgb_strdup(p->log_file);
    s->pg_version = pgb_strdup(version);
    /* App names and passwords are URL-safe by construction. */
    s->url = pgb_printf("postgresql://%s:%s@127.0.0.1:%d/%s", p->app, s->password, port, p->app);
    if (!s->app || !s->host || !s->user || !s->database || !s->socket_dir || !s->data_dir ||
        !s->app_dir || !s->log_path || !s->pg_version || !s->url) {
        pgboot_server_free(s);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    *out = s;
    return 0;
}

/* The PostgreSQL version recorded in pgboot.run, or the pinned one. */
static char *run_file_version(const pgb_app_paths *p)
{
    json_error_t e;
    json_t *j = json_load_file(p->run_file, 0, &e);
    const char *v = json_string_value(json_object_get(j, "postgresql_version"));
    char *out = pgb_strdup(v ? v : "16");
    json_decref(j);
    return out;
}

/* The postmaster pid in pgboot.run: written only once the app has logged in,
 * so a server whose pid is not there is one whose start did not finish. */
static int run_file_pid(const pgb_app_paths *p)
{
    json_error_t e;
    json_t *j = json_load_file(p->run_file, 0, &e);
    int pid = (int)json_integer_value(json_object_get(j, "pid"));
    json_decref(j);
    return pid;
}

static int write_run_file(const pgb_app_paths *p, const pgboot_server *s)
{
    char started[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *j =
        json_pack("{s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "pid", s->pid, "port",
                  s->port, "host", s->host, "socket_dir", s->socket_dir, "data_dir", s->data_dir,
                  "database", s->database, "user", s->user, "postgresql_version", s->pg_version,
                  "started_at", started, "log", s->log_path);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!text)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    int rc = pgb_write_file_atomic(p->run_file, text, strlen(text), 0600);
    free(text);
    return rc;
}

static int last_port(const pgb_app_paths *p)
{
    json_error_t e;
    json_t *j = json_load_file(p->state_file, 0, &e);
    int port = (int)json_integer_value(json_object_get(j, "port"));
    json_decref(j);
    return port > 0 && port < 65536 ? port : 0;
}

static void save_port(const pgb_app_paths *p, int port)
{
    char text[64];
    int n = snprintf(text, sizeof text, "{\"port\": %d}\n", port);
    if (pgb_write_file_atomic(p->state_file, text, (size_t)n, 0600) != 0)
        pgb_error_reset(); /* only a preference for next time */
}

/* ---- what a running server is doing -------------------------------------- */

/* The protocol ping's bound: short, and never longer than the caller's
 * timeout. */
#define PROBE_BOUND_MS 5000
/* A fast shutdown ends in moments; a smart one lasts as long as its clients.
 * A start waits this long for a server that is shutting down, then says so. */
#define STOPPING_GRACE_MS 5000

static uint32_t probe_bound(uint32_t timeout_ms)
{
    return timeout_ms && timeout_ms < PROBE_BOUND_MS ? timeout_ms : PROBE_BOUND_MS;
}

static int fail_stopping(const char *app, int pid)
{
    int rc = pgb_fail(PGBOOT_ESTOPPING,
                      "the server of app %s (pid %d) is stopping and accepts no new connections "
                      "(a smart shutdown waits until its clients disconnect)",
                      app, pid);
    pgb_hint("'pgboot stop --app %s --mode fast' disconnects them and stops it now; then start "
             "it again",
             app);
    return rc;
}

/* The postmaster lives and is ours, but does not answer. `stop`: the
 * shutdown request that is still pending, or NULL. */
static int fail_silent(const char *app, const pm_info *pm, uint32_t bound_ms,
                       const pgboot_stop_mode *stop)
{
    static const char *const modes[] = {"fast", "smart", "immediate"};
    char after[96] = "";
    if (stop)
        snprintf(after, sizeof after, "; it still runs after the %s shutdown request",
                 modes[*stop]);
    int rc;
    if (pgb_pid_stopped(pm->pid)) {
        rc = pgb_fail(PGBOOT_ENOANSWER,
                      "the server of app %s (pid %d) does not answer: its process is stopped "
                      "(SIGSTOP)%s",
                      app, pm->pid, after);
        pgb_hint("resume it with 'kill -CONT %d'%s", pm->pid,
                 stop ? " (the shutdown request then takes effect)" : "");
        return rc;
    }
    rc = pgb_fail(PGBOOT_ENOANSWER,
                  "the server of app %s (pid %d) does not answer on %s/.s.PGSQL.%d within %u ms%s",
                  app, pm->pid, pm->socket_dir, pm->port, bound_ms, after);
    if (stop && *stop == PGBOOT_STOP_IMMEDIATE)
        pgb_hint("'kill -KILL %d' ends it (crash recovery runs at the next start)", pm->pid);
    else
        pgb_hint("it may be overloaded or stuck: try again with a longer --timeout, or end it "
                 "with 'pgboot stop --app %s --mode immediate'",
                 app);
    return rc;
}

/* Is the postmaster of this data directory ours and shutting down? */
static int server_stopping(const pgb_app_paths *p, pm_info *pm)
{
    int found;
    if (pgb_pm_read(p->data_dir, pm, &found) != 0) {
        pgb_error_reset(); /* asked again on the next turn */
        return 0;
    }
    return found && pm->complete && strcmp(pm->status, "stopping") == 0 &&
           pgb_pm_is_ours(p->data_dir, pm);
}

/* Ask the postmaster to shut down in `mode` and wait until it is gone. */
static int stop_server(const char *app, const pm_info *pm, pgboot_stop_mode mode, uint64_t deadline)
{
    int sig =
        mode == PGBOOT_STOP_SMART ? SIGTERM : (mode == PGBOOT_STOP_IMMEDIATE ? SIGQUIT : SIGINT);
    int rc = pgb_signal_and_wait(pm->pid, sig, deadline);
    if (rc != PGBOOT_ETIMEOUT)
        return rc;
    uint32_t bound = 500;
    if (pgb_pid_stopped(pm->pid) || pgb_pm_probe(pm, bound) == PGB_PM_SILENT)
        return fail_silent(app, pm, bound, &mode);
    static const char *const modes[] = {"fast", "smart", "immediate"};
    rc = pgb_fail(PGBOOT_ETIMEOUT,
                  "the server of app %s (pid %d) is still running after the %s shutdown request",
                  app, pm->pid, modes[mode]);
    if (mode == PGBOOT_STOP_SMART)
        pgb_hint("clients are still connected: 'pgboot stop --app %s --mode fast' disconnects "
                 "them, --mode immediate aborts",
                 app);
    else if (mode == PGBOOT_STOP_FAST)
        pgb_hint("its shutdown checkpoint may need a longer --timeout; 'pgboot stop --app %s "
                 "--mode immediate' aborts it (crash recovery runs at the next start)",
                 app);
    else
        pgb_hint("'kill -KILL %d' ends it (crash recovery runs at the next start)", pm->pid);
    return rc;
}

/* The stop of a server handle made here: by its data directory, as its owner. */
static int app_server_stop(pgboot_server *s, pgboot_stop_mode mode)
{

    pm_info pm;
    int found;
    int rc = pgb_pm_read(s->data_dir, &pm, &found);
    if (rc)
        return rc;
    if (!found || pm.pid != s->pid || !pgb_pid_alive(s->pid)) {
        rc = pgb_fail(PGBOOT_ENOTRUNNING, "the server (pid %d) is not running any more", s->pid);
        pgb_hint("nothing is left to stop; its log (pgboot logs --app %s) says why it ended",
                 s->app ? s->app : "NAME");
        return rc;
    }
    if ((rc = stop_server(s->app ? s->app : "?", &pm, mode, pgb_now_ms() + 60000)) != 0)
        return rc;
    char *run = pgb_path_join(s->app_dir, "pgboot.run");
    if (run)
        unlink(run);
    free(run);
    return rc;
}

/* ---- attach -------------------------------------------------------------- */

/* Attach to a running, ready server of this data directory. ENOTRUNNING if
 * there is none (or it is starting); ESTOPPING while it shuts down;
 * ENOANSWER when it lives but gives no answer within bound_ms. *stale
 * tells whether a postmaster.pid was left by a dead or foreign process. A
 * server whose start did not finish (no pgboot.run for its pid: the start
 * was killed before the app's role and database were checked) is returned
 * with *unfinished set when `unfinished` is given, else refused. */
static int attach(pgboot_server **out, const pgb_app_paths *p, int *stale, pm_info *pm_out,
                  uint32_t bound_ms, int *unfinished)
{
    pm_info pm;
    int found;
    *stale = 0;
    if (unfinished)
        *unfinished = 0;
    int rc = pgb_pm_read(p->data_dir, &pm, &found);
    if (rc)
        return rc;
    if (pm_out)
        *pm_out = pm;
    if (found && pgb_pm_is_ours(p->data_dir, &pm)) {
        pgb_pm_state state = pgb_pm_probe(&pm, bound_ms);
        if (state == PGB_PM_STOPPING)
            return fail_stopping(p->app, pm.pid);
        if (state == PGB_PM_SILENT)
            return fail_silent(p->app, &pm, bound_ms, NULL);
        if (state == PGB_PM_SERVING) {
            if (run_file_pid(p) != pm.pid) {
                if (!unfinished) {
                    rc = pgb_fail(PGBOOT_ENOTRUNNING,
                                  "the server of app %s (pid %d) runs, but the start that "
                                  "launched it has not finished: the app may not log in yet",
                                  p->app, pm.pid);
                    pgb_hint("'pgboot start --app %s' finishes it (unless a start is under way)",
                             p->app);
                    return rc;
                }
                *unfinished = 1;
            }
            char *version = run_file_version(p);
            rc = version ? server_make(out, p, pm.pid, pm.port, pm.socket_dir, version, 0)
                         : pgb_fail(PGBOOT_ENOMEM, "out of memory");
            free(version);
            return rc;
        }
        rc = pgb_fail(PGBOOT_ENOTRUNNING, "the server for %s (pid %d) is %s", p->data_dir, pm.pid,
                      pm.status[0] ? pm.status : "not ready");
        pgb_hint("it is not ready yet: try again in a moment; 'pgboot logs --app %s' shows what it "
                 "does",
                 p->app);
        return rc;
    }
    *stale = found;
    int r = pgb_fail(PGBOOT_ENOTRUNNING, "no server is running for app %s (data directory %s)",
                     p->app, p->data_dir);
    pgb_hint("start it with 'pgboot start --app %s'", p->app);
    return r;
}

/* ---- start --------------------------------------------------------------- */

static int mkdir_app_dir(const char *app_dir)
{
    char *parent = pgb_strdup(app_dir);
    if (!parent)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    int rc = pgb_mkdir_p(parent, 0755);
    free(parent);
    if (rc)
        return rc;
    /* The app directory holds the passwords: private when we create it. */
    if (mkdir(app_dir, 0700) != 0 && errno != EEXIST) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot create the app directory %s: %s", app_dir,
                      strerror(errno));
        pgb_hint("choose a writable place for it: XDG_DATA_HOME=DIR (app directories go in "
                 "DIR/<app>)");
        return rc;
    }
    if (!pgb_is_dir(app_dir)) {
        rc = pgb_fail(PGBOOT_ERROR, "%s exists and is not a directory", app_dir);
        pgb_hint("move it away, or choose another app name (--app) or XDG_DATA_HOME");
        return rc;
    }
    return 0;
}

/* Check that the app logs in with the URL (its host, port, role, password and
 * database; nothing from the environment) and runs a query, before the
 * deadline. */
static int check_url(const pgboot_server *s, uint64_t deadline)
{
    char what[160];
    snprintf(what, sizeof what, "the app's login to the server (pid %d) at 127.0.0.1:%d", s->pid,
             s->port);
    PGconn *c = NULL;
    int rc = pgb_pq_open_until(&c, PGB_PQ_OURS, s->url, NULL, NULL, deadline, what);
    if (rc)
        return rc;
    PGresult *r = NULL;
    if ((rc = pgb_pq_query_until(c, "SELECT 1", 0, NULL, deadline, "the app's first query", &r)) ==
            0 &&
        PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = pgb_fail(PGBOOT_ESTART, "SELECT 1 failed: %s", PQresultErrorMessage(r));
        pgb_hint("the server's log says more ('pgboot logs --app %s')", s->app ? s->app : "NAME");
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* The app logs in, or the steps a first start does are finished now: the
 * role and database are created if missing and the password set from
 * pgpass (a start killed after the server was ready left them undone). */
static int app_login(const pgb_app_paths *p, const pgboot_server *s, uint64_t deadline,
                     uint32_t budget_ms)
{
    int rc = check_url(s, deadline);
    if (rc != 0 && rc != PGBOOT_ETIMEOUT) {
        pgb_error_reset();
        if ((rc = pgb_cluster_ensure_app(p, s->port, deadline)) == 0)
            rc = check_url(s, deadline);
    }
    if (rc == PGBOOT_ETIMEOUT)
        pgb_hint("--timeout (%u s) bounds the whole start, the app's login included; the server "
                 "runs but did not let it in in time (a lock held on its database, an overloaded "
                 "machine, a stopped process): a longer --timeout waits",
                 (budget_ms + 999) / 1000);
    return rc;
}

/* The port the user asked for cannot be had: one message, one way out. */
static int fail_port_taken(int port, const char *how)
{
    int rc = pgb_fail(PGBOOT_EPORT, "port %d on 127.0.0.1 %s", port, how);
    pgb_hint("leave out --port to let pgboot choose a free one");
    return rc;
}

static int choose_port(const pgb_app_paths *p, int requested, int *port)
{
    if (requested) {
        if (requested < 1 || requested > 65535) {
            int rc = pgb_fail(PGBOOT_EINVALID, "port %d is not a TCP port (1-65535)", requested);
            pgb_hint("leave out --port to let pgboot choose a free one");
            return rc;
        }
        if (!pgb_port_is_free(requested))
            return fail_port_taken(requested, "is already in use");
        *port = requested;
        return 0;
    }
    int last = last_port(p);
    if (last && pgb_port_is_free(last)) {
        *port = last;
        return 0;
    }
    return pgb_port_pick(port);
}

typedef struct {
    const pgboot_server_options *o;
    const char *const *unset;    /* options.unset (version 2), else NULL */
    int lifeline_fd;             /* child mode: read end of the owner's lifeline pipe, else -1 */
    const char *const *settings; /* options.settings, after those derived from options.memory
                                    (version 3) that they do not name */
    size_t nderived;             /* how many of settings come from options.memory */
    pgb_cluster_opts co;         /* options.locale, encoding, data_checksums (version 3) */
} start_ctx;

static int want_settings(const start_ctx *ctx)
{
    return (ctx->settings && ctx->settings[0]) || (ctx->unset && ctx->unset[0]);
}

/* The names of the settings given (to set or unset), malloc'd, NULL-ended. */
static char **setting_names(const start_ctx *ctx)
{
    size_t n = 0;
    for (size_t i = 0; ctx->settings && ctx->settings[i]; i++)
        n++;
    for (size_t i = 0; ctx->unset && ctx->unset[i]; i++)
        n++;
    char **names = calloc(n + 1, sizeof *names);
    size_t k = 0;
    for (size_t i = 0; names && ctx->settings && ctx->settings[i]; i++) {
        const char *set = ctx->settings[i];
        if (!(names[k++] = pgb_printf("%.*s", (int)strcspn(set, "="), set)))
            goto oom;
    }
    for (size_t i = 0; names && ctx->unset && ctx->unset[i]; i++)
        if (!(names[k++] = pgb_strdup(ctx->unset[i])))
            goto oom;
    return names;
oom:
    for (size_t i = 0; i < k; i++)
        free(names[i]);
    free(names);
    return NULL;
}

static void names_free(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

/* Those of `names` not in the comma-separated `restart` list, joined. */
static char *names_reloaded(char *const *names, const char *restart)
{
    size_t cap = 1;
    for (size_t i = 0; names[i]; i++)
        cap += strlen(names[i]) + 2;
    char *out = calloc(1, cap);
    for (size_t i = 0; out && names[i]; i++) {
        int pending = 0;
        for (const char *r = restart; r && *r && !pending;) {
            size_t n = strcspn(r, ",");
            pending = n == strlen(names[i]) && !strncmp(r, names[i], n);
            r += n;
            while (*r == ',' || *r == ' ')
                r++;
        }
        if (pending)
            continue;
        if (*out)
            strcat(out, ", ");
        strcat(out, names[i]);
    }
    if (out && !*out) {
        free(out);
        out = NULL;
    }
    return out;
}

/* --set/--unset on a running server: checked by PostgreSQL first, persisted,
 * then reloaded; what PostgreSQL applies only at a start is reported in
 * s->restart_needed. A failure leaves pgboot.conf as it was. */
static int apply_running(pgboot_server *s, const pgb_app_paths *p, const start_ctx *ctx,
                         uint64_t deadline)
{
    pgboot_bundle *bundle = NULL;
    char *old = NULL, **names = NULL;
    size_t oldlen = 0;
    int changed = 0;
    unsigned int major = 0; /* the running cluster's own */
    int rc = pgb_cluster_choose_major(p, 0, &ctx->o->fetch, &major);
    pgboot_fetch_options fetch = pgb_fetch_options_for(&ctx->o->fetch, major);
    if (rc == 0)
        rc = pgboot_bundle_fetch(&bundle, &fetch);
    if (rc == 0)
        rc = pgb_cluster_validate(p, pgboot_bundle_bin_dir(bundle), ctx->settings);
    if (rc == 0)
        rc = pgb_cluster_conf_read(p, &old, &oldlen);
    if (rc == 0)
        rc = pgb_cluster_set(p, ctx->settings, ctx->nderived, ctx->unset, &changed);
    if (rc || !changed)
        goto done;
    if (!(names = setting_names(ctx))) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    } else if ((rc = pgb_cluster_reload(p, s->port, (const char *const *)names, deadline,
                                        &s->restart_needed)) == 0) {
        s->reloaded = names_reloaded(names, s->restart_needed);
    }
    if (rc) {
        /* Not applied: not kept either. */
        pgb_error_saved first;
        pgb_error_save(&first);
        if (pgb_cluster_conf_write(p, old, oldlen) != 0)
            pgb_error_reset();
        pgb_error_restore(&first);
    }
done:
    names_free(names);
    free(old);
    pgboot_bundle_free(bundle);
    return rc;
}

/* A running server of ours is reused: the app must log in (a killed first
 * start is finished here), the settings given are applied, and a missing
 * pgboot.run is written. */
static int reuse(pgboot_server **out, const pgb_app_paths *p, const start_ctx *ctx,
                 uint64_t deadline, uint32_t budget_ms, int unfinished)
{
    /* What it was created with, asked of the running server first: a
     * refusal changes nothing. */
    int rc = pgb_cluster_check_opts(p, NULL, &ctx->co, (*out)->port, deadline);
    if (rc == 0)
        rc = app_login(p, *out, deadline, budget_ms);
    if (rc == 0 && want_settings(ctx))
        rc = apply_running(*out, p, ctx, deadline);
    if (rc == 0 && unfinished)
        rc = write_run_file(p, *out);
    if (rc) {
        pgboot_server_free(*out);
        *out = NULL;
    }
    return rc;
}

typedef struct {
    const pgb_app_paths *p;
    int requested; /* --port, or 0 */
} port_choice;

/* The port of each launch attempt: the one asked for (never another), else
 * the last one if free, else a free one; a retry forgets the last one. */
static int choose_port_attempt(void *ctx, int attempt, int *port)
{
    const port_choice *c = ctx;
    if (attempt > 1) {
        if (c->requested)
            return fail_port_taken(c->requested, "was taken by another process");
        save_port(c->p, 0);
    }
    return choose_port(c->p, c->requested, port);
}

/* No postmaster of ours runs: make the cluster if there is none, apply the
 * settings given (rolled back if the start then fails), launch postgres and
 * wait until the app logs in. */
static int start_new(pgboot_server **out, const pgb_app_paths *p, const start_ctx *ctx,
                     const pgboot_bundle *bundle, int stale, uint32_t budget)
{
    const pgboot_server_options *o = ctx->o;
    char *version = NULL, *pg_version_file = NULL, *old_conf = NULL;
    size_t old_len = 0;
    int conf_changed = 0, rc = 0;
    pgb_error_reset();
    if (stale) {
        /* Left by a crash: the pid is dead or belongs to another program. */
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/postmaster.pid", p->data_dir);
        unlink(path);
    }
    /* No postmaster of ours runs: socket lock files in our private socket
     * directory whose pid is not a live postgres are a crash's leftovers too
     * (PostgreSQL would take a zombie or a reused pid for an owner). */
    pgb_clear_stale_socket_locks(p->socket_dir);
    if (o->port && !pgb_port_is_free(o->port)) {
        rc = fail_port_taken(o->port, "is already in use");
        goto done;
    }
    version = pgb_strdup(pgboot_bundle_pg_version(bundle));
    pg_version_file = pgb_path_join(p->data_dir, "PG_VERSION");
    if (!version || !pg_version_file) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    if (!pgb_path_exists(pg_version_file) &&
        (rc = pgb_cluster_create(p, pgboot_bundle_bin_dir(bundle), &ctx->co)) != 0)
        goto done;
    /* Settings PostgreSQL refuses are never written; one it takes but that
     * fails the start (too much memory, say) is rolled back below. */
    if (want_settings(ctx) &&
        ((rc = pgb_cluster_validate(p, pgboot_bundle_bin_dir(bundle), ctx->settings)) != 0 ||
         (rc = pgb_cluster_conf_read(p, &old_conf, &old_len)) != 0 ||
         (rc = pgb_cluster_set(p, ctx->settings, ctx->nderived, ctx->unset, &conf_changed)) != 0))
        goto done;
    if ((rc = pgb_socket_dir_prepare(p->socket_dir)) != 0)
        goto done;
    if (mkdir(p->log_dir, 0700) != 0 && errno != EEXIST) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot create %s: %s", p->log_dir, strerror(errno));
        pgb_hint("the data directory must be writable by the user the server runs as: fix its "
                 "permissions");
        goto done;
    }
    uint64_t deadline = pgb_now_ms() + budget;
    pgb_postgres_launch l = {.bin_dir = pgboot_bundle_bin_dir(bundle),
                             .data_dir = p->data_dir,
                             .socket_dir = p->socket_dir,
                             .log_file = p->log_file,
                             .lifeline_fd = ctx->lifeline_fd};
    port_choice choice = {p, o->port};
    int pid = 0;
    if ((rc = pgb_launch_until_ready(&l, deadline, choose_port_attempt, &choice, &pid)) != 0)
        goto done;
    int port = l.port;
    /* The app's own login over the URL proves its role and database exist;
     * only when it fails (first start) does the superuser create them. */
    if ((rc = server_make(out, p, pid, port, p->socket_dir, version, 1)) == 0)
        rc = app_login(p, *out, deadline, budget);
    if (rc != 0 || (rc = write_run_file(p, *out)) != 0) {
        pgboot_server_free(*out);
        *out = NULL;
        pgb_abandon(pid);
        goto done;
    }
    save_port(p, port);
done:
    if (rc != 0 && rc != PGBOOT_EINVALID) {
        pgb_error_saved first;
        pgb_error_save(&first);
        int restored = conf_changed && pgb_cluster_conf_write(p, old_conf, old_len) == 0;
        pgb_error_restore(&first);
        if (restored && ctx->nderived)
            pgb_hint("the settings derived from --memory (and any given with --set/--unset) "
                     "were not kept: %s/pgboot.conf is as it was; a smaller --memory may fit",
                     p->data_dir);
        else if (restored)
            pgb_hint("the settings given with --set/--unset were not kept: %s/pgboot.conf is as "
                     "it was",
                     p->data_dir);
        else if (!conf_changed)
            pgb_settings_hint_remove(p->app, pgboot_error_last());
    }
    free(old_conf);
    free(version);
    free(pg_version_file);
    return rc;
}

/* Everything after the lock is taken. */
static int start_locked(pgboot_server **out, const pgb_app_paths *p, const start_ctx *ctx)
{
    const pgboot_server_options *o = ctx->o;
    /* --timeout bounds waiting for the server: reusing one, the whole call;
     * starting one, from its launch until the app has logged in (the
     * download and initdb have limits of their own). */
    uint32_t budget = o->timeout_ms ? o->timeout_ms : 60000;
    uint64_t deadline = pgb_now_ms() + budget;
    int stale, unfinished;
    pm_info pm;
    int rc;
    /* A refused setting changes nothing, running server or not. */
    if (want_settings(ctx) && (rc = pgb_settings_check(ctx->settings, ctx->unset)) != 0)
        return rc;
    /* Nor does a major the data directory cannot run with. */
    unsigned int major = 0;
    if ((rc = pgb_cluster_choose_major(p, o->version >= 3 ? o->pg_version : 0, &o->fetch,
                                       &major)) != 0)
        return rc;
    pgboot_fetch_options fetch = pgb_fetch_options_for(&o->fetch, major);
    uint32_t bound = probe_bound(o->timeout_ms);
    rc = attach(out, p, &stale, &pm, bound, &unfinished);
    if (rc == PGBOOT_ESTOPPING && !o->no_start) {
        uint32_t grace =
            o->timeout_ms && o->timeout_ms < STOPPING_GRACE_MS ? o->timeout_ms : STOPPING_GRACE_MS;
        if (pgb_signal_and_wait(pm.pid, 0, pgb_now_ms() + grace) != 0)
            return fail_stopping(p->app, pm.pid);
        rc = attach(out, p, &stale, &pm, bound, &unfinished);
    }
    if (rc == 0)
        return reuse(out, p, ctx, deadline, budget, unfinished);
    if (rc != PGBOOT_ENOTRUNNING)
        return rc;
    if (o->no_start)
        return rc;
    /* A killed first start's initdb leftovers go first: recognised by their
     * marker, and removed only under the app's lock (held here). */
    pgb_cluster_remove_leftovers(p);
    pgboot_bundle *bundle = NULL;
    if ((rc = pgboot_bundle_fetch(&bundle, &fetch)) != 0)
        return rc;
    pgboot_bundle_mark_used(bundle);
    /* Nothing is written into a data directory pgboot then refuses. */
    if ((rc = pgb_cluster_check_version(p, pgboot_bundle_pg_version(bundle))) != 0) {
        pgboot_bundle_free(bundle);
        return rc;
    }

    /* A postmaster of ours that is starting (crash recovery) or stopping. */
    if (!stale && pm.pid > 0 && pgb_pm_is_ours(p->data_dir, &pm)) {
        int bind_failed;
        if (strcmp(pm.status, "stopping") != 0) {
            if ((rc = pgb_wait_ready(p->data_dir, p->log_file, pm.pid, deadline,
                                     pgb_log_size(p->log_file), &bind_failed)) == 0 &&
                (rc = attach(out, p, &stale, NULL, bound, &unfinished)) == 0)
                rc = reuse(out, p, ctx, deadline, budget, unfinished);
            if (rc != 0 && rc != PGBOOT_EINVALID)
                pgb_settings_hint_remove(p->app, pgboot_error_last());
            pgboot_bundle_free(bundle);
            return rc;
        }
        if (pgb_signal_and_wait(pm.pid, 0, deadline) != 0) {
            pgboot_bundle_free(bundle);
            rc = pgb_fail(PGBOOT_ETIMEOUT, "the server (pid %d) is still stopping", pm.pid);
            pgb_hint("'pgboot stop --app %s --mode immediate' ends it at once (crash recovery "
                     "runs at the next start); then start it again",
                     p->app);
            return rc;
        }
    }
    /* No server runs: nor into one made with other creation options than
     * those given. */
    char *pg_version = pgb_path_join(p->data_dir, "PG_VERSION");
    if (pg_version && pgb_path_exists(pg_version))
        rc = pgb_cluster_check_opts(p, pgboot_bundle_bin_dir(bundle), &ctx->co, 0, deadline);
    free(pg_version);
    if (rc == 0)
        rc = start_new(out, p, ctx, bundle, stale, budget);
    pgboot_bundle_free(bundle);
    return rc;
}

/* Take the app's lock: starts and stops serialise on it. But waiting behind
 * a stop that is under way (a smart one waits for its clients, however long)
 * would be waiting for nothing: PostgreSQL takes a stronger shutdown request
 * by signal at any time (smart, fast, immediate), so a stop (`create` 0) that
 * finds the lock held and the server shutting down signals it in `mode` and
 * waits for it to go, without the lock (*done set, its result returned); and
 * a start gives it STOPPING_GRACE_MS, then says it is stopping. A stop waits
 * for the lock until `deadline`, a start as long as it takes. */
static int with_app_lock(const pgb_app_paths *p, int create, pgboot_stop_mode mode,
                         uint64_t deadline, int *lockfd, int *done)
{
    *done = 0;
    int rc = create ? mkdir_app_dir(p->app_dir) : 0;
    if (rc)
        return rc;
    if (!create && !pgb_is_dir(p->app_dir)) {
        rc = pgb_fail(PGBOOT_ENOTRUNNING,
                      "no server is running for app %s (no app directory "
                      "%s)",
                      p->app, p->app_dir);
        pgb_hint("start it with 'pgboot start --app %s'", p->app);
        return rc;
    }
    uint64_t stopping_since = 0;
    for (;;) {
        if ((rc = pgb_lock_try(p->lock_file, lockfd)) <= 0)
            return rc;
        pm_info pm;
        uint64_t now = pgb_now_ms();
        if (!server_stopping(p, &pm)) {
            stopping_since = 0;
        } else if (!create) {
            *done = 1;
            return stop_server(p->app, &pm, mode, deadline);
        } else if (!stopping_since) {
            stopping_since = now;
        } else if (now - stopping_since >= STOPPING_GRACE_MS) {
            return fail_stopping(p->app, pm.pid);
        }
        if (!create && now >= deadline) {
            rc = pgb_fail(PGBOOT_ETIMEOUT,
                          "another pgboot holds the lock %s of app %s (a start or a stop); gave "
                          "up waiting for it",
                          p->lock_file, p->app);
            pgb_hint("try again, or with a longer --timeout");
            return rc;
        }
        pgb_sleep_ms(20);
    }
}

/* ---- running as another user (root) --------------------------------------- */

typedef enum { OP_START, OP_ATTACH, OP_STOP, OP_RESTART } op_kind;

/* Before a restart stops the server: what the start after it would refuse
 * (settings, a major the cluster cannot run, other creation options than the
 * running cluster has, a setting PostgreSQL refuses), so that a refused
 * restart leaves the server running. A server that is not running (or does
 * not answer) is left to the start, which checks before it writes. */
static int restart_check(const pgb_app_paths *p, const start_ctx *ctx, uint64_t deadline)
{
    const pgboot_server_options *o = ctx->o;
    int rc;
    if (want_settings(ctx) && (rc = pgb_settings_check(ctx->settings, ctx->unset)) != 0)
        return rc;
    unsigned int major = 0;
    if ((rc = pgb_cluster_choose_major(p, o->version >= 3 ? o->pg_version : 0, &o->fetch,
                                       &major)) != 0)
        return rc;
    if (!want_settings(ctx) && !ctx->co.locale && !ctx->co.encoding && !ctx->co.data_checksums)
        return 0;
    pgboot_server *s = NULL;
    int stale = 0, unfinished = 0;
    if (attach(&s, p, &stale, NULL, probe_bound(o->timeout_ms), &unfinished) != 0) {
        pgb_error_reset();
        return 0;
    }
    rc = pgb_cluster_check_opts(p, NULL, &ctx->co, s->port, deadline);
    if (rc == 0 && want_settings(ctx)) {
        pgboot_bundle *bundle = NULL;
        pgboot_fetch_options fetch = pgb_fetch_options_for(&o->fetch, major);
        if ((rc = pgboot_bundle_fetch(&bundle, &fetch)) == 0)
            rc = pgb_cluster_validate(p, pgboot_bundle_bin_dir(bundle), ctx->settings);
        pgboot_bundle_free(bundle);
    }
    pgboot_server_free(s);
    return rc;
}

static int do_op(op_kind op, pgboot_server **out, const pgboot_server_options *o,
                 pgboot_stop_mode mode, int lifeline_fd);

/* Serialise a result for the parent of a worker. */
static char *result_json(int rc, const pgboot_server *s)
{
    json_t *j = json_pack("{s:i, s:s, s:s?}", "rc", rc, "message", pgboot_error_last(), "hint",
                          pgboot_error_hint());
    if (j && rc == 0 && s)
        json_object_update(j, json_pack("{s:s, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "url",
                                        s->url, "port", s->port, "pid", s->pid, "socket_dir",
                                        s->socket_dir, "data_dir", s->data_dir, "app_dir",
                                        s->app_dir, "log", s->log_path, "version", s->pg_version,
                                        "password", s->password, "started_here", s->started_here));
    if (j && rc == 0 && s && s->restart_needed)
        json_object_set_new(j, "restart_needed", json_string(s->restart_needed));
    if (j && rc == 0 && s && s->reloaded)
        json_object_set_new(j, "reloaded", json_string(s->reloaded));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

static int result_parse(const char *text, pgboot_server **out, const pgboot_server_options *o)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j) {
        int rc = pgb_fail(PGBOOT_ERROR, "the worker process running as %s died without an answer",
                          o->run_as);
        pgb_hint("its complaint, if any, is above; the server's log may say more ('pgboot logs "
                 "--app %s')",
                 o->app ? o->app : "NAME");
        return rc;
    }
    int rc = (int)json_integer_value(json_object_get(j, "rc"));
    if (rc) {
        pgb_fail(rc, "%s", json_string_value(json_object_get(j, "message")));
        const char *hint = json_string_value(json_object_get(j, "hint"));
        if (hint)
            pgb_hint("%s", hint);
        json_decref(j);
        return rc;
    }
    if (out && json_object_get(j, "url")) {
        pgboot_server *s = pgb_server_new();
        if (!s) {
            json_decref(j);
            return pgb_fail(PGBOOT_ENOMEM, "out of memory");
        }
        s->stop = app_server_stop;
#define STR(k) pgb_strdup(json_string_value(json_object_get(j, k)))
        s->url = STR("url");
        s->socket_dir = STR("socket_dir");
        s->data_dir = STR("data_dir");
        s->app_dir = STR("app_dir");
        s->log_path = STR("log");
        s->pg_version = STR("version");
        s->password = STR("password");
        if (json_string_value(json_object_get(j, "restart_needed")))
            s->restart_needed = STR("restart_needed");
        if (json_string_value(json_object_get(j, "reloaded")))
            s->reloaded = STR("reloaded");
#undef STR
        s->port = (int)json_integer_value(json_object_get(j, "port"));
        s->pid = (int)json_integer_value(json_object_get(j, "pid"));
        s->started_here = (int)json_integer_value(json_object_get(j, "started_here"));
        s->host = pgb_strdup("127.0.0.1");
        s->user = pgb_strdup(o->app);
        s->database = pgb_strdup(o->app);
        s->app = pgb_strdup(o->app);
        *out = s;
    }
    json_decref(j);
    return 0;
}

typedef struct {
    op_kind op;
    const pgboot_server_options *o;
    pgboot_stop_mode mode;
} worker_op;

/* The worker's side: do the operation as the user, answer in JSON. */
static char *worker_main(void *arg, int lifeline_fd, int rc)
{
    const worker_op *w = arg;
    pgboot_server *s = NULL;
    if (rc == 0)
        rc = do_op(w->op, &s, w->o, w->mode, lifeline_fd);
    return result_json(rc, s);
}

/* As root, do the operation in a forked process that has become o->run_as, so
 * every file is created by, and the server runs as, that account. */
static int via_worker(op_kind op, pgboot_server **out, const pgboot_server_options *o,
                      pgboot_stop_mode mode)
{
    worker_op w = {op, o, mode};
    int child_mode = (op == OP_START || op == OP_RESTART) && o->child;
    char *text = NULL;
    int lifeline = -1;
    int rc =
        pgb_run_as_user(o->run_as, o->create_user, child_mode, worker_main, &w, &text, &lifeline);
    if (rc == 0) {
        rc = result_parse(text, out, o);
        sodium_memzero(text, strlen(text));
    }
    free(text);
    if (rc == 0 && out && *out && lifeline >= 0 && (*out)->started_here)
        (*out)->lifeline_fd = lifeline;
    else if (lifeline >= 0)
        close(lifeline);
    return rc;
}

static int stop_locked(const pgb_app_paths *p, pgboot_stop_mode mode, uint64_t deadline)
{
    pm_info pm;
    int found;
    int rc = pgb_pm_read(p->data_dir, &pm, &found);
    if (rc)
        return rc;
    if (!found || !pgb_pm_is_ours(p->data_dir, &pm)) {
        unlink(p->run_file);
        rc = pgb_fail(PGBOOT_ENOTRUNNING,
                      "no server is running for app %s (data directory %s); "
                      "nothing to stop",
                      p->app, p->data_dir);
        return rc;
    }
    rc = stop_server(p->app, &pm, mode, deadline);
    if (rc == 0)
        unlink(p->run_file);
    return rc;
}

/* On first start, move the app's legacy SQLite database in before the URL
 * is handed over. Done once: a marker in the app directory (and the record
 * in the target, which pgboot_migrate checks) keeps it from running again. A
 * failure leaves the target as it was and the server running. */
static int maybe_migrate(const char *app_dir, const pgboot_server_options *o,
                         const pgboot_server *server)
{
    if (o->no_migrate)
        return 0;
    char *path = o->sqlite_path ? pgb_strdup(o->sqlite_path) : pgb_path_join(app_dir, "db.sqlite");
    char *marker = pgb_path_join(app_dir, "migrations/done.json");
    int rc = 0;
    if (!path || !marker) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    if (!pgb_path_exists(path)) {
        if (o->sqlite_path) {
            rc = pgb_fail(PGBOOT_ENOTFOUND, "the SQLite database %s to migrate does not exist",
                          path);
            pgb_hint("check --sqlite PATH, or leave it out");
        }
        goto done;
    }
    if (pgb_path_exists(marker))
        goto done;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    char *dir = pgb_printf("%s/migrations/%s", app_dir, stamp);
    char *report = pgb_printf("%s/migrations/%s.json", app_dir, stamp);
    pgboot_migrate_options mo = PGBOOT_MIGRATE_OPTIONS_INIT;
    mo.sqlite_path = path;
    mo.server = server;
    mo.report_dir = dir;
    mo.report_path = report;
    pgboot_migration *m = NULL;
    rc = (dir && report) ? pgboot_migrate(&m, &mo) : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (rc == 0) {
        json_t *j = json_pack("{s:s, s:s, s:b}", "source", path, "report", report, "already_done",
                              pgboot_migration_already_done(m));
        char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
        json_decref(j);
        if (!text || pgb_write_file_atomic(marker, text, strlen(text), 0600) != 0)
            pgb_error_reset(); /* the record in the target still prevents a rerun */
        free(text);
    } else {
        /* The migration's own message stands; what it means for this start
         * is the hint. */
        char hint[512] = "";
        if (pgboot_error_hint())
            snprintf(hint, sizeof hint, "%s; ", pgboot_error_hint());
        pgb_hint("%sthis was the first-start migration of %s: the server runs, the database "
                 "is as it was, and the next start tries again; or start with --no-migrate "
                 "('pgboot migrate' gives all options)",
                 hint, path);
    }
    pgboot_migration_free(m);
    free(dir);
    free(report);
done:
    free(path);
    free(marker);
    return rc;
}

static int do_op(op_kind op, pgboot_server **out, const pgboot_server_options *o,
                 pgboot_stop_mode mode, int lifeline_fd)
{
    pgb_app_paths p;
    int rc = pgb_app_paths_make(&p, o->app, o->data_dir);
    if (rc)
        return rc;
    int lockfd = -1, done = 0;
    /* A stop's timeout covers its wait for the lock too. */
    uint64_t deadline = pgb_now_ms() + (o->timeout_ms ? o->timeout_ms : 60000);
    if (op == OP_ATTACH) {
        /* No lock: attaching must stay cheap and never wait for a start. */
        int stale;
        if (!pgb_is_dir(p.app_dir)) {
            rc = pgb_fail(PGBOOT_ENOTRUNNING,
                          "no server is running for app %s (no app "
                          "directory %s)",
                          p.app, p.app_dir);
            pgb_hint("start it with 'pgboot start --app %s'", p.app);
        } else {
            rc = attach(out, &p, &stale, NULL, probe_bound(o->timeout_ms), NULL);
        }
    } else if ((rc = with_app_lock(&p, op != OP_STOP, mode, deadline, &lockfd, &done)) == 0 &&
               !done) {
        if (op == OP_START || op == OP_RESTART) {
            start_ctx ctx = {.o = o,
                             .unset = o->version >= 2 ? o->unset : NULL,
                             .lifeline_fd = lifeline_fd,
                             .settings = o->settings};
            char **merged = NULL;
            if (o->version >= 3) {
                ctx.co.locale = o->locale;
                ctx.co.encoding = o->encoding;
                ctx.co.data_checksums = o->data_checksums;
                /* A setting given explicitly before wins over a budget too. */
                char *conf = NULL;
                size_t conf_len = 0;
                if (o->memory && pgb_cluster_conf_read(&p, &conf, &conf_len) != 0)
                    pgb_error_reset(); /* no cluster yet */
                rc = pgb_memory_settings(o->memory, o->settings, ctx.unset, conf, conf_len, &merged,
                                         &ctx.nderived);
                free(conf);
                if (merged)
                    ctx.settings = (const char *const *)merged;
            }
            /* restart: what the start would refuse is refused before the stop */
            if (rc == 0 && op == OP_RESTART && (rc = restart_check(&p, &ctx, deadline)) == 0 &&
                (rc = stop_locked(&p, PGBOOT_STOP_FAST, deadline)) == PGBOOT_ENOTRUNNING)
                rc = 0;
            if (rc == 0) {
                pgb_error_reset();
                rc = start_locked(out, &p, &ctx);
            }
            free(merged);
            if (rc == 0 && (rc = maybe_migrate(p.app_dir, o, *out)) != 0) {
                pgboot_server_free(*out);
                *out = NULL;
            }
        } else {
            rc = stop_locked(&p, mode, deadline);
        }
        pgb_unlock(lockfd);
    }
    pgb_app_paths_free(&p);
    return rc;
}

static int check_options(const pgboot_server_options *o)
{
    if (!o)
        return pgb_fail(PGBOOT_EINVALID, "no server options given");
    int rc = pgb_version_check(o->version, PGBOOT_SERVER_OPTIONS_VERSION, "pgboot_server_options");
    if (rc == 0)
        rc = pgb_version_check(o->fetch.version, PGBOOT_FETCH_OPTIONS_VERSION,
                               "pgboot_server_options.fetch");
    return rc ? rc : pgboot_app_name_check(o->app);
}

static int need_unprivileged(const pgboot_server_options *o)
{
    if (geteuid() != 0)
        return 0;
    if (o->run_as && *o->run_as)
        return 1;
    int rc = pgb_fail(PGBOOT_EROOT, "PostgreSQL refuses to run as root, and no unprivileged "
                                    "account was named");
    pgb_hint("add --run-as USER (an unprivileged account; with --create-user pgboot creates "
             "it as a system user)");
    return rc;
}

static int run_op(op_kind op, pgboot_server **out, const pgboot_server_options *o,
                  pgboot_stop_mode mode)
{
    pgb_error_reset();
    if (out)
        *out = NULL;
    int rc = check_options(o);
    if (rc)
        return rc;
    /* Attaching and stopping need no libpq: keep them cheap. */
    int starts = op == OP_START || op == OP_RESTART;
    if ((starts || pgb_external_url(o)) && (rc = pgb_need_lib(PGB_LIB_PQ)) != 0)
        return rc;
    const char *ext = pgb_external_url(o);
    if (ext) {
        if (op == OP_STOP || op == OP_RESTART) {
            rc = pgb_fail(PGBOOT_ENOTRUNNING,
                          "an external database is configured; pgboot does "
                          "not %s it",
                          op == OP_STOP ? "stop" : "restart");
            pgb_hint("%s it where it runs; for pgboot's own server, leave out --database-url and "
                     "unset PGBOOT_DATABASE_URL",
                     op == OP_STOP ? "stop" : "restart");
            return rc;
        }
        if ((rc = pgb_external_server(out, ext, o->timeout_ms)) != 0 || op != OP_START)
            return rc;
        /* The legacy database goes into the external one too. */
        char *app_dir = NULL;
        if ((rc = pgboot_app_dir_for(&app_dir, o)) == 0)
            rc = maybe_migrate(app_dir, o, *out);
        free(app_dir);
        if (rc) {
            pgboot_server_free(*out);
            *out = NULL;
        }
        return rc;
    }
    /* Before anything is made: the refusal leaves nothing behind. */
    if (starts && (rc = pgb_pq_check_own_env()) != 0)
        return rc;
    if ((rc = need_unprivileged(o)) < 0)
        return rc;
    if (rc == 1)
        return via_worker(op, out, o, mode);
    if (!starts || !o->child)
        return do_op(op, out, o, mode, -1);
    /* Child mode: the supervisor watches the read end; we keep the write end,
     * so our death (however it happens) closes it. */
    int lifeline[2];
    if (pipe2(lifeline, O_CLOEXEC) != 0)
        return pgb_fail(PGBOOT_ERROR, "cannot create a pipe: %s", strerror(errno));
    rc = do_op(op, out, o, mode, lifeline[0]);
    close(lifeline[0]);
    if (rc == 0 && (*out)->started_here)
        (*out)->lifeline_fd = lifeline[1];
    else
        close(lifeline[1]);
    return rc;
}

int pgboot_server_start(pgboot_server **out, const pgboot_server_options *o)
{
    return run_op(OP_START, out, o, PGBOOT_STOP_FAST);
}

int pgboot_server_restart(pgboot_server **out, const pgboot_server_options *o)
{
    return run_op(OP_RESTART, out, o, PGBOOT_STOP_FAST);
}

int pgboot_server_attach(pgboot_server **out, const pgboot_server_options *o)
{
    return run_op(OP_ATTACH, out, o, PGBOOT_STOP_FAST);
}

int pgboot_server_stop_app(const pgboot_server_options *o, pgboot_stop_mode mode)
{
    return run_op(OP_STOP, NULL, o, mode);
}

int pgboot_server_options_init(pgboot_server_options *opts, unsigned int version)
{
    pgb_error_reset();
    int rc = pgb_version_check(version, PGBOOT_SERVER_OPTIONS_VERSION, "pgboot_server_options");
    if (rc == 0 && !opts)
        rc = pgb_fail(PGBOOT_EINVALID, "no pgboot_server_options to initialise");
    if (rc == 0) {
        /* Only the fields of that version: the caller's struct may be older. */
        pgboot_server_options init = PGBOOT_SERVER_OPTIONS_INIT;
        memcpy(opts, &init,
               version == 1   ? offsetof(pgboot_server_options, unset)
               : version == 2 ? offsetof(pgboot_server_options, locale)
                              : sizeof init);
        opts->version = version;
    }
    return rc;
}
