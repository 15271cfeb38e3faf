/* The stubs behind platform/dynload.h: each resolves its function in the
 * library, opened once with dlopen(), and calls it. */
#define _GNU_SOURCE
#define PGB_DYNLOAD_IMPL
#define CURL_DISABLE_TYPECHECK
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <libpq-fe.h>

#include "../dynload.h"

static struct {
    const char *soname;
    const char *package;
    const char *purpose;
    void *handle;
    pthread_once_t once;
    char error[256];
} libs[PGB_LIB_COUNT] = {
    {"libcurl.so.4", "libcurl4", "downloading the PostgreSQL bundle", NULL, PTHREAD_ONCE_INIT, ""},
    {"libarchive.so.13", "libarchive13", "extracting the PostgreSQL bundle", NULL,
     PTHREAD_ONCE_INIT, ""},
    {"libpq.so.5", "libpq5", "connecting to PostgreSQL", NULL, PTHREAD_ONCE_INIT, ""},
};

#define ONCE_FN(i)                                                                                 \
    static void load_##i(void)                                                                     \
    {                                                                                              \
        libs[i].handle = dlopen(libs[i].soname, RTLD_NOW | RTLD_LOCAL);                            \
        if (!libs[i].handle)                                                                       \
            snprintf(libs[i].error, sizeof libs[i].error, "%s", dlerror());                        \
    }
ONCE_FN(0)
ONCE_FN(1)
ONCE_FN(2)
static void (*const loaders[PGB_LIB_COUNT])(void) = {load_0, load_1, load_2};

static void *lib_handle(pgb_lib lib)
{
    pthread_once(&libs[lib].once, loaders[lib]);
    return libs[lib].handle;
}

int pgb_need_lib(pgb_lib lib)
{
    if (lib_handle(lib))
        return 0;
    int rc = pgb_fail(PGBOOT_EBROKEN, "cannot load %s, needed for %s: %s", libs[lib].soname,
                      libs[lib].purpose, libs[lib].error);
    pgb_hint("install it: apt-get install %s", libs[lib].package);
    return rc;
}

static void *resolve(pgb_lib lib, const char *name)
{
    void *h = lib_handle(lib);
    return h ? dlsym(h, name) : NULL;
}

/* Resolve once; a data race on the cached pointer is avoided with atomics. */
#define RESOLVE(lib, type, name)                                                                   \
    static type fp_;                                                                               \
    type f_ = __atomic_load_n(&fp_, __ATOMIC_ACQUIRE);                                             \
    if (!f_) {                                                                                     \
        f_ = (type)resolve(lib, #name);                                                            \
        __atomic_store_n(&fp_, f_, __ATOMIC_RELEASE);                                              \
    }

#define STUB(lib, ret, name, params, args, fallback)                                               \
    ret pgb_dl_##name params;                                                                      \
    ret pgb_dl_##name params                                                                       \
    {                                                                                              \
        typedef ret(*fn_t) params;                                                                 \
        RESOLVE(lib, fn_t, name)                                                                   \
        if (!f_)                                                                                   \
            return fallback;                                                                       \
        return f_ args;                                                                            \
    }

#define STUBV(lib, name, params, args)                                                             \
    void pgb_dl_##name params;                                                                     \
    void pgb_dl_##name params                                                                      \
    {                                                                                              \
        typedef void(*fn_t) params;                                                                \
        RESOLVE(lib, fn_t, name)                                                                   \
        if (f_)                                                                                    \
            f_ args;                                                                               \
    }

/* ---- libcurl ---- */
STUB(PGB_LIB_CURL, CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT)
STUB(PGB_LIB_CURL, CURL *, curl_easy_init, (void), (), NULL)
STUB(PGB_LIB_CURL, CURLcode, curl_easy_perform, (CURL * c), (c), CURLE_FAILED_INIT)
STUBV(PGB_LIB_CURL, curl_easy_reset, (CURL * c), (c))
STUBV(PGB_LIB_CURL, curl_easy_cleanup, (CURL * c), (c))
STUB(PGB_LIB_CURL, const char *, curl_easy_strerror, (CURLcode code), (code),
     "libcurl is not available")

/* The variadic ones take exactly one more argument, whose type the option
 * number encodes (long, pointer, or curl_off_t). */
CURLcode pgb_dl_curl_easy_setopt(CURL *c, CURLoption opt, ...);
CURLcode pgb_dl_curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
    typedef CURLcode (*fn_t)(CURL *, CURLoption, ...);
    RESOLVE(PGB_LIB_CURL, fn_t, curl_easy_setopt)
    if (!f_)
        return CURLE_FAILED_INIT;
    va_list ap;
    va_start(ap, opt);
    CURLcode rc;
    if (opt < CURLOPTTYPE_OBJECTPOINT)
        rc = f_(c, opt, va_arg(ap, long));
    else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB)
        rc = f_(c, opt, va_arg(ap, curl_off_t));
    else
        rc = f_(c, opt, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

CURLcode pgb_dl_curl_easy_getinfo(CURL *c, CURLINFO info, ...);
CURLcode pgb_dl_curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
    typedef CURLcode (*fn_t)(CURL *, CURLINFO, ...);
    RESOLVE(PGB_LIB_CURL, fn_t, curl_easy_getinfo)
    if (!f_)
        return CURLE_FAILED_INIT;
    va_list ap;
    va_start(ap, info);
    CURLcode rc = f_(c, info, va_arg(ap, void *)); /* always a pointer to the result */
    va_end(ap);
    return rc;
}

