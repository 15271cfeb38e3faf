/*
 * Internal interfaces of launcher/ (what runs for an app, every time): app
 * paths, the cluster (launcher/cluster.c), the postmaster, the server handle.
 * Not installed.
 */
#ifndef PGBOOT_LAUNCHER_H
#define PGBOOT_LAUNCHER_H

#include <limits.h>

#include "../platform/platform.h"

/* Where an app's things live (launcher/app.c). All malloc'd. */
typedef struct {
    char *app;
    char *app_dir;
    char *data_dir;
    char *run_file;   /* <app dir>/pgboot.run */
    char *state_file; /* <app dir>/pgboot.state: what survives a stop (last port) */
    char *pgpass;     /* <app dir>/pgpass */
    char *lock_file;  /* <app dir>/pgboot.lock */
    char *log_dir;    /* <data dir>/log */
    char *log_file;   /* <data dir>/log/postgresql.log */
    char *socket_dir; /* private, short enough for the ~107-byte sun_path */
} pgb_app_paths;

PGB_MUST_USE int pgb_app_paths_make(pgb_app_paths *p, const char *app, const char *data_dir);
void pgb_app_paths_free(pgb_app_paths *p);
/* Can PostgreSQL take `dir` as its socket directory: the socket's path fits
 * sun_path, and no character unix_socket_directories cannot carry (a comma,
 * a double quote, a control character, a trailing space)? */
int pgb_socket_dir_usable(const char *dir);
/* A socket directory: `preferred` when PostgreSQL can take it there, else a
 * short private one named by a digest (digest_bytes of it) of `key`:
 * $XDG_RUNTIME_DIR/pgboot-<tag><hex> when runtime_first and usable, else
 * /tmp/pgboot-<uid>-<tag><hex>. malloc'd; NULL when out of memory. */
char *pgb_socket_dir_pick(const char *preferred, const char *key, const char *tag,
                          size_t digest_bytes, int runtime_first);
/* Refuse a data directory PostgreSQL cannot work in (a control character in
 * its path, a path too long for MAXPGPATH), with `hint` as the way out. */
PGB_MUST_USE int pgb_data_dir_check(const char *dir, const char *hint);
/* Create the socket directory 0700, or check that the existing one is ours
 * and private. */
PGB_MUST_USE int pgb_socket_dir_prepare(const char *dir);

/* The role names of a cluster. */
#define PGB_SUPERUSER "postgres"
#define PGB_SUPERUSER_ALT "pgboot_admin" /* when the app itself is named "postgres" */
const char *pgb_superuser_for(const char *app);

/* A cluster's creation options (options version 3): what initdb is given,
 * recorded with the cluster in <data dir>/pgboot.cluster. */
typedef struct {
    const char *locale;   /* NULL: C.UTF-8 (else C), or C when encoding is not UTF8 */
    const char *encoding; /* NULL: UTF8 */
    int data_checksums;   /* 0: on for a new cluster, not checked for an existing one;
                             1: on; -1: off */
} pgb_cluster_opts;
/* The locale initdb gets for these options (pgboot's default when none). */
const char *pgb_cluster_locale(const pgb_cluster_opts *co);

/* launcher/cluster.c: create the cluster for an app (first start): initdb in
 * a marked work directory renamed into place only when complete (or into an
 * empty directory the user made, emptied again on failure, never removed),
 * the settings file, and the pgpass file with fresh random passwords. co
 * may be NULL (the defaults). */
PGB_MUST_USE int pgb_cluster_create(const pgb_app_paths *p, const char *bin_dir,
                                    const pgb_cluster_opts *co);
/* The creation options given (co) against what the existing cluster has: its
 * locale and encoding (pgboot.cluster; for a cluster made before that file,
 * lc_messages of postgresql.conf and UTF8, as pgboot made them) and its data
 * checksums (`postgres -C data_checksums`, which reads pg_control). With
 * port > 0 the server runs and is asked instead (template1's datcollate and
 * encoding, SHOW data_checksums). PGBOOT_EINVALID naming what it has when one
 * given differs; 0 when they match or none is given. Changes nothing. */
