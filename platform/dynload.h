/*
 * Lazy loading of the heavy libraries: libcurl (downloads), libarchive
 * (extraction) and libpq (talking to PostgreSQL) are opened with dlopen() on
 * first use instead of at process start. Together they pull in ~45 shared
 * objects (Kerberos, LDAP, TLS, ICU, ...) whose loading alone costs ~8 ms per
 * process, which would dominate `pgboot url` and every attach.
 *
 * Source files include this after the libraries' own headers; every call of a
 * listed function then goes through a pgb_dl_ stub that resolves it once. The
 * stubs have their own names, so a host that links libpq itself never sees
 * ours. Entry points call pgb_need_lib() first, so a missing library is a
 * clear error, not a crash.
 */
#ifndef PGBOOT_DYNLOAD_H
#define PGBOOT_DYNLOAD_H

#include "platform.h"

typedef enum { PGB_LIB_CURL = 0, PGB_LIB_ARCHIVE, PGB_LIB_PQ, PGB_LIB_COUNT } pgb_lib;

/* Load a library (once); PGBOOT_EBROKEN naming it and its package if absent. */
PGB_MUST_USE int pgb_need_lib(pgb_lib lib);

#ifndef PGB_DYNLOAD_IMPL
#ifdef CURLINC_CURL_H
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init pgb_dl_curl_global_init
#define curl_easy_init pgb_dl_curl_easy_init
#define curl_easy_setopt pgb_dl_curl_easy_setopt
#define curl_easy_getinfo pgb_dl_curl_easy_getinfo
#define curl_easy_perform pgb_dl_curl_easy_perform
#define curl_easy_reset pgb_dl_curl_easy_reset
#define curl_easy_cleanup pgb_dl_curl_easy_cleanup
#define curl_easy_strerror pgb_dl_curl_easy_strerror
CURLcode pgb_dl_curl_global_init(long flags);
CURL *pgb_dl_curl_easy_init(void);
CURLcode pgb_dl_curl_easy_setopt(CURL *c, CURLoption opt, ...);
CURLcode pgb_dl_curl_easy_getinfo(CURL *c, CURLINFO info, ...);
CURLcode pgb_dl_curl_easy_perform(CURL *c);
void pgb_dl_curl_easy_reset(CURL *c);
void pgb_dl_curl_easy_cleanup(CURL *c);
const char *pgb_dl_curl_easy_strerror(CURLcode code);
#endif

#ifdef ARCHIVE_H_INCLUDED
#define archive_read_new pgb_dl_archive_read_new
#define archive_read_support_filter_gzip pgb_dl_archive_read_support_filter_gzip
#define archive_read_support_format_tar pgb_dl_archive_read_support_format_tar
#define archive_read_open_filename pgb_dl_archive_read_open_filename
#define archive_read_next_header pgb_dl_archive_read_next_header
#define archive_read_data_block pgb_dl_archive_read_data_block
#define archive_read_data pgb_dl_archive_read_data
#define archive_read_free pgb_dl_archive_read_free
#define archive_error_string pgb_dl_archive_error_string
struct archive *pgb_dl_archive_read_new(void);
int pgb_dl_archive_read_support_filter_gzip(struct archive *a);
int pgb_dl_archive_read_support_format_tar(struct archive *a);
int pgb_dl_archive_read_open_filename(struct archive *a, const char *f, size_t block);
int pgb_dl_archive_read_next_header(struct archive *a, struct archive_entry **e);
int pgb_dl_archive_read_data_block(struct archive *a, const void **buf, size_t *size,
                                   la_int64_t *offset);
la_ssize_t pgb_dl_archive_read_data(struct archive *a, void *buf, size_t size);
int pgb_dl_archive_read_free(struct archive *a);
const char *pgb_dl_archive_error_string(struct archive *a);
#endif

