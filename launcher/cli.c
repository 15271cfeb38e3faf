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

#include <jansson.h>

#include "pgboot.h"

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: pgboot <command> [options]\n"
    "\n"
    "PostgreSQL with zero setup.\n"
    "\n"
    "commands:\n"
    "  fetch    download, verify and install the pinned PostgreSQL bundle; print its bin/\n"
    "  verify   re-check the cached bundle against its pinned digest\n"
    "\n"
    "fetch and verify options:\n"
    "  --platform P          bundle for platform P (default: this machine)\n"
    "  --manifest FILE       use this manifest instead of the built-in one\n"
    "  --mirror URL          npm registry or file:// mirror to download from\n"
    "  --from FILE.tgz       install from a local tarball (verified against the manifest)\n"
    "  --cache-dir DIR       bundle cache (default: ${XDG_CACHE_HOME:-~/.cache}/pgboot)\n"
    "  --offline             never use the network\n"
    "  --json                print a JSON object instead of the bin/ directory\n"
    "  --retries N           retry transient download failures N times (default 5)\n"
    "  --retry-delay MS      first back-off delay (default 500, doubles each time)\n"
    "  --connect-timeout MS  (default 30000)\n"
    "  --low-speed-time MS   give up on a transfer slower than --low-speed-limit for this\n"
    "                        long (default 30000)\n"
    "  --low-speed-limit B   bytes per second (default 1024)\n"
    "\n"
    "  pgboot --version | --help\n"
    "\n"
    "environment: PGBOOT_MIRROR, npm_config_registry, NPM_CONFIG_USERCONFIG, PGBOOT_CACHE_DIR,\n"
    "             https_proxy / http_proxy / no_proxy\n"
    "exit status: 0 ok, 1 failure, 2 usage error\n";

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pgboot: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nhint: run 'pgboot --help' for usage\n");
    va_end(ap);
    return EXIT_USAGE;
}

static int fail(void)
{
    fprintf(stderr, "pgboot: error: %s\n", pgboot_error_last());
    const char *hint = pgboot_error_hint();
    if (hint)
        fprintf(stderr, "hint: %s\n", hint);
    return 1;
}

static int parse_uint(const char *s, const char *opt, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > max || s[0] == '-')
        return usage_error("%s needs a number from 0 to %lu, not '%s'", opt, max, s);
    *out = v;
    return 0;
}

/* A progress bar on stderr, only when stderr is a terminal. */
static void progress_bar(uint64_t done, uint64_t total, void *payload)
{
    (void)payload;
    static int last = -1;
    int pct = total ? (int)(done * 100 / total) : -1;
    if (pct == last)
        return;
    last = pct;
    if (pct < 0) {
        fprintf(stderr, "\rdownloading PostgreSQL: %.1f MB", (double)done / 1e6);
    } else {
        char bar[31];
        int fill = pct * 30 / 100;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '-', (size_t)(30 - fill));
        bar[30] = '\0';
        fprintf(stderr, "\rdownloading PostgreSQL [%s] %3d%% %.1f/%.1f MB", bar, pct,
                (double)done / 1e6, (double)total / 1e6);
    }
    if (pct == 100)
        fputc('\n', stderr);
    fflush(stderr);
}

static const char *origin_name(pgboot_bundle_origin o)
{
    switch (o) {
    case PGBOOT_FROM_TARBALL:
        return "tarball";
    case PGBOOT_FROM_NETWORK:
        return "network";
    case PGBOOT_FROM_FILE:
        return "file";
    default:
        return "cache";
    }
}

static void print_bundle(const pgboot_bundle *b, int as_json)
{
    if (!as_json) {
        printf("%s\n", pgboot_bundle_bin_dir(b));
        return;
    }
    const char *url = pgboot_bundle_source_url(b);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "bin_dir", pgboot_bundle_bin_dir(b), "root",
        pgboot_bundle_root(b), "tarball", pgboot_bundle_tarball_path(b), "platform",
        pgboot_bundle_platform(b), "postgresql_version", pgboot_bundle_pg_version(b), "integrity",
        pgboot_bundle_integrity(b), "origin", origin_name(pgboot_bundle_get_origin(b)), "url",
        url ? json_string(url) : json_null());
    const pgboot_bundle_timing *t = pgboot_bundle_get_timing(b);
    json_object_set_new(o, "timing_ms",
                        json_pack("{s:i, s:i, s:i, s:i, s:i}", "total", (json_int_t)t->total_ms,
                                  "download", (json_int_t)t->download_ms, "verify",
                                  (json_int_t)t->verify_ms, "extract", (json_int_t)t->extract_ms,
                                  "check", (json_int_t)t->check_ms));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    printf("%s\n", s ? s : "{}");
    free(s);
    json_decref(o);
}