PGB_MUST_USE int pgb_cluster_check_opts(const pgb_app_paths *p, const char *bin_dir,
                                        const pgb_cluster_opts *co, int port, uint64_t deadline);
/* Remove the work directories of first starts that were killed (recognised
 * by their marker, their process gone). Call with the app's lock held. */
void pgb_cluster_remove_leftovers(const pgb_app_paths *p);
/* PGBOOT_EVERSION when the data directory's PG_VERSION names another major
 * than `bundle_version` ("16.14"); 0 when it matches or there is no cluster. */
PGB_MUST_USE int pgb_cluster_check_version(const pgb_app_paths *p, const char *bundle_version);
/* The major of the data directory (its PG_VERSION) in *major, 0 when there is
 * no cluster yet; PGBOOT_EVERSION for a PG_VERSION that is not a major. */
PGB_MUST_USE int pgb_cluster_major(const pgb_app_paths *p, unsigned int *major);
/* The major a start runs: the data directory's own when it has one (refused
 * with PGBOOT_EVERSION, nothing touched, when `requested` (non-zero) is
 * another, or when the manifest of `fo` pins no bundle for it), else
 * `requested` (0: the fetch's choice, $PGBOOT_PG_VERSION or the default). */
PGB_MUST_USE int pgb_cluster_choose_major(const pgb_app_paths *p, unsigned int requested,
                                          const pgboot_fetch_options *fo, unsigned int *major);
/* `in` (any version) as current fetch options that ask for `major`. */
pgboot_fetch_options pgb_fetch_options_for(const pgboot_fetch_options *in, unsigned int major);
/* Run initdb for `dir` (which must not exist or be empty) with pgboot's
 * choices (locale, encoding and data checksums from co, NULL: the defaults;
 * scram-sha-256, the superuser and its password via a private file in
 * scratch_dir), write pgboot's settings file and record co (pgboot.cluster). */
PGB_MUST_USE int pgb_initdb(const char *bin_dir, const char *dir, const char *superuser,
                            const char *password, const char *scratch_dir,
                            const pgb_cluster_opts *co);
/* The SCRAM-SHA-256 verifier of one of pgboot's generated passwords, as
 * pg_authid stores it, with PGB_SCRAM_ITERATIONS and a random salt (scram.c
 * says why so few iterations); pgb_scram_verifier_salted with a given salt
 * (at most 16 bytes) and iterations (> 0), for tests. A malloc'd string, or
 * NULL when out of memory or given nothing. Any thread. */
#define PGB_SCRAM_ITERATIONS 16
char *pgb_scram_verifier(const char *password);
char *pgb_scram_verifier_salted(const char *password, const unsigned char *salt, size_t salt_len,
                                unsigned int iterations);
/* A random password of len-1 letters and digits. */
void pgb_random_password(char *out, size_t len);
/* Settings: `set` is "name=value" items, `unset` names (NULL-terminated,
 * either may be NULL). pgb_settings_check refuses a malformed item and the
 * settings pgboot owns (port, listen_addresses, socket and file locations,
 * the log), naming what the user has instead; pgb_setting_owned says that
 * text, or NULL. */
PGB_MUST_USE int pgb_settings_check(const char *const *set, const char *const *unset);
const char *pgb_setting_owned(const char *name, size_t n);
/* Would PostgreSQL (`postgres -C` with the data directory's files and `set`
 * as -c options) start with these values? PGBOOT_EINVALID naming the setting
 * it refuses, with PostgreSQL's reason; nothing is written. */
PGB_MUST_USE int pgb_cluster_validate(const pgb_app_paths *p, const char *bin_dir,
                                      const char *const *set);
/* Apply `unset` then `set` to pgboot.conf (checked first); the first
 * `nderived` items of set come from a memory budget and are marked so (a
 * later budget may replace them, never an explicit --set); *changed when the
 * file was rewritten. */
PGB_MUST_USE int pgb_cluster_set(const pgb_app_paths *p, const char *const *set, size_t nderived,
                                 const char *const *unset, int *changed);
