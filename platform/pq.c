/* Small libpq helpers shared by the cluster set-up, testdb and the
 * migration (through the lazily loaded libpq of dynload.h), and the one
 * place where every connection's parameters are decided. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "dynload.h"
#include "platform.h"

int pgb_pq_exec(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
        rc = pgb_fail(PGBOOT_ERROR, "%s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

int pgb_pq_exists(PGconn *c, const char *sql, const char *param, int *yes)
{
    const char *params[1] = {param};
    PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, param ? params : NULL, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pgb_fail(PGBOOT_ERROR, "cannot query the server: %s", PQresultErrorMessage(r));
    else
        *yes = PQntuples(r) > 0;
    PQclear(r);
    return rc;
}

/* ---- what the caller's environment may decide --------------------------------
 *
 * libpq fills every parameter a connection does not give from an environment
 * variable (PQconndefaults() names them). For pgboot's own servers none of
 * them may decide anything: the connection string names every one. Only a
 * connection *string* can pin a parameter to the empty value ("hostaddr=''");
 * PQconnectdbParams() skips empty values, so everything goes through one
 * string. */

/* Our own servers: loopback or a private socket, no TLS, no GSS, a primary. */
static const struct {
    const char *keyword;
    const char *value;
} own_pins[] = {
    {"client_encoding", "UTF8"},
    {"hostaddr", ""},
    {"sslmode", "disable"},
    {"gssencmode", "disable"},
    {"channel_binding", "disable"},
    {"options", ""},
    {"target_session_attrs", "any"},
    {"requirepeer", ""},
    {"passfile", ""},
    {"connect_timeout", "10"}, /* unless the caller gives one */
    {"application_name", "pgboot"},
};

/* Session settings libpq sends from the environment that no connection
 * parameter can cancel (they are applied after "options"): set back to what
 * pgboot's clusters are configured with (launcher/cluster.c) after
 * connecting. */
static const struct {
    const char *envvar;
    const char *set;
} own_session_env[] = {
    {"PGDATESTYLE", "SET DateStyle = 'ISO, MDY'"},
    {"PGTZ", "SET TimeZone = 'UTC'"},
    {"PGGEQO", "SET geqo = on"},
};

/* libpq reads PGSERVICE before anything else, and in libpq 15 no connection
 * parameter cancels it (service='' looks up a service named ""). PGSERVICEFILE
 * alone does nothing. The library must not change its host's environment:
 * refuse. */
int pgb_pq_check_own_env(void)
{
    const char *v = getenv("PGSERVICE");
    if (!v)
        return 0;
    int rc = pgb_fail(PGBOOT_EINVALID,
                      "PGSERVICE is set in the environment ('%s'): libpq would take the "
                      "connection settings of pgboot's own server from that service",
                      v);
    pgb_hint("unset PGSERVICE (and PGSERVICEFILE) before calling pgboot; the pgboot command "
             "does this itself");
    return rc;
}

typedef struct {
    const char *key[96];
    const char *val[96];
    int n;
} kv_list;

static int kv_find(const kv_list *l, const char *key)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->key[i], key))
            return i;
    return -1;
}

static int kv_set(kv_list *l, const char *key, const char *val, int replace)
{
    int i = kv_find(l, key);
    if (i >= 0) {
        if (replace)
            l->val[i] = val;
        return 0;
    }
    if (l->n == (int)(sizeof l->key / sizeof *l->key))
        return pgb_fail(PGBOOT_ERROR, "too many connection parameters");
    l->key[l->n] = key;
    l->val[l->n++] = val;
    return 0;
}

