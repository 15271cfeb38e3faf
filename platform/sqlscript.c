/* Running an SQL file the way psql runs what pg_dump writes in plain format:
 * statements (quotes, dollar quotes and comments respected), COPY ... FROM
 * stdin with its data lines up to "\.", and the \restrict / \unrestrict lines
 * of a current pg_dump (no-ops here: they guard psql against a hostile dump's
 * meta-commands, and pgboot runs no meta-command at all). Any other psql
 * meta-command is refused with the file and line.
 *
 * Statements go to the server in batches (one round trip for many, in one
 * implicit transaction); a failed batch changed nothing, so it is run again
 * statement by statement to name the line that fails. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "dynload.h"
#include "platform.h"

#define BATCH_MAX (1u << 20)

typedef struct {
    PGconn *conn;
    const char *text, *file;
    size_t len;
    size_t batch_start, batch_end; /* statements not yet sent: [start, end) */
    int in_txn;                    /* in the caller's transaction: a savepoint per batch */
} script;

static int line_of(const script *s, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off && i < s->len; i++)
        line += s->text[i] == '\n';
    return line;
}

/* The end of the statement starting at `i`: the offset just past its ';', or
 * s->len. Quotes, identifiers, dollar quotes and comments are skipped. */
static size_t statement_end(const script *s, size_t i)
{
    const char *t = s->text;
    size_t n = s->len;
    while (i < n) {
        char c = t[i];
        if (c == ';')
            return i + 1;
        if (c == '-' && i + 1 < n && t[i + 1] == '-') {
            while (i < n && t[i] != '\n')
                i++;
        } else if (c == '/' && i + 1 < n && t[i + 1] == '*') {
            int depth = 0;
            do {
                if (t[i] == '/' && i + 1 < n && t[i + 1] == '*')
                    depth++, i++;
                else if (t[i] == '*' && i + 1 < n && t[i + 1] == '/')
                    depth--, i++;
                i++;
            } while (i < n && depth > 0);
        } else if (c == '\'' || c == '"') {
            int escapes = c == '\'' && i > 0 && (t[i - 1] == 'E' || t[i - 1] == 'e');
            for (i++; i < n; i++) {
                if (escapes && t[i] == '\\') {
                    i++;
                } else if (t[i] == c) {
                    if (i + 1 < n && t[i + 1] == c)
                        i++; /* a doubled quote */
                    else
                        break;
                }
            }
            i++;
        } else if (c == '$' && (i == 0 || !(isalnum((unsigned char)t[i - 1]) || t[i - 1] == '_'))) {
            size_t j = i + 1;
            while (j < n && (isalnum((unsigned char)t[j]) || t[j] == '_'))
                j++;
            if (j < n && t[j] == '$' && !(j > i + 1 && isdigit((unsigned char)t[i + 1]))) {
                size_t tag = j - i + 1;
                const char *close = memmem(t + j + 1, n - j - 1, t + i, tag);
                i = close ? (size_t)(close - t) + tag : n;
            } else {
                i++;
            }
        } else {
            i++;
        }
    }
    return n;
}

static int fail_at(const script *s, size_t off, const char *fmt, const char *detail)
{
    int rc = pgb_fail(PGBOOT_EINVALID, "%s:%d: %s%s", s->file, line_of(s, off), fmt, detail);
    if (s->in_txn)
        pgb_hint("fix the file (or a copy of it), then migrate again; nothing was written");
    else
        pgb_hint("fix the file; the template is rebuilt from the files' new contents");
    return rc;
}

/* A statement of the script's own (a savepoint's), whose failure is the
 * server's, not the file's. */
static int run_own(const script *s, const char *q)
{
    return pgb_pq_exec(s->conn, q, "cannot run the SQL file");
}

/* The byte offset of PostgreSQL's 1-based character position in `q`. */
static size_t byte_of_position(const char *q, long pos)
{
    size_t i = 0;
    for (long chars = 1; q[i] && chars < pos; i++)
        if (((unsigned char)q[i + 1] & 0xC0) != 0x80)
            chars++;
    return i;
}