/* ---- libarchive ---- */
STUB(PGB_LIB_ARCHIVE, struct archive *, archive_read_new, (void), (), NULL)
STUB(PGB_LIB_ARCHIVE, int, archive_read_support_filter_gzip, (struct archive * a), (a),
     ARCHIVE_FATAL)
STUB(PGB_LIB_ARCHIVE, int, archive_read_support_format_tar, (struct archive * a), (a),
     ARCHIVE_FATAL)
STUB(PGB_LIB_ARCHIVE, int, archive_read_open_filename,
     (struct archive * a, const char *f, size_t block), (a, f, block), ARCHIVE_FATAL)
STUB(PGB_LIB_ARCHIVE, int, archive_read_next_header, (struct archive * a, struct archive_entry **e),
     (a, e), ARCHIVE_FATAL)
STUB(PGB_LIB_ARCHIVE, int, archive_read_data_block,
     (struct archive * a, const void **buf, size_t *size, la_int64_t *offset),
     (a, buf, size, offset), ARCHIVE_FATAL)
STUB(PGB_LIB_ARCHIVE, la_ssize_t, archive_read_data, (struct archive * a, void *buf, size_t size),
     (a, buf, size), -1)
STUB(PGB_LIB_ARCHIVE, int, archive_read_free, (struct archive * a), (a), ARCHIVE_FATAL)
STUB(PGB_LIB_ARCHIVE, const char *, archive_error_string, (struct archive * a), (a),
     "libarchive is not available")
STUB(PGB_LIB_ARCHIVE, const char *, archive_entry_pathname, (struct archive_entry * e), (e), NULL)
STUB(PGB_LIB_ARCHIVE, const char *, archive_entry_hardlink, (struct archive_entry * e), (e), NULL)
STUB(PGB_LIB_ARCHIVE, const char *, archive_entry_symlink, (struct archive_entry * e), (e), NULL)
STUB(PGB_LIB_ARCHIVE, __LA_MODE_T, archive_entry_filetype, (struct archive_entry * e), (e), 0)
STUB(PGB_LIB_ARCHIVE, __LA_MODE_T, archive_entry_mode, (struct archive_entry * e), (e), 0)
STUB(PGB_LIB_ARCHIVE, __LA_MODE_T, archive_entry_perm, (struct archive_entry * e), (e), 0)
STUB(PGB_LIB_ARCHIVE, la_int64_t, archive_entry_size, (struct archive_entry * e), (e), 0)
STUB(PGB_LIB_ARCHIVE, int, archive_entry_size_is_set, (struct archive_entry * e), (e), 0)

/* ---- libpq ---- */
STUB(PGB_LIB_PQ, PGconn *, PQconnectdb, (const char *conninfo), (conninfo), NULL)
STUB(PGB_LIB_PQ, PGconn *, PQconnectdbParams,
     (const char *const *keys, const char *const *values, int expand), (keys, values, expand), NULL)
STUB(PGB_LIB_PQ, ConnStatusType, PQstatus, (const PGconn *c), (c), CONNECTION_BAD)
STUB(PGB_LIB_PQ, char *, PQerrorMessage, (const PGconn *c), (c), "libpq is not available")
STUBV(PGB_LIB_PQ, PQfinish, (PGconn * c), (c))
STUBV(PGB_LIB_PQ, PQreset, (PGconn * c), (c))
STUB(PGB_LIB_PQ, char *, PQhost, (const PGconn *c), (c), NULL)
STUB(PGB_LIB_PQ, char *, PQport, (const PGconn *c), (c), NULL)
STUB(PGB_LIB_PQ, PGresult *, PQexec, (PGconn * c, const char *q), (c, q), NULL)
STUB(PGB_LIB_PQ, PGresult *, PQexecParams,
     (PGconn * c, const char *command, int n, const Oid *types, const char *const *values,
      const int *lengths, const int *formats, int result_format),
     (c, command, n, types, values, lengths, formats, result_format), NULL)
STUB(PGB_LIB_PQ, ExecStatusType, PQresultStatus, (const PGresult *r), (r), PGRES_FATAL_ERROR)
STUB(PGB_LIB_PQ, char *, PQresultErrorMessage, (const PGresult *r), (r), "libpq is not available")
STUBV(PGB_LIB_PQ, PQclear, (PGresult * r), (r))
STUB(PGB_LIB_PQ, int, PQntuples, (const PGresult *r), (r), 0)
STUB(PGB_LIB_PQ, char *, PQescapeIdentifier, (PGconn * c, const char *s, size_t len), (c, s, len),
     NULL)