/* key='value' with ' and \ escaped, as libpq parses it. */
static char *kv_string(const kv_list *l)
{
    size_t cap = 1;
    for (int i = 0; i < l->n; i++)
        cap += strlen(l->key[i]) + 2 * strlen(l->val[i]) + 4;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < l->n; i++) {
        if (i)
            *p++ = ' ';
        size_t k = strlen(l->key[i]);
        memcpy(p, l->key[i], k);
        p += k;
        *p++ = '=';
        *p++ = '\'';
        for (const char *v = l->val[i]; *v; v++) {
            if (*v == '\'' || *v == '\\')
                *p++ = '\\';
            *p++ = *v;
        }
        *p++ = '\'';
    }
    *p = '\0';
    return s;
}

pgb_pq_refusal pgb_pq_refusal_of(const char *m)
{
    if (!m)
        return PGB_PQ_UNREACHABLE;
    if (!strncmp(m, "invalid ", 8))
        return PGB_PQ_BAD_PARAM;
    if (strstr(m, "password") || strstr(m, "authentication failed"))
        return PGB_PQ_LOGIN;
    if (strstr(m, "too many clients") || strstr(m, "remaining connection slots"))
        return PGB_PQ_FULL;
    if (strstr(m, "does not exist"))
        return PGB_PQ_NO_SUCH;
    return PGB_PQ_UNREACHABLE;
}

int pgb_pq_url_invalid(const char *url, const char *err)
{
    char msg[512];
    size_t k = 0, n = url ? strlen(url) : 0;
    for (const char *p = err ? err : "out of memory"; *p && k + 1 < sizeof msg;) {
        if (n && !strncmp(p, url, n)) {
            k += (size_t)snprintf(msg + k, sizeof msg - k, "(the URL)");
            p += n;
        } else {
            msg[k++] = *p++;
        }
    }
    msg[k < sizeof msg ? k : sizeof msg - 1] = '\0';
    int rc = pgb_fail(PGBOOT_EINVALID, "the database URL is not valid: %s", msg);
    pgb_hint("write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE, special characters of "
             "the password percent-encoded (@ as %%40)");
    return rc;
}

int pgb_pq_conninfo(char **out, pgb_pq_whose whose, const char *url, const char *const *keys,
                    const char *const *vals)
{
    *out = NULL;
    int rc;
    if (whose == PGB_PQ_OURS && (rc = pgb_pq_check_own_env()) != 0)
        return rc;
    kv_list l = {.n = 0};
    PQconninfoOption *parsed = NULL, *defaults = NULL;
    if (url) {
        char *err = NULL;
        parsed = PQconninfoParse(url, &err);
        if (!parsed) {
            rc = pgb_pq_url_invalid(url, err);
            if (err)
                PQfreemem(err);
            return rc;
        }
        for (PQconninfoOption *o = parsed; o->keyword; o++)
            if (o->val && (rc = kv_set(&l, o->keyword, o->val, 1)) != 0)
                goto done;
    }
    for (int i = 0; keys && keys[i]; i++)
        if (vals[i] && (rc = kv_set(&l, keys[i], vals[i], 1)) != 0)
            goto done;
    /* Whoever the server is, text crosses the wire as UTF-8: the migration
     * and the test databases carry the bytes they were given. */
    if ((rc = kv_set(&l, "client_encoding", "UTF8", 1)) != 0)
        goto done;
    if (whose == PGB_PQ_OURS) {
        for (size_t i = 0; i < sizeof own_pins / sizeof *own_pins; i++) {
            int caller_may = !strcmp(own_pins[i].keyword, "connect_timeout") ||
                             !strcmp(own_pins[i].keyword, "application_name");
            if ((rc = kv_set(&l, own_pins[i].keyword, own_pins[i].value, !caller_may)) != 0)
                goto done;
        }
        /* Every other parameter an environment variable could fill, including
         * those of a newer libpq than this code knows: its built-in default,
         * or empty. */
        defaults = PQconndefaults();
        if (!defaults) {
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
            goto done;
        }
        for (PQconninfoOption *o = defaults; o->keyword; o++) {
            if (!o->envvar || !strcmp(o->keyword, "service"))
                continue;
            if ((rc = kv_set(&l, o->keyword, o->compiled ? o->compiled : "", 0)) != 0)
                goto done;
        }
    }
    *out = kv_string(&l);
    rc = *out ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
done:
    PQconninfoFree(parsed);
    PQconninfoFree(defaults);
    return rc;
}

