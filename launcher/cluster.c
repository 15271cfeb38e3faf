/* Creating an app's cluster, once: initdb with an explicit locale, UTF8,
 * scram-sha-256 everywhere and a random superuser password passed through a
 * private file; pgboot's settings; the pgpass file; and, once the server
 * runs, the app's own role and database.
 *
 * initdb works in a marked work directory beside the data directory that is
 * renamed into place only when everything is written, so a failed first start
 * leaves no half-made data directory behind, and the next start (under the
 * app's lock) removes what a killed one left, recognised by its marker. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "../platform/dynload.h"
#include "launcher.h"

#define PASSWORD_LEN 32
#define CONF_FILE "pgboot.conf"

/* The small-memory profile for a desktop (see README, "Performance"). */
static const char default_settings[] =
    "# Written by pgboot when this cluster was created; 'pgboot start --set name=value'\n"
    "# adds or overrides settings here. Port and socket directory are chosen at each start.\n"
    "listen_addresses = '127.0.0.1'\n"
    "unix_socket_permissions = 0700\n"
    "password_encryption = 'scram-sha-256'\n"
    "fsync = on\n"
    "max_connections = 20\n"
    "shared_buffers = '16MB'\n"
    "wal_level = 'minimal'\n"
    "max_wal_senders = 0\n"
    "max_worker_processes = 2\n"
    "max_parallel_workers = 2\n"
    "max_parallel_workers_per_gather = 1\n"
    "max_logical_replication_workers = 0\n"
    "autovacuum_max_workers = 1\n"
    "huge_pages = 'off'\n"
    "jit = 'off'\n"
    "logging_collector = 'off'\n"
    "log_destination = 'stderr'\n"
    "log_line_prefix = '%m [%p] '\n"
    "log_timezone = 'UTC'\n"
    "timezone = 'UTC'\n";

/* Encoding names as PostgreSQL compares them: case, '-' and '_' aside. */
static int same_name(const char *a, const char *b)
{
    for (;;) {
        while (*a == '-' || *a == '_')
            a++;
        while (*b == '-' || *b == '_')
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        if (tolower((unsigned char)*a++) != tolower((unsigned char)*b++))
            return 0;
    }
}

/* Locale names: the same, or the same but for the spelling of the codeset
 * ("C.UTF-8", "C.utf8"). */
static int same_locale(const char *a, const char *b)
{
    const char *da = strchr(a, '.'), *db = strchr(b, '.');
    if (!da || !db)
        return !strcmp(a, b);
    return da - a == db - b && !strncmp(a, b, (size_t)(da - a)) && same_name(da + 1, db + 1);
}

const char *pgb_cluster_locale(const pgb_cluster_opts *co)
{
    if (co && co->locale)
        return co->locale;
    /* A single-byte encoding needs a locale of its own: C takes any. */
    if (co && co->encoding && !same_name(co->encoding, "UTF8"))
        return "C";
    /* An explicit locale every machine has: C.UTF-8, else C. Never the
     * environment's, which a minimal machine may lack. */
    locale_t l = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
    if (l) {
        freelocale(l);
        return "C.UTF-8";
    }
    return "C";
}

#define CLUSTER_FILE "pgboot.cluster"

/* Record the creation options with the cluster. */
static int write_cluster_file(const char *dir, const pgb_cluster_opts *co)
{
    char *path = pgb_path_join(dir, CLUSTER_FILE);
    json_t *j = json_pack("{s:s, s:s, s:b}", "locale", pgb_cluster_locale(co), "encoding",
                          co && co->encoding ? co->encoding : "UTF8", "data_checksums",
                          !co || co->data_checksums >= 0);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    int rc = path && text ? pgb_write_file_atomic(path, text, strlen(text), 0600)
                          : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    free(path);
    free(text);
    return rc;
}

static int write_pgpass(const pgb_app_paths *p, const char *super_pw, const char *app_pw)
{
    char *text = pgb_printf("# pgboot: passwords of the cluster in %s (libpq pgpass format)\n"
                            "*:*:*:%s:%s\n*:*:*:%s:%s\n",
                            p->data_dir, pgb_superuser_for(p->app), super_pw, p->app, app_pw);
    if (!text)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    int rc = pgb_write_file_atomic(p->pgpass, text, strlen(text), 0600);
    sodium_memzero(text, strlen(text));
    free(text);
    return rc;
}

int pgb_pgpass_lookup(const char *pgpass, const char *user, char **password)
{
    *password = NULL;
    char *text;
    size_t len;
    int rc = pgb_read_file(pgpass, &text, &len, 1 << 16);
    if (rc) {
        if (rc == PGBOOT_ENOTFOUND) {
            rc = pgb_fail(PGBOOT_ENOTFOUND, "the password file %s is missing", pgpass);
            pgb_hint("it is written when the cluster is created; if the data directory was "
                     "copied from elsewhere, copy its pgpass too");
        }
        return rc;
    }
    size_t ul = strlen(user);
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        /* host:port:db:user:password, the first three wildcards here */
        if (line[0] != '#' && !strncmp(line, "*:*:*:", 6) && !strncmp(line + 6, user, ul) &&
            line[6 + ul] == ':') {
            *password = pgb_strdup(line + 6 + ul + 1);
            break;
        }
        line = next;
    }
    sodium_memzero(text, len);
    free(text);
    if (!*password)
        return pgb_fail(PGBOOT_ENOTFOUND, "no password for role %s in %s", user, pgpass);
    return 0;
}

