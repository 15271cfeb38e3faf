/* A host program that gets its PostgreSQL from pgboot through the C API:
 * start (or reuse) the app's server as a child of this process, use the URL,
 * stop it. Build against an installed pgboot:
 *
 *   cc host_api.c $(pkg-config --cflags --libs pgboot) -o host_api
 *   ./host_api [APP] [BUNDLE.tgz]
 */
#include <stdio.h>
#include <stdlib.h>

#include <pgboot.h>

static int fail(const char *what)
{
    fprintf(stderr, "host_api: %s: %s\n", what, pgboot_error_last());
    if (pgboot_error_hint())
        fprintf(stderr, "hint: %s\n", pgboot_error_hint());
    return 1;
}

int main(int argc, char **argv)
{
    pgboot_server_options opts = PGBOOT_SERVER_OPTIONS_INIT;
    opts.app = argc > 1 ? argv[1] : "host-api-example";
    opts.child = 1; /* the server dies with this process */
    if (argc > 2)
        opts.fetch.from_file = argv[2]; /* no network: install this verified tarball */

    pgboot_server *server = NULL;
    if (pgboot_server_start(&server, &opts) != 0)
        return fail("start");
    printf("url %s\n", pgboot_server_url(server));
    printf("pid %d port %d started_here %d\n", pgboot_server_pid(server),
           pgboot_server_port(server), pgboot_server_started_here(server));
    uint64_t pss = 0;
    int processes = 0;
    if (pgboot_server_memory(server, &pss, &processes) != 0)
        return fail("memory");
    printf("memory %.1f MB (PSS of %d processes)\n", (double)pss / 1e6, processes);

    /* Another handle to the same server, as a second component would get. */
    pgboot_server *again = NULL;
    if (pgboot_server_attach(&again, &opts) != 0)
        return fail("attach");
    printf("attached pid %d\n", pgboot_server_pid(again));
    pgboot_server_free(again);

    if (pgboot_server_started_here(server) && pgboot_server_stop(server, PGBOOT_STOP_FAST) != 0)
        return fail("stop");
    pgboot_server_free(server);
    puts("stopped");
    return 0;
}