#ifdef ARCHIVE_ENTRY_H_INCLUDED
#define archive_entry_pathname pgb_dl_archive_entry_pathname
#define archive_entry_hardlink pgb_dl_archive_entry_hardlink
#define archive_entry_symlink pgb_dl_archive_entry_symlink
#define archive_entry_filetype pgb_dl_archive_entry_filetype
#define archive_entry_mode pgb_dl_archive_entry_mode
#define archive_entry_perm pgb_dl_archive_entry_perm
#define archive_entry_size pgb_dl_archive_entry_size
#define archive_entry_size_is_set pgb_dl_archive_entry_size_is_set
const char *pgb_dl_archive_entry_pathname(struct archive_entry *e);
const char *pgb_dl_archive_entry_hardlink(struct archive_entry *e);
const char *pgb_dl_archive_entry_symlink(struct archive_entry *e);
__LA_MODE_T pgb_dl_archive_entry_filetype(struct archive_entry *e);
__LA_MODE_T pgb_dl_archive_entry_mode(struct archive_entry *e);
__LA_MODE_T pgb_dl_archive_entry_perm(struct archive_entry *e);
la_int64_t pgb_dl_archive_entry_size(struct archive_entry *e);
int pgb_dl_archive_entry_size_is_set(struct archive_entry *e);
#endif

#ifdef LIBPQ_FE_H
#define PQconnectdb pgb_dl_PQconnectdb
#define PQconnectdbParams pgb_dl_PQconnectdbParams
#define PQstatus pgb_dl_PQstatus
#define PQerrorMessage pgb_dl_PQerrorMessage
#define PQfinish pgb_dl_PQfinish
#define PQreset pgb_dl_PQreset
#define PQhost pgb_dl_PQhost
#define PQport pgb_dl_PQport
#define PQexec pgb_dl_PQexec
#define PQexecParams pgb_dl_PQexecParams
#define PQresultStatus pgb_dl_PQresultStatus
#define PQresultErrorMessage pgb_dl_PQresultErrorMessage
#define PQclear pgb_dl_PQclear
#define PQntuples pgb_dl_PQntuples
#define PQescapeIdentifier pgb_dl_PQescapeIdentifier
#define PQescapeLiteral pgb_dl_PQescapeLiteral
#define PQencryptPasswordConn pgb_dl_PQencryptPasswordConn
#define PQfreemem pgb_dl_PQfreemem
#define PQpingParams pgb_dl_PQpingParams
#define PQconninfoParse pgb_dl_PQconninfoParse
#define PQconninfoFree pgb_dl_PQconninfoFree
#define PQconndefaults pgb_dl_PQconndefaults
#define PQserverVersion pgb_dl_PQserverVersion
#define PQparameterStatus pgb_dl_PQparameterStatus
#define PQdb pgb_dl_PQdb
#define PQgetvalue pgb_dl_PQgetvalue
#define PQsetNoticeProcessor pgb_dl_PQsetNoticeProcessor
#define PQputCopyData pgb_dl_PQputCopyData
#define PQputCopyEnd pgb_dl_PQputCopyEnd
#define PQgetCopyData pgb_dl_PQgetCopyData
#define PQgetResult pgb_dl_PQgetResult
#define PQnfields pgb_dl_PQnfields
#define PQftype pgb_dl_PQftype
#define PQgetisnull pgb_dl_PQgetisnull
#define PQcmdTuples pgb_dl_PQcmdTuples
#define PQresultErrorField pgb_dl_PQresultErrorField
#define PQtransactionStatus pgb_dl_PQtransactionStatus
#define PQsetnonblocking pgb_dl_PQsetnonblocking
#define PQflush pgb_dl_PQflush
#define PQsocket pgb_dl_PQsocket
#define PQsendQuery pgb_dl_PQsendQuery
#define PQconsumeInput pgb_dl_PQconsumeInput
#define PQisBusy pgb_dl_PQisBusy
#define PQconnectStart pgb_dl_PQconnectStart
#define PQconnectPoll pgb_dl_PQconnectPoll
#define PQsendQueryParams pgb_dl_PQsendQueryParams
PGconn *pgb_dl_PQconnectdb(const char *conninfo);
PGconn *pgb_dl_PQconnectdbParams(const char *const *keys, const char *const *values,
                                 int expand_dbname);
ConnStatusType pgb_dl_PQstatus(const PGconn *c);
char *pgb_dl_PQerrorMessage(const PGconn *c);
void pgb_dl_PQfinish(PGconn *c);
void pgb_dl_PQreset(PGconn *c);
char *pgb_dl_PQhost(const PGconn *c);
char *pgb_dl_PQport(const PGconn *c);
PGresult *pgb_dl_PQexec(PGconn *c, const char *query);
PGresult *pgb_dl_PQexecParams(PGconn *c, const char *command, int n, const Oid *types,
                              const char *const *values, const int *lengths, const int *formats,
                              int result_format);
