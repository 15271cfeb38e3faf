/* A host program that runs `pgboot serve` as a child process and reads its
 * ready line: the way to use pgboot from a program that does not link C (the
 * same few steps work from any language). Closing the child's stdin (or this
 * process dying) stops the server.
 *
 *   cc spawn_serve.c -o spawn_serve
 *   ./spawn_serve /path/to/pgboot [APP]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: spawn_serve PGBOOT [APP]\n");
        return 2;
    }
    const char *app = argc > 2 ? argv[2] : "spawn-serve-example";
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0)
        return 1;
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        close(to_child[1]);
        close(from_child[0]);
        execl(argv[1], argv[1], "serve", "--app", app, (char *)NULL);
        perror("exec pgboot");
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    FILE *out = fdopen(from_child[0], "r");
    char line[4096];
    if (!out || !fgets(line, sizeof line, out)) {
        fprintf(stderr, "spawn_serve: pgboot serve ended before it was ready\n");
        return 1;
    }
    /* {"url":"postgresql://...","port":...,"event":"ready"} — a real program
     * would use its JSON parser; the URL is the first string value. */
    if (!strstr(line, "\"event\":\"ready\"")) {
        fprintf(stderr, "spawn_serve: pgboot serve failed: %s", line);
        return 1;
    }
    char *url = strstr(line, "\"url\":\"");
    char *end = url ? strchr(url + 7, '"') : NULL;
    if (!end)
        return 1;
    printf("ready %.*s\n", (int)(end - url - 7), url + 7);
    fflush(stdout);

    close(to_child[1]); /* our end of its stdin: serve stops the server and exits */
    if (fgets(line, sizeof line, out))
        printf("then %s", line);
    int st;
    waitpid(pid, &st, 0);
    printf("serve exited with %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
