/* What the commands share: error output, numbers, the option groups several
 * commands take (each option defined once, here) and their handling, JSON
 * output, and the environment of the commands pgboot runs for the user. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---- errors and numbers -------------------------------------------------- */

static int usage_error(const char *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "pgboot: ");
    vfprintf(stderr, fmt, ap);
    if (cmd)
        fprintf(stderr, "\nhint: run 'pgboot %s --help' for its options\n", cmd);
    else
        fprintf(stderr, "\nhint: run 'pgboot --help' for usage\n");
    return CLI_EXIT_USAGE;
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = usage_error(NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_cmd_usage_error(const cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = usage_error(cmd->name, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_usage_fail(void)
{
    const char *hint = pgboot_error_hint();
    fprintf(stderr, "pgboot: error: %s\nhint: %s\n", pgboot_error_last(),
            hint ? hint : "run 'pgboot --help' for usage");
    return CLI_EXIT_USAGE;
}

int cli_fail(void)
{
    fprintf(stderr, "pgboot: error: %s\n", pgboot_error_last());
    const char *hint = pgboot_error_hint();
    if (hint)
        fprintf(stderr, "hint: %s\n", hint);
    return pgboot_error_code_last() == PGBOOT_ENOTRUNNING ? CLI_EXIT_NOT_RUNNING : CLI_EXIT_FAILURE;
}

int cli_parse_uint(const char *s, const char *opt, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > max || s[0] == '-')
        return cli_usage_error("%s needs a number from 0 to %lu, not '%s'", opt, max, s);
    *out = v;
    return 0;
}

/* ---- the shared option groups -------------------------------------------- */

static const cli_opt bundle_opts[] = {
    {CLI_OPT_PG_VERSION, "pg-version", 0, "N",
     "PostgreSQL major 16, 17 or 18 (default $PGBOOT_PG_VERSION, else 16): of the bundle, and of "
     "a new cluster; an existing one always runs with its own major (another is refused)",
     NULL},
    {CLI_OPT_PLATFORM, "platform", 0, "P", "bundle for platform P (default: this machine)", NULL},
    {CLI_OPT_MANIFEST, "manifest", 0, "FILE", "use this manifest instead of the built-in one",
     NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_bundle = {"bundle options", bundle_opts};

static const cli_opt cache_dir_opts[] = {
    {CLI_OPT_CACHE_DIR, "cache-dir", 0, "DIR",
     "bundle cache (default: $PGBOOT_CACHE_DIR, else ${XDG_CACHE_HOME:-~/.cache}/pgboot)", NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_cache_dir = {NULL, cache_dir_opts};

static const cli_opt download_opts[] = {
    {CLI_OPT_MIRROR, "mirror", 0, "URL", "npm registry or file:// mirror to download from", NULL},
    {CLI_OPT_FROM, "from", 0, "FILE.tgz",
     "install from a local tarball (verified against the manifest)", NULL},
    {CLI_OPT_OFFLINE, "offline", 0, NULL, "never use the network", NULL},
    {CLI_OPT_RETRIES, "retries", 0, "N", "retry transient download failures N times (default 5)",
     NULL},
    {CLI_OPT_RETRY_DELAY, "retry-delay", 0, "MS",
     "first back-off delay (default 500, doubles each time)", NULL},
    {CLI_OPT_CONNECT_TIMEOUT, "connect-timeout", 0, "MS",
     "bound on connecting to the mirror (default 30000)", NULL},
    {CLI_OPT_LOW_SPEED_TIME, "low-speed-time", 0, "MS",
     "give up on a transfer slower than --low-speed-limit for this long (default 30000)", NULL},
    {CLI_OPT_LOW_SPEED_LIMIT, "low-speed-limit", 0, "B", "bytes per second (default 1024)", NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_download = {"download options", download_opts};

static const cli_opt root_opts[] = {
    {CLI_OPT_RUN_AS, "run-as", 0, "USER", "run as this unprivileged account", NULL},
    {CLI_OPT_CREATE_USER, "create-user", 0, NULL,
     "create --run-as USER as a system user if missing", NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_root = {"as root", root_opts};

static const cli_opt app_opts[] = {
    {CLI_OPT_APP, "app", 0, "NAME",
     "the app (letters, digits, '.', '_', '-'; default $PGBOOT_APP or 'pgboot'); data in "
     "${XDG_DATA_HOME:-~/.local/share}/NAME/",
     NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_app = {NULL, app_opts};

static const cli_opt data_dir_opts[] = {
    {CLI_OPT_DATA_DIR, "data-dir", 0, "DIR", "use DIR as the data directory", NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_data_dir = {NULL, data_dir_opts};

static const cli_opt external_opts[] = {
    {CLI_OPT_DATABASE_URL, "database-url", 0, "URL",
     "use this external database instead (or PGBOOT_DATABASE_URL)", NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_external = {NULL, external_opts};

static const cli_opt timeout_opts[] = {
    {CLI_OPT_TIMEOUT, "timeout", 0, "SECONDS",
     "bound on waiting for the server: its start-up and the app's login, or its stop "
     "(default 60)",
     NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_timeout = {NULL, timeout_opts};

static const cli_opt set_opts[] = {
    {CLI_OPT_SET, "set", 0, "NAME=VALUE",
     "a PostgreSQL setting (repeatable): checked by PostgreSQL, persisted in the cluster's "
     "pgboot.conf; on a running server reloaded, or saved for the next restart when it needs one",
     NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_set = {NULL, set_opts};

static const cli_opt unset_opts[] = {
    {CLI_OPT_UNSET, "unset", 0, "NAME",
     "remove a setting from pgboot.conf (repeatable), applied like --set", NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_unset = {NULL, unset_opts};

static const cli_opt start_opts[] = {
    {CLI_OPT_PORT, "port", 0, "N", "exactly this port (default: the last one if free, else any)",
     NULL},
    {CLI_OPT_SQLITE_START, "sqlite", 0, "PATH",
     "the legacy SQLite database to migrate on first start (default: <app dir>/db.sqlite when "
     "it exists)",
     NULL},
    {CLI_OPT_NO_MIGRATE, "no-migrate", 0, NULL, "never migrate on start", NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_start = {NULL, start_opts};

static const cli_opt tmp_dir_opts[] = {
    {CLI_OPT_TMP_DIR, "tmp-dir", 0, "DIR",
     "throwaway clusters go here (default: $TMPDIR, else /dev/shm, else /tmp)", NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_tmp_dir = {NULL, tmp_dir_opts};

static const cli_opt json_opts[] = {
    {CLI_OPT_JSON, "json", 0, NULL, "machine-readable output (one JSON object)", NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_json = {NULL, json_opts};

static const cli_opt cluster_opts[] = {
    {CLI_OPT_LOCALE, "locale", 0, "NAME",
     "the locale of a new cluster (default C.UTF-8, else C); an existing one must have it", NULL},
    {CLI_OPT_ENCODING, "encoding", 0, "NAME",
     "the encoding of a new cluster (default UTF8); an existing one must have it", NULL},
    {CLI_OPT_DATA_CHECKSUMS, "data-checksums", 0, NULL,
     "data checksums (the default for a new cluster); an existing one must have them", NULL},
    {CLI_OPT_NO_DATA_CHECKSUMS, "no-data-checksums", 0, NULL,
     "a new cluster without data checksums; an existing one must have none", NULL},
    {CLI_OPT_MEMORY, "memory", 0, "SIZE",
     "a memory budget (e.g. 512MB, 2GB; units kB, MB, GB): shared_buffers, work_mem, "
     "max_connections ... derived from it and saved like --set (which wins)",
     NULL},
    CLI_OPT_END,
};
const cli_opt_group cli_group_cluster = {"cluster options", cluster_opts};

/* ---- handling them --------------------------------------------------------- */

int cli_bundle_option(cli_opt_id id, const char *arg, pgboot_fetch_options *o)
{
    unsigned long v;
    int rc = 0;
    switch (id) {
    case CLI_OPT_PLATFORM:
        o->platform = arg;
        return 0;
    case CLI_OPT_MANIFEST:
        o->manifest_path = arg;
        return 0;
    case CLI_OPT_MIRROR:
        o->mirror = arg;
        return 0;
    case CLI_OPT_FROM:
        o->from_file = arg;
        return 0;
    case CLI_OPT_PG_VERSION:
        if (pgboot_pg_major_parse(arg, &o->pg_version) != 0)
            return cli_usage_fail();
        return 0;
    case CLI_OPT_CACHE_DIR:
        o->cache_dir = arg;
        return 0;
    case CLI_OPT_OFFLINE:
        o->offline = 1;
        return 0;
    case CLI_OPT_RETRIES:
        if ((rc = cli_parse_uint(arg, "--retries", 100, &v)) == 0)
            o->max_retries = v == 0 ? -1 : (int)v;
        return rc;
    case CLI_OPT_RETRY_DELAY:
        if ((rc = cli_parse_uint(arg, "--retry-delay", 600000, &v)) == 0)
            o->retry_delay_ms = v ? (uint32_t)v : 1;
        return rc;
    case CLI_OPT_CONNECT_TIMEOUT:
        if ((rc = cli_parse_uint(arg, "--connect-timeout", 3600000, &v)) == 0)
            o->connect_timeout_ms = (uint32_t)v;
        return rc;
    case CLI_OPT_LOW_SPEED_TIME:
        if ((rc = cli_parse_uint(arg, "--low-speed-time", 3600000, &v)) == 0)
            o->low_speed_time_ms = (uint32_t)v;
        return rc;
    case CLI_OPT_LOW_SPEED_LIMIT:
        if ((rc = cli_parse_uint(arg, "--low-speed-limit", 1UL << 30, &v)) == 0)
            o->low_speed_limit = (uint32_t)v;
        return rc;
    default:
        return -1;
    }
}

void cli_server_opts_init(cli_server_opts *s)
{
    pgboot_server_options init = PGBOOT_SERVER_OPTIONS_INIT;
    memset(s, 0, sizeof *s);
    s->o = init;
    const char *env_app = getenv("PGBOOT_APP");
    s->o.app = env_app && *env_app ? env_app : "pgboot";
}

int cli_server_option(cli_server_opts *s, cli_opt_id id, const char *arg)
{
    unsigned long v;
    int rc;
    switch (id) {
    case CLI_OPT_APP:
        s->o.app = arg;
        s->app_given = 1;
        return 0;
    case CLI_OPT_DATA_DIR:
        s->o.data_dir = arg;
        return 0;
    case CLI_OPT_RUN_AS:
        s->o.run_as = arg;
        return 0;
    case CLI_OPT_CREATE_USER:
        s->o.create_user = 1;
        return 0;
    case CLI_OPT_DATABASE_URL:
        s->o.database_url = arg;
        return 0;
    case CLI_OPT_TIMEOUT:
        if ((rc = cli_parse_uint(arg, "--timeout", 86400, &v)) != 0)
            return rc;
        s->o.timeout_ms = v ? (uint32_t)v * 1000 : 1;
        return 0;
    case CLI_OPT_PORT:
        if ((rc = cli_parse_uint(arg, "--port", 65535, &v)) != 0)
            return rc;
        if (v == 0)
            return cli_usage_error("--port needs a port from 1 to 65535");
        s->o.port = (int)v;
        return 0;
    case CLI_OPT_SET:
        if (s->nsettings == CLI_MAX_LIST)
            return cli_usage_error("at most %d --set options", CLI_MAX_LIST);
        if (!strchr(arg, '='))
            return cli_usage_error("--set needs NAME=VALUE, not '%s'", arg);
        s->settings[s->nsettings++] = arg;
        return 0;
    case CLI_OPT_UNSET:
        if (s->nunset == CLI_MAX_LIST)
            return cli_usage_error("at most %d --unset options", CLI_MAX_LIST);
        s->unset[s->nunset++] = arg;
        return 0;
    case CLI_OPT_SQLITE_START:
        s->o.sqlite_path = arg;
        return 0;
    case CLI_OPT_NO_MIGRATE:
        s->o.no_migrate = 1;
        return 0;
    case CLI_OPT_LOCALE:
        s->o.locale = arg;
        return 0;
    case CLI_OPT_ENCODING:
        s->o.encoding = arg;
        return 0;
    case CLI_OPT_DATA_CHECKSUMS:
    case CLI_OPT_NO_DATA_CHECKSUMS: {
        int on = id == CLI_OPT_DATA_CHECKSUMS ? 1 : -1;
        if (s->o.data_checksums && s->o.data_checksums != on)
            return cli_usage_error("--data-checksums and --no-data-checksums contradict each "
                                   "other: give one");
        s->o.data_checksums = on;
        return 0;
    }
    case CLI_OPT_MEMORY: {
        /* A budget that is no size is a usage error, before anything runs. */
        uint64_t bytes;
        if (pgboot_memory_budget_parse(arg, &bytes) != 0)
            return cli_usage_fail();
        s->o.memory = arg;
        return 0;
    }
    case CLI_OPT_PG_VERSION:
        /* The cluster's major, which chooses its bundle. */
        if (pgboot_pg_major_parse(arg, &s->o.pg_version) != 0)
            return cli_usage_fail();
        return 0;
    default:
        return cli_bundle_option(id, arg, &s->o.fetch);
    }
}

int cli_server_opts_finish(cli_server_opts *s)
{
    s->settings[s->nsettings] = NULL;
    if (s->nsettings)
        s->o.settings = s->settings;
    s->unset[s->nunset] = NULL;
    if (s->nunset)
        s->o.unset = s->unset;
    if (pgboot_app_name_check(s->o.app) != 0)
        return cli_usage_fail();
    return 0;
}

/* ---- output ------------------------------------------------------------------ */

void cli_print_json(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    printf("%s\n", s ? s : "{}");
    fflush(stdout);
    free(s);
    json_decref(j);
}

json_t *cli_server_json(const pgboot_server *s, const char *event)
{
    json_t *j =
        json_pack("{s:s, s:i, s:i, s:s, s:s?, s:s?, s:s, s:b, s:b}", "url", pgboot_server_url(s),
                  "port", pgboot_server_port(s), "pid", pgboot_server_pid(s), "host",
                  pgboot_server_host(s), "socket_dir", pgboot_server_socket_dir(s), "data_dir",
                  pgboot_server_data_dir(s), "version", pgboot_server_pg_version(s), "started",
                  pgboot_server_started_here(s), "external", pgboot_server_is_external(s));
    if (j && event)
        json_object_set_new(j, "event", json_string(event));
    /* Settings changed on a running server: applied now, or at a restart. */
    if (j && !pgboot_server_is_external(s)) {
        json_t *pending = json_array(), *reloaded = json_array();
        const char *lists[2] = {pgboot_server_restart_needed(s), pgboot_server_reloaded(s)};
        for (int k = 0; k < 2; k++) {
            for (const char *r = lists[k]; r && *r;) {
                size_t n = strcspn(r, ",");
                json_array_append_new(k ? reloaded : pending, json_stringn(r, n));
                r += n;
                while (*r == ',' || *r == ' ')
                    r++;
            }
        }
        json_object_set_new(j, "restart_needed", pending);
        json_object_set_new(j, "reloaded", reloaded);
    }
    return j;
}

/* ---- environment ------------------------------------------------------------- */

/* The environment pgboot was started with, before cli_own_server_env():
 * what a command run for the user inherits. The strings belong to the
 * process's initial environment, which unsetenv() does not free. */
static char **original_environ;

void cli_save_environ(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    original_environ = calloc(n + 1, sizeof *original_environ);
    if (original_environ)
        memcpy(original_environ, environ, n * sizeof *environ);
}

void cli_own_server_env(void)
{
    /* libpq reads PGSERVICE before any connection parameter and libpq 15
     * cannot be told to ignore it (PGSERVICEFILE names where); PGDATESTYLE,
     * PGTZ and PGGEQO it sends after "options", so an invalid one fails the
     * connection before the library can set them back. This process has no
     * thread yet: dropping them is safe here, and only here. */
    static const char *const names[] = {"PGSERVICE", "PGSERVICEFILE", "PGDATESTYLE",
                                        "PGTZ",      "PGGEQO",        NULL};
    for (int i = 0; names[i]; i++)
        unsetenv(names[i]);
}

static int env_name_is(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(entry, name, n) && entry[n] == '=';
}

char **cli_child_environ(const pgboot_env_var *vars)
{
    char **src = original_environ ? original_environ : environ;
    size_t n = 0, nv = 0;
    while (src[n])
        n++;
    while (vars[nv].name)
        nv++;
    char **env = calloc(n + nv + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int replaced = 0;
        for (size_t j = 0; j < nv && !replaced; j++)
            replaced = env_name_is(src[i], vars[j].name);
        if (!replaced && !(env[k++] = strdup(src[i])))
            goto oom;
    }
    for (size_t j = 0; j < nv; j++) {
        if (!vars[j].value)
            continue;
        if (asprintf(&env[k], "%s=%s", vars[j].name, vars[j].value) < 0) {
            env[k] = NULL;
            goto oom;
        }
        k++;
    }
    env[k] = NULL;
    return env;
oom:
    cli_child_environ_free(env);
    return NULL;
}

void cli_child_environ_free(char **env)
{
    if (!env)
        return;
    for (size_t i = 0; env[i]; i++) {
        explicit_bzero(env[i], strlen(env[i])); /* PGPASSWORD, DATABASE_URL */
        free(env[i]);
    }
    free(env);
}
