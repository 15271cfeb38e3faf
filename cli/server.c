/* pgboot start / serve / run / status / url / env / logs / stop. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include <jansson.h>

#include "cli.h"

#define MAX_SETTINGS 64

typedef struct {
    pgboot_server_options o;
    const char *settings[MAX_SETTINGS + 1];
    int nsettings;
    const char *unset[MAX_SETTINGS + 1];
    int nunset;
    int as_json;
    int follow;
    const char *format;
    pgboot_stop_mode mode;
    char **cmd; /* run: the command after -- */
    int ephemeral;
    const char *tmp_dir;
    uint32_t ttl_ms;
    int app_given;
    const char *url;
    const char *sql_files[MAX_SETTINGS + 1];
    int nsql;
    unsigned long count;
    char **rest; /* testdb: positional arguments */
    int nrest;
} server_args;

static int parse_server_args(int argc, char **argv, const char *cmd, server_args *a)
{
    static const struct option options[] = {
        CLI_FETCH_OPTIONS,
        {"app", required_argument, NULL, 'a'},
        {"data-dir", required_argument, NULL, 'D'},
        {"port", required_argument, NULL, 'p'},
        {"timeout", required_argument, NULL, 't'},
        {"set", required_argument, NULL, 's'},
        {"unset", required_argument, NULL, 'X'},
        {"run-as", required_argument, NULL, 'u'},
        {"create-user", no_argument, NULL, 'U'},
        {"database-url", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"format", required_argument, NULL, 'F'},
        {"follow", no_argument, NULL, 'f'},
        {"mode", required_argument, NULL, 'm'},
        {"ephemeral", no_argument, NULL, 'e'},
        {"tmp-dir", required_argument, NULL, 'T'},
        {"ttl", required_argument, NULL, 'L'},
        {"sqlite", required_argument, NULL, 'S'},
        {"no-migrate", no_argument, NULL, 'M'},
        {"url", required_argument, NULL, 'R'},
        {"template-sql", required_argument, NULL, 'Q'},
        {"count", required_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pgboot_server_options init = PGBOOT_SERVER_OPTIONS_INIT;
    a->o = init;
    const char *env_app = getenv("PGBOOT_APP");
    a->o.app = env_app && *env_app ? env_app : "pgboot";
    a->format = "sh";
    a->mode = PGBOOT_STOP_FAST;
    int c, rc;
    unsigned long v;
    optind = 1;
    opterr = 0;
    /* "+": stop at the first non-option, so `run -- CMD -x` keeps CMD's options. */
    while ((c = getopt_long(argc, argv, "+f", options, NULL)) != -1) {
        if ((rc = cli_fetch_option(c, optarg, &a->o.fetch)) >= 1000)
            return rc - 1000;
        if (rc == 1)
            continue;
        switch (c) {
        case 'a':
            a->o.app = optarg;
            a->app_given = 1;
            break;
        case 'R':
            a->url = optarg;
            break;
        case 'Q':
            if (a->nsql == MAX_SETTINGS)
                return cli_usage_error("at most %d --template-sql files", MAX_SETTINGS);
            a->sql_files[a->nsql++] = optarg;
            break;
        case 'N':
            if ((rc = cli_parse_uint(optarg, "--count", 1000, &v)) != 0)
                return rc;
            if (v == 0)
                return cli_usage_error("--count needs at least 1");
            a->count = v;
            break;
        case 'D':
            a->o.data_dir = optarg;
            break;
        case 'p':
            if ((rc = cli_parse_uint(optarg, "--port", 65535, &v)) != 0)
                return rc;
            if (v == 0)
                return cli_usage_error("--port needs a port from 1 to 65535");
            a->o.port = (int)v;
            break;
        case 't':
            if ((rc = cli_parse_uint(optarg, "--timeout", 86400, &v)) != 0)
                return rc;
            a->o.timeout_ms = v ? (uint32_t)v * 1000 : 1;
            break;
        case 's':
            if (a->nsettings == MAX_SETTINGS)
                return cli_usage_error("at most %d --set options", MAX_SETTINGS);
            if (!strchr(optarg, '='))
                return cli_usage_error("--set needs NAME=VALUE, not '%s'", optarg);
            a->settings[a->nsettings++] = optarg;
            break;
        case 'X':
            if (a->nunset == MAX_SETTINGS)
                return cli_usage_error("at most %d --unset options", MAX_SETTINGS);
            a->unset[a->nunset++] = optarg;
            break;
        case 'u':
            a->o.run_as = optarg;
            break;
        case 'U':
            a->o.create_user = 1;
            break;
        case 'd':
            a->o.database_url = optarg;
            break;
        case 'j':
            a->as_json = 1;
            break;
        case 'F':
            if (strcmp(optarg, "sh") && strcmp(optarg, "dotenv") && strcmp(optarg, "json"))
                return cli_usage_error("--format is sh, dotenv or json, not '%s'", optarg);
            a->format = optarg;
            break;
        case 'f':
            a->follow = 1;
            break;
        case 'm':
            if (!strcmp(optarg, "fast"))
                a->mode = PGBOOT_STOP_FAST;
            else if (!strcmp(optarg, "smart"))
                a->mode = PGBOOT_STOP_SMART;
            else if (!strcmp(optarg, "immediate"))
                a->mode = PGBOOT_STOP_IMMEDIATE;
            else
                return cli_usage_error("--mode is fast, smart or immediate, not '%s'", optarg);
            break;
        case 'e':
            a->ephemeral = 1;
            break;
        case 'S':
            a->o.sqlite_path = optarg;
            break;
        case 'M':
            a->o.no_migrate = 1;
            break;
        case 'T':
            a->tmp_dir = optarg;
            break;
        case 'L':
            if ((rc = cli_parse_uint(optarg, "--ttl", 86400 * 7, &v)) != 0)
                return rc;
            if (v == 0)
                return cli_usage_error("--ttl needs at least 1 second");
            a->ttl_ms = (uint32_t)v * 1000;
            break;
        case 'h':
            fputs(cli_usage_text, stdout);
            return -1;
        default:
            return cli_usage_error("%s: unknown or incomplete option '%s'", cmd, argv[optind - 1]);
        }
    }
    a->settings[a->nsettings] = NULL;
    if (a->nsettings)
        a->o.settings = a->settings;
    a->unset[a->nunset] = NULL;
    if (a->nunset)
        a->o.unset = a->unset;
    if ((a->nsettings || a->nunset) && strcmp(cmd, "start") && strcmp(cmd, "restart") &&
        strcmp(cmd, "serve") && strcmp(cmd, "run") && strcmp(cmd, "tmp") && strcmp(cmd, "testdb"))
        return cli_usage_error("%s: --set and --unset go with start, restart, serve, run", cmd);
    if (a->nunset && (a->ephemeral || !strcmp(cmd, "tmp")))
        return cli_usage_error(
            "--unset is for an app's cluster; a throwaway one keeps no settings");
    if (!strcmp(cmd, "testdb")) {
        a->rest = argv + optind;
        a->nrest = argc - optind;
    } else if (!strcmp(cmd, "run")) {
        /* getopt has consumed a "--" before CMD. */
        if (optind >= argc)
            return cli_usage_error("run needs a command: pgboot run [options] -- CMD [ARGS...]");
        a->cmd = argv + optind;
    } else if (optind < argc) {
        return cli_usage_error("%s: unexpected argument '%s'", cmd, argv[optind]);
    }
    if (pgboot_app_name_check(a->o.app) != 0)
        return cli_usage_fail();
    return 0;
}

static void print_json(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    printf("%s\n", s ? s : "{}");
    fflush(stdout);
    free(s);
    json_decref(j);
}

static json_t *server_json(const pgboot_server *s, const char *event)
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

/* Say on stderr what became of settings given for a running server. */
static void report_settings(const pgboot_server *s, const char *app)
{
    if (pgboot_server_reloaded(s))
        fprintf(stderr, "pgboot: applied to the running server (reloaded): %s\n",
                pgboot_server_reloaded(s));
    if (pgboot_server_restart_needed(s))
        fprintf(stderr,
                "pgboot: saved, but the running server applies only at a restart: %s\n"
                "hint: run 'pgboot restart --app %s' to apply it\n",
                pgboot_server_restart_needed(s), app);
}

/* ---- serve: signals and stdin end the foreground server ---------------- */

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    ssize_t w = write(sig_pipe[1], &c, 1);
    (void)w;
    errno = saved;
}

static int install_signal_pipe(void)
{
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    return 0;
}

/* stdin counts as a lifeline only when it is a pipe, socket or terminal; a
 * /dev/null or file stdin (no stdin at all, as in CI) ends at once. */
static int stdin_is_lifeline(void)
{
    struct stat st;
    if (fstat(0, &st) != 0)
        return 0;
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(0);
}

static int cmd_serve(server_args *a)
{
    pid_t parent = getppid();
#if defined(__linux__)
    /* The parent dies (even by SIGKILL): we get SIGTERM and stop cleanly. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    if (getppid() != parent)
        return 1; /* the parent is already gone */
    if (install_signal_pipe() != 0) {
        fprintf(stderr, "pgboot: error: cannot set up signal handling\n");
        return 1;
    }
    a->o.child = 1;
    pgboot_server *s = NULL;
    if (pgboot_server_start(&s, &a->o) != 0) {
        int rc = cli_fail();
        json_t *j = json_pack("{s:s, s:s, s:s?}", "event", "error", "message", pgboot_error_last(),
                              "hint", pgboot_error_hint());
        print_json(j);
        return rc;
    }
    report_settings(s, a->o.app);
    print_json(server_json(s, "ready"));
    int watch_stdin = stdin_is_lifeline();
    const char *why = "signal";
    for (;;) {
        struct pollfd fds[2] = {{.fd = sig_pipe[0], .events = POLLIN},
                                {.fd = watch_stdin ? 0 : -1, .events = POLLIN}};
        int n = poll(fds, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (fds[0].revents)
            break;
        if (fds[1].revents) {
            char buf[256];
            ssize_t r = read(0, buf, sizeof buf);
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
                why = "stdin closed";
                break;
            }
        }
    }
    int rc = 0;
    if (pgboot_server_started_here(s) && !pgboot_server_is_external(s) &&
        pgboot_server_stop(s, PGBOOT_STOP_FAST) != 0 &&
        pgboot_error_code_last() != PGBOOT_ENOTRUNNING)
        rc = cli_fail();
    print_json(json_pack("{s:s, s:s}", "event", "stopped", "reason", why));
    pgboot_server_free(s);
    return rc;
}

/* ---- run: CMD with the connection in its environment -------------------- */

static pid_t run_child = -1;

static void forward_signal(int sig)
{
    if (run_child > 0)
        kill(run_child, sig);
}

static pgboot_ephemeral_options ephemeral_options(const server_args *a, uint32_t ttl_ms)
{
    pgboot_ephemeral_options e = PGBOOT_EPHEMERAL_OPTIONS_INIT;
    e.tmp_dir = a->tmp_dir;
    e.ttl_ms = ttl_ms;
    e.timeout_ms = a->o.timeout_ms;
    e.settings = a->o.settings;
    e.fetch = a->o.fetch;
    return e;
}

static int cmd_run(server_args *a)
{
    a->o.child = 1;
    pgboot_server *s = NULL;
    pgboot_ephemeral_options eo = ephemeral_options(a, 0);
    if ((a->ephemeral ? pgboot_ephemeral_start(&s, &eo) : pgboot_server_start(&s, &a->o)) != 0)
        return cli_fail();
    if (pgboot_server_tmp_fallback(s))
        fprintf(stderr, "pgboot: note: %s\n", pgboot_server_tmp_fallback(s));
    report_settings(s, a->o.app);
    /* CMD reaches this server whatever the caller's PG* variables say. */
    pgboot_env_var *vars = NULL;
    char **envp = NULL;
    int rc = pgboot_server_env(&vars, s) != 0 ? cli_fail() : 0;
    if (rc == 0 && !(envp = cli_child_environ(vars))) {
        fprintf(stderr, "pgboot: error: out of memory\n");
        rc = 1;
    }
    fflush(NULL);
#if defined(__linux__)
    pid_t self = getpid(); /* CMD's parent, checked in CMD below */
#endif
    if (rc == 0 && (run_child = fork()) < 0) {
        fprintf(stderr, "pgboot: error: cannot start %s: %s\n", a->cmd[0], strerror(errno));
        rc = 1;
    }
    if (rc) {
        cli_child_environ_free(envp);
        pgboot_env_free(vars);
        pgboot_server_free(s);
        return rc;
    }
    if (run_child == 0) {
#if defined(__linux__)
        /* CMD must not outlive us, however we end: its server is going away
         * (an ephemeral one is removed). Our deaths by a signal we catch are
         * forwarded to CMD below; for the others (SIGKILL, a crash) the kernel
         * kills CMD. Set in the child, so a death of ours before this point
         * is caught by the check of the parent that follows. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != self)
            _exit(128 + SIGKILL);
#endif
        execvpe(a->cmd[0], a->cmd, envp);
        fprintf(stderr, "pgboot: error: cannot run %s: %s\n", a->cmd[0], strerror(errno));
        _exit(127);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    int st = 0;
    while (waitpid(run_child, &st, 0) < 0 && errno == EINTR)
        ;
    int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    cli_child_environ_free(envp);
    pgboot_env_free(vars);
    if (pgboot_server_started_here(s) && !pgboot_server_is_external(s) &&
        pgboot_server_stop(s, PGBOOT_STOP_FAST) != 0)
        cli_fail();
    pgboot_server_free(s);
    return status;
}

/* ---- status, url, env ---------------------------------------------------- */

static void print_sh_quoted(const char *name, const char *value)
{
    printf("export %s='", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*p);
    }
    puts("'");
}

static void print_dotenv(const char *name, const char *value)
{
    printf("%s=\"", name);
    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '\\' || *p == '$')
            putchar('\\');
        putchar(*p);
    }
    puts("\"");
}