enum {
    OPT_PLATFORM = 256,
    OPT_MANIFEST,
    OPT_MIRROR,
    OPT_FROM,
    OPT_CACHE_DIR,
    OPT_OFFLINE,
    OPT_JSON,
    OPT_RETRIES,
    OPT_RETRY_DELAY,
    OPT_CONNECT_TIMEOUT,
    OPT_LOW_SPEED_TIME,
    OPT_LOW_SPEED_LIMIT,
    OPT_HELP,
};

static const struct option bundle_options[] = {
    {"platform", required_argument, NULL, OPT_PLATFORM},
    {"manifest", required_argument, NULL, OPT_MANIFEST},
    {"mirror", required_argument, NULL, OPT_MIRROR},
    {"from", required_argument, NULL, OPT_FROM},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"offline", no_argument, NULL, OPT_OFFLINE},
    {"json", no_argument, NULL, OPT_JSON},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"retry-delay", required_argument, NULL, OPT_RETRY_DELAY},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"low-speed-time", required_argument, NULL, OPT_LOW_SPEED_TIME},
    {"low-speed-limit", required_argument, NULL, OPT_LOW_SPEED_LIMIT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int cmd_bundle(int argc, char **argv, int verify)
{
    pgboot_fetch_options o = PGBOOT_FETCH_OPTIONS_INIT;
    int as_json = 0, c, rc;
    unsigned long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", bundle_options, NULL)) != -1) {
        switch (c) {
        case OPT_PLATFORM:
            o.platform = optarg;
            break;
        case OPT_MANIFEST:
            o.manifest_path = optarg;
            break;
        case OPT_MIRROR:
            o.mirror = optarg;
            break;
        case OPT_FROM:
            o.from_file = optarg;
            break;
        case OPT_CACHE_DIR:
            o.cache_dir = optarg;
            break;
        case OPT_OFFLINE:
            o.offline = 1;
            break;
        case OPT_JSON:
            as_json = 1;
            break;
        case OPT_RETRIES:
            if ((rc = parse_uint(optarg, "--retries", 100, &v)) != 0)
                return rc;
            o.max_retries = v == 0 ? -1 : (int)v;
            break;
        case OPT_RETRY_DELAY:
            if ((rc = parse_uint(optarg, "--retry-delay", 600000, &v)) != 0)
                return rc;
            o.retry_delay_ms = v ? (uint32_t)v : 1;
            break;
        case OPT_CONNECT_TIMEOUT:
            if ((rc = parse_uint(optarg, "--connect-timeout", 3600000, &v)) != 0)
                return rc;
            o.connect_timeout_ms = (uint32_t)v;
            break;
        case OPT_LOW_SPEED_TIME:
            if ((rc = parse_uint(optarg, "--low-speed-time", 3600000, &v)) != 0)
                return rc;
            o.low_speed_time_ms = (uint32_t)v;
            break;
        case OPT_LOW_SPEED_LIMIT:
            if ((rc = parse_uint(optarg, "--low-speed-limit", 1UL << 30, &v)) != 0)
                return rc;
            o.low_speed_limit = (uint32_t)v;
            break;
        case OPT_HELP:
            fputs(usage_text, stdout);
            return 0;
        default:
            return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (verify && (o.from_file || o.mirror || o.offline))
        return usage_error("%s: verify never downloads; drop --from, --mirror and --offline",
                           argv[0]);
    if (!verify && isatty(2))
        o.progress = progress_bar;
    pgboot_bundle *b = NULL;
    rc = verify ? pgboot_bundle_verify(&b, &o) : pgboot_bundle_fetch(&b, &o);
    if (rc != 0)
        return fail();
    print_bundle(b, as_json);
    pgboot_bundle_free(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("pgboot %s\n", pgboot_version());
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "fetch"))
        return cmd_bundle(argc - 1, argv + 1, 0);
    if (!strcmp(cmd, "verify"))
        return cmd_bundle(argc - 1, argv + 1, 1);
    return usage_error("unknown command '%s'", cmd);
}
