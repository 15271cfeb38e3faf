/* The pgboot command line tool: a thin client of the public API. main()
 * finds the command in cli_cmds[] and runs it; each command parses its own
 * options (its table, in its file) into an options struct, makes one library
 * call, and prints the result. Errors are printed here, never in the library. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const cli_cmd cli_cmds[] = {
    {"start", cmd_server, NULL,
     "start (or reuse) the app's server in the background; print its URL", NULL, cli_start_opts},
    {"serve", cmd_server, NULL, "run the server in the foreground for a parent process",
     "run the server in the foreground for a parent process; a JSON line {\"event\":\"ready\",...} "
     "when ready; stops on SIGTERM/SIGINT, when stdin closes, and when the parent dies",
     cli_serve_opts},
    {"run", cmd_run, "-- CMD [ARGS...]", "run CMD against the app's server, or a throwaway one",
     "start or reuse the server, run CMD with DATABASE_URL and "
     "PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE set, stop the server if this run started it, "
     "exit with CMD's status; with --ephemeral the same with a throwaway cluster (durability off, "
     "in a fresh temporary directory) removed afterwards",
     cli_run_opts},
    {"restart", cmd_server, NULL,
     "stop the server (fast) if it runs and start it again, with the options of start",
     "stop the server (fast) if it runs and start it again, with the same options as start; "
     "applies settings that need a restart",
     cli_restart_opts},
    {"status", cmd_server, NULL, "say what the app's server is doing (exit 0 running)",
     "say what the app's server is doing: exit 0 running, 3 not running, 4 stopping (a smart "
     "shutdown serves its clients but takes no new ones), 5 not answering (its process lives but "
     "does not answer: hung, SIGSTOP)",
     cli_status_opts},
    {"url", cmd_server, NULL, "print the URL of the running server (exit 3 if none)",
     "print the URL of the running server (exit 3 if none, 4 stopping, 5 not answering; env "
     "too)",
     cli_url_opts},
    {"env", cmd_server, NULL, "print the connection variables (sh, dotenv or json)",
     "print the connection variables: --format sh (default; also unsets the libpq variables that "
     "could redirect a client), dotenv or json",
     cli_env_opts},
    {"logs", cmd_server, NULL, "print the server log; -f follows it", NULL, cli_logs_opts},
    {"stop", cmd_server, NULL, "stop the server: --mode fast (default), smart or immediate", NULL,
     cli_stop_opts},
    {"tmp", cmd_tmp, NULL, "print the URL of a throwaway cluster that removes itself when idle",
     "print the URL of a throwaway cluster that removes itself once no client has been connected "
     "for --ttl SECONDS (default 60)",
     cli_tmp_opts},
    {"testdb", cmd_testdb, "[FILE...] | drop|keep|snapshot|list|clean|serve ...",
     "print the URL of a fresh database cloned from a template; drop, keep, snapshot, list, clean, "
     "serve",
     "print the URL of a fresh database cloned from a template database built once from the SQL "
     "files or by the app's migration command (keyed by their contents), given by --app NAME or "
     "--url URL. 'pgboot testdb drop URL' drops such a database, even with connections still "
     "open; 'keep URL --label L' keeps it; 'snapshot URL --as NAME' makes a template of its "
     "state; 'list' and 'clean [--kept]' show and remove test databases "
     "('pgboot testdb SUBCOMMAND --help')",
     cli_testdb_opts},
    {"migrate", cmd_migrate, NULL, "move a SQLite database into PostgreSQL, all or nothing",
     "move a SQLite database (--sqlite PATH) into PostgreSQL (--app NAME or --to URL), all or "
     "nothing: a small one in one transaction, a big one loaded through a staging schema and "
     "moved into place in one transaction; verified before the commit",
     cli_migrate_opts},
    {"fetch", cmd_fetch, NULL,
     "download, verify and install the pinned PostgreSQL bundle; print its bin/", NULL,
     cli_fetch_opts},
    {"verify", cmd_fetch, NULL, "re-check the cached bundle against its pinned digest", NULL,
     cli_verify_opts},
    {"cache", cmd_cache, "list | prune",
     "list the bundles in the cache; 'cache prune --older-than D' removes unused ones",
     "'cache list': the bundles in the cache, their PostgreSQL version, size, last use and the "
     "process running from one; 'cache prune --older-than DURATION': remove the bundles not "
     "used for that long (at least 1m) that no running server uses (a data directory that "
     "needs one again fetches it at its next start)",
     cli_cache_opts},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    cli_save_environ();
    if (argc < 2) {
        cli_usage_all(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("pgboot %s\n", pgboot_version());
        return CLI_EXIT_OK;
    }
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        cli_usage_all(stdout);
        return CLI_EXIT_OK;
    }
    for (const cli_cmd *c = cli_cmds; c->name; c++)
        if (!strcmp(name, c->name))
            return c->fn(c, argc - 1, argv + 1);
    return cli_usage_error("unknown command '%s'", name);
}
