/* Where an app's things live: the app directory, the data directory, the
 * pid/port file, the password file, the lock, the log, and the private
 * socket directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "launcher.h"

/* sun_path is 108 bytes on Linux, including the terminating NUL. */
#define SUN_PATH_MAX 107
#define SOCKET_NAME "/.s.PGSQL.65535"
/* PostgreSQL's MAXPGPATH is 1024, and the deepest file a cluster makes
 * (pg_logical/..., pg_wal/archive_status/...) adds up to ~70 bytes to the
 * data directory's path: a longer one fails somewhere inside postgres. */
#define DATA_DIR_MAX 900

/* Names PostgreSQL keeps for itself: the app's role and database take the
 * app's name, and these either exist already (a database the app could not
 * own or could not connect to) or are refused by CREATE ROLE. */
static const char *const reserved_names[] = {"postgres", "template0", "template1", "public",
                                             "none"};

int pgboot_app_name_check(const char *app)
{
    if (!app || !*app)
        return pgb_fail(PGBOOT_EINVALID, "an app name is required (--app NAME)");
    size_t n = strlen(app);
    if (n > 63)
        return pgb_fail(PGBOOT_EINVALID, "app name '%.80s' is longer than 63 characters", app);
    if (!strcmp(app, ".") || !strcmp(app, ".."))
        return pgb_fail(PGBOOT_EINVALID, "app name '%s' is not a name", app);
    for (const char *s = app; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            int rc = pgb_fail(PGBOOT_EINVALID,
                              "app name '%.80s' has the character '%c'; use letters, digits, "
                              "'.', '_' and '-'",
                              app, c >= 32 && c < 127 ? c : '?');
            pgb_hint("for example --app %s", "my-app");
            return rc;
        }
    }
    int reserved = strncasecmp(app, "pg_", 3) == 0;
    for (size_t i = 0; i < sizeof reserved_names / sizeof *reserved_names; i++)
        reserved = reserved || strcasecmp(app, reserved_names[i]) == 0;
    if (reserved) {
        int rc = pgb_fail(PGBOOT_EINVALID,
                          "app name '%s' is reserved: the app's role and database take its "
                          "name, and PostgreSQL keeps postgres, template0, template1, public, "
                          "none and names starting with pg_ for itself",
                          app);
        pgb_hint("choose another name, for example --app %s-app", app);
        return rc;
    }
    return 0;
}

int pgb_socket_dir_usable(const char *dir)
{
    if (strlen(dir) + strlen(SOCKET_NAME) > SUN_PATH_MAX)
        return 0;
    /* unix_socket_directories is a list: PostgreSQL splits it at commas,
     * takes double quotes as quoting and trims spaces around each entry.
     * A newline would also break postmaster.pid, which is read by lines. */
    for (const unsigned char *c = (const unsigned char *)dir; *c; c++)
        if (*c == ',' || *c == '"' || *c < 0x20 || *c == 0x7f)
            return 0;
    size_t n = strlen(dir);
    return n > 0 && dir[n - 1] != ' ' && dir[n - 1] != '\t';
}

int pgb_data_dir_check(const char *dir, const char *hint)
{
    for (const unsigned char *c = (const unsigned char *)dir; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            int rc = pgb_fail(PGBOOT_EINVALID,
                              "the data directory %.200s has a control character (byte 0x%02x) "
                              "in its path; PostgreSQL's postmaster.pid, read line by line, "
                              "cannot hold it",
                              dir, *c);
            pgb_hint("%s", hint);
            return rc;
        }
    }
    if (strlen(dir) > DATA_DIR_MAX) {
        int rc = pgb_fail(PGBOOT_EINVALID,
                          "the data directory's path is %zu bytes long (%.60s...); PostgreSQL "
                          "takes paths of at most 1024 bytes, so pgboot takes at most %d",
                          strlen(dir), dir, DATA_DIR_MAX);
        pgb_hint("%s", hint);
        return rc;
    }
    return 0;
}

const char *pgb_superuser_for(const char *app)
{
    return strcmp(app, PGB_SUPERUSER) == 0 ? PGB_SUPERUSER_ALT : PGB_SUPERUSER;
}