int pgb_pq_open(PGconn **out, pgb_pq_whose whose, const char *url, const char *const *keys,
                const char *const *vals)
{
    *out = NULL;
    char *conninfo = NULL;
    int rc = pgb_pq_conninfo(&conninfo, whose, url, keys, vals);
    if (rc)
        return rc;
    PGconn *c = pgb_pq_connect_url(conninfo);
    sodium_memzero(conninfo, strlen(conninfo)); /* it holds the password */
    free(conninfo);
    if (!c)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (whose == PGB_PQ_OURS && PQstatus(c) == CONNECTION_OK) {
        for (size_t i = 0; i < sizeof own_session_env / sizeof *own_session_env; i++) {
            if (!getenv(own_session_env[i].envvar))
                continue;
            PGresult *r = PQexec(c, own_session_env[i].set);
            PQclear(r);
        }
    }
    *out = c;
    return 0;
}

/* Wait until the connection's socket is ready for `events`, or the deadline. */
static int wait_socket(PGconn *c, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = pgb_now_ms();
        if (now >= deadline)
            return PGBOOT_ETIMEOUT;
        struct pollfd p = {.fd = PQsocket(c), .events = events};
        if (p.fd < 0)
            return PGBOOT_ERROR;
        uint64_t left = deadline - now;
        int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (n > 0 || (n < 0 && errno != EINTR))
            return 0;
    }
}

static void copy_pq_error(char *buf, size_t len, const char *msg)
{
    snprintf(buf, len, "%s", msg ? msg : "");
    buf[strcspn(buf, "\n")] = '\0';
}

int pgb_pq_query_until(PGconn *c, const char *sql, int nparams, const char *const *params,
                       uint64_t deadline, const char *what, PGresult **res)
{
    *res = NULL;
    if (!PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0)) {
        char msg[512];
        copy_pq_error(msg, sizeof msg, PQerrorMessage(c));
        return pgb_fail(PGBOOT_ERROR, "%s: %s", what, msg);
    }
    PGresult *last = NULL;
    for (;;) {
        while (PQisBusy(c)) {
            if (wait_socket(c, POLLIN, deadline) == PGBOOT_ETIMEOUT) {
                PQclear(last);
                return pgb_fail(PGBOOT_ETIMEOUT, "%s did not finish in time", what);
            }
            if (!PQconsumeInput(c))
                break;
        }
        PGresult *r = PQgetResult(c);
        if (!r)
            break;
        PQclear(last);
        last = r;
    }
    if (!last) {
        char msg[512];
        copy_pq_error(msg, sizeof msg, PQerrorMessage(c));
        return pgb_fail(PGBOOT_ERROR, "%s: %s", what, msg);
    }
    *res = last;
    return 0;
}