/* Does pgboot.conf's text set `name` explicitly: a line of --set, not one a
 * memory budget wrote nor one of the profile written at creation? */
int pgb_conf_explicit(const char *conf, size_t len, const char *name, size_t nlen);
/* pgboot.conf as it is (malloc'd), and written back (to roll a change back). */
PGB_MUST_USE int pgb_cluster_conf_read(const pgb_app_paths *p, char **text, size_t *len);
PGB_MUST_USE int pgb_cluster_conf_write(const pgb_app_paths *p, const char *text, size_t len);
/* When a PostgreSQL message names a setting (`parameter "NAME"`), hint how to
 * remove it from pgboot.conf; 1 if it did. */
int pgb_settings_hint_remove(const char *app, const char *msg);
/* Reload the running server's configuration after `names` changed;
 * *restart_needed (malloc'd, or NULL) lists, comma-separated, those that
 * PostgreSQL applies only at a start ('postmaster' context). */
PGB_MUST_USE int pgb_cluster_reload(const pgb_app_paths *p, int port, const char *const *names,
                                    uint64_t deadline, char **restart_needed);
/* Read a password for `user` from the app's pgpass file (malloc'd). */
PGB_MUST_USE int pgb_pgpass_lookup(const char *pgpass, const char *user, char **password);
/* Ensure the app's role and database exist and that the role's password is
 * the one in pgpass (connected as the superuser over the socket of the
 * running server, everything bounded by `deadline`); idempotent. */
PGB_MUST_USE int pgb_cluster_ensure_app(const pgb_app_paths *p, int port, uint64_t deadline);

/* launcher/memory.c: the memory budget ------------------------------------- */
/* "512MB" as kB: digits and a unit (kB, MB, GB, as PostgreSQL spells them),
 * from 128MB to 1TB; else PGBOOT_EINVALID naming `what` ("--memory"). */
PGB_MUST_USE int pgb_memory_parse(const char *text, const char *what, uint64_t *kb);
/* The settings a budget of `kb` derives (README, "A memory budget"), as
 * "name=value" items in out[0..n-1] (each at most PGB_MEMORY_ITEM bytes). */
#define PGB_MEMORY_SETTINGS 7
#define PGB_MEMORY_ITEM 64
void pgb_memory_derive(uint64_t kb, char out[PGB_MEMORY_SETTINGS][PGB_MEMORY_ITEM]);
/* The settings of a start: those derived from `budget` (NULL: none) that
 * neither `settings` nor pgboot.conf's text `conf` (NULL-able) sets
 * explicitly (pgb_conf_explicit; a name in `unset`, NULL-terminated and
 * NULL-able, is not set there any more), then `settings`; *nderived says how many
 * come first. *out is malloc'd (one block, items included, NULL-terminated;
 * free() it); with no budget, *out is NULL and `settings` stands as it is. */
PGB_MUST_USE int pgb_memory_settings(const char *budget, const char *const *settings,
                                     const char *const *unset, const char *conf, size_t conf_len,
                                     char ***out, size_t *nderived);

/* launcher/postmaster.c ------------------------------------------------- */
typedef struct {
    int pid;
    int port;
    char socket_dir[PATH_MAX];
    char status[16]; /* "starting", "ready", "stopping", "standby"; "" while the
                        file is incomplete (PostgreSQL writes it in steps) */
    int complete;    /* the file has every line up to the status line */
} pm_info;
/* Read <data>/postmaster.pid; *found=0 (and 0) if there is none. */
PGB_MUST_USE int pgb_pm_read(const char *data_dir, pm_info *pm, int *found);
/* Is pm->pid alive, a postgres, and working in data_dir? */
int pgb_pm_is_ours(const char *data_dir, const pm_info *pm);
/* Does it answer on its socket (within 5 s, and before `deadline` unless 0)? */
int pgb_pm_answers(const pm_info *pm, uint64_t deadline);
/* What a live postmaster of ours is doing, as every command tells it. */
typedef enum {
    PGB_PM_SERVING,  /* ready, and answers */
    PGB_PM_STARTING, /* not ready yet (start-up, crash recovery) */
    PGB_PM_STOPPING, /* shutting down: no new connections (a smart shutdown
                        serves its clients until they leave) */
    PGB_PM_SILENT,   /* no answer on its socket within the bound */
} pgb_pm_state;
/* Ask it with a protocol ping bounded by bound_ms. */
pgb_pm_state pgb_pm_probe(const pm_info *pm, uint32_t bound_ms);
long pgb_log_size(const char *log);
/* The last `lines` lines logged since `offset`, joined by '|' (malloc'd). */
char *pgb_log_since(const char *log, long offset, int lines);
/* Wait until postmaster.pid says ready for `pid` and it answers; an early
 * exit or the deadline is an error quoting the log. */