static int run_one(const script *s, size_t start, size_t end, size_t *err_off, char **err)
{
    char *q = strndup(s->text + start, end - start);
    if (!q)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    PGresult *r = PQexec(s->conn, q);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
        *err_off = start + (pos ? byte_of_position(q, atol(pos)) : 0);
        *err = pgb_strdup(PQresultErrorMessage(r));
        rc = PGBOOT_EINVALID;
    }
    PQclear(r);
    free(q);
    return rc;
}

/* Send the pending statements; on failure find the one that fails. */
static int flush(script *s)
{
    size_t start = s->batch_start, end = s->batch_end;
    s->batch_start = s->batch_end;
    if (end <= start)
        return 0;
    size_t off = start;
    char *err = NULL;
    int rc = s->in_txn ? run_own(s, "SAVEPOINT pgboot_script") : 0;
    if (rc)
        return rc;
    if (run_one(s, start, end, &off, &err) == 0)
        return s->in_txn ? run_own(s, "RELEASE SAVEPOINT pgboot_script") : 0;
    /* The batch was one implicit transaction (or is rolled back to the
     * savepoint) and changed nothing: again, one statement at a time, for
     * the line of the one that fails. */
    if (s->in_txn && (rc = run_own(s, "ROLLBACK TO SAVEPOINT pgboot_script")) != 0) {
        free(err);
        return rc;
    }
    for (size_t i = start; i < end;) {
        size_t e = statement_end(s, i);
        if (e > end)
            e = end;
        char *err1 = NULL;
        size_t off1 = i;
        if (run_one(s, i, e, &off1, &err1) != 0) {
            free(err);
            err = err1;
            off = off1;
            if (off == i) /* no position: the statement's first line of text */
                while (off < e && isspace((unsigned char)s->text[off]))
                    off++;
            break;
        }
        i = e;
    }
    char *nl;
    while (err && (nl = strchr(err, '\n')) != NULL)
        *nl = ' ';
    rc = fail_at(s, off, "", err ? err : "the statement failed");
    free(err);
    return rc;
}

/* COPY ... FROM stdin at [start, end): its data lines follow, up to "\.". */
static int run_copy(script *s, size_t start, size_t end, size_t *next)
{
    int rc = flush(s);
    if (rc)
        return rc;
    size_t data = end;
    while (data < s->len && s->text[data] != '\n')
        data++;
    data = data < s->len ? data + 1 : data;
    size_t stop = data;
    while (stop < s->len &&
           !(s->text[stop] == '\\' && stop + 1 < s->len && s->text[stop + 1] == '.' &&
             (stop + 2 == s->len || s->text[stop + 2] == '\n' || s->text[stop + 2] == '\r'))) {
        const char *nl = memchr(s->text + stop, '\n', s->len - stop);
        stop = nl ? (size_t)(nl - s->text) + 1 : s->len;
    }
    if (stop >= s->len)
        return fail_at(s, start, "COPY ... FROM stdin has no end-of-data line (\\.)", "");
    char *q = strndup(s->text + start, end - start);
    PGresult *r = q ? PQexec(s->conn, q) : NULL;
    free(q);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        size_t off = start;
        char *err = pgb_strdup(r ? PQresultErrorMessage(r) : "out of memory");
        PQclear(r);
        for (char *p = err; p && *p; p++)
            if (*p == '\n')
                *p = ' ';
        rc = fail_at(s, off, "", err ? err : "COPY failed");
        free(err);
        return rc;
    }
    PQclear(r);
    int ok = 1;
    for (size_t off = data; ok && off < stop;) {
        int chunk = stop - off > (1u << 20) ? 1 << 20 : (int)(stop - off);
        ok = PQputCopyData(s->conn, s->text + off, chunk) == 1;
        off += (size_t)chunk;
    }
    ok = PQputCopyEnd(s->conn, ok ? NULL : "pgboot could not send the data") == 1 && ok;
    r = PQgetResult(s->conn);
    if (PQresultStatus(r) != PGRES_COMMAND_OK || !ok) {
        char *err = pgb_strdup(r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
        for (char *p = err; p && *p; p++)
            if (*p == '\n')
                *p = ' ';
        rc = fail_at(s, start, "", err ? err : "COPY failed");
        free(err);
    }
    PQclear(r);
    while ((r = PQgetResult(s->conn)) != NULL)
        PQclear(r);
    const char *nl = memchr(s->text + stop, '\n', s->len - stop);
    *next = nl ? (size_t)(nl - s->text) + 1 : s->len;
    return rc;
}

