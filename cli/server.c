/* pgboot start / restart / serve / run / status / url / env / logs / stop: the
 * app's server (run --ephemeral: a throwaway one). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

/* The options of the commands that start the app's server. */
#define CLI_START_OPTIONS                                                                          \
    CLI_INCLUDE(cli_group_app), CLI_INCLUDE(cli_group_data_dir), CLI_INCLUDE(cli_group_start),     \
        CLI_INCLUDE(cli_group_timeout), CLI_INCLUDE(cli_group_set), CLI_INCLUDE(cli_group_unset),  \
        CLI_INCLUDE(cli_group_external), CLI_INCLUDE(cli_group_root),                              \
        CLI_INCLUDE(cli_group_cluster), CLI_INCLUDE(cli_group_bundle),                             \
        CLI_INCLUDE(cli_group_download)

const cli_opt cli_start_opts[] = {
    CLI_START_OPTIONS,
    CLI_INCLUDE(cli_group_json),
    CLI_OPT_END,
};

const cli_opt cli_restart_opts[] = {
    CLI_START_OPTIONS,
    CLI_INCLUDE(cli_group_json),
    CLI_OPT_END,
};

/* serve always prints JSON lines. */
const cli_opt cli_serve_opts[] = {
    CLI_START_OPTIONS,
    CLI_OPT_END,
};

const cli_opt cli_run_opts[] = {
    {CLI_OPT_EPHEMERAL, "ephemeral", 0, NULL,
     "a throwaway cluster instead of the app's (--app, --data-dir, --port, --sqlite, "
     "--no-migrate, --unset, --database-url and the options as root do not apply then)",
     NULL},
    CLI_INCLUDE(cli_group_tmp_dir),
    CLI_START_OPTIONS,
    CLI_OPT_END,
};

/* Attaching to a running server: nothing to start, nothing to fetch. */
#define CLI_ATTACH_OPTIONS                                                                         \
    CLI_INCLUDE(cli_group_app), CLI_INCLUDE(cli_group_data_dir), CLI_INCLUDE(cli_group_timeout),   \
        CLI_INCLUDE(cli_group_external), CLI_INCLUDE(cli_group_root)

const cli_opt cli_status_opts[] = {
    CLI_ATTACH_OPTIONS,
    CLI_INCLUDE(cli_group_json),
    CLI_OPT_END,
};

const cli_opt cli_url_opts[] = {
    CLI_ATTACH_OPTIONS,
    CLI_INCLUDE(cli_group_json),
    CLI_OPT_END,
};

const cli_opt cli_env_opts[] = {
    {CLI_OPT_FORMAT, "format", 0, "sh|dotenv|json",
     "sh (default; also unsets the libpq variables that could redirect a client), dotenv or json",
     NULL},
    CLI_ATTACH_OPTIONS,
    CLI_OPT_END,
};

const cli_opt cli_logs_opts[] = {
    {CLI_OPT_FOLLOW, "follow", 'f', NULL, "keep printing what the server appends", NULL},
    CLI_INCLUDE(cli_group_app),
    CLI_INCLUDE(cli_group_data_dir),
    CLI_INCLUDE(cli_group_root),
    CLI_OPT_END,
};

const cli_opt cli_stop_opts[] = {
    {CLI_OPT_MODE, "mode", 0, "fast|smart|immediate",
     "fast (default): disconnect clients; smart: wait for them; immediate: abort (recovery runs "
     "at the next start)",
     NULL},
    CLI_ATTACH_OPTIONS,
    CLI_OPT_END,
};

typedef struct {
    cli_server_opts srv;
    int as_json;
    int follow;
    const char *format;
    pgboot_stop_mode mode;
    char **cmd; /* run: the command after -- */
    int ephemeral;
    const char *tmp_dir;
} server_args;

/* An option of these commands' own (those of the shared groups are
 * cli_server_option's): 0 or a usage exit status. */
static int own_option(void *ctx, cli_opt_id id, const char *arg)
{
    server_args *a = ctx;
    switch (id) {
    case CLI_OPT_JSON:
        a->as_json = 1;
        return 0;
    case CLI_OPT_FORMAT:
        if (strcmp(arg, "sh") && strcmp(arg, "dotenv") && strcmp(arg, "json"))
            return cli_usage_error("--format is sh, dotenv or json, not '%s'", arg);
        a->format = arg;
        return 0;
    case CLI_OPT_FOLLOW:
        a->follow = 1;
        return 0;
    case CLI_OPT_MODE: {
        static const char *const names[] = {"fast", "smart", "immediate", NULL};
        static const pgboot_stop_mode modes[] = {PGBOOT_STOP_FAST, PGBOOT_STOP_SMART,
                                                 PGBOOT_STOP_IMMEDIATE};
        int v = 0, rc = cli_choice("--mode", arg, names, &v);
        a->mode = modes[v];
        return rc;
    }
    case CLI_OPT_EPHEMERAL:
        a->ephemeral = 1;
        return 0;
    case CLI_OPT_TMP_DIR:
        a->tmp_dir = arg;
        return 0;
    default:
        return cli_server_option(&a->srv, id, arg);
    }
}