ExecStatusType pgb_dl_PQresultStatus(const PGresult *r);
char *pgb_dl_PQresultErrorMessage(const PGresult *r);
void pgb_dl_PQclear(PGresult *r);
int pgb_dl_PQntuples(const PGresult *r);
char *pgb_dl_PQescapeIdentifier(PGconn *c, const char *s, size_t len);
char *pgb_dl_PQescapeLiteral(PGconn *c, const char *s, size_t len);
char *pgb_dl_PQencryptPasswordConn(PGconn *c, const char *passwd, const char *user,
                                   const char *algorithm);
void pgb_dl_PQfreemem(void *p);
PGPing pgb_dl_PQpingParams(const char *const *keys, const char *const *values, int expand_dbname);
PQconninfoOption *pgb_dl_PQconninfoParse(const char *conninfo, char **errmsg);
void pgb_dl_PQconninfoFree(PQconninfoOption *o);
PQconninfoOption *pgb_dl_PQconndefaults(void);
int pgb_dl_PQserverVersion(const PGconn *c);
const char *pgb_dl_PQparameterStatus(const PGconn *c, const char *name);
char *pgb_dl_PQdb(const PGconn *c);
char *pgb_dl_PQgetvalue(const PGresult *r, int row, int col);
PQnoticeProcessor pgb_dl_PQsetNoticeProcessor(PGconn *c, PQnoticeProcessor p, void *arg);
int pgb_dl_PQputCopyData(PGconn *c, const char *buf, int n);
int pgb_dl_PQputCopyEnd(PGconn *c, const char *errormsg);
int pgb_dl_PQgetCopyData(PGconn *c, char **buf, int async);
PGresult *pgb_dl_PQgetResult(PGconn *c);
int pgb_dl_PQnfields(const PGresult *r);
Oid pgb_dl_PQftype(const PGresult *r, int field);
int pgb_dl_PQgetisnull(const PGresult *r, int row, int col);
char *pgb_dl_PQcmdTuples(PGresult *r);
char *pgb_dl_PQresultErrorField(const PGresult *r, int code);
PGTransactionStatusType pgb_dl_PQtransactionStatus(const PGconn *c);
int pgb_dl_PQsetnonblocking(PGconn *c, int arg);
int pgb_dl_PQflush(PGconn *c);
int pgb_dl_PQsocket(const PGconn *c);
int pgb_dl_PQsendQuery(PGconn *c, const char *query);
int pgb_dl_PQconsumeInput(PGconn *c);
int pgb_dl_PQisBusy(PGconn *c);
PGconn *pgb_dl_PQconnectStart(const char *conninfo);
PostgresPollingStatusType pgb_dl_PQconnectPoll(PGconn *c);
int pgb_dl_PQsendQueryParams(PGconn *c, const char *command, int n, const Oid *types,
                             const char *const *values, const int *lengths, const int *formats,
                             int result_format);
/* Connect to a conninfo string, with libpq's notices (which it would print
 * on stderr) swallowed: the library never prints. Only pgb_pq_open() calls it. */
PGconn *pgb_pq_connect_url(const char *conninfo);
/* The same, without waiting: the caller drives PQconnectPoll(). */
PGconn *pgb_pq_connect_start(const char *conninfo);

/* Whose server a connection goes to. */
typedef enum {
    PGB_PQ_OURS,  /* one of pgboot's own servers: nothing in the caller's environment
                     decides anything (pgb_pq_conninfo) */
    PGB_PQ_USERS, /* a URL the user gave: it and the user's PG* variables decide
                     (a managed server may need PGSSLMODE), except client_encoding */
} pgb_pq_whose;

/* PGBOOT_EINVALID naming PGSERVICE when it is set: libpq 15 cannot be told
 * to ignore it, and the library does not change its host's environment. */
PGB_MUST_USE int pgb_pq_check_own_env(void);
/* The connection string (malloc'd; it holds the password) for `url` (may be
 * NULL) with the NULL-terminated keys/vals on top. Always client_encoding
 * UTF8. PGB_PQ_OURS also pins every parameter PQconndefaults() reports an
 * environment variable for (hostaddr='', sslmode, options='',
 * target_session_attrs, channel_binding, ...: the caller gives host, port,
 * user, password and dbname, through the URL or keys) and refuses PGSERVICE. */
PGB_MUST_USE int pgb_pq_conninfo(char **out, pgb_pq_whose whose, const char *url,
                                 const char *const *keys, const char *const *vals);