static int write_conf(const char *dir)
{
    char *conf = pgb_path_join(dir, CONF_FILE);
    char *main_conf = pgb_path_join(dir, "postgresql.conf");
    int rc = 0;
    if (!conf || !main_conf) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = pgb_write_file_atomic(conf, default_settings, strlen(default_settings), 0600)))
        goto done;
    FILE *f = fopen(main_conf, "a");
    if (!f || fputs("\n# Added by pgboot\ninclude '" CONF_FILE "'\n", f) < 0 || fclose(f) != 0)
        rc = pgb_fail(PGBOOT_ERROR, "cannot write %s: %s", main_conf, strerror(errno));
done:
    free(conf);
    free(main_conf);
    return rc;
}

static int is_empty_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int empty = 1;
    struct dirent *e;
    while (empty && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    return empty;
}

int pgb_initdb(const char *bin_dir, const char *dir, const char *superuser, const char *password,
               const char *scratch_dir, const pgb_cluster_opts *co)
{
    char rnd[9];
    pgb_random_name(rnd, sizeof rnd);
    char *pwfile = pgb_printf("%s/.pgboot-pw-%s", scratch_dir, rnd);
    char *initdb = pgb_path_join(bin_dir, "initdb");
    char *pwarg = pwfile ? pgb_printf("--pwfile=%s", pwfile) : NULL;
    char *locarg = pgb_printf("--locale=%s", pgb_cluster_locale(co));
    char *encarg = pgb_printf("--encoding=%s", co && co->encoding ? co->encoding : "UTF8");
    char *userarg = pgb_printf("--username=%s", superuser);
    char *output = NULL, *verifier = NULL;
    int rc = 0, status = 0, fd = -1;
    if (!pwfile || !initdb || !pwarg || !locarg || !encarg || !userarg) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    /* The superuser's password reaches initdb through a private file, never
     * argv, and as its SCRAM verifier (which PostgreSQL stores as given): with
     * pgboot's iterations (scram.c), not initdb's 4096. */
    verifier = pgb_scram_verifier(password);
    if (!verifier) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    fd = open(pwfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot create %s: %s", pwfile, strerror(errno));
        goto done;
    }
    size_t pl = strlen(verifier);
    if (write(fd, verifier, pl) != (ssize_t)pl || write(fd, "\n", 1) != 1) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot write %s", pwfile);
        goto done;
    }
    close(fd);
    fd = -1;
    char *argv[] = {initdb, "-D", (char *)dir, userarg, pwarg, encarg, locarg,
                    "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--no-instructions",
                    /* on unless turned off, as PostgreSQL 18 does */
                    co && co->data_checksums < 0 ? NULL : "--data-checksums", NULL};
    rc = pgb_run_capture(argv, &output, &status, 1 << 20);
    if (rc == 0 && status != 0) {
        /* initdb's "detail:" line says why ("encoding mismatch" alone does not) */
        char *detail = output ? strstr(output, "initdb: detail: ") : NULL;
        detail = detail ? strndup(detail + 16, strcspn(detail + 16, "\r\n")) : NULL;
        rc = pgb_fail(PGBOOT_ESTART, "initdb failed for %s (exit %d): %s%s%s", dir, status,
                      pgb_cause_line(output), detail ? ": " : "", detail ? detail : "");
        free(detail);
        if (co && (co->locale || co->encoding))
            pgb_hint("nothing was kept; a new cluster's locale and encoding must go together: "
                     "a UTF-8 locale (C.UTF-8) with UTF8, or --locale C with any encoding "
                     "('locale -a' lists the locales installed); fix the cause above and start "
                     "again");
        else
            pgb_hint("nothing was kept; fix the cause above and start again");
    }
    if (rc == 0)
        rc = write_conf(dir);
    if (rc == 0)
        rc = write_cluster_file(dir, co);
    if (rc == 0) {
        char *log = pgb_path_join(dir, "log");
        if (!log || (mkdir(log, 0700) != 0 && errno != EEXIST))
            rc = pgb_fail(PGBOOT_ERROR, "cannot create the log directory in %s", dir);
        free(log);
    }
done:
    if (fd >= 0)
        close(fd);
    if (pwfile)
        unlink(pwfile);
    free(pwfile);
    if (verifier)
        sodium_memzero(verifier, strlen(verifier));
    free(verifier);
    free(initdb);
    free(pwarg);
    free(locarg);
    free(encarg);
    free(userarg);
    free(output);
    return rc;
}

void pgb_random_password(char *out, size_t len)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i + 1 < len; i++)
        out[i] = alnum[randombytes_uniform(sizeof alnum - 1)];
    out[len - 1] = '\0';
}

/* What a work directory's note says of where initdb wrote: into the data
 * directory itself (a directory the user made), or into the work directory. */
#define NOTE_IN_PLACE "initdb into the data directory"
#define NOTE_INSIDE "initdb into this directory"

static char *work_prefix(const pgb_app_paths *p)
{
    return pgb_printf("%s.init-", p->data_dir);
}

/* initdb runs in a marked work directory beside the data directory:
 *   <data_dir>.init-<rand>/.pgboot-work    the marker (pid, where initdb wrote)
 *   <data_dir>.init-<rand>/.pgboot-pw-*    the superuser's password, for initdb
 *   <data_dir>.init-<rand>/data/           initdb's output, renamed into place
 * or, when the data directory is an empty directory the user made, initdb
 * writes there and the work directory only holds the marker and password.
 * On failure the work directory goes, and the user's directory is emptied of
 * what initdb put there but never removed. */
