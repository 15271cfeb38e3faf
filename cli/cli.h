/* The command line tool's internal interface (the files of cli/). It sees only
 * the public API, include/pgboot.h.
 *
 *   main.c       the command table (cli_cmds[]) and the dispatch
 *   opt.c        option tables: parsing argv against one, usage text from them
 *   common.c     errors, numbers, the option groups several commands share and
 *                their handling, output and environment helpers
 *   fetch.c      fetch, verify
 *   server.c     start, restart, serve, run, status, url, env, logs, stop
 *   ephemeral.c  tmp
 *   testdb.c     testdb
 *   testdb_serve.c  testdb serve (the broker)
 *   migrate.c    migrate
 *   cache.c      cache list, cache prune
 */
#ifndef PGBOOT_CLI_H
#define PGBOOT_CLI_H

#include <jansson.h>

#include "pgboot.h"

/* The exit statuses (the README's "Exit status" line). */
typedef enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_NOT_RUNNING = 3,
    CLI_EXIT_STOPPING = 4,      /* status, url, env: the server is shutting down */
    CLI_EXIT_NOT_ANSWERING = 5, /* status, url, env: its process lives but does not answer */
} cli_exit;

/* ---- option tables ---------------------------------------------------------
 * Each command has its own table: an array of cli_opt ended by CLI_OPT_END.
 * An entry is an option of that command, or CLI_INCLUDE(group): the options of
 * a group several commands share (common.c), defined once. The parser accepts
 * exactly the options of the command's table (and -h/--help); the usage text
 * is generated from the tables. */

/* One id per option, whichever command takes it. They start above any
 * character getopt returns for a short option. */
typedef enum {
    CLI_OPT_NONE = 0,
    CLI_OPT_HELP = 0x100,
    /* bundle */
    CLI_OPT_PLATFORM,
    CLI_OPT_MANIFEST,
    CLI_OPT_MIRROR,
    CLI_OPT_FROM,
    CLI_OPT_CACHE_DIR,
    CLI_OPT_OFFLINE,
    CLI_OPT_RETRIES,
    CLI_OPT_RETRY_DELAY,
    CLI_OPT_CONNECT_TIMEOUT,
    CLI_OPT_LOW_SPEED_TIME,
    CLI_OPT_LOW_SPEED_LIMIT,
    CLI_OPT_PG_VERSION,
    /* the app and its server */
    CLI_OPT_APP,
    CLI_OPT_DATA_DIR,
    CLI_OPT_RUN_AS,
    CLI_OPT_CREATE_USER,
    CLI_OPT_DATABASE_URL,
    CLI_OPT_TIMEOUT,
    CLI_OPT_PORT,
    CLI_OPT_SET,
    CLI_OPT_UNSET,
    CLI_OPT_SQLITE_START,
    CLI_OPT_NO_MIGRATE,
    CLI_OPT_JSON,
    /* a cluster's creation options and memory budget */
    CLI_OPT_LOCALE,
    CLI_OPT_ENCODING,
    CLI_OPT_DATA_CHECKSUMS,
    CLI_OPT_NO_DATA_CHECKSUMS,
    CLI_OPT_MEMORY,
    /* one command each (or two) */
    CLI_OPT_FORMAT,
    CLI_OPT_FOLLOW,
    CLI_OPT_MODE,
    CLI_OPT_EPHEMERAL,
    CLI_OPT_TMP_DIR,
    CLI_OPT_TTL,
    CLI_OPT_URL,
    CLI_OPT_TEMPLATE_SQL,
    CLI_OPT_COUNT,
    CLI_OPT_SQLITE,
    CLI_OPT_TO,
    CLI_OPT_DRY_RUN,
    CLI_OPT_REPORT,
    CLI_OPT_ON_ERROR,
    CLI_OPT_ALLOW_REJECTS,
    CLI_OPT_VERIFY,
    CLI_OPT_SCHEMA,
    CLI_OPT_DATA_ONLY,
    CLI_OPT_PRESERVE_CASE,
    CLI_OPT_EPOCH_AS_TIMESTAMP,
    CLI_OPT_DETECT_JSON,
    CLI_OPT_FORCE,
    CLI_OPT_REPLACE,
    CLI_OPT_SKIP_TABLE,
    CLI_OPT_REPLACE_TABLE,
    CLI_OPT_DROP_COLUMN,
    CLI_OPT_EXISTING_ROWS,
    /* migrate: values changed on the way (issue 10) */
    CLI_OPT_ROUND_TIMESTAMPS,
    CLI_OPT_ZERO_DATES,
    CLI_OPT_OLDER_THAN,
    CLI_OPT_LABEL,
    CLI_OPT_AS,
    CLI_OPT_KEPT,
    CLI_OPT_TEMPLATE,
    CLI_OPT_TEMPLATE_CMD,
    CLI_OPT_TEMPLATE_KEY,
    CLI_OPT_TEMPLATE_TIMEOUT,
} cli_opt_id;