/* PGBOOT_EINVALID for a URL libpq cannot read, err being libpq's complaint
 * (PQconninfoParse's; NULL: out of memory), with the way out. The URL,
 * which libpq's complaint may quote, is left out of the message: it may
 * hold a password. */
int pgb_pq_url_invalid(const char *url, const char *err);
/* Connect with pgb_pq_conninfo(). Returns 0 with *out set, whose status the
 * caller checks (its message says where it connected to), or an error
 * (PGSERVICE, a malformed URL, out of memory) with *out NULL. For our own
 * servers, also sets back DateStyle, TimeZone and geqo when PGDATESTYLE,
 * PGTZ or PGGEQO (which libpq sends after "options") are set. Every
 * connection pgboot makes goes through here. */
PGB_MUST_USE int pgb_pq_open(PGconn **out, pgb_pq_whose whose, const char *url,
                             const char *const *keys, const char *const *vals);
/* Why a connection failed, by libpq's message (PQerrorMessage; NULL-able). */
typedef enum {
    PGB_PQ_UNREACHABLE, /* no server answered (or another cause): PGBOOT_ENOTRUNNING */
    PGB_PQ_BAD_PARAM,   /* a parameter's value libpq does not take (sslmode=bogus) */
    PGB_PQ_LOGIN,       /* the server refused the login: a wrong password, or (PostgreSQL
                           says the same) a role that does not exist: PGBOOT_ELOGIN */
    PGB_PQ_NO_SUCH,     /* the server says the role or database does not exist: PGBOOT_ELOGIN */
    PGB_PQ_FULL,        /* too many clients */
} pgb_pq_refusal;
pgb_pq_refusal pgb_pq_refusal_of(const char *libpq_message);
/* pgb_pq_open() bounded by `deadline` (pgb_now_ms() clock): the connection,
 * login included, is given up at the deadline, and so is a query run with
 * pgb_pq_query_until(). PGBOOT_ETIMEOUT then, its message naming `what` (as
 * "the app's login to 127.0.0.1:5432"). Returns 0 with a connection whose
 * status is CONNECTION_OK, or an error (status CONNECTION_BAD: PGBOOT_ESTART
 * with "<what> failed: <libpq's message>"), *out NULL then. */
PGB_MUST_USE int pgb_pq_open_until(PGconn **out, pgb_pq_whose whose, const char *url,
                                   const char *const *keys, const char *const *vals,
                                   uint64_t deadline, const char *what);
/* Run sql (with nparams text parameters) and wait for its last result until
 * the deadline: 0 with *res set (any status, the caller checks), or
 * PGBOOT_ETIMEOUT naming `what`. */
PGB_MUST_USE int pgb_pq_query_until(PGconn *c, const char *sql, int nparams,
                                    const char *const *params, uint64_t deadline, const char *what,
                                    PGresult **res);
/* The libpq variables a client of our server must not inherit
 * (NULL-terminated, malloc'd, each malloc'd): every variable PQconndefaults()
 * names and those of other libpq versions, but not the ones in `set` (which
 * the caller sets) nor the client's own session preferences (PGAPPNAME,
 * PGCLIENTENCODING, PGCONNECT_TIMEOUT). */
PGB_MUST_USE int pgb_pq_client_env_clear(const char *const *set, char ***out);
/* Run sql; on failure the error is "<what>: <PostgreSQL's message>". */
int pgb_pq_exec(PGconn *c, const char *sql, const char *what);
/* Run the SQL file `text` (len bytes, named `file` in errors) as psql runs
 * pg_dump's plain format: statements in batches, COPY ... FROM stdin with its
 * data, \restrict/\unrestrict skipped; any other psql meta-command refused.
 * 0, or PGBOOT_EINVALID naming file:line and PostgreSQL's message
 * (platform/sqlscript.c). */
int pgb_pq_run_script(PGconn *c, const char *text, size_t len, const char *file);
/* The same in c's open transaction (migrate --schema): each batch under a
 * savepoint, so that the statement that fails is still found; the hints
 * name the schema file's ways out. A failure leaves the transaction
 * aborted, for the caller to roll back. */
int pgb_pq_run_script_txn(PGconn *c, const char *text, size_t len, const char *file);
/* Does the query (with one parameter, or none when param is NULL) return a
 * row? */
int pgb_pq_exists(PGconn *c, const char *sql, const char *param, int *yes);
#endif
#endif /* PGB_DYNLOAD_IMPL */

#endif