PGB_MUST_USE int pgb_wait_ready(const char *data_dir, const char *log_file, int pid,
                                uint64_t deadline, long log_offset, int *bind_failed);
/* Signal `pid` and wait until it is gone (PGBOOT_ETIMEOUT at the deadline). */
int pgb_signal_and_wait(int pid, int sig, uint64_t deadline);
/* Remove .s.PGSQL.* sockets and lock files in a private socket directory
 * whose owning pid is not a live postgres. */
void pgb_clear_stale_socket_locks(const char *socket_dir);
/* Stop a server we failed to bring up, so it holds nothing. */
void pgb_abandon(int pid);

#define PGB_MAX_EXTRA_SETTINGS 64
typedef struct {
    const char *bin_dir;
    const char *data_dir;
    const char *socket_dir;
    const char *log_file;
    int port;
    const char *const *settings; /* extra "name=value" for -c, NULL-terminated */
    int lifeline_fd;             /* see pgb_launch */
    int owner_gone_signal;
    char *const *remove_after;
} pgb_postgres_launch;
/* Start `postgres` itself (not pg_ctl), output appended to the log. */
PGB_MUST_USE int pgb_launch_postgres(const pgb_postgres_launch *l, int *pid);
/* The port of each attempt of pgb_launch_until_ready (attempt 1, 2, ...);
 * a retry may be refused with an error (a port the user asked for). */
typedef int (*pgb_port_chooser)(void *ctx, int attempt, int *port);
/* Launch postgres and wait until it is ready by `deadline`; a port taken
 * between the choice and the bind gets another attempt (up to 5), any other
 * failure ends it (the server is stopped). On success *pid, and l->port is
 * the port it listens on. */
PGB_MUST_USE int pgb_launch_until_ready(pgb_postgres_launch *l, uint64_t deadline,
                                        pgb_port_chooser choose, void *ctx, int *pid);

/* The server handle (launcher/handle.c); server.c and ephemeral.c make them. */
struct pgboot_server {
    char *url;
    char *host;
    char *user;
    char *password;
    char *database;
    char *socket_dir;
    char *data_dir;
    char *app_dir;
    char *log_path;
    char *pg_version;
    char *app;
    int port;
    int pid;
    int started_here;
    int external;
    int lifeline_fd;      /* child mode: closing it tells the supervisor to stop the server */
    char *ephemeral_dir;  /* a throwaway cluster's directory, removed at stop */
    char *private_socket; /* its socket directory when outside ephemeral_dir */
    char *tmp_fallback;   /* a throwaway cluster not where it was first meant to go: why */
    char *restart_needed; /* settings changed by this start that wait for a restart */
    char *reloaded;       /* settings changed by this start and applied by a reload */
    /* How pgboot_server_stop() stops it, chosen by whoever made the handle;
     * NULL: not pgboot's to stop (an external database). */
    int (*stop)(pgboot_server *s, pgboot_stop_mode mode);
};

pgboot_server *pgb_server_new(void);

/* launcher/external.c: the URL of an external database the options name
 * (database_url, else PGBOOT_DATABASE_URL; NULL: none), and its handle once
 * the URL connects within timeout_ms. */
const char *pgb_external_url(const pgboot_server_options *o);
PGB_MUST_USE int pgb_external_server(pgboot_server **out, const char *url, uint32_t timeout_ms);

#endif