struct cli_opt_group;

typedef struct cli_opt {
    cli_opt_id id;
    const char *name;                    /* the long name, without "--" */
    char short_name;                     /* 0: none */
    const char *arg;                     /* the argument's name in the usage; NULL: a flag */
    const char *help;                    /* one sentence; the usage wraps it */
    const struct cli_opt_group *include; /* CLI_INCLUDE: the group's options go here */
} cli_opt;

/* Options several commands share. A group with a title is shown as a section
 * of its own in the usage ("bundle options"); the options of an untitled one
 * are shown among the command's own. */
typedef struct cli_opt_group {
    const char *title;
    const cli_opt *opts; /* ended by CLI_OPT_END */
} cli_opt_group;

#define CLI_INCLUDE(group)                                                                         \
    {                                                                                              \
        CLI_OPT_NONE, NULL, 0, NULL, NULL, &(group)                                                \
    }
#define CLI_OPT_END                                                                                \
    {                                                                                              \
        CLI_OPT_NONE, NULL, 0, NULL, NULL, NULL                                                    \
    }

typedef struct cli_cmd {
    const char *name;
    int (*fn)(const struct cli_cmd *cmd, int argc, char **argv);
    const char *operands; /* what follows the options in the usage line, or NULL */
    const char *summary;  /* one line, for the list of commands */
    const char *about;    /* more, for 'pgboot CMD --help' (NULL: the summary) */
    const cli_opt *opts;
} cli_cmd;

/* The commands (main.c), ended by an entry whose name is NULL. */
extern const cli_cmd cli_cmds[];

/* Parsing one command's argv (argv[0] is the command's name) against its
 * table, option by option, getopt_long-style: "--name VALUE", "--name=VALUE",
 * unambiguous prefixes of a name, "-f"; parsing stops at the first operand
 * (so `run -- CMD -x` keeps CMD's options) and after "--". */
typedef struct {
    const cli_cmd *cmd;
    int argc;
    char **argv;
    int next;   /* after the end: the index of the first operand */
    int status; /* after -1: the exit status (0 after --help) */
    void *impl; /* opt.c's */
} cli_parser;

/* 0, or an exit status (out of memory, printed). */
int cli_parser_init(cli_parser *p, const cli_cmd *cmd, int argc, char **argv);
/* The next option's id (its argument in *arg, NULL for a flag); 0 at the end
 * of the options; -1 when the command is done: --help was given (the usage is
 * printed, p->status is 0) or a usage error is printed (p->status is
 * CLI_EXIT_USAGE). An option of another command's table is a usage error
 * naming the option and the command. */
int cli_parse_next(cli_parser *p, const char **arg);
/* Whether the option was given (so far). */
int cli_parse_seen(const cli_parser *p, cli_opt_id id);
void cli_parser_free(cli_parser *p);
/* Every option to on_option (0: go on; else stop with its status): 0 when
 * all were taken, -1 after --help (usage printed), or an exit status. */
int cli_parse_all(cli_parser *p, int (*on_option)(void *ctx, cli_opt_id id, const char *arg),
                  void *ctx);
/* `arg` as the index of one of the NULL-terminated `names` (the values of
 * option `opt`), or a usage error listing them. */
int cli_choice(const char *opt, const char *arg, const char *const names[], int *out);

/* The spec of option id in a table (its groups too), or NULL. */
const cli_opt *cli_opt_find(const cli_opt *table, cli_opt_id id);

/* The usage of the whole tool (pgboot --help), or of one command. */
void cli_usage_all(FILE *out);
void cli_usage_cmd(FILE *out, const cli_cmd *cmd);

/* ---- errors and numbers -------------------------------------------------- */