int pgb_cluster_create(const pgb_app_paths *p, const char *bin_dir, const pgb_cluster_opts *co)
{
    char super_pw[PASSWORD_LEN + 1], app_pw[PASSWORD_LEN + 1];
    pgb_random_password(super_pw, sizeof super_pw);
    pgb_random_password(app_pw, sizeof app_pw);
    char rnd[9];
    pgb_random_name(rnd, sizeof rnd);
    int in_place = pgb_is_dir(p->data_dir), made = 0;
    char *prefix = work_prefix(p);
    char *work = prefix ? pgb_printf("%s%s", prefix, rnd) : NULL;
    char *out = work ? (in_place ? pgb_strdup(p->data_dir) : pgb_path_join(work, "data")) : NULL;
    int rc = 0;
    if (!out) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    if (in_place && !is_empty_dir(p->data_dir)) {
        rc = pgb_fail(PGBOOT_EBUSY,
                      "data directory %s exists, is not empty, and is not a "
                      "PostgreSQL cluster",
                      p->data_dir);
        pgb_hint("empty it or choose another --data-dir; pgboot never deletes data it did not "
                 "create");
        goto done;
    }
    if ((rc = pgb_workdir_make(work, in_place ? NOTE_IN_PLACE : NOTE_INSIDE)) != 0)
        goto done;
    made = 1;
    rc = pgb_initdb(bin_dir, out, pgb_superuser_for(p->app), super_pw, work, co);
    if (rc == 0)
        rc = write_pgpass(p, super_pw, app_pw);
    if (rc == 0 && !in_place && rename(out, p->data_dir) != 0)
        rc = pgb_fail(PGBOOT_ERROR, "cannot move the new cluster into place at %s: %s", p->data_dir,
                      strerror(errno));
done:
    if (rc != 0 && made && in_place && pgb_empty_dir(p->data_dir) != 0)
        pgb_hint("some of what initdb wrote is left in %s (%s); remove it by hand", p->data_dir,
                 strerror(errno));
    if (made)
        pgb_workdir_remove(work);
    sodium_memzero(super_pw, sizeof super_pw);
    sodium_memzero(app_pw, sizeof app_pw);
    free(prefix);
    free(work);
    free(out);
    return rc;
}

void pgb_cluster_remove_leftovers(const pgb_app_paths *p)
{
    char *prefix = work_prefix(p);
    char *slash = prefix ? strrchr(prefix, '/') : NULL;
    if (!slash || slash == prefix) {
        free(prefix);
        return;
    }
    *slash = '\0';
    const char *parent = prefix, *name_prefix = slash + 1;
    DIR *d = opendir(parent);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!pgb_str_has_prefix(e->d_name, name_prefix) || !strcmp(e->d_name, ".") ||
            !strcmp(e->d_name, ".."))
            continue;
        char *path = pgb_path_join(parent, e->d_name);
        char *note = NULL;
        if (path && pgb_workdir_abandoned(path, &note)) {
            /* A killed initdb into the user's directory: what it wrote there is
             * unfinished (the work directory goes only after initdb is done). */
            if (note && !strcmp(note, NOTE_IN_PLACE) && pgb_is_dir(p->data_dir))
                pgb_empty_dir(p->data_dir);
            pgb_workdir_remove(path);
        }
        free(note);
        free(path);
    }
    if (d)
        closedir(d);
    free(prefix);
}

/* The first line of the data directory's PG_VERSION (malloc'd) into *text;
 * NULL when there is none (no cluster yet). 0 or the read's error. */
static int read_pg_version(const pgb_app_paths *p, char **text)
{
    *text = NULL;
    char *path = pgb_path_join(p->data_dir, "PG_VERSION");
    size_t len = 0;
    int rc = path ? pgb_read_file(path, text, &len, 64) : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    free(path);
    if (rc == PGBOOT_ENOTFOUND) {
        pgb_error_reset();
        return 0;
    }
    if (rc == 0)
        (*text)[strcspn(*text, "\r\n")] = '\0';
    return rc;
}

int pgb_cluster_check_version(const pgb_app_paths *p, const char *bundle_version)
{
    char *text = NULL;
    int rc = read_pg_version(p, &text);
    if (rc || !text)
        return rc; /* no cluster yet, or the error */
    size_t major = strcspn(bundle_version, ".");
    if (strlen(text) != major || strncmp(text, bundle_version, major) != 0) {
        rc = pgb_fail(PGBOOT_EVERSION,
                      "the data directory %s was made by PostgreSQL %s, and this pgboot runs "
                      "PostgreSQL %.*s",
                      p->data_dir, text, (int)major, bundle_version);
        pgb_hint("nothing was changed in it; a data directory only runs with its own major: start "
                 "it with PostgreSQL %s, or dump it with that version's pg_dump and load the "
                 "dump into a new --data-dir",
                 text);
    }
    free(text);
    return rc;
}

