/* Benchmark: installing the bundle from a loopback mirror (download + verify +
 * extract + soname links + version check) against plain `tar xzf` of the same
 * tarball, in one run, as a ratio; and the share of the whole spent verifying
 * (sha512 of the tarball).
 *
 *   bench/fetch.sh  (starts the loopback mirror and runs this program)
 *   bench_fetch MIRROR_URL TARBALL ROUNDS
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "pgboot.h"

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(char *const argv[])
{
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
        return -1;
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void rmrf(const char *dir)
{
    char *chmod_argv[] = {"chmod", "-R", "u+w", (char *)dir, NULL};
    char *rm_argv[] = {"rm", "-rf", (char *)dir, NULL};
    run(chmod_argv);
    run(rm_argv);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MIRROR_URL TARBALL ROUNDS\n", argv[0]);
        return 2;
    }
    const char *mirror = argv[1], *tarball = argv[2];
    int rounds = atoi(argv[3]);
    if (rounds < 1 || rounds > 100 || sodium_init() < 0)
        return 2;
    double *t_tar = calloc((size_t)rounds, sizeof(double));
    double *t_fetch = calloc((size_t)rounds, sizeof(double));
    double *t_hash = calloc((size_t)rounds, sizeof(double));
    double *t_verify = calloc((size_t)rounds, sizeof(double));
    char base[] = "/tmp/pgboot-bench-XXXXXX";
    if (!t_tar || !t_fetch || !t_hash || !t_verify || !mkdtemp(base))
        return 1;

    /* The tarball in memory, for the pure cost of the sha512. */
    FILE *f = fopen(tarball, "rb");
    if (!f)
        return 1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)size);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size)
        return 1;
    fclose(f);

    for (int i = 0; i < rounds; i++) {
        char dir[512];
        /* tar xzf */
        snprintf(dir, sizeof dir, "%s/tar-%d", base, i);
        mkdir(dir, 0755);
        char *tar_argv[] = {"tar", "xzf", (char *)tarball, "-C", dir, NULL};
        double t0 = now();
        if (run(tar_argv) != 0) {
            fprintf(stderr, "tar failed\n");
            return 1;
        }
        t_tar[i] = now() - t0;
        rmrf(dir);

        /* pgboot fetch from the loopback mirror into an empty cache */
        snprintf(dir, sizeof dir, "%s/cache-%d", base, i);
        pgboot_fetch_options o = PGBOOT_FETCH_OPTIONS_INIT;
        o.mirror = mirror;
        o.cache_dir = dir;
        o.platform = "linux-x64";
        pgboot_bundle *b = NULL;
        t0 = now();
        if (pgboot_bundle_fetch(&b, &o) != 0) {
            fprintf(stderr, "fetch failed: %s\n", pgboot_error_last());
            return 1;
        }
        t_fetch[i] = now() - t0;
        t_verify[i] = pgboot_bundle_timings(b)->verify_ms / 1e3;
        pgboot_bundle_free(b);
        rmrf(dir);

        /* sha512 of the whole tarball */
        unsigned char digest[crypto_hash_sha512_BYTES];
        t0 = now();
        crypto_hash_sha512(digest, data, (unsigned long long)size);
        t_hash[i] = now() - t0;
    }
    rmrf(base);
    double mt = median(t_tar, rounds), mf = median(t_fetch, rounds), mh = median(t_hash, rounds);
    double mv = median(t_verify, rounds);
    printf("rounds: %d, tarball: %.1f MB\n", rounds, (double)size / 1e6);
    printf("tar xzf (baseline):          median %7.1f ms\n", mt * 1e3);
    printf("pgboot fetch (loopback):     median %7.1f ms\n", mf * 1e3);
    printf("  verify on the critical path: median %5.1f ms (sha512 overlaps the transfer)\n",
           mv * 1e3);
    printf("sha512 of the tarball alone:   median %5.1f ms (CPU, off the critical path)\n",
           mh * 1e3);
    printf("ratio fetch / tar xzf:       %.2fx   (goal: <= 1.30x)\n", mf / mt);
    printf("verify share of fetch:       %.1f%%   (goal: < 5%%)\n", 100 * mv / mf);
    free(data);
    free(t_tar);
    free(t_fetch);
    free(t_hash);
    free(t_verify);
    return 0;
}