/* Print "pgboot: <message>" and the hint to run 'pgboot --help'; CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same about one command: the hint names 'pgboot CMD --help'. */
int cli_cmd_usage_error(const cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print the library's last error (and hint) and return the exit status. */
int cli_fail(void);
/* The library's last error (a bad argument it checked), as a usage error:
 * its message and hint, exit status CLI_EXIT_USAGE. */
int cli_usage_fail(void);
/* s as a number from 0 to max: 0, or a usage error (printed) naming opt. */
int cli_parse_uint(const char *s, const char *opt, unsigned long max, unsigned long *out);

/* ---- the shared option groups (common.c) --------------------------------- */

extern const cli_opt_group cli_group_bundle;    /* --pg-version, --platform, --manifest */
extern const cli_opt_group cli_group_cache_dir; /* --cache-dir */
extern const cli_opt_group cli_group_download;  /* --mirror, --from, --offline, --retries ... */
extern const cli_opt_group cli_group_root;      /* --run-as, --create-user */
extern const cli_opt_group cli_group_app;       /* --app */
extern const cli_opt_group cli_group_data_dir;  /* --data-dir */
extern const cli_opt_group cli_group_external;  /* --database-url */
extern const cli_opt_group cli_group_timeout;   /* --timeout */
extern const cli_opt_group cli_group_set;       /* --set */
extern const cli_opt_group cli_group_unset;     /* --unset */
extern const cli_opt_group cli_group_start;     /* --port, --sqlite, --no-migrate */
extern const cli_opt_group cli_group_tmp_dir;   /* --tmp-dir */
extern const cli_opt_group cli_group_json;      /* --json */
extern const cli_opt_group cli_group_cluster;   /* --locale, --encoding, --[no-]data-checksums,
                                                   --memory */

/* A bundle or download option into o: -1 if id is not one, else 0 or a usage
 * exit status (printed). */
int cli_bundle_option(cli_opt_id id, const char *arg, pgboot_fetch_options *o);

#define CLI_MAX_LIST 64

/* The options of the app's server, as the commands that start or find it
 * parse them. */
typedef struct {
    pgboot_server_options o;
    const char *settings[CLI_MAX_LIST + 1];
    int nsettings;
    const char *unset[CLI_MAX_LIST + 1];
    int nunset;
    int app_given;
} cli_server_opts;

/* The defaults: the app from $PGBOOT_APP, else "pgboot". */
void cli_server_opts_init(cli_server_opts *s);
/* An option of the groups above (bundle, root, app, data dir, external,
 * timeout, set, unset, start, cluster) into s: -1 if id is none of them, else 0 or a
 * usage exit status (printed). */
int cli_server_option(cli_server_opts *s, cli_opt_id id, const char *arg);
/* After the options: the settings lists into s->o, the app name checked.
 * 0 or a usage exit status (printed). */
int cli_server_opts_finish(cli_server_opts *s);

/* ---- output and environment ---------------------------------------------- */

/* Print j as one compact line and release it; "{}" if j is NULL. */
void cli_print_json(json_t *j);

/* The server as a JSON object (url, port, pid, ...; and for one of pgboot's
 * own, the settings a call changed: reloaded, restart_needed), with an
 * "event" member unless event is NULL. */
json_t *cli_server_json(const pgboot_server *s, const char *event);

/* For a command that connects to pgboot's own server (not a URL the user
 * gave): drop from this process's environment the libpq variables no
 * connection string can cancel. Call before any library call (no thread
 * may run yet). */
void cli_own_server_env(void);
/* Remember the environment pgboot started with (main, first thing). */
void cli_save_environ(void);
/* The environment for a command run for the user: the one pgboot started
 * with, changed by `vars` (pgboot_server_env()). malloc'd; NULL on OOM. */
char **cli_child_environ(const pgboot_env_var *vars);
void cli_child_environ_free(char **env);

/* The throwaway cluster options of the server options (ephemeral.c). */
pgboot_ephemeral_options cli_ephemeral_options(const cli_server_opts *s, const char *tmp_dir,
                                               uint32_t ttl_ms);

/* ---- the commands -------------------------------------------------------- */

extern const cli_opt cli_fetch_opts[], cli_verify_opts[];
extern const cli_opt cli_start_opts[], cli_restart_opts[], cli_serve_opts[], cli_run_opts[];
extern const cli_opt cli_status_opts[], cli_url_opts[], cli_env_opts[], cli_logs_opts[];
extern const cli_opt cli_stop_opts[], cli_tmp_opts[], cli_testdb_opts[], cli_migrate_opts[];
extern const cli_opt cli_cache_opts[];

int cmd_fetch(const cli_cmd *cmd, int argc, char **argv);  /* fetch, verify */
int cmd_server(const cli_cmd *cmd, int argc, char **argv); /* start ... stop but run */
int cmd_run(const cli_cmd *cmd, int argc, char **argv);
int cmd_tmp(const cli_cmd *cmd, int argc, char **argv);
int cmd_testdb(const cli_cmd *cmd, int argc, char **argv);
int cmd_migrate(const cli_cmd *cmd, int argc, char **argv);
int cmd_cache(const cli_cmd *cmd, int argc, char **argv); /* cache list, cache prune */

/* pgboot testdb serve (testdb_serve.c), the broker: _prepare first (dies with
 * the parent, signals; 0 or an exit status), then, once the template is
 * open (background refill on), _serve until stdin closes, a signal or the
 * parent's death; its exit status. _failed prints the error event of a
 * failed open and returns rc. */
int cli_testdb_serve_prepare(void);
int cli_testdb_serve(pgboot_testdb *t);
int cli_testdb_serve_failed(int rc);
/* pgboot testdb under a broker: `count` clones from the broker listening on
 * `socket`, one URL a line on stdout; the exit status. */
int cli_testdb_from_broker(const char *socket, unsigned long count);

#endif