static int data_home(char **out)
{
    const char *x = getenv("XDG_DATA_HOME");
    if (x && x[0] == '/') {
        *out = pgb_strdup(x);
        return *out ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    char *home;
    int rc = pgb_home_dir(&home);
    if (rc)
        return rc;
#if defined(__APPLE__)
    *out = pgb_path_join(home, "Library/Application Support");
#else
    *out = pgb_path_join(home, ".local/share");
#endif
    free(home);
    return *out ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
}

int pgboot_app_dir_for(char **out, const pgboot_server_options *o)
{
    *out = NULL;
    int rc = pgboot_app_name_check(o ? o->app : NULL);
    if (rc)
        return rc;
    char *base;
    if (geteuid() == 0 && o->run_as && *o->run_as) {
        /* Root asking about the account that runs the app: its home. */
        struct passwd *pw = getpwnam(o->run_as);
        if (!pw) {
            rc = pgb_fail(PGBOOT_EINVALID, "there is no user account named '%s'", o->run_as);
            return rc;
        }
        base = pgb_path_join(pw->pw_dir, ".local/share");
        if (!base)
            return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    } else if ((rc = data_home(&base)) != 0) {
        return rc;
    }
    *out = pgb_path_join(base, o->app);
    free(base);
    return *out ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
}

char *pgb_socket_dir_pick(const char *preferred, const char *key, const char *tag,
                          size_t digest_bytes, int runtime_first)
{
    if (pgb_socket_dir_usable(preferred))
        return pgb_strdup(preferred);
    unsigned char h[16];
    char hex[33];
    if (digest_bytes > sizeof h)
        digest_bytes = sizeof h;
    crypto_generichash(h, digest_bytes, (const unsigned char *)key, strlen(key), NULL, 0);
    pgb_hex(hex, h, digest_bytes);
    const char *rt = getenv("XDG_RUNTIME_DIR");
    if (runtime_first && rt && rt[0] == '/') {
        char *d = pgb_printf("%s/pgboot-%s%s", rt, tag, hex);
        if (d && pgb_socket_dir_usable(d))
            return d;
        free(d);
    }
    return pgb_printf("/tmp/pgboot-%u-%s%s", (unsigned)geteuid(), tag, hex);
}

/* An app's socket directory: <app dir>/run, else one named by a digest of
 * the data directory under $XDG_RUNTIME_DIR or /tmp. */
static char *socket_dir_for(const char *app_dir, const char *data_dir)
{
    char *run = pgb_path_join(app_dir, "run");
    char *d = run ? pgb_socket_dir_pick(run, data_dir, "", 6, 1) : NULL;
    free(run);
    return d;
}

int pgb_app_paths_make(pgb_app_paths *p, const char *app, const char *data_dir)
{
    memset(p, 0, sizeof *p);
    pgboot_server_options o = PGBOOT_SERVER_OPTIONS_INIT;
    o.app = app;
    int rc = pgboot_app_dir_for(&p->app_dir, &o);
    if (rc)
        return rc;
    p->app = pgb_strdup(app);
    if (data_dir && *data_dir) {
        /* An absolute path, so that the server's cwd can be compared with it. */
        if (data_dir[0] == '/') {
            p->data_dir = pgb_strdup(data_dir);
        } else {
            char *cwd = getcwd(NULL, 0);
            p->data_dir = cwd ? pgb_path_join(cwd, data_dir) : NULL;
            free(cwd);
        }
    } else {
        p->data_dir = pgb_path_join(p->app_dir, "postgres_data");
    }
    if (p->data_dir) {
        size_t n = strlen(p->data_dir);
        while (n > 1 && p->data_dir[n - 1] == '/')
            p->data_dir[--n] = '\0';
        rc = pgb_data_dir_check(p->data_dir,
                                data_dir && *data_dir
                                    ? "use another --data-dir"
                                    : "set HOME or XDG_DATA_HOME to a shorter path of plain "
                                      "characters, or choose the directory with --data-dir");
        if (rc) {
            pgb_app_paths_free(p);
            return rc;
        }
    }
    p->run_file = pgb_path_join(p->app_dir, "pgboot.run");
    p->state_file = pgb_path_join(p->app_dir, "pgboot.state");
    p->pgpass = pgb_path_join(p->app_dir, "pgpass");
    p->lock_file = pgb_path_join(p->app_dir, "pgboot.lock");
    p->log_dir = p->data_dir ? pgb_path_join(p->data_dir, "log") : NULL;
    p->log_file = p->log_dir ? pgb_path_join(p->log_dir, "postgresql.log") : NULL;
    p->socket_dir = p->data_dir ? socket_dir_for(p->app_dir, p->data_dir) : NULL;
    if (!p->app || !p->data_dir || !p->run_file || !p->state_file || !p->pgpass || !p->lock_file ||
        !p->log_file || !p->socket_dir) {
        pgb_app_paths_free(p);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    return 0;
}

void pgb_app_paths_free(pgb_app_paths *p)
{
    free(p->app);
    free(p->app_dir);
    free(p->data_dir);
    free(p->run_file);
    free(p->state_file);
    free(p->pgpass);
    free(p->lock_file);
    free(p->log_dir);
    free(p->log_file);
    free(p->socket_dir);
    memset(p, 0, sizeof *p);
}

int pgb_socket_dir_prepare(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return pgb_fail(PGBOOT_ERROR, "cannot create the socket directory %s: %s", dir,
                        strerror(errno));
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return pgb_fail(PGBOOT_EBUSY, "socket directory %s is not a directory", dir);
    if (st.st_uid != geteuid()) {
        int rc = pgb_fail(PGBOOT_EBUSY, "socket directory %s belongs to another user", dir);
        pgb_hint("remove it, or use another --data-dir");
        return rc;
    }
    /* Ours (we created it, or an earlier run of ours did): keep it private. */
    if ((st.st_mode & 0777) != 0700 && chmod(dir, 0700) != 0)
        return pgb_fail(PGBOOT_ERROR, "cannot make %s private: %s", dir, strerror(errno));
    return 0;
}

int pgboot_log_file_for(char **out, const pgboot_server_options *o)
{
    *out = NULL;
    pgb_error_reset();
    int rc = pgboot_app_name_check(o ? o->app : NULL);
    if (rc)
        return rc;
    char *app_dir = NULL;
    if ((rc = pgboot_app_dir_for(&app_dir, o)) != 0)
        return rc;
    if (o->data_dir && *o->data_dir)
        *out = pgb_path_join(o->data_dir, "log/postgresql.log");
    else
        *out = pgb_path_join(app_dir, "postgres_data/log/postgresql.log");
    free(app_dir);
    return *out ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
}
