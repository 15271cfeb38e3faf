/* Benchmark: a fresh database per test from a template with 50 tables.
 *   bench_testdb URL SQL_FILE ROUNDS
 * Prints the median time of one clone (pgboot_testdb_clone on an open handle
 * with a background-refilled pool, as a test suite would use it, 20 ms of
 * "test" between clones), the time of a clone made on the spot (FILE_COPY,
 * the baseline the pool avoids), and the throughput of 8 parallel callers,
 * each with its own handle, cloning and dropping back to back. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgboot.h"

#define PARALLEL 8

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    const char *url;
    const char *const *files;
    int rounds;
    int failed;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    pgboot_testdb *t = NULL;
    pgboot_testdb_options o = PGBOOT_TESTDB_OPTIONS_INIT;
    o.url = w->url;
    o.sql_files = w->files;
    o.background_refill = 1;
    if (pgboot_testdb_open(&t, &o) != 0) {
        fprintf(stderr, "open: %s\n", pgboot_error_last());
        w->failed = 1;
        return NULL;
    }
    for (int i = 0; i < w->rounds; i++) {
        char *url = NULL;
        if (pgboot_testdb_clone(t, &url) != 0 || pgboot_testdb_drop(url) != 0) {
            fprintf(stderr, "clone/drop: %s\n", pgboot_error_last());
            w->failed = 1;
            free(url);
            break;
        }
        free(url);
    }
    pgboot_testdb_free(t);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s URL SQL_FILE ROUNDS\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    const char *files[] = {argv[2], NULL};
    int rounds = atoi(argv[3]);
    if (rounds < 1 || rounds > 10000)
        return 2;
    pgboot_testdb *t = NULL;
    pgboot_testdb_options o = PGBOOT_TESTDB_OPTIONS_INIT;
    o.url = url;
    o.sql_files = files;
    o.background_refill = 1;
    double t0 = now();
    if (pgboot_testdb_open(&t, &o) != 0) {
        fprintf(stderr, "open: %s\n", pgboot_error_last());
        return 1;
    }
    double build = now() - t0;
    double *times = calloc((size_t)rounds, sizeof(double));
    char **urls = calloc((size_t)rounds, sizeof(char *));
    if (!times || !urls)
        return 1;
    /* As a test suite would: a clone, then the test's own work (here a pause
     * of 20 ms), during which the pool is refilled in the background. */
    for (int i = 0; i < rounds; i++) {
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
        t0 = now();
        if (pgboot_testdb_clone(t, &urls[i]) != 0) {
            fprintf(stderr, "clone: %s\n", pgboot_error_last());
            return 1;
        }
        times[i] = now() - t0;
    }
    for (int i = 0; i < rounds; i++) {
        if (pgboot_testdb_drop(urls[i]) != 0)
            fprintf(stderr, "drop: %s\n", pgboot_error_last());
        free(urls[i]);
    }
    pgboot_testdb_free(t);
    qsort(times, (size_t)rounds, sizeof(double), cmp);
    double median = times[rounds / 2];

    /* 8 parallel callers, clone + drop each time. */
    pthread_t th[PARALLEL];
    worker_arg args[PARALLEL];
    int per = rounds / 2 > 0 ? rounds / 2 : 1;
    t0 = now();
    for (int i = 0; i < PARALLEL; i++) {
        args[i] = (worker_arg){.url = url, .files = files, .rounds = per};
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    int failed = 0;
    for (int i = 0; i < PARALLEL; i++) {
        pthread_join(th[i], NULL);
        failed |= args[i].failed;
    }
    double wall = now() - t0;

    /* Baseline: clones made on the spot (another template of the same schema,
     * whose pool nobody fills), i.e. CREATE DATABASE ... STRATEGY FILE_COPY. */
    char *base_sql = NULL;
    if (asprintf(&base_sql, "%s.baseline.sql", argv[2]) < 0)
        return 1;
    FILE *in = fopen(argv[2], "r"), *out = fopen(base_sql, "w");
    if (!in || !out)
        return 1;
    int ch;
    while ((ch = fgetc(in)) != EOF)
        fputc(ch, out);
    fputs("-- baseline: the same schema under another hash\n", out);
    fclose(in);
    fclose(out);
    const char *base_files[] = {base_sql, NULL};
    pgboot_testdb_options bo = PGBOOT_TESTDB_OPTIONS_INIT;
    bo.url = url;
    bo.sql_files = base_files;
    pgboot_testdb *bt = NULL;
    if (pgboot_testdb_open(&bt, &bo) != 0) {
        fprintf(stderr, "open: %s\n", pgboot_error_last());
        return 1;
    }
    double *btimes = calloc((size_t)rounds, sizeof(double));
    for (int i = 0; btimes && i < rounds; i++) {
        char *u = NULL;
        t0 = now();
        if (pgboot_testdb_clone(bt, &u) != 0) {
            fprintf(stderr, "clone: %s\n", pgboot_error_last());
            return 1;
        }
        btimes[i] = now() - t0;
        if (pgboot_testdb_drop(u) != 0)
            fprintf(stderr, "drop: %s\n", pgboot_error_last());
        free(u);
    }
    pgboot_testdb_free(bt);
    qsort(btimes, (size_t)rounds, sizeof(double), cmp);
    double bmedian = btimes[rounds / 2];
    free(btimes);
    remove(base_sql);
    free(base_sql);
    printf("template built (or found) in        %7.1f ms\n", build * 1e3);
    printf("clone, median of %d:                %7.2f ms   (goal: <= 10 ms)\n", rounds,
           median * 1e3);
    printf("clone, fastest / slowest:           %7.2f / %.2f ms\n", times[0] * 1e3,
           times[rounds - 1] * 1e3);
    printf("clone made on the spot (FILE_COPY): %7.2f ms median (the pool is %.1fx faster)\n",
           bmedian * 1e3, bmedian / median);
    printf("%d parallel callers, clone + drop:  %7.1f databases/s (%d in %.2f s)%s\n", PARALLEL,
           PARALLEL * per / wall, PARALLEL * per, wall, failed ? "  FAILURES" : "");
    free(times);
    free(urls);
    return failed;
}