/* sh can remove what the client must not inherit; a dotenv file and the
 * JSON object can only say so: a comment line naming them, null values. */
static int cmd_env(server_args *a, const pgboot_server *s)
{
    pgboot_env_var *vars = NULL;
    if (pgboot_server_env(&vars, s) != 0)
        return cli_fail();
    int sh = !strcmp(a->format, "sh"), dotenv = !strcmp(a->format, "dotenv");
    json_t *j = !sh && !dotenv ? json_object() : NULL;
    int nclear = 0;
    for (pgboot_env_var *v = vars; v->name; v++) {
        if (j)
            json_object_set_new(j, v->name, v->value ? json_string(v->value) : json_null());
        else if (!v->value)
            nclear++;
        else if (dotenv)
            print_dotenv(v->name, v->value);
        else
            print_sh_quoted(v->name, v->value);
    }
    if (nclear) {
        fputs(sh ? "unset" : "# pgboot: these must not be set where this is loaded:", stdout);
        for (pgboot_env_var *v = vars; v->name; v++)
            if (!v->value)
                printf(" %s", v->name);
        putchar('\n');
    }
    if (j)
        print_json(j);
    pgboot_env_free(vars);
    return 0;
}

/* ---- logs ----------------------------------------------------------------- */

static int cmd_logs(server_args *a)
{
    char *path = NULL;
    if (pgboot_log_file_for(&path, &a->o) != 0)
        return cli_fail();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "pgboot: error: cannot open the log %s: %s\n", path, strerror(errno));
        if (errno == ENOENT)
            fprintf(stderr, "hint: the log appears when the server of app %s first starts\n",
                    a->o.app);
        free(path);
        return 1;
    }
    free(path);
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            fwrite(buf, 1, (size_t)n, stdout);
            continue;
        }
        if (!a->follow)
            break;
        fflush(stdout);
        usleep(200 * 1000);
    }
    close(fd);
    return 0;
}