/* run's options for an app's cluster, which do not apply to a throwaway one. */
static const cli_opt_id app_cluster_only[] = {
    CLI_OPT_APP,   CLI_OPT_DATA_DIR,     CLI_OPT_PORT,   CLI_OPT_SQLITE_START, CLI_OPT_NO_MIGRATE,
    CLI_OPT_UNSET, CLI_OPT_DATABASE_URL, CLI_OPT_RUN_AS, CLI_OPT_CREATE_USER,  CLI_OPT_NONE,
};

static int check_ephemeral(const cli_parser *p, const server_args *a)
{
    if (!a->ephemeral) {
        if (cli_parse_seen(p, CLI_OPT_TMP_DIR))
            return cli_cmd_usage_error(p->cmd, "--tmp-dir goes with run --ephemeral");
        return 0;
    }
    for (int i = 0; app_cluster_only[i] != CLI_OPT_NONE; i++) {
        if (!cli_parse_seen(p, app_cluster_only[i]))
            continue;
        if (app_cluster_only[i] == CLI_OPT_UNSET) /* the message of before */
            return cli_usage_error(
                "--unset is for an app's cluster; a throwaway one keeps no settings");
        const cli_opt *o = cli_opt_find(p->cmd->opts, app_cluster_only[i]);
        return cli_cmd_usage_error(p->cmd,
                                   "--%s does not apply to run --ephemeral (a throwaway cluster)",
                                   o ? o->name : "?");
    }
    return 0;
}

