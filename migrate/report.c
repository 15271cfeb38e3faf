/* The report of a migration: the JSON that goes to <app dir>/migrations/ and
 * pgboot.migrations, the summary printed after it, the cells that stop a
 * strict migration, and the accessors of the result (pgboot_migration). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "report.h"
#include "source.h"
#include "values.h"

#define MAX_BAD_CELLS 20

const char *pgboot_migration_report(const pgboot_migration *m)
{
    return m->report ? m->report : "{}";
}
const char *pgboot_migration_summary(const pgboot_migration *m)
{
    return m->summary ? m->summary : "";
}
const char *pgboot_migration_ddl(const pgboot_migration *m)
{
    return m->ddl ? m->ddl : "";
}
int pgboot_migration_already_done(const pgboot_migration *m)
{
    return m->already_done;
}
uint64_t pgboot_migration_rejected(const pgboot_migration *m)
{
    return m->rejected;
}
void pgboot_migration_free(pgboot_migration *m)
{
    if (!m)
        return;
    free(m->report);
    free(m->summary);
    free(m->ddl);
    free(m);
}

void pgb_report_skip(pgb_report *r, const char *kind, const char *name, const char *reason)
{
    json_array_append_new(
        r->skipped, json_pack("{s:s, s:s, s:s}", "kind", kind, "name", name, "reason", reason));
}

void pgb_report_warn(pgb_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = pgb_vprintf(fmt, ap);
    va_end(ap);
    if (s)
        json_array_append_new(r->warnings, json_string(s));
    free(s);
}

/* ---- the report ---------------------------------------------------------------- */

/* Values changed on the way by the migration's options, or stored in another
 * storage class than SQLite's (counted by the scan): */
typedef enum { CH_BLOBS_AS_TEXT, CH_ROUNDED, CH_ZERO_DATES, CH_KINDS } change_kind;

static int64_t changed_count(const pgb_plan_col *c, change_kind k)
{
    int ts = c->kind == PGB_K_TS || c->kind == PGB_K_TSTZ;
    if (c->generated)
        return 0;
    switch (k) {
    case CH_BLOBS_AS_TEXT:
        return c->kind == PGB_K_TEXT || c->kind == PGB_K_VARCHAR ? c->st.n_blob_text
               : c->kind == PGB_K_JSONB                          ? c->st.n_blob_json
                                                                 : 0;
    case CH_ROUNDED:
        return ts && c->round_ts ? c->st.n_text_frac_lost : 0;
    case CH_ZERO_DATES:
        return (ts || c->kind == PGB_K_DATE) && c->zero_dates != PGBOOT_ZERO_DATES_REFUSE
                   ? c->st.n_text_zero_date
                   : 0;
    default:
        return 0;
    }
}

json_t *pgb_report_tables(pgb_plan *p)
{
    json_t *tables = json_array();
    for (int i = 0; i < p->ntables; i++) {
        pgb_plan_table *t = &p->tables[i];
        json_t *cols = json_array();
        for (int j = 0; j < t->ncols; j++) {
            pgb_plan_col *c = &t->cols[j];
            const pgb_src_col *sc = &t->src->cols[c->src];
            json_t *jc = json_pack("{s:s, s:s, s:s, s:s?, s:b, s:b}", "name", c->name, "source",
                                   sc->name, "declared", sc->decl, "reason", c->reason, "identity",
                                   c->identity, "generated", c->generated);
            json_object_set_new(jc, "type", json_string(c->type_sql));
            if (c->n_bad)
                json_object_set_new(jc, "bad_values", json_integer(c->n_bad));
            int64_t n;
            if ((n = changed_count(c, CH_BLOBS_AS_TEXT)) > 0)
                json_object_set_new(jc, "blobs_as_text", json_integer((json_int_t)n));
            if ((n = changed_count(c, CH_ROUNDED)) > 0)
                json_object_set_new(jc, "timestamps_rounded", json_integer((json_int_t)n));
            if ((n = changed_count(c, CH_ZERO_DATES)) > 0) {
                json_object_set_new(jc, "zero_dates", json_integer((json_int_t)n));
                json_object_set_new(jc, "zero_dates_as",
                                    json_string(c->zero_dates == PGBOOT_ZERO_DATES_INFINITY
                                                    ? "-infinity"
                                                    : "null"));
            }
            json_array_append_new(cols, jc);
        }
        json_array_append_new(
            tables,
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "name", t->name, "source",
                      t->src->name, "rows_migrated", (json_int_t)(t->rows - t->rejected), "rows",
                      (json_int_t)t->rows, "rejected", (json_int_t)t->rejected, "bytes",
                      (json_int_t)t->bytes, "ms", (json_int_t)t->ms, "columns", cols));
    }
    return tables;
}