int pgb_cluster_major(const pgb_app_paths *p, unsigned int *major)
{
    *major = 0;
    char *text = NULL;
    int rc = read_pg_version(p, &text);
    if (rc || !text)
        return rc; /* no cluster yet, or the error */
    if (pgb_pg_major_parse(text, major) != 0) {
        rc = pgb_fail(PGBOOT_EVERSION,
                      "the data directory %s has a PG_VERSION file that names no "
                      "PostgreSQL major ('%.20s')",
                      p->data_dir, text);
        pgb_hint("nothing was changed in it; check that --data-dir names a PostgreSQL data "
                 "directory");
    }
    free(text);
    return rc;
}

/* Why a data directory cannot change its major, and what one can do. */
#define UPGRADE_NOTE                                                                               \
    "moving a cluster to another major needs pg_upgrade or pg_dump, which no pinned bundle "       \
    "carries (README: \"Upgrading to another major\")"

int pgb_cluster_choose_major(const pgb_app_paths *p, unsigned int requested,
                             const pgboot_fetch_options *fo, unsigned int *major)
{
    *major = requested;
    unsigned int own = 0;
    int rc = pgb_cluster_major(p, &own);
    if (rc || own == 0)
        return rc;
    if (requested && requested != own) {
        rc = pgb_fail(PGBOOT_EVERSION,
                      "the data directory %s was made by PostgreSQL %u, and --pg-version asks "
                      "for %u: a data directory only runs with its own major",
                      p->data_dir, own, requested);
        pgb_hint("nothing was changed in it; start it without --pg-version (it runs with "
                 "PostgreSQL %u), or give a new --app or --data-dir for a PostgreSQL %u "
                 "cluster; " UPGRADE_NOTE,
                 own, requested);
        return rc;
    }
    pgboot_manifest *m = NULL;
    if ((rc = pgboot_manifest_load(&m, fo->manifest_path)) != 0)
        return rc;
    if (!pgboot_manifest_major_version(m, own)) {
        char majors[64] = "";
        for (size_t i = 0; i < pgboot_manifest_major_count(m); i++) {
            size_t used = strlen(majors);
            snprintf(majors + used, sizeof majors - used, "%s%u", i ? ", " : "",
                     pgboot_manifest_major_at(m, i));
        }
        rc = pgb_fail(PGBOOT_EVERSION,
                      "the data directory %s was made by PostgreSQL %u, and no bundle pinned "
                      "by this pgboot provides it (it pins %s)",
                      p->data_dir, own, majors);
        pgb_hint("nothing was changed in it; run it with PostgreSQL %u's own server, or dump it "
                 "with PostgreSQL %u's pg_dump and load the dump into a new cluster (pgboot "
                 "start --pg-version %u --data-dir NEW); " UPGRADE_NOTE,
                 own, own, pgboot_manifest_default_major(m));
    }
    pgboot_manifest_free(m);
    *major = own;
    return rc;
}

pgboot_fetch_options pgb_fetch_options_for(const pgboot_fetch_options *in, unsigned int major)
{
    pgboot_fetch_options out = PGBOOT_FETCH_OPTIONS_INIT;
    memcpy(&out, in, in->version >= 2 ? sizeof out : offsetof(pgboot_fetch_options, pg_version));
    out.version = PGBOOT_FETCH_OPTIONS_VERSION;
    out.pg_version = major;
    return out;
}

/* A setting name PostgreSQL could accept: letters, digits, '_' and '.'. */
static int setting_name_ok(const char *name, size_t n)
{
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

/* Settings pgboot decides itself at every start, and what the user has
 * instead. A value in pgboot.conf would be overridden (port, socket), break a
 * promise (listen_addresses: loopback only), or move files pgboot reads (the
 * log it quotes in errors, the pid file it reads readiness from). */
static const struct {
    const char *name;
    const char *instead;
} owned_settings[] = {
    {"port", "--port N chooses the port"},
    {"listen_addresses", "the server listens on 127.0.0.1 and its private socket only"},
    {"unix_socket_directories", "pgboot chooses the private socket directory"},
    {"unix_socket_permissions", "the socket directory is private (0700)"},
    {"unix_socket_group", "the socket directory is private (0700)"},
    {"data_directory", "--data-dir DIR chooses the data directory"},
    {"config_file", "--data-dir DIR chooses the data directory and its configuration"},
    {"hba_file", "--data-dir DIR chooses the data directory and its configuration"},
    {"ident_file", "--data-dir DIR chooses the data directory and its configuration"},
    {"external_pid_file", "pgboot records the server's pid in <app dir>/pgboot.run"},
    {"logging_collector", "the log is <data dir>/log/postgresql.log ('pgboot logs')"},
    {"log_destination", "the log is <data dir>/log/postgresql.log ('pgboot logs')"},
    {"log_directory", "the log is <data dir>/log/postgresql.log ('pgboot logs')"},
    {"log_filename", "the log is <data dir>/log/postgresql.log ('pgboot logs')"},
};

const char *pgb_setting_owned(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof owned_settings / sizeof *owned_settings; i++)
        if (strlen(owned_settings[i].name) == n && !strncasecmp(owned_settings[i].name, name, n))
            return owned_settings[i].instead;
    return NULL;
}

