/* The pgboot command line tool: a thin client of the public API. Each command
 * parses its arguments into an options struct, makes one library call, and
 * prints the result. Errors are printed here, never in the library. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char cli_usage_text[] =
    "usage: pgboot <command> [options]\n"
    "\n"
    "PostgreSQL with zero setup.\n"
    "\n"
    "commands:\n"
    "  start    start (or reuse) the app's server in the background; print its URL\n"
    "  serve    run the server in the foreground for a parent process; a JSON line\n"
    "           {\"event\":\"ready\",...} when ready; stops on SIGTERM/SIGINT, when stdin\n"
    "           closes, and when the parent dies\n"
    "  run -- CMD [ARGS...]  start or reuse the server, run CMD with DATABASE_URL and\n"
    "           PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE set, stop the server if this\n"
    "           run started it, exit with CMD's status\n"
    "  run --ephemeral -- CMD [ARGS...]  the same with a throwaway cluster (durability\n"
    "           off, in a fresh temporary directory) removed afterwards\n"
    "  tmp      print the URL of a throwaway cluster that removes itself once no client\n"
    "           has been connected for --ttl SECONDS (default 60)\n"
    "  testdb (--app NAME | --url URL) --template-sql FILE... [--count N]\n"
    "           print the URL of a fresh database cloned from a template built once\n"
    "           from the SQL files (keyed by their contents)\n"
    "  testdb drop URL  drop such a database, even with connections still open\n"
    "  status   say what the app's server is doing: exit 0 running, 3 not running,\n"
    "           4 stopping (a smart shutdown serves its clients but takes no new ones),\n"
    "           5 not answering (its process lives but does not answer: hung, SIGSTOP)\n"
    "  url      print the URL of the running server (exit 3 if none, 4 stopping,\n"
    "           5 not answering; env too)\n"
    "  env      print the connection variables: --format sh (default; also unsets the\n"
    "           libpq variables that could redirect a client), dotenv or json\n"
    "  logs     print the server log; -f follows it\n"
    "  stop     stop the server: --mode fast (default), smart or immediate\n"
    "  restart  stop the server (fast) if it runs and start it again, with the same\n"
    "           options as start; applies settings that need a restart\n"
    "  migrate --sqlite PATH (--app NAME | --to URL) [--dry-run] [--report FILE]\n"
    "           [--on-error strict|widen|reject] [--allow-rejects] [--verify counts|full]\n"
    "           [--schema FILE.sql] [--data-only] [--preserve-case] [--epoch-as-timestamp]\n"
    "           [--detect-json] [--force [--replace]] [--json]\n"
    "           move a SQLite database into PostgreSQL: one transaction, verified\n"
    "  fetch    download, verify and install the pinned PostgreSQL bundle; print its bin/\n"
    "  verify   re-check the cached bundle against its pinned digest\n"
    "\n"
    "server options:\n"
    "  --app NAME            the app (letters, digits, '.', '_', '-'; default $PGBOOT_APP or\n"
    "                        'pgboot'); data in ${XDG_DATA_HOME:-~/.local/share}/NAME/\n"
    "  --data-dir DIR        use DIR as the data directory\n"
    "  --port N              exactly this port (default: the last one if free, else any)\n"
    "  --timeout SECONDS     bound on waiting for the server: its start-up and the app's\n"
    "                        login (default 60)\n"
    "  --set NAME=VALUE      a PostgreSQL setting (repeatable): checked by PostgreSQL,\n"
    "                        persisted in the cluster's pgboot.conf; on a running server\n"
    "                        reloaded, or saved for the next restart when it needs one\n"
    "  --unset NAME          remove a setting from pgboot.conf (repeatable), applied\n"
    "                        like --set\n"
    "  --run-as USER         as root: run as this unprivileged account\n"
    "  --create-user         as root: create --run-as USER as a system user if missing\n"
    "  --database-url URL    use this external database instead (or PGBOOT_DATABASE_URL)\n"
    "  --sqlite PATH         the legacy SQLite database to migrate on first start\n"
    "                        (default: <app dir>/db.sqlite when it exists)\n"
    "  --no-migrate          never migrate on start\n"
    "  --json                machine-readable output (start, restart, status, url, tmp)\n"
    "  --tmp-dir DIR         throwaway clusters go here (default: $TMPDIR, else /dev/shm,\n"
    "                        else /tmp)\n"
    "\n"
    "bundle options (fetch, verify, and server commands):\n"
    "  --platform P          bundle for platform P (default: this machine)\n"
    "  --manifest FILE       use this manifest instead of the built-in one\n"
    "  --mirror URL          npm registry or file:// mirror to download from\n"
    "  --from FILE.tgz       install from a local tarball (verified against the manifest)\n"
    "  --cache-dir DIR       bundle cache (default: ${XDG_CACHE_HOME:-~/.cache}/pgboot)\n"
    "  --offline             never use the network\n"
    "  --retries N           retry transient download failures N times (default 5)\n"
    "  --retry-delay MS      first back-off delay (default 500, doubles each time)\n"
    "  --connect-timeout MS  (default 30000)\n"
    "  --low-speed-time MS   give up on a transfer slower than --low-speed-limit for this\n"
    "                        long (default 30000)\n"
    "  --low-speed-limit B   bytes per second (default 1024)\n"
    "\n"
    "  pgboot --version | --help\n"
    "\n"
    "environment: PGBOOT_APP, PGBOOT_MIRROR, PGBOOT_DATABASE_URL, PGBOOT_CACHE_DIR,\n"
    "             npm_config_registry, NPM_CONFIG_USERCONFIG, https_proxy/http_proxy/no_proxy\n"
    "exit status: 0 ok, 1 failure, 2 usage error, 3 not running, 4 stopping and\n"
    "             5 not answering (status, url, env)\n";

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pgboot: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nhint: run 'pgboot --help' for usage\n");
    va_end(ap);
    return EXIT_USAGE;
}

int cli_usage_fail(void)
{
    const char *hint = pgboot_error_hint();
    fprintf(stderr, "pgboot: error: %s\nhint: %s\n", pgboot_error_last(),
            hint ? hint : "run 'pgboot --help' for usage");
    return EXIT_USAGE;
}

int cli_fail(void)
{
    fprintf(stderr, "pgboot: error: %s\n", pgboot_error_last());
    const char *hint = pgboot_error_hint();
    if (hint)
        fprintf(stderr, "hint: %s\n", hint);
    return pgboot_error_code_last() == PGBOOT_ENOTRUNNING ? EXIT_NOT_RUNNING : EXIT_FAILURE_;
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

int cli_fetch_option(int c, const char *arg, pgboot_fetch_options *o)
{
    unsigned long v;
    int rc;
    switch (c) {
    case 1001:
        o->platform = arg;
        return 1;
    case 1002:
        o->manifest_path = arg;
        return 1;
    case 1003:
        o->mirror = arg;
        return 1;
    case 1004:
        o->from_file = arg;
        return 1;
    case 1005:
        o->cache_dir = arg;
        return 1;
    case 1006:
        o->offline = 1;
        return 1;
    case 1007:
        if ((rc = cli_parse_uint(arg, "--retries", 100, &v)) != 0)
            return 1000 + rc;
        o->max_retries = v == 0 ? -1 : (int)v;
        return 1;
    case 1008:
        if ((rc = cli_parse_uint(arg, "--retry-delay", 600000, &v)) != 0)
            return 1000 + rc;
        o->retry_delay_ms = v ? (uint32_t)v : 1;
        return 1;
    case 1009:
        if ((rc = cli_parse_uint(arg, "--connect-timeout", 3600000, &v)) != 0)
            return 1000 + rc;
        o->connect_timeout_ms = (uint32_t)v;
        return 1;
    case 1010:
        if ((rc = cli_parse_uint(arg, "--low-speed-time", 3600000, &v)) != 0)
            return 1000 + rc;
        o->low_speed_time_ms = (uint32_t)v;
        return 1;
    case 1011:
        if ((rc = cli_parse_uint(arg, "--low-speed-limit", 1UL << 30, &v)) != 0)
            return 1000 + rc;
        o->low_speed_limit = (uint32_t)v;
        return 1;
    default:
        return 0;
    }
}

/* The environment pgboot was started with, before cli_own_server_env():
 * what a command run for the user inherits. The strings belong to the
 * process's initial environment, which unsetenv() does not free. */
static char **original_environ;

static void save_environ(void)
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

int main(int argc, char **argv)
{
    save_environ();
    if (argc < 2) {
        fputs(cli_usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("pgboot %s\n", pgboot_version());
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(cli_usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "fetch"))
        return cmd_fetch(argc - 1, argv + 1, 0);
    if (!strcmp(cmd, "verify"))
        return cmd_fetch(argc - 1, argv + 1, 1);
    if (!strcmp(cmd, "migrate"))
        return cmd_migrate(argc - 1, argv + 1);
    static const char *const server_cmds[] = {"start", "serve", "run", "status", "url",     "env",
                                              "logs",  "stop",  "tmp", "testdb", "restart", NULL};
    for (int i = 0; server_cmds[i]; i++)
        if (!strcmp(cmd, server_cmds[i]))
            return cmd_server(argc - 1, argv + 1, cmd);
    return cli_usage_error("unknown command '%s'", cmd);
}