/* Top up the pool of ready clones after we are done, in a detached process
 * with its own connection, so that the next `pgboot testdb` finds one. Its
 * output goes nowhere: $(pgboot testdb ...) must not wait for it. */
static void refill_detached(const pgboot_testdb_options *to)
{
    pgboot_testdb_fill_pool_detached(to);
}

/* pgboot testdb (--app NAME | --url URL) --template-sql FILE... [--count N]
 * pgboot testdb drop URL... */
static int cmd_testdb(server_args *a)
{
    if (a->nrest > 0 && !strcmp(a->rest[0], "drop")) {
        if (a->nrest < 2)
            return cli_usage_error("testdb drop needs the URL of a database to drop");
        int rc = 0;
        for (int i = 1; i < a->nrest; i++)
            if (pgboot_testdb_drop(a->rest[i]) != 0)
                rc = cli_fail();
        return rc;
    }
    /* Extra positional arguments are more SQL files. */
    for (int i = 0; i < a->nrest && a->nsql < MAX_SETTINGS; i++)
        a->sql_files[a->nsql++] = a->rest[i];
    a->sql_files[a->nsql] = NULL;
    if (!a->url == !a->app_given)
        return cli_usage_error("testdb needs exactly one of --app NAME and --url URL");
    if (a->nsql == 0)
        return cli_usage_error("testdb needs --template-sql FILE (the schema, then migrations)");
    pgboot_server *s = NULL;
    const char *url = a->url;
    if (!url) {
        if (pgboot_server_start(&s, &a->o) != 0)
            return cli_fail();
        url = pgboot_server_url(s);
    }
    pgboot_testdb_options to = PGBOOT_TESTDB_OPTIONS_INIT;
    if (s)
        to.server = s;
    else
        to.url = url;
    to.sql_files = a->sql_files;
    pgboot_testdb *t = NULL;
    int rc = 0;
    if (pgboot_testdb_open(&t, &to) != 0) {
        rc = cli_fail();
    } else {
        for (unsigned long i = 0; i < (a->count ? a->count : 1); i++) {
            char *clone = NULL;
            if (pgboot_testdb_clone(t, &clone) != 0) {
                rc = cli_fail();
                break;
            }
            printf("%s\n", clone);
            free(clone);
        }
    }
    pgboot_testdb_free(t);
    fflush(stdout);
    if (rc == 0)
        refill_detached(&to);
    pgboot_server_free(s);
    return rc;
}