int pgb_settings_check(const char *const *set, const char *const *unset)
{
    for (size_t i = 0; set && set[i]; i++) {
        const char *eq = strchr(set[i], '=');
        size_t n = eq ? (size_t)(eq - set[i]) : 0;
        if (!eq || !setting_name_ok(set[i], n)) {
            int rc = pgb_fail(PGBOOT_EINVALID, "--set '%s' is not name=value with a setting name",
                              set[i]);
            pgb_hint("for example --set work_mem=64MB");
            return rc;
        }
        if (strpbrk(eq + 1, "\r\n")) {
            int rc =
                pgb_fail(PGBOOT_EINVALID, "--set %.*s: the value has a line break", (int)n, set[i]);
            pgb_hint("give the value on one line");
            return rc;
        }
        const char *instead = pgb_setting_owned(set[i], n);
        if (instead) {
            int rc = pgb_fail(PGBOOT_EINVALID, "--set %.*s: pgboot sets %.*s itself", (int)n,
                              set[i], (int)n, set[i]);
            pgb_hint("%s; leave out --set %.*s", instead, (int)n, set[i]);
            return rc;
        }
    }
    for (size_t i = 0; unset && unset[i]; i++) {
        size_t n = strlen(unset[i]);
        if (!setting_name_ok(unset[i], n)) {
            int rc = pgb_fail(PGBOOT_EINVALID, "--unset '%s' is not a setting name", unset[i]);
            pgb_hint("for example --unset work_mem");
            return rc;
        }
        const char *instead = pgb_setting_owned(unset[i], n);
        if (instead) {
            int rc =
                pgb_fail(PGBOOT_EINVALID, "--unset %s: pgboot sets %s itself", unset[i], unset[i]);
            pgb_hint("%s", instead);
            return rc;
        }
    }
    return 0;
}

/* The setting a PostgreSQL message is about: `parameter "NAME"`. */
static int quoted_parameter(const char *msg, char *name, size_t len)
{
    const char *q = strstr(msg, "parameter \"");
    if (!q)
        return 0;
    q += strlen("parameter \"");
    size_t n = strcspn(q, "\"");
    if (n == 0 || n >= len || q[n] != '"')
        return 0;
    memcpy(name, q, n);
    name[n] = '\0';
    return 1;
}

int pgb_settings_hint_remove(const char *app, const char *msg)
{
    char name[64];
    if (!quoted_parameter(msg, name, sizeof name))
        return 0;
    pgb_hint("remove the setting with 'pgboot start --app %s --unset %s', or give a value "
             "PostgreSQL takes with --set %s=VALUE",
             app, name, name);
    return 1;
}

int pgb_cluster_validate(const pgb_app_paths *p, const char *bin_dir, const char *const *set)
{
    if (!set || !set[0])
        return 0;
    /* `postgres -C` reads the configuration files and the -c options, checks
     * each value as a start would, prints one and exits: it does not touch
     * the data directory and runs beside a running server. */
    size_t n = 0;
    while (set[n])
        n++;
    char **argv = calloc(2 * n + 6, sizeof *argv);
    char *postgres = pgb_path_join(bin_dir, "postgres");
    char *first = pgb_strdup(set[0]);
    char *output = NULL;
    int rc = 0, status = 0;
    if (!argv || !postgres || !first) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    first[strcspn(first, "=")] = '\0';
    size_t k = 0;
    argv[k++] = postgres;
    argv[k++] = "-D";
    argv[k++] = p->data_dir;
    argv[k++] = "-C";
    argv[k++] = first;
    for (size_t i = 0; i < n; i++) {
        argv[k++] = "-c";
        argv[k++] = (char *)set[i];
    }
    argv[k] = NULL;
    if ((rc = pgb_run_capture(argv, &output, &status, 1 << 16)) != 0)
        goto done;
    if (status != 0) {
        char *line = pgb_cause_line(output);
        char *msg = strstr(line, "FATAL:");
        msg = msg ? msg + strlen("FATAL:") : line;
        while (*msg == ' ')
            msg++;
        char name[64];
        int from_file = strstr(msg, "configuration file") != NULL;
        if (from_file) {
            /* An earlier value in the file (the LOG line before names it). */
            const char *log = strstr(output, "LOG:");
            rc = pgb_fail(PGBOOT_EINVALID,
                          "the settings of %s already hold a value PostgreSQL refuses: %s",
                          p->data_dir, msg);
            if (!pgb_settings_hint_remove(p->app, log ? log : msg))
                pgb_hint("see %s/" CONF_FILE, p->data_dir);
        } else if (quoted_parameter(msg, name, sizeof name)) {
            rc = pgb_fail(PGBOOT_EINVALID,
                          "--set %s: PostgreSQL refuses it: %s; nothing was changed", name, msg);
            pgb_hint("give a value PostgreSQL takes (units are case-sensitive: kB, MB, GB), or "
                     "leave out --set %s",
                     name);
        } else {
            rc = pgb_fail(PGBOOT_EINVALID,
                          "PostgreSQL refuses the --set settings: %s; nothing "
                          "was changed",
                          msg);
        }
    }
done:
    free(argv);
    free(postgres);
    free(first);
    free(output);
    return rc;
}

int pgb_cluster_conf_read(const pgb_app_paths *p, char **text, size_t *len)
{
    char *conf = pgb_path_join(p->data_dir, CONF_FILE);
    int rc =
        conf ? pgb_read_file(conf, text, len, 1 << 20) : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    free(conf);
    return rc;
}

int pgb_cluster_conf_write(const pgb_app_paths *p, const char *text, size_t len)
{
    char *conf = pgb_path_join(p->data_dir, CONF_FILE);
    int rc = conf ? pgb_write_file_atomic(conf, text, len, 0600)
                  : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    free(conf);
    return rc;
}