static int is_copy_from_stdin(const char *t, size_t n)
{
    while (n > 0 && isspace((unsigned char)*t))
        t++, n--;
    if (n < 4 || strncasecmp(t, "copy", 4) != 0 || (n > 4 && !isspace((unsigned char)t[4])))
        return 0;
    /* "... FROM stdin;" (what pg_dump writes) */
    size_t e = n;
    while (e > 0 && (t[e - 1] == ';' || isspace((unsigned char)t[e - 1])))
        e--;
    return e >= 10 && strncasecmp(t + e - 5, "stdin", 5) == 0 && isspace((unsigned char)t[e - 6]) &&
           strncasecmp(t + e - 10, "from", 4) == 0;
}

/* A meta-command line at `i` (a backslash first on its line). */
static int meta_command(script *s, size_t i, size_t *next)
{
    size_t e = i;
    while (e < s->len && s->text[e] != '\n')
        e++;
    *next = e < s->len ? e + 1 : e;
    size_t w = i + 1;
    while (w < e && isalpha((unsigned char)s->text[w]))
        w++;
    size_t wl = w - i - 1;
    if ((wl == 8 && !strncmp(s->text + i + 1, "restrict", 8)) ||
        (wl == 10 && !strncmp(s->text + i + 1, "unrestrict", 10)))
        return 0;
    char word[32];
    snprintf(word, sizeof word, "%.*s", (int)(w - i < 30 ? w - i : 30), s->text + i);
    int rc = pgb_fail(PGBOOT_EINVALID, "%s:%d: psql meta-command %s cannot run here", s->file,
                      line_of(s, i), word);
    if (s->in_txn)
        pgb_hint("a schema file holds SQL (pg_dump's plain format included): remove the line "
                 "(in a copy of the file), or apply the file with psql and migrate with "
                 "--data-only; nothing was written");
    else
        pgb_hint("a template file holds SQL (pg_dump's plain format included); run what needs "
                 "psql with --template-cmd or remove the line");
    return rc;
}

/* Past white space and comments from `i`: where a statement or a
 * meta-command line starts. */
static size_t skip_blanks(const script *s, size_t i)
{
    const char *t = s->text;
    for (;;) {
        while (i < s->len && isspace((unsigned char)t[i]))
            i++;
        if (i + 1 < s->len && t[i] == '-' && t[i + 1] == '-') {
            while (i < s->len && t[i] != '\n')
                i++;
        } else if (i + 1 < s->len && t[i] == '/' && t[i + 1] == '*') {
            const char *close = memmem(t + i + 2, s->len - i - 2, "*/", 2);
            i = close ? (size_t)(close - t) + 2 : s->len;
        } else {
            return i;
        }
    }
}

static int run_script(PGconn *c, const char *text, size_t len, const char *file, int in_txn)
{
    script s = {.conn = c, .text = text, .file = file, .len = len, .in_txn = in_txn};
    size_t i = 0;
    while (i < len) {
        size_t ws = skip_blanks(&s, i);
        if (ws >= len)
            break;
        if (text[ws] == '\\' && (ws == 0 || text[ws - 1] == '\n')) {
            int rc = flush(&s);
            if (rc == 0)
                rc = meta_command(&s, ws, &i);
            if (rc)
                return rc;
            s.batch_start = s.batch_end = i;
            continue;
        }
        size_t end = statement_end(&s, ws);
        if (is_copy_from_stdin(text + ws, end - ws)) {
            int rc = run_copy(&s, ws, end, &i);
            if (rc)
                return rc;
            s.batch_start = s.batch_end = i;
            continue;
        }
        s.batch_end = end;
        i = end;
        if (s.batch_end - s.batch_start >= BATCH_MAX) {
            int rc = flush(&s);
            if (rc)
                return rc;
        }
    }
    return flush(&s);
}

int pgb_pq_run_script(PGconn *c, const char *text, size_t len, const char *file)
{
    return run_script(c, text, len, file, 0);
}

int pgb_pq_run_script_txn(PGconn *c, const char *text, size_t len, const char *file)
{
    return run_script(c, text, len, file, 1);
}