int pgb_pq_open_until(PGconn **out, pgb_pq_whose whose, const char *url, const char *const *keys,
                      const char *const *vals, uint64_t deadline, const char *what)
{
    *out = NULL;
    /* libpq's connect_timeout (whole seconds, at least 2) as a second fence
     * behind the deadline kept here. */
    char timeout[24];
    uint64_t now = pgb_now_ms();
    uint64_t left = deadline > now ? deadline - now : 0;
    snprintf(timeout, sizeof timeout, "%llu", (unsigned long long)(left / 1000 + 2));
    const char *k[32], *v[32];
    int n = 0;
    for (int i = 0; keys && keys[i] && n < 30; i++) {
        if (!strcmp(keys[i], "connect_timeout"))
            continue;
        k[n] = keys[i];
        v[n++] = vals[i];
    }
    k[n] = "connect_timeout";
    v[n++] = timeout;
    k[n] = v[n] = NULL;
    char *conninfo = NULL;
    int rc = pgb_pq_conninfo(&conninfo, whose, url, k, v);
    if (rc)
        return rc;
    PGconn *c = pgb_pq_connect_start(conninfo);
    sodium_memzero(conninfo, strlen(conninfo)); /* it holds the password */
    free(conninfo);
    if (!c)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        short ev = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        if (wait_socket(c, ev, deadline) == PGBOOT_ETIMEOUT) {
            PQfinish(c);
            return pgb_fail(PGBOOT_ETIMEOUT, "%s did not finish in time", what);
        }
        st = PQconnectPoll(c);
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        copy_pq_error(msg, sizeof msg, PQerrorMessage(c));
        PQfinish(c);
        return pgb_fail(PGBOOT_ESTART, "%s failed: %s", what, msg);
    }
    if (whose == PGB_PQ_OURS) {
        for (size_t i = 0; i < sizeof own_session_env / sizeof *own_session_env; i++) {
            if (!getenv(own_session_env[i].envvar))
                continue;
            PGresult *r = NULL;
            if ((rc = pgb_pq_query_until(c, own_session_env[i].set, 0, NULL, deadline, what, &r)) !=
                0) {
                PQfinish(c);
                return rc;
            }
            PQclear(r);
        }
    }
    *out = c;
    return 0;
}

/* ---- the environment of a client of our server ------------------------------- */

/* Variables that a libpq other than the one loaded here may read (older or
 * newer than it): the client may link any. PGSYSCONFDIR is left alone: it
 * only matters with a service, and psql reads its psqlrc from there. */
static const char *const extra_env[] = {
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGREQUIRESSL",
    "PGREQUIREAUTH",
    "PGSSLCERTMODE",
    "PGLOADBALANCEHOSTS",
    "PGSSLNEGOTIATION",
    "PGGSSDELEGATION",
    "PGMINPROTOCOLVERSION",
    "PGMAXPROTOCOLVERSION",
    "PGTARGETSESSIONATTRS",
    "PGHOSTADDR",
    "PGSSLMODE",
    "PGOPTIONS",
    "PGCHANNELBINDING",
    "PGGSSENCMODE",
    "PGPASSFILE",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLROOTCERT",
    "PGSSLCRL",
    "PGSSLCRLDIR",
    "PGREQUIREPEER",
    NULL,
};

/* The client's own session preferences: they cannot send it elsewhere. */
static const char *const kept_env[] = {"PGAPPNAME", "PGCLIENTENCODING", "PGCONNECT_TIMEOUT", NULL};

static int in_list(const char *const *list, const char *name)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], name))
            return 1;
    return 0;
}

int pgb_pq_client_env_clear(const char *const *set, char ***out)
{
    *out = NULL;
    size_t cap = 128, n = 0;
    char **names = calloc(cap, sizeof *names);
    if (!names)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    /* Without libpq here, the list above still covers libpq 15 and 16. */
    PQconninfoOption *defaults = NULL;
    if (pgb_need_lib(PGB_LIB_PQ) == 0)
        defaults = PQconndefaults();
    else
        pgb_error_reset();
    int oom = 0;
    for (int pass = 0; pass < 2 && !oom; pass++) {
        for (size_t i = 0;; i++) {
            const char *name = NULL;
            if (pass == 0) {
                if (!defaults || !defaults[i].keyword)
                    break;
                name = defaults[i].envvar;
            } else {
                if (!extra_env[i])
                    break;
                name = extra_env[i];
            }
            if (!name || in_list(kept_env, name) || in_list(set, name) ||
                in_list((const char *const *)names, name))
                continue;
            if (n + 1 >= cap || !(names[n] = pgb_strdup(name))) {
                oom = 1;
                break;
            }
            n++;
        }
    }
    PQconninfoFree(defaults);
    if (oom) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    *out = names;
    return 0;
}