/* Drop the lines setting `name` (as PostgreSQL compares names: any case). */
static size_t drop_lines(char *text, size_t len, const char *name, size_t nlen, int *dropped)
{
    size_t olen = 0;
    for (size_t at = 0; at < len;) {
        char *line = text + at;
        char *next = memchr(line, '\n', len - at);
        size_t ll = next ? (size_t)(next - line + 1) : len - at;
        const char *q = line;
        while (*q == ' ' || *q == '\t')
            q++;
        int same = (size_t)(q - line) + nlen < ll && !strncasecmp(q, name, nlen) &&
                   (q[nlen] == ' ' || q[nlen] == '=' || q[nlen] == '\t');
        if (same)
            *dropped = 1;
        else {
            memmove(text + olen, line, ll);
            olen += ll;
        }
        at += ll;
    }
    return olen;
}

/* What marks a line a memory budget wrote (not an explicit --set). */
#define DERIVED_MARK "  # from --memory"

/* Does the line (without its '\n') set `name`? */
static int line_sets(const char *line, size_t ll, const char *name, size_t nlen)
{
    const char *q = line;
    while (*q == ' ' || *q == '\t')
        q++;
    return (size_t)(q - line) + nlen < ll && !strncasecmp(q, name, nlen) &&
           (q[nlen] == ' ' || q[nlen] == '=' || q[nlen] == '\t');
}

int pgb_conf_explicit(const char *conf, size_t len, const char *name, size_t nlen)
{
    size_t mlen = strlen(DERIVED_MARK);
    for (size_t at = 0; conf && at < len;) {
        const char *line = conf + at;
        const char *next = memchr(line, '\n', len - at);
        size_t ll = next ? (size_t)(next - line) : len - at;
        at += ll + 1;
        if (!line_sets(line, ll, name, nlen))
            continue;
        if (ll >= mlen && !memcmp(line + ll - mlen, DERIVED_MARK, mlen))
            continue; /* a budget's */
        /* a line of the profile written at creation */
        int profile = 0;
        for (const char *d = default_settings; *d && !profile;) {
            size_t dl = strcspn(d, "\n");
            profile = dl == ll && !memcmp(d, line, ll);
            d += dl + (d[dl] == '\n');
        }
        if (!profile)
            return 1;
    }
    return 0;
}

int pgb_cluster_set(const pgb_app_paths *p, const char *const *set, size_t nderived,
                    const char *const *unset, int *changed)
{
    *changed = 0;
    if ((!set || !set[0]) && (!unset || !unset[0]))
        return 0;
    int rc = pgb_settings_check(set, unset);
    if (rc)
        return rc;
    char *text = NULL, *old = NULL;
    size_t len = 0, oldlen = 0;
    if ((rc = pgb_cluster_conf_read(p, &text, &len)) != 0)
        return rc;
    old = malloc(len + 1);
    if (!old) {
        free(text);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    memcpy(old, text, len + 1);
    oldlen = len;
    for (size_t i = 0; unset && unset[i]; i++) {
        int dropped = 0;
        len = drop_lines(text, len, unset[i], strlen(unset[i]), &dropped);
    }
    for (size_t i = 0; set && set[i] && rc == 0; i++) {
        const char *eq = strchr(set[i], '=');
        size_t nlen = (size_t)(eq - set[i]);
        int dropped = 0;
        len = drop_lines(text, len, set[i], nlen, &dropped);
        /* Quoted: ' and backslashes doubled; the new line goes last. */
        size_t vlen = strlen(eq + 1);
        char *out = realloc(text, len + nlen + 2 * vlen + 8 + strlen(DERIVED_MARK));
        if (!out) {
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
            break;
        }
        text = out;
        len += (size_t)sprintf(text + len, "%.*s = '", (int)nlen, set[i]);
        for (const char *v = eq + 1; *v; v++) {
            if (*v == '\'' || *v == '\\')
                text[len++] = *v;
            text[len++] = *v;
        }
        text[len++] = '\'';
        if (i < nderived) {
            memcpy(text + len, DERIVED_MARK, strlen(DERIVED_MARK));
            len += strlen(DERIVED_MARK);
        }
        text[len++] = '\n';
        text[len] = '\0';
    }
    if (rc == 0 && (len != oldlen || memcmp(text, old, len) != 0)) {
        rc = pgb_cluster_conf_write(p, text, len);
        *changed = rc == 0;
    }
    free(text);
    free(old);
    return rc;
}

/* The superuser's connection to the running server, over its socket. */
static int super_open(PGconn **c, const pgb_app_paths *p, int port, uint64_t deadline)
{
    const char *super = pgb_superuser_for(p->app);
    char *super_pw = NULL;
    int rc = pgb_pgpass_lookup(p->pgpass, super, &super_pw);
    if (rc)
        return rc;
    char portstr[16], what[128];
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(what, sizeof what, "the superuser's login (%s, port %d)", super, port);
    const char *keys[] = {"host", "port", "user", "password", "dbname", NULL};
    const char *vals[] = {p->socket_dir, portstr, super, super_pw, "postgres", NULL};
    rc = pgb_pq_open_until(c, PGB_PQ_OURS, NULL, keys, vals, deadline, what);
    sodium_memzero(super_pw, strlen(super_pw));
    free(super_pw);
    return rc;
}

/* Run sql as part of `what`, bounded by the deadline. */
static int exec_until(PGconn *c, const char *sql, const char *param, uint64_t deadline,
                      const char *what, int *rows)
{
    PGresult *r = NULL;
    const char *params[1] = {param};
    int rc = pgb_pq_query_until(c, sql, param ? 1 : 0, param ? params : NULL, deadline, what, &r);
    if (rc)
        return rc;
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        msg[strcspn(msg, "\n")] = '\0';
        rc = pgb_fail(PGBOOT_ERROR, "%s: %s", what, msg);
    } else if (rows) {
        *rows = PQntuples(r);
    }
    PQclear(r);
    return rc;
}