int cmd_server(int argc, char **argv, const char *cmd)
{
    server_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_server_args(argc, argv, cmd, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    /* pgboot's own server, or a throwaway one: not a URL the user gave
     * (--database-url, PGBOOT_DATABASE_URL, testdb --url, testdb drop URL). */
    const char *ext = getenv("PGBOOT_DATABASE_URL");
    int external = (a.o.database_url && *a.o.database_url) || (ext && *ext);
    int ephemeral = !strcmp(cmd, "tmp") || (!strcmp(cmd, "run") && a.ephemeral);
    int user_url = !strcmp(cmd, "testdb") && (a.url || (a.nrest > 0 && !strcmp(a.rest[0], "drop")));
    if (ephemeral || (!external && !user_url))
        cli_own_server_env();
    if (!strcmp(cmd, "serve"))
        return cmd_serve(&a);
    if (!strcmp(cmd, "run"))
        return cmd_run(&a);
    if (!strcmp(cmd, "logs"))
        return cmd_logs(&a);
    if (!strcmp(cmd, "testdb"))
        return cmd_testdb(&a);
    if (!strcmp(cmd, "tmp")) {
        pgboot_ephemeral_options eo = ephemeral_options(&a, a.ttl_ms ? a.ttl_ms : 60000);
        pgboot_server *s = NULL;
        if (pgboot_ephemeral_start(&s, &eo) != 0)
            return cli_fail();
        if (pgboot_server_tmp_fallback(s))
            fprintf(stderr, "pgboot: note: %s\n", pgboot_server_tmp_fallback(s));
        if (a.as_json)
            print_json(server_json(s, NULL));
        else
            printf("%s\n", pgboot_server_url(s));
        pgboot_server_free(s);
        return 0;
    }
    if (!strcmp(cmd, "stop")) {
        if (pgboot_server_stop_app(&a.o, a.mode) != 0)
            return cli_fail();
        fprintf(stderr, "pgboot: stopped the server of app %s\n", a.o.app);
        return 0;
    }
    pgboot_server *s = NULL;
    if (!strcmp(cmd, "start") || !strcmp(cmd, "restart")) {
        if ((!strcmp(cmd, "start") ? pgboot_server_start(&s, &a.o)
                                   : pgboot_server_restart(&s, &a.o)) != 0)
            return cli_fail();
        report_settings(s, a.o.app);
        if (a.as_json)
            print_json(server_json(s, NULL));
        else
            printf("%s\n", pgboot_server_url(s));
        pgboot_server_free(s);
        return 0;
    }
    /* status, url, env: attach only. Each says what the server is doing,
     * with an exit status of its own. */
    if (pgboot_server_attach(&s, &a.o) != 0) {
        int code = pgboot_error_code_last();
        const char *state = code == PGBOOT_ENOTRUNNING ? "not running"
                            : code == PGBOOT_ESTOPPING ? "stopping"
                            : code == PGBOOT_ENOANSWER ? "not answering"
                                                       : NULL;
        int exit_status = code == PGBOOT_ENOTRUNNING ? EXIT_NOT_RUNNING
                          : code == PGBOOT_ESTOPPING ? EXIT_STOPPING
                          : code == PGBOOT_ENOANSWER ? EXIT_NOT_ANSWERING
                                                     : EXIT_FAILURE_;
        if (!state || strcmp(cmd, "status") != 0) {
            cli_fail();
            return exit_status;
        }
        if (a.as_json) {
            json_t *j = json_pack("{s:b, s:s, s:s}", "running", 0, "state", state, "app", a.o.app);
            if (j && code != PGBOOT_ENOTRUNNING)
                json_object_set_new(j, "message", json_string(pgboot_error_last()));
            print_json(j);
        } else if (code == PGBOOT_ENOTRUNNING) {
            printf("not running (app %s)\n", a.o.app);
        } else {
            printf("%s (app %s): %s\n", state, a.o.app, pgboot_error_last());
            if (pgboot_error_hint())
                fprintf(stderr, "hint: %s\n", pgboot_error_hint());
        }
        return exit_status;
    }
    if (!strcmp(cmd, "status")) {
        if (a.as_json) {
            json_t *j = server_json(s, NULL);
            json_object_set_new(j, "running", json_true());
            json_object_set_new(j, "state", json_string("running"));
            print_json(j);
        } else {
            printf("running (app %s): pid %d, port %d, data directory %s\n", a.o.app,
                   pgboot_server_pid(s), pgboot_server_port(s),
                   pgboot_server_data_dir(s) ? pgboot_server_data_dir(s) : "(external)");
        }
    } else if (!strcmp(cmd, "url")) {
        if (a.as_json)
            print_json(server_json(s, NULL));
        else
            printf("%s\n", pgboot_server_url(s));
    } else {
        rc = cmd_env(&a, s);
    }
    pgboot_server_free(s);
    return rc;
}