STUB(PGB_LIB_PQ, char *, PQescapeLiteral, (PGconn * c, const char *s, size_t len), (c, s, len),
     NULL)
STUB(PGB_LIB_PQ, char *, PQencryptPasswordConn,
     (PGconn * c, const char *passwd, const char *user, const char *algorithm),
     (c, passwd, user, algorithm), NULL)
STUBV(PGB_LIB_PQ, PQfreemem, (void *p), (p))
STUB(PGB_LIB_PQ, PGPing, PQpingParams,
     (const char *const *keys, const char *const *values, int expand), (keys, values, expand),
     PQPING_NO_ATTEMPT)
STUB(PGB_LIB_PQ, PQconninfoOption *, PQconninfoParse, (const char *conninfo, char **errmsg),
     (conninfo, errmsg), NULL)
STUBV(PGB_LIB_PQ, PQconninfoFree, (PQconninfoOption * o), (o))
STUB(PGB_LIB_PQ, PQconninfoOption *, PQconndefaults, (void), (), NULL)
STUB(PGB_LIB_PQ, int, PQserverVersion, (const PGconn *c), (c), 0)
STUB(PGB_LIB_PQ, const char *, PQparameterStatus, (const PGconn *c, const char *name), (c, name),
     NULL)
STUB(PGB_LIB_PQ, char *, PQdb, (const PGconn *c), (c), NULL)
STUB(PGB_LIB_PQ, char *, PQgetvalue, (const PGresult *r, int row, int col), (r, row, col), "")
STUB(PGB_LIB_PQ, PQnoticeProcessor, PQsetNoticeProcessor,
     (PGconn * c, PQnoticeProcessor p, void *arg), (c, p, arg), NULL)

STUB(PGB_LIB_PQ, int, PQputCopyData, (PGconn * c, const char *buf, int n), (c, buf, n), -1)
STUB(PGB_LIB_PQ, int, PQputCopyEnd, (PGconn * c, const char *msg), (c, msg), -1)
STUB(PGB_LIB_PQ, int, PQgetCopyData, (PGconn * c, char **buf, int async), (c, buf, async), -2)
STUB(PGB_LIB_PQ, PGresult *, PQgetResult, (PGconn * c), (c), NULL)
STUB(PGB_LIB_PQ, int, PQnfields, (const PGresult *r), (r), 0)
STUB(PGB_LIB_PQ, Oid, PQftype, (const PGresult *r, int field), (r, field), 0)
STUB(PGB_LIB_PQ, int, PQgetisnull, (const PGresult *r, int row, int col), (r, row, col), 1)
STUB(PGB_LIB_PQ, char *, PQcmdTuples, (PGresult * r), (r), "")
STUB(PGB_LIB_PQ, char *, PQresultErrorField, (const PGresult *r, int code), (r, code), NULL)
STUB(PGB_LIB_PQ, PGTransactionStatusType, PQtransactionStatus, (const PGconn *c), (c),
     PQTRANS_UNKNOWN)
STUB(PGB_LIB_PQ, int, PQsetnonblocking, (PGconn * c, int arg), (c, arg), -1)
STUB(PGB_LIB_PQ, int, PQflush, (PGconn * c), (c), -1)
STUB(PGB_LIB_PQ, int, PQsocket, (const PGconn *c), (c), -1)
STUB(PGB_LIB_PQ, int, PQsendQuery, (PGconn * c, const char *q), (c, q), 0)
STUB(PGB_LIB_PQ, int, PQconsumeInput, (PGconn * c), (c), 0)
STUB(PGB_LIB_PQ, int, PQisBusy, (PGconn * c), (c), 0)
STUB(PGB_LIB_PQ, PGconn *, PQconnectStart, (const char *conninfo), (conninfo), NULL)
STUB(PGB_LIB_PQ, PostgresPollingStatusType, PQconnectPoll, (PGconn * c), (c), PGRES_POLLING_FAILED)
STUB(PGB_LIB_PQ, int, PQsendQueryParams,
     (PGconn * c, const char *q, int n, const Oid *t, const char *const *v, const int *l,
      const int *f, int rf),
     (c, q, n, t, v, l, f, rf), 0)

PGconn *pgb_pq_connect_url(const char *conninfo);
PGconn *pgb_pq_connect_start(const char *conninfo);

static void swallow_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *pgb_pq_connect_start(const char *conninfo)
{
    PGconn *c = pgb_dl_PQconnectStart(conninfo);
    if (c)
        pgb_dl_PQsetNoticeProcessor(c, swallow_notice, NULL);
    return c;
}

PGconn *pgb_pq_connect_url(const char *conninfo)
{
    PGconn *c = pgb_dl_PQconnectdb(conninfo);
    if (c)
        pgb_dl_PQsetNoticeProcessor(c, swallow_notice, NULL);
    return c;
}