int pgb_cluster_ensure_app(const pgb_app_paths *p, int port, uint64_t deadline)
{
    char *app_pw = NULL;
    int rc = pgb_pgpass_lookup(p->pgpass, p->app, &app_pw);
    if (rc)
        return rc;
    PGconn *c = NULL;
    int yes = 0;
    char *role = NULL, *verifier = NULL, *lit = NULL, *sql = NULL;
    if ((rc = super_open(&c, p, port, deadline)) != 0)
        goto done;
    role = PQescapeIdentifier(c, p->app, strlen(p->app));
    if (!role) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = exec_until(c, "SELECT 1 FROM pg_roles WHERE rolname = $1", p->app, deadline,
                         "looking up the app's role", &yes)))
        goto done;
    /* Only the SCRAM verifier travels, so the password is in no log. The
     * password is (re)set from pgpass when the role exists too: a start
     * killed between CREATE ROLE and here, or a role changed by hand, must
     * leave a URL that logs in. */
    verifier = pgb_scram_verifier(app_pw); /* pgboot's iterations (scram.c) */
    lit = verifier ? PQescapeLiteral(c, verifier, strlen(verifier)) : NULL;
    sql = lit ? pgb_printf("%s ROLE %s LOGIN CREATEDB PASSWORD %s", yes ? "ALTER" : "CREATE", role,
                           lit)
              : NULL;
    if (!sql) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot prepare the role %s: %s", p->app, PQerrorMessage(c));
        goto done;
    }
    if ((rc = exec_until(
             c, sql, NULL, deadline,
             yes ? "cannot set the app role's password" : "cannot create the app's role", NULL)))
        goto done;
    free(sql);
    sql = NULL;
    if ((rc = exec_until(c, "SELECT 1 FROM pg_database WHERE datname = $1", p->app, deadline,
                         "looking up the app's database", &yes)))
        goto done;
    if (!yes) {
        sql = pgb_printf("CREATE DATABASE %s OWNER %s", role, role);
        if (!sql ||
            (rc = exec_until(c, sql, NULL, deadline, "cannot create the app's database", NULL)))
            goto done;
    }
done:
    if (verifier)
        free(verifier);
    if (lit)
        PQfreemem(lit);
    if (role)
        PQfreemem(role);
    free(sql);
    PQfinish(c);
    if (app_pw)
        sodium_memzero(app_pw, strlen(app_pw));
    free(app_pw);
    return rc;
}

int pgb_cluster_reload(const pgb_app_paths *p, int port, const char *const *names,
                       uint64_t deadline, char **restart_needed)
{
    *restart_needed = NULL;
    PGconn *c = NULL;
    int rc = super_open(&c, p, port, deadline);
    if (rc)
        return rc;
    /* PostgreSQL decides: a 'postmaster' setting takes effect at the next
     * start only; every other context ('sighup', 'superuser-backend',
     * 'backend', 'superuser', 'user') from the reload on (the backend ones
     * for new sessions). A name the server does not know (an extension's,
     * not loaded) is a placeholder: the reload sets it. */
    size_t cap = 1;
    for (size_t i = 0; names[i]; i++)
        cap += strlen(names[i]) + 2;
    char *list = calloc(1, cap);
    if (!list) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; names[i] && rc == 0; i++) {
        PGresult *r = NULL;
        const char *params[1] = {names[i]};
        rc = pgb_pq_query_until(c, "SELECT context FROM pg_settings WHERE lower(name) = lower($1)",
                                1, params, deadline, "reading pg_settings", &r);
        if (rc)
            break;
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
            !strcmp(PQgetvalue(r, 0, 0), "postmaster")) {
            if (*list)
                strcat(list, ", ");
            strcat(list, names[i]);
        }
        PQclear(r);
    }
    if (rc == 0)
        rc = exec_until(c, "SELECT pg_reload_conf()", NULL, deadline,
                        "cannot reload the server's configuration", NULL);
    if (rc == 0 && *list) {
        *restart_needed = list;
        list = NULL;
    }
done:
    free(list);
    PQfinish(c);
    return rc;
}

/* ---- the creation options of an existing cluster -------------------------- */

typedef struct {
    char *locale;
    char *encoding;
    int checksums; /* 1 on, 0 off, -1 not read */
} cluster_has;

