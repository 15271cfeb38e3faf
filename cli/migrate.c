/* pgboot migrate --sqlite PATH [--app NAME | --to URL] [options] */
#define _GNU_SOURCE
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

const cli_opt cli_migrate_opts[] = {
    {CLI_OPT_SQLITE, "sqlite", 0, "PATH", "the SQLite database to migrate (required)", NULL},
    CLI_INCLUDE(cli_group_app),
    {CLI_OPT_TO, "to", 0, "URL", "migrate into this database instead of the app's server", NULL},
    {CLI_OPT_DRY_RUN, "dry-run", 0, NULL,
     "read and check everything, print the DDL and the report; write nothing", NULL},
    {CLI_OPT_REPORT, "report", 0, "FILE",
     "write the JSON report here (default: <app dir>/migrations/<time>.json)", NULL},
    {CLI_OPT_ON_ERROR, "on-error", 0, "strict|widen|reject",
     "a value that cannot be stored exactly stops the migration (strict, default), gives its "
     "column a type that holds every value (widen), or sets its row aside (reject)",
     NULL},
    {CLI_OPT_ALLOW_REJECTS, "allow-rejects", 0, NULL, "exit 0 even when rows were rejected", NULL},
    {CLI_OPT_VERIFY, "verify", 0, "counts|full",
     "row counts per table (default), or also a digest of every value read back", NULL},
    {CLI_OPT_SCHEMA, "schema", 0, "FILE.sql",
     "apply this PostgreSQL schema first; the rows go into its tables", NULL},
    {CLI_OPT_DATA_ONLY, "data-only", 0, NULL, "load the rows into tables that exist already", NULL},
    {CLI_OPT_SKIP_TABLE, "skip-table", 0, "TABLE",
     "with --schema or --data-only: keep the target table's rows and load nothing into it "
     "(repeatable)",
     NULL},
    {CLI_OPT_REPLACE_TABLE, "replace-table", 0, "TABLE",
     "with --schema or --data-only: delete the target table's rows (inside the migration's "
     "transaction), then load SQLite's (repeatable)",
     NULL},
    {CLI_OPT_DROP_COLUMN, "drop-column", 0, "TABLE.COLUMN",
     "with --schema or --data-only: leave the values of this SQLite column, which the target's "
     "table lacks, behind on purpose (else such a column with values stops the migration; "
     "repeatable)",
     NULL},
    {CLI_OPT_EXISTING_ROWS, "existing-rows", 0, "refuse|skip|replace",
     "with --schema or --data-only: what becomes of every other target table that holds rows: "
     "stop before writing (refuse, default), --skip-table or --replace-table for each",
     NULL},
    {CLI_OPT_PRESERVE_CASE, "preserve-case", 0, NULL, "keep names as they are (else lower-cased)",
     NULL},
    {CLI_OPT_EPOCH_AS_TIMESTAMP, "epoch-as-timestamp", 0, NULL,
     "integer DATE/DATETIME columns are epoch seconds", NULL},
    {CLI_OPT_DETECT_JSON, "detect-json", 0, NULL,
     "TEXT columns of only JSON objects/arrays become jsonb", NULL},
    {CLI_OPT_ROUND_TIMESTAMPS, "round-timestamps", 0, NULL,
     "round timestamps with digits past microseconds (9 from Rust and Go, 7 from .NET) to the "
     "nearest microsecond, and count them in the report",
     NULL},
    {CLI_OPT_ZERO_DATES, "zero-dates", 0, "infinity|null",
     "load zero dates ('0000-00-00 00:00:00') as -infinity, or as NULL where the column allows "
     "it (default: refused)",
     NULL},
    {CLI_OPT_FORCE, "force", 0, NULL, "migrate again although the target records a migration",
     NULL},
    {CLI_OPT_REPLACE, "replace", 0, NULL, "with --force: drop existing tables that hold rows",
     NULL},
    CLI_INCLUDE(cli_group_json),
    CLI_INCLUDE(cli_group_bundle),
    CLI_INCLUDE(cli_group_cache_dir),
    CLI_INCLUDE(cli_group_download),
    CLI_OPT_END,
};

typedef struct {
    pgboot_migrate_options mo;
    pgboot_server_options so;
    const char *app, *to;
    int as_json, allow_rejects;
    const char *skip[CLI_MAX_LIST + 1], *replace[CLI_MAX_LIST + 1], *drop[CLI_MAX_LIST + 1];
    int nskip, nreplace, ndrop;
} migrate_args;

