/* pgboot migrate --sqlite PATH [--app NAME | --to URL] [options] */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

typedef struct {
    uint64_t started_ms;
    const char *table;
    int last_pct;
    int line; /* a progress line is on the terminal */
} progress_state;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A progress line on stderr when it is a terminal: table, rows, rows/s, %. */
static void progress(const char *table, uint64_t done, uint64_t total, void *payload)
{
    progress_state *p = payload;
    if (!table) { /* the rows are in; what follows has no count */
        fprintf(stderr, "\r%-78s\r%llu rows in; building keys, indexes and constraints, verifying",
                "", (unsigned long long)done);
        fflush(stderr);
        p->line = 1;
        return;
    }
    p->line = 1;
    int pct = total ? (int)(done * 100 / total) : 100;
    double secs = (double)(now_ms() - p->started_ms) / 1000.0;
    fprintf(stderr, "\rmigrating %-24.24s %10llu rows %9.0f rows/s %3d%%", table,
            (unsigned long long)done, secs > 0 ? (double)done / secs : 0.0, pct);
    fflush(stderr);
}

int cmd_migrate(int argc, char **argv)
{
    enum {
        O_SQLITE = 1,
        O_APP,
        O_TO,
        O_DRY,
        O_REPORT,
        O_ONERR,
        O_ALLOW,
        O_VERIFY,
        O_SCHEMA,
        O_DATA,
        O_CASE,
        O_EPOCH,
        O_JSONDET,
        O_FORCE,
        O_REPLACE,
        O_JSON,
        O_HELP
    };
    static const struct option options[] = {
        CLI_FETCH_OPTIONS,
        {"sqlite", required_argument, NULL, O_SQLITE},
        {"app", required_argument, NULL, O_APP},
        {"to", required_argument, NULL, O_TO},
        {"dry-run", no_argument, NULL, O_DRY},
        {"report", required_argument, NULL, O_REPORT},
        {"on-error", required_argument, NULL, O_ONERR},
        {"allow-rejects", no_argument, NULL, O_ALLOW},
        {"verify", required_argument, NULL, O_VERIFY},
        {"schema", required_argument, NULL, O_SCHEMA},
        {"data-only", no_argument, NULL, O_DATA},
        {"preserve-case", no_argument, NULL, O_CASE},
        {"epoch-as-timestamp", no_argument, NULL, O_EPOCH},
        {"detect-json", no_argument, NULL, O_JSONDET},
        {"force", no_argument, NULL, O_FORCE},
        {"replace", no_argument, NULL, O_REPLACE},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    pgboot_migrate_options mo = PGBOOT_MIGRATE_OPTIONS_INIT;
    pgboot_server_options so = PGBOOT_SERVER_OPTIONS_INIT;
    const char *app = NULL, *to = NULL;
    int as_json = 0, allow_rejects = 0, c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if ((rc = cli_fetch_option(c, optarg, &so.fetch)) >= 1000)
            return rc - 1000;
        if (rc == 1)
            continue;
        switch (c) {
        case O_SQLITE:
            mo.sqlite_path = optarg;
            break;
        case O_APP:
            app = optarg;
            break;
        case O_TO:
            to = optarg;
            break;
        case O_DRY:
            mo.dry_run = 1;
            break;
        case O_REPORT:
            mo.report_path = optarg;
            break;
        case O_ONERR:
            if (!strcmp(optarg, "strict"))
                mo.on_error = PGBOOT_ON_ERROR_STRICT;
            else if (!strcmp(optarg, "widen"))
                mo.on_error = PGBOOT_ON_ERROR_WIDEN;
            else if (!strcmp(optarg, "reject"))
                mo.on_error = PGBOOT_ON_ERROR_REJECT;
            else
                return cli_usage_error("--on-error is strict, widen or reject, not '%s'", optarg);
            break;
        case O_ALLOW:
            allow_rejects = 1;
            break;
        case O_VERIFY:
            if (!strcmp(optarg, "counts"))
                mo.verify = PGBOOT_VERIFY_COUNTS;
            else if (!strcmp(optarg, "full"))
                mo.verify = PGBOOT_VERIFY_FULL;
            else
                return cli_usage_error("--verify is counts or full, not '%s'", optarg);
            break;
        case O_SCHEMA:
            mo.schema_file = optarg;
            break;
        case O_DATA:
            mo.data_only = 1;
            break;
        case O_CASE:
            mo.preserve_case = 1;
            break;
        case O_EPOCH:
            mo.epoch_as_timestamp = 1;
            break;
        case O_JSONDET:
            mo.detect_json = 1;
            break;
        case O_FORCE:
            mo.force = 1;
            break;
        case O_REPLACE:
            mo.replace = 1;
            break;
        case O_JSON:
            as_json = 1;
            break;
        case O_HELP:
            fputs(cli_usage_text, stdout);
            return 0;
        default:
            return cli_usage_error("migrate: unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("migrate: unexpected argument '%s'", argv[optind]);
    if (!mo.sqlite_path)
        return cli_usage_error("migrate needs --sqlite PATH (the SQLite database to migrate)");
    if (app && to)
        return cli_usage_error("migrate takes --app NAME or --to URL, not both");
    if (!app && !to && !mo.dry_run)
        return cli_usage_error("migrate needs a target: --app NAME or --to URL");
    if (mo.replace && !mo.force)
        return cli_usage_error("--replace goes with --force");
    if (app && pgboot_app_name_check(app) != 0)
        return cli_usage_fail();
    const char *ext = getenv("PGBOOT_DATABASE_URL");
    if (app && !(ext && *ext) && !mo.dry_run && geteuid() == 0) {
        /* The app's files (its reports among them) belong to the account its
         * server runs as, so the migration runs as that account; as root what
         * works is the migration by URL into the server started --run-as. */
        fprintf(stderr,
                "pgboot: error: migrate --app %s runs as the app's own account, not as "
                "root\n",
                app);
        fprintf(stderr,
                "hint: run it as that account (e.g. runuser -u USER -- pgboot migrate ...), or "
                "as root: pgboot start --app %s --run-as USER, then pgboot migrate --sqlite "
                "FILE --to \"$(pgboot url --app %s --run-as USER)\"\n",
                app, app);
        return 1;
    }
    if (app && !(ext && *ext))
        cli_own_server_env(); /* not --to URL: the app's own server */

    /* Where the report and the rejected rows go. */
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    char *report_dir = NULL, *report_path = NULL;
    pgboot_server *s = NULL;
    if (app) {
        so.app = app;
        char *app_dir = NULL;
        if (pgboot_app_dir_for(&app_dir, &so) != 0)
            return cli_fail();
        if (asprintf(&report_dir, "%s/migrations/%s", app_dir, stamp) < 0)
            report_dir = NULL;
        if (!mo.report_path && asprintf(&report_path, "%s/migrations/%s.json", app_dir, stamp) >= 0)
            mo.report_path = report_path;
        free(app_dir);
        if (!mo.dry_run) {
            if (pgboot_server_start(&s, &so) != 0) {
                free(report_dir);
                free(report_path);
                return cli_fail();
            }
            mo.server = s;
        }
    } else {
        mo.target_url = to;
        if (mo.report_path) {
            char *d = strdup(mo.report_path);
            char *slash = d ? strrchr(d, '/') : NULL;
            if (slash)
                *slash = '\0';
            report_dir = slash ? d : (free(d), strdup("."));
        } else if (asprintf(&report_dir, "pgboot-migration-%s", stamp) < 0) {
            report_dir = NULL;
        }
    }
    mo.report_dir = report_dir;
    progress_state ps = {.started_ms = now_ms()};
    if (isatty(2)) {
        mo.progress = progress;
        mo.progress_payload = &ps;
    }
    pgboot_migration *m = NULL;
    rc = pgboot_migrate(&m, &mo);
    if (ps.line) /* clear it before the summary or the error */
        fprintf(stderr, "\r%-78s\r", "");
    if (rc != 0) {
        int status = cli_fail();
        if (m && mo.report_path)
            fprintf(stderr, "the report is in %s\n", mo.report_path);
        if (m && as_json)
            printf("%s\n", pgboot_migration_report(m));
        pgboot_migration_free(m);
        pgboot_server_free(s);
        free(report_dir);
        free(report_path);
        return status;
    }
    if (mo.dry_run && !as_json)
        printf("%s", pgboot_migration_ddl(m));
    if (as_json || mo.dry_run)
        printf("%s\n", pgboot_migration_report(m));
    fprintf(stderr, "%s", pgboot_migration_summary(m));
    if (mo.report_path && !mo.dry_run && !pgboot_migration_already_done(m))
        fprintf(stderr, "report: %s\n", mo.report_path);
    int status = 0;
    if (pgboot_migration_rejected(m) > 0) {
        fprintf(stderr, "pgboot: %llu rows were rejected; they are in %s/rejects/\n",
                (unsigned long long)pgboot_migration_rejected(m), report_dir);
        if (!allow_rejects) {
            fprintf(stderr, "hint: the rest is migrated; --allow-rejects makes this exit 0\n");
            status = 1;
        }
    }
    pgboot_migration_free(m);
    pgboot_server_free(s);
    free(report_dir);
    free(report_path);
    return status;
}