/* The running server says (its superuser, over the socket). */
static int has_from_server(const pgb_app_paths *p, int port, uint64_t deadline, cluster_has *h)
{
    PGconn *c = NULL;
    PGresult *r = NULL;
    int rc = super_open(&c, p, port, deadline);
    if (rc == 0)
        rc = pgb_pq_query_until(c,
                                "SELECT datcollate, pg_encoding_to_char(encoding), "
                                "current_setting('data_checksums') FROM pg_database WHERE "
                                "datname = 'template1'",
                                0, NULL, deadline, "reading the cluster's locale", &r);
    if (rc == 0 && (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1))
        rc = pgb_fail(PGBOOT_ERROR, "cannot read the locale of the cluster in %s: %s", p->data_dir,
                      PQresultErrorMessage(r));
    if (rc == 0) {
        h->locale = pgb_strdup(PQgetvalue(r, 0, 0));
        h->encoding = pgb_strdup(PQgetvalue(r, 0, 1));
        h->checksums = !strcmp(PQgetvalue(r, 0, 2), "on");
        if (!h->locale || !h->encoding)
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* lc_messages in the postgresql.conf initdb wrote: the --locale it was given
 * (pgboot gives no --lc-messages). */
static char *conf_locale(const char *data_dir)
{
    char *path = pgb_path_join(data_dir, "postgresql.conf"), *text = NULL, *out = NULL;
    size_t len = 0;
    if (!path || pgb_read_file(path, &text, &len, 1 << 20) != 0) {
        pgb_error_reset();
        free(path);
        return NULL;
    }
    for (char *line = text; line && !out;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!strncmp(line, "lc_messages", 11)) {
            char *v = line + 11 + strspn(line + 11, " \t=");
            if (*v == '\'')
                v++;
            v[strcspn(v, "' \t#")] = '\0';
            out = pgb_strdup(v);
        }
        line = next;
    }
    free(text);
    free(path);
    return out;
}

/* The files say: pgboot.cluster (else what pgboot made before it wrote one),
 * and pg_control for the checksums when `checksums` is wanted. */
static int has_from_files(const pgb_app_paths *p, const char *bin_dir, int checksums,
                          cluster_has *h)
{
    char *path = pgb_path_join(p->data_dir, CLUSTER_FILE);
    json_error_t e;
    json_t *j = path ? json_load_file(path, 0, &e) : NULL;
    free(path);
    const char *l = json_string_value(json_object_get(j, "locale"));
    const char *enc = json_string_value(json_object_get(j, "encoding"));
    json_t *sums = json_object_get(j, "data_checksums");
    h->locale = l ? pgb_strdup(l) : conf_locale(p->data_dir);
    h->encoding = pgb_strdup(enc ? enc : "UTF8");
    if (json_is_boolean(sums))
        h->checksums = json_is_true(sums);
    json_decref(j);
    if (!checksums || h->checksums >= 0)
        return 0;
    /* Not recorded (a cluster of an older pgboot): `postgres -C
     * data_checksums` reads pg_control on a stopped server. It takes the
     * data directory's lock file for a moment: the directory's times are
     * put back, so nothing shows it ran. */
    struct stat st;
    int have_times = stat(p->data_dir, &st) == 0;
    char *postgres = pgb_path_join(bin_dir, "postgres"), *output = NULL;
    char *argv[] = {postgres, "-D", p->data_dir, "-C", "data_checksums", NULL};
    int status = 0;
    int rc = postgres ? pgb_run_capture(argv, &output, &status, 1 << 16)
                      : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (have_times) {
        struct timespec times[2] = {st.st_atim, st.st_mtim};
        if (utimensat(AT_FDCWD, p->data_dir, times, 0) != 0)
            (void)0; /* only cosmetic */
    }
    if (rc == 0 && status == 0 && output)
        h->checksums = !strncmp(output, "on", 2);
    else if (rc == 0)
        rc = pgb_fail(PGBOOT_ERROR, "cannot read the data checksums of the cluster in %s: %s",
                      p->data_dir, output ? pgb_cause_line(output) : "no output");
    free(postgres);
    free(output);
    return rc;
}

int pgb_cluster_check_opts(const pgb_app_paths *p, const char *bin_dir, const pgb_cluster_opts *co,
                           int port, uint64_t deadline)
{
    if (!co || (!co->locale && !co->encoding && !co->data_checksums))
        return 0;
    cluster_has h = {NULL, NULL, -1};
    int rc = port > 0 ? has_from_server(p, port, deadline, &h)
                      : has_from_files(p, bin_dir, co->data_checksums != 0, &h);
    if (rc)
        goto done;
    char given[512] = "";
    size_t n = 0;
    if (co->locale && h.locale && !same_locale(co->locale, h.locale))
        n += (size_t)snprintf(given + n, sizeof given - n, "--locale %s", co->locale);
    if (co->encoding && h.encoding && !same_name(co->encoding, h.encoding) && n < sizeof given)
        n += (size_t)snprintf(given + n, sizeof given - n, "%s--encoding %s", n ? ", " : "",
                              co->encoding);
    if (co->data_checksums && h.checksums >= 0 && (co->data_checksums > 0) != h.checksums &&
        n < sizeof given)
        n += (size_t)snprintf(given + n, sizeof given - n, "%s%s", n ? ", " : "",
                              co->data_checksums > 0 ? "--data-checksums" : "--no-data-checksums");
    if (n) {
        rc = pgb_fail(PGBOOT_EINVALID,
                      "the cluster in %s has locale %s, encoding %s and data checksums %s, not "
                      "what %s asks for; nothing was changed",
                      p->data_dir, h.locale ? h.locale : "(unknown)", h.encoding,
                      h.checksums < 0 ? "(not read)"
                      : h.checksums   ? "on"
                                      : "off",
                      given);
        pgb_hint("a cluster's locale, encoding and data checksums are fixed when it is created: "
                 "leave out %s to start this one, or give another --data-dir (or --app) for a "
                 "new cluster with them",
                 given);
    }
done:
    free(h.locale);
    free(h.encoding);
    return rc;
}