char *pgb_report_summary(pgb_plan *p, pgb_report *rep, int64_t ms, int verify_full, int dry_run,
                         uint64_t rejected)
{
    pgb_buf b = {0};
    int64_t rows = 0;
    for (int i = 0; i < p->ntables; i++)
        rows += p->tables[i].rows - p->tables[i].rejected;
    pgb_buf_printf(&b, "%s %d tables, %lld rows from %s in %.1f s%s\n",
                   dry_run ? "would migrate" : "migrated", p->ntables, (long long)rows,
                   p->src->path, (double)ms / 1000.0,
                   dry_run ? "" : (verify_full ? " (every value verified)" : " (counts verified)"));
    int changed = 0;
    for (int i = 0; i < p->ntables; i++)
        for (int j = 0; j < p->tables[i].ncols; j++) {
            /* into the app's own schema (--schema) the type is the target's,
             * not chosen */
            const char *r = p->tables[i].cols[j].reason;
            changed += r != NULL && strncmp(r, "the target's column is ", 23) != 0;
        }
    if (changed)
        pgb_buf_printf(&b, "  %d columns got a type chosen from their values (see the report)\n",
                       changed);
    static const char *const what[] = {
        "BLOB values of valid UTF-8 stored as text",
        "timestamps rounded to microseconds (--round-timestamps)",
        "zero dates ('0000-00-00') loaded as ",
    };
    for (int k = 0; k < CH_KINDS; k++) {
        int64_t total = 0;
        pgb_buf cols = {0};
        const char *as = "-infinity (--zero-dates infinity)";
        for (int i = 0; i < p->ntables; i++)
            for (int j = 0; j < p->tables[i].ncols; j++) {
                const pgb_plan_col *c = &p->tables[i].cols[j];
                int64_t n = changed_count(c, (change_kind)k);
                if (!n)
                    continue;
                total += n;
                if (c->zero_dates == PGBOOT_ZERO_DATES_NULL)
                    as = "NULL (--zero-dates null)";
                pgb_buf_printf(&cols, "%s%s.%s", cols.len ? ", " : "", p->tables[i].name, c->name);
            }
        if (total) {
            pgb_buf_printf(&b, "  %lld ", (long long)total);
            pgb_buf_printf(&b, "%s%s", what[k], k == CH_ZERO_DATES ? as : "");
            pgb_buf_printf(&b, ": %s\n", cols.s ? cols.s : "");
        }
        pgb_buf_free(&cols);
    }
    size_t n = json_array_size(rep->skipped);
    if (n)
        pgb_buf_printf(&b, "  %zu things not carried over:\n", n);
    for (size_t i = 0; i < n && i < 30; i++) {
        json_t *s = json_array_get(rep->skipped, i);
        pgb_buf_printf(&b, "    %s %s: %s\n", json_string_value(json_object_get(s, "kind")),
                       json_string_value(json_object_get(s, "name")),
                       json_string_value(json_object_get(s, "reason")));
    }
    for (size_t i = 0; i < json_array_size(rep->warnings) && i < 30; i++)
        pgb_buf_printf(&b, "  warning: %s\n", json_string_value(json_array_get(rep->warnings, i)));
    if (rejected)
        pgb_buf_printf(&b, "  %llu rows rejected (see rejects/)\n", (unsigned long long)rejected);
    return b.oom ? NULL : b.s;
}

