/* The command line tool's internal interface (the files of cli/). It sees only
 * the public API, include/pgboot.h. */
#ifndef PGBOOT_CLI_H
#define PGBOOT_CLI_H

#include "pgboot.h"

#define EXIT_FAILURE_ 1
#define EXIT_USAGE 2
#define EXIT_NOT_RUNNING 3
#define EXIT_STOPPING 4      /* status, url, env: the server is shutting down */
#define EXIT_NOT_ANSWERING 5 /* status, url, env: its process lives but does not answer */

extern const char cli_usage_text[];

int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the library's last error (and hint) and return the exit status. */
int cli_fail(void);
/* The library's last error (a bad argument it checked), as a usage error:
 * its message and hint, exit status EXIT_USAGE. */
int cli_usage_fail(void);
int cli_parse_uint(const char *s, const char *opt, unsigned long max, unsigned long *out);

/* Options shared by the bundle options of every command; returns 1 if `c`
 * was one of them, 0 if not, or an exit status + 1000 on a usage error. */
int cli_fetch_option(int c, const char *arg, pgboot_fetch_options *o);
#define CLI_FETCH_OPTIONS                                                                          \
    {"platform", required_argument, NULL, 1001}, {"manifest", required_argument, NULL, 1002},      \
        {"mirror", required_argument, NULL, 1003}, {"from", required_argument, NULL, 1004},        \
        {"cache-dir", required_argument, NULL, 1005}, {"offline", no_argument, NULL, 1006},        \
        {"retries", required_argument, NULL, 1007},                                                \
        {"retry-delay", required_argument, NULL, 1008},                                            \
        {"connect-timeout", required_argument, NULL, 1009},                                        \
        {"low-speed-time", required_argument, NULL, 1010},                                         \
    {                                                                                              \
        "low-speed-limit", required_argument, NULL, 1011                                           \
    }

/* For a command that connects to pgboot's own server (not a URL the user
 * gave): drop from this process's environment the libpq variables no
 * connection string can cancel. Call before any library call (no thread
 * may run yet). */
void cli_own_server_env(void);
/* The environment for a command run for the user: the one pgboot started
 * with, changed by `vars` (pgboot_server_env()). malloc'd; NULL on OOM. */
char **cli_child_environ(const pgboot_env_var *vars);
void cli_child_environ_free(char **env);

int cmd_fetch(int argc, char **argv, int verify);
int cmd_server(int argc, char **argv, const char *cmd);
int cmd_migrate(int argc, char **argv);

#endif