static int parse_args(const cli_cmd *cmd, int argc, char **argv, server_args *a)
{
    memset(a, 0, sizeof *a);
    cli_server_opts_init(&a->srv);
    a->format = "sh";
    a->mode = PGBOOT_STOP_FAST;
    cli_parser p;
    int rc = cli_parser_init(&p, cmd, argc, argv);
    if (rc)
        return rc;
    rc = cli_parse_all(&p, own_option, a); /* -1: --help, done */
    if (rc == 0)
        rc = check_ephemeral(&p, a);
    cli_parser_free(&p);
    if (rc)
        return rc;
    if (!strcmp(cmd->name, "run")) {
        /* getopt has consumed a "--" before CMD. */
        if (p.next >= argc)
            return cli_usage_error("run needs a command: pgboot run [options] -- CMD [ARGS...]");
        a->cmd = argv + p.next;
    } else if (p.next < argc) {
        return cli_cmd_usage_error(cmd, "%s: unexpected argument '%s'", cmd->name, argv[p.next]);
    }
    return cli_server_opts_finish(&a->srv);
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
    a->srv.o.child = 1;
    pgboot_server *s = NULL;
    if (pgboot_server_start(&s, &a->srv.o) != 0) {
        int rc = cli_fail();
        json_t *j = json_pack("{s:s, s:s, s:s?}", "event", "error", "message", pgboot_error_last(),
                              "hint", pgboot_error_hint());
        cli_print_json(j);
        return rc;
    }
    report_settings(s, a->srv.o.app);
    cli_print_json(cli_server_json(s, "ready"));
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
    cli_print_json(json_pack("{s:s, s:s}", "event", "stopped", "reason", why));
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

static int run_cmd(server_args *a)
{
    a->srv.o.child = 1;
    pgboot_server *s = NULL;
    pgboot_ephemeral_options eo = cli_ephemeral_options(&a->srv, a->tmp_dir, 0);
    if ((a->ephemeral ? pgboot_ephemeral_start(&s, &eo) : pgboot_server_start(&s, &a->srv.o)) != 0)
        return cli_fail();
    if (pgboot_server_tmp_fallback(s))
        fprintf(stderr, "pgboot: note: %s\n", pgboot_server_tmp_fallback(s));
    report_settings(s, a->srv.o.app);
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
        cli_print_json(j);
    pgboot_env_free(vars);
    return 0;
}

/* ---- logs ----------------------------------------------------------------- */

static int cmd_logs(server_args *a)
{
    char *path = NULL;
    if (pgboot_log_file_for(&path, &a->srv.o) != 0)
        return cli_fail();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "pgboot: error: cannot open the log %s: %s\n", path, strerror(errno));
        if (errno == ENOENT)
            fprintf(stderr, "hint: the log appears when the server of app %s first starts\n",
                    a->srv.o.app);
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

int cmd_run(const cli_cmd *cmd, int argc, char **argv)
{
    server_args a;
    int rc = parse_args(cmd, argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    /* pgboot's own server, or a throwaway one: not a URL the user gave. */
    const char *ext = getenv("PGBOOT_DATABASE_URL");
    int external = (a.srv.o.database_url && *a.srv.o.database_url) || (ext && *ext);
    if (a.ephemeral || !external)
        cli_own_server_env();
    return run_cmd(&a);
}

/* start, restart, serve, status, url, env, logs, stop */
int cmd_server(const cli_cmd *c, int argc, char **argv)
{
    const char *cmd = c->name;
    server_args a;
    int rc = parse_args(c, argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    /* pgboot's own server: not a URL the user gave (--database-url,
     * PGBOOT_DATABASE_URL). */
    const char *ext = getenv("PGBOOT_DATABASE_URL");
    int external = (a.srv.o.database_url && *a.srv.o.database_url) || (ext && *ext);
    if (!external)
        cli_own_server_env();
    if (!strcmp(cmd, "serve"))
        return cmd_serve(&a);
    if (!strcmp(cmd, "logs"))
        return cmd_logs(&a);
    if (!strcmp(cmd, "stop")) {
        if (pgboot_server_stop_app(&a.srv.o, a.mode) != 0)
            return cli_fail();
        fprintf(stderr, "pgboot: stopped the server of app %s\n", a.srv.o.app);
        return 0;
    }
    pgboot_server *s = NULL;
    if (!strcmp(cmd, "start") || !strcmp(cmd, "restart")) {
        if ((!strcmp(cmd, "start") ? pgboot_server_start(&s, &a.srv.o)
                                   : pgboot_server_restart(&s, &a.srv.o)) != 0)
            return cli_fail();
        report_settings(s, a.srv.o.app);
        if (a.as_json)
            cli_print_json(cli_server_json(s, NULL));
        else
            printf("%s\n", pgboot_server_url(s));
        pgboot_server_free(s);
        return 0;
    }
    /* status, url, env: attach only. */
    /* Each says what the server is doing, with an exit status of its own. */
    if (pgboot_server_attach(&s, &a.srv.o) != 0) {
        int code = pgboot_error_code_last();
        const char *state = code == PGBOOT_ENOTRUNNING ? "not running"
                            : code == PGBOOT_ESTOPPING ? "stopping"
                            : code == PGBOOT_ENOANSWER ? "not answering"
                                                       : NULL;
        int exit_status = code == PGBOOT_ENOTRUNNING ? CLI_EXIT_NOT_RUNNING
                          : code == PGBOOT_ESTOPPING ? CLI_EXIT_STOPPING
                          : code == PGBOOT_ENOANSWER ? CLI_EXIT_NOT_ANSWERING
                                                     : CLI_EXIT_FAILURE;
        if (!state || strcmp(cmd, "status") != 0) {
            cli_fail();
            return exit_status;
        }
        if (a.as_json) {
            json_t *j =
                json_pack("{s:b, s:s, s:s}", "running", 0, "state", state, "app", a.srv.o.app);
            if (j && code != PGBOOT_ENOTRUNNING)
                json_object_set_new(j, "message", json_string(pgboot_error_last()));
            cli_print_json(j);
        } else if (code == PGBOOT_ENOTRUNNING) {
            printf("not running (app %s)\n", a.srv.o.app);
        } else {
            printf("%s (app %s): %s\n", state, a.srv.o.app, pgboot_error_last());
            if (pgboot_error_hint())
                fprintf(stderr, "hint: %s\n", pgboot_error_hint());
        }
        return exit_status;
    }
    if (!strcmp(cmd, "status")) {
        /* The server tree's memory (PSS), when it is pgboot's and readable. */
        uint64_t pss = 0;
        int procs = 0,
            have_pss = !pgboot_server_is_external(s) && pgboot_server_memory(s, &pss, &procs) == 0;
        if (a.as_json) {
            json_t *j = cli_server_json(s, NULL);
            json_object_set_new(j, "running", json_true());
            json_object_set_new(j, "state", json_string("running"));
            if (have_pss) {
                json_object_set_new(j, "memory_pss_bytes", json_integer((json_int_t)pss));
                json_object_set_new(j, "memory_processes", json_integer(procs));
            }
            cli_print_json(j);
        } else {
            printf("running (app %s): pid %d, port %d, data directory %s", a.srv.o.app,
                   pgboot_server_pid(s), pgboot_server_port(s),
                   pgboot_server_data_dir(s) ? pgboot_server_data_dir(s) : "(external)");
            if (have_pss)
                printf(", memory %.1f MB (PSS of %d processes)", (double)pss / 1e6, procs);
            printf("\n");
        }
    } else if (!strcmp(cmd, "url")) {
        if (a.as_json)
            cli_print_json(cli_server_json(s, NULL));
        else
            printf("%s\n", pgboot_server_url(s));
    } else {
        rc = cmd_env(&a, s);
    }
    pgboot_server_free(s);
    return rc;
}