/* 0 or a usage exit status. */
static int migrate_option(void *ctx, cli_opt_id id, const char *arg)
{
    migrate_args *a = ctx;
    pgboot_migrate_options *mo = &a->mo;
    switch (id) {
    case CLI_OPT_SQLITE:
        mo->sqlite_path = arg;
        return 0;
    case CLI_OPT_APP:
        a->app = arg;
        return 0;
    case CLI_OPT_TO:
        a->to = arg;
        return 0;
    case CLI_OPT_DRY_RUN:
        mo->dry_run = 1;
        return 0;
    case CLI_OPT_REPORT:
        mo->report_path = arg;
        return 0;
    case CLI_OPT_ON_ERROR: { /* in the order of pgboot_on_error */
        static const char *const names[] = {"strict", "widen", "reject", NULL};
        int v = 0, rc = cli_choice("--on-error", arg, names, &v);
        mo->on_error = (pgboot_on_error)v;
        return rc;
    }
    case CLI_OPT_ALLOW_REJECTS:
        a->allow_rejects = 1;
        return 0;
    case CLI_OPT_VERIFY: { /* in the order of pgboot_verify_mode */
        static const char *const names[] = {"counts", "full", NULL};
        int v = 0, rc = cli_choice("--verify", arg, names, &v);
        mo->verify = (pgboot_verify_mode)v;
        return rc;
    }
    case CLI_OPT_SCHEMA:
        mo->schema_file = arg;
        return 0;
    case CLI_OPT_DATA_ONLY:
        mo->data_only = 1;
        return 0;
    case CLI_OPT_PRESERVE_CASE:
        mo->preserve_case = 1;
        return 0;
    case CLI_OPT_EPOCH_AS_TIMESTAMP:
        mo->epoch_as_timestamp = 1;
        return 0;
    case CLI_OPT_DETECT_JSON:
        mo->detect_json = 1;
        return 0;
    case CLI_OPT_ROUND_TIMESTAMPS:
        mo->round_timestamps = 1;
        return 0;
    case CLI_OPT_ZERO_DATES: { /* in the order of pgboot_zero_dates, after refuse */
        static const char *const names[] = {"infinity", "null", NULL};
        int v = 0, rc = cli_choice("--zero-dates", arg, names, &v);
        mo->zero_dates = (pgboot_zero_dates)(v + 1);
        return rc;
    }
    case CLI_OPT_FORCE:
        mo->force = 1;
        return 0;
    case CLI_OPT_REPLACE:
        mo->replace = 1;
        return 0;
    case CLI_OPT_SKIP_TABLE:
        if (a->nskip == CLI_MAX_LIST)
            return cli_usage_error("at most %d --skip-table options", CLI_MAX_LIST);
        a->skip[a->nskip++] = arg;
        mo->skip_tables = a->skip;
        return 0;
    case CLI_OPT_REPLACE_TABLE:
        if (a->nreplace == CLI_MAX_LIST)
            return cli_usage_error("at most %d --replace-table options", CLI_MAX_LIST);
        a->replace[a->nreplace++] = arg;
        mo->replace_tables = a->replace;
        return 0;
    case CLI_OPT_DROP_COLUMN:
        if (a->ndrop == CLI_MAX_LIST)
            return cli_usage_error("at most %d --drop-column options", CLI_MAX_LIST);
        if (!strchr(arg, '.'))
            return cli_usage_error("--drop-column takes TABLE.COLUMN, not '%s'", arg);
        a->drop[a->ndrop++] = arg;
        mo->drop_columns = a->drop;
        return 0;
    case CLI_OPT_EXISTING_ROWS: { /* in the order of pgboot_existing_rows */
        static const char *const names[] = {"refuse", "skip", "replace", NULL};
        int v = 0, rc = cli_choice("--existing-rows", arg, names, &v);
        mo->existing_rows = (pgboot_existing_rows)v;
        return rc;
    }
    case CLI_OPT_JSON:
        a->as_json = 1;
        return 0;
    case CLI_OPT_PG_VERSION: /* the major of the app's cluster, if migrate makes it */
        return pgboot_pg_major_parse(arg, &a->so.pg_version) != 0 ? cli_usage_fail() : 0;
    default:
        return cli_bundle_option(id, arg, &a->so.fetch);
    }
}

/* 0, -1 after --help, or a usage exit status. */
static int parse_args(const cli_cmd *cmd, int argc, char **argv, migrate_args *a)
{
    pgboot_migrate_options mo = PGBOOT_MIGRATE_OPTIONS_INIT;
    pgboot_server_options so = PGBOOT_SERVER_OPTIONS_INIT;
    memset(a, 0, sizeof *a);
    a->mo = mo;
    a->so = so;
    cli_parser p;
    int rc = cli_parser_init(&p, cmd, argc, argv);
    if (rc)
        return rc;
    rc = cli_parse_all(&p, migrate_option, a); /* -1: --help, done */
    cli_parser_free(&p);
    if (rc)
        return rc;
    if (p.next < argc)
        return cli_cmd_usage_error(cmd, "migrate: unexpected argument '%s'", argv[p.next]);
    return 0;
}

int cmd_migrate(const cli_cmd *cmd, int argc, char **argv)
{
    migrate_args a;
    int rc = parse_args(cmd, argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    pgboot_migrate_options mo = a.mo;
    pgboot_server_options so = a.so;
    const char *app = a.app, *to = a.to;
    int as_json = a.as_json, allow_rejects = a.allow_rejects;
    if (!mo.sqlite_path)
        return cli_usage_error("migrate needs --sqlite PATH (the SQLite database to migrate)");
    if (app && to)
        return cli_usage_error("migrate takes --app NAME or --to URL, not both");
    if (!app && !to && !mo.dry_run)
        return cli_usage_error("migrate needs a target: --app NAME or --to URL");
    if (mo.replace && !mo.force)
        return cli_usage_error("--replace goes with --force");
    if ((a.nskip || a.nreplace || a.ndrop || mo.existing_rows) && !mo.schema_file && !mo.data_only)
        return cli_usage_error("--skip-table, --replace-table, --drop-column and --existing-rows "
                               "go with --schema FILE.sql or --data-only");
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