/* ---- strict: the cells that cannot be stored ------------------------------------ */

int pgb_report_bad_cells(pgb_plan *p, json_t *problems, pgb_buf *msg)
{
    int listed = 0;
    int64_t total = 0;
    for (int i = 0; i < p->ntables; i++)
        for (int j = 0; j < p->tables[i].ncols; j++)
            total += p->tables[i].cols[j].n_bad;
    for (int i = 0; i < p->ntables && listed < MAX_BAD_CELLS; i++) {
        pgb_plan_table *t = &p->tables[i];
        int any = 0;
        for (int j = 0; j < t->ncols; j++)
            any |= t->cols[j].n_bad > 0;
        if (!any)
            continue;
        int first;
        sqlite3_stmt *s;
        if (pgb_plan_rows_stmt(p, t, &s, &first) != 0) {
            pgb_error_reset();
            continue;
        }
        while (listed < MAX_BAD_CELLS && sqlite3_step(s) == SQLITE_ROW) {
            int k = first;
            for (int j = 0; j < t->ncols && listed < MAX_BAD_CELLS; j++) {
                pgb_plan_col *c = &t->cols[j];
                if (c->generated)
                    continue;
                sqlite3_value *v = sqlite3_column_value(s, k++);
                const char *why = NULL;
                if (!c->n_bad || pgb_cell_ok(c, v, &why))
                    continue;
                /* The value's bytes (a number as its exact text), as valid
                 * UTF-8. */
                char num[64];
                const char *txt;
                size_t len;
                if (sqlite3_value_type(v) == SQLITE_FLOAT) {
                    len = (size_t)pgb_real_text(sqlite3_value_double(v), num);
                    txt = num;
                } else if (sqlite3_value_type(v) == SQLITE_INTEGER) {
                    len = (size_t)snprintf(num, sizeof num, "%lld",
                                           (long long)sqlite3_value_int64(v));
                    txt = num;
                } else {
                    txt = (const char *)sqlite3_value_blob(v);
                    len = (size_t)sqlite3_value_bytes(v);
                }
                char excerpt[200];
                pgb_excerpt(txt ? txt : "", len, 40, excerpt, sizeof excerpt);
                long long key = first ? (long long)sqlite3_column_int64(s, 0) : -1;
                json_array_append_new(problems,
                                      json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "table",
                                                t->src->name, "rowid", (json_int_t)key, "column",
                                                t->src->cols[c->src].name, "value", excerpt,
                                                "reason", why, "type", c->type_sql));
                if (sqlite3_value_type(v) == SQLITE_NULL) /* NULL, not a text */
                    pgb_buf_printf(msg, "%s%s.%s (rowid %lld): NULL (%s)", listed ? "; " : "",
                                   t->src->name, t->src->cols[c->src].name, key, why);
                else
                    pgb_buf_printf(msg, "%s%s.%s (rowid %lld): '%s' (%s)", listed ? "; " : "",
                                   t->src->name, t->src->cols[c->src].name, key, excerpt, why);
                listed++;
            }
        }
        sqlite3_finalize(s);
    }
    return (int)total;
}

int pgb_report_write(const char *path, const char *json)
{
    char *dir = pgb_strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = '\0';
        if (pgb_mkdir_p(dir, 0700) != 0) {
            free(dir);
            return PGBOOT_ERROR;
        }
    }
    free(dir);
    FILE *f = fopen(path, "w");
    if (!f || fputs(json, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0) {
        if (f)
            fclose(f);
        return pgb_fail(PGBOOT_ERROR, "cannot write the report %s: %s", path, strerror(errno));
    }
    return 0;
}
