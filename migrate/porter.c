/* SQLite's porter tokenizer in PostgreSQL. SQLite's tokenize=porter (FTS3,
 * FTS4, FTS5) keeps every word (it has no stop words) and stems with the
 * original Porter algorithm (generously -> gener). PostgreSQL's english
 * configuration differs on both counts: it drops stop words ("the", "a")
 * and stems with Porter2 (generously -> generous). PostgreSQL ships the
 * original algorithm as the snowball language "porter"; a snowball
 * dictionary without StopWords keeps every word. The configuration
 * pgboot_porter is a copy of simple with these token types changed, after
 * SQLite's own tokenizers:
 *
 * - asciiword, hword_asciipart, word, hword_part: stemmed by the porter
 *   dictionary. SQLite stems every word of letters; FTS5's porter stems
 *   words with non-ASCII letters too (after unicode61 folded them), FTS3/4's
 *   leaves those as they are (README: known differences).
 * - asciihword, hword, numhword: no mapping (not indexed). SQLite splits
 *   "well-known" at the hyphen and indexes "well" and "known" only; the
 *   parts are indexed here as well (hword_asciipart, hword_part,
 *   hword_numpart), so a search for "well-known" finds "well known" as
 *   SQLite's does, which the whole compound would prevent.
 * - the rest (numbers, numword, email, url, host, file, version, ...): as
 *   simple, lower-cased as they are. SQLite stems no word with digits
 *   (FTS3/4), and has no such token types: it splits an e-mail address or a
 *   decimal at the punctuation (README: known differences). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../platform/dynload.h"
#include "porter.h"

/* The comments that mark the objects pgboot's (they go into SQL literals:
 * no quote in them). */
#define MARK_CONFIG                                                                                \
    "pgboot: searches as the porter tokenizer of SQLite (tokenize=porter) does; made by "          \
    "pgboot migrate, which reuses it"
#define MARK_DICT "pgboot: the original Porter stemmer, without stop words, for " PGB_PORTER

#define STAGING "pgboot_staging"

/* schema. (quoted) or nothing */
static void qualify(pgb_buf *b, const char *schema)
{
    if (schema) {
        pgb_buf_ident(b, schema);
        pgb_buf_puts(b, ".");
    }
}

/* The statements, each ended by ";\n": the dictionary (if make_dict) in
 * dict_schema, the configuration in schema (NULL: unqualified). */
static void porter_sql(pgb_buf *b, const char *schema, const char *dict_schema, int make_dict)
{
    if (make_dict) {
        pgb_buf_puts(b, "CREATE TEXT SEARCH DICTIONARY ");
        qualify(b, dict_schema);
        pgb_buf_puts(b, PGB_PORTER " (TEMPLATE = pg_catalog.snowball, LANGUAGE = porter);\n"
                                   "COMMENT ON TEXT SEARCH DICTIONARY ");
        qualify(b, dict_schema);
        pgb_buf_puts(b, PGB_PORTER " IS '" MARK_DICT "';\n");
    }
    pgb_buf_puts(b, "CREATE TEXT SEARCH CONFIGURATION ");
    qualify(b, schema);
    pgb_buf_puts(b, PGB_PORTER " (COPY = pg_catalog.simple);\nALTER TEXT SEARCH CONFIGURATION ");
    qualify(b, schema);
    pgb_buf_puts(b, PGB_PORTER " ALTER MAPPING FOR asciiword, hword_asciipart, word, hword_part "
                               "WITH ");
    qualify(b, dict_schema);
    pgb_buf_puts(b, PGB_PORTER ";\nALTER TEXT SEARCH CONFIGURATION ");
    qualify(b, schema);
    pgb_buf_puts(b, PGB_PORTER " DROP MAPPING FOR asciihword, hword, numhword;\n"
                               "COMMENT ON TEXT SEARCH CONFIGURATION ");
    qualify(b, schema);
    pgb_buf_puts(b, PGB_PORTER " IS '" MARK_CONFIG "';\n");
}

void pgb_porter_ddl(pgb_buf *ddl)
{
    porter_sql(ddl, NULL, NULL, 1);
}

/* What the current schema holds under the name: 0 none, 1 pgboot's, -1
 * another's; and the schema's name (malloc'd). */
typedef struct {
    int config, dict;
    int can_create; /* the role has CREATE on the schema */
    char *schema;
} found;

static int find(PGconn *c, found *f)
{
    const char *params[2] = {MARK_CONFIG, MARK_DICT};
    PGresult *r = PQexecParams(
        c,
        "SELECT coalesce((SELECT CASE WHEN obj_description(oid, 'pg_ts_config') = $1 THEN 1 "
        "ELSE -1 END FROM pg_ts_config WHERE cfgname = '" PGB_PORTER "' AND cfgnamespace = n.oid),"
        " 0), coalesce((SELECT CASE WHEN obj_description(oid, 'pg_ts_dict') = $2 THEN 1 ELSE -1 "
        "END FROM pg_ts_dict WHERE dictname = '" PGB_PORTER "' AND dictnamespace = n.oid), 0), "
        "n.nspname, quote_ident(n.nspname), has_schema_privilege(n.oid, 'CREATE'), "
        "quote_ident(current_user) FROM pg_namespace n WHERE n.nspname = current_schema()",
        2, NULL, params, NULL, NULL, 0);
    int rc = 0;
    f->schema = NULL;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pgb_fail(PGBOOT_ERROR,
                      "cannot look for the text search configuration " PGB_PORTER ": %s",
                      PQresultErrorMessage(r));
    else if (PQntuples(r) != 1)
        rc = pgb_fail(PGBOOT_ERROR, "cannot find the target schema (the search_path names none "
                                    "that exists); nothing was written");
    if (rc == 0) {
        f->config = atoi(PQgetvalue(r, 0, 0));
        f->dict = atoi(PQgetvalue(r, 0, 1));
        f->can_create = !strcmp(PQgetvalue(r, 0, 4), "t");
        if (!(f->schema = pgb_strdup(PQgetvalue(r, 0, 2))))
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    if (rc == 0 && (f->config < 0 || (f->config == 0 && f->dict < 0))) {
        /* Another name would do, but the apps' queries name this one
         * (README): refused, so that it never depends on the database. */
        const char *kind = f->config < 0 ? "configuration" : "dictionary";
        rc = pgb_fail(PGBOOT_EINVALID,
                      "the target schema %s holds a text search %s " PGB_PORTER
                      " that pgboot did not make; the FTS tables with tokenize=porter are "
                      "searched with pgboot's own of that name; nothing was written",
                      f->schema, kind);
        pgb_hint("rename it (ALTER TEXT SEARCH %s %s." PGB_PORTER " RENAME TO another_name), "
                 "then migrate again; or migrate into another schema",
                 f->config < 0 ? "CONFIGURATION" : "DICTIONARY", PQgetvalue(r, 0, 3));
        free(f->schema);
        f->schema = NULL;
    } else if (rc == 0 && f->config == 0 && !f->can_create) {
        /* An app's role often may only write the tables: the owner makes
         * it once, later migrations reuse it. */
        rc = pgb_fail(PGBOOT_EINVALID,
                      "role %s may not create the text search configuration " PGB_PORTER
                      " in the target schema %s (it lacks the CREATE privilege there); the FTS "
                      "tables with tokenize=porter are searched with it; nothing was written",
                      PQgetvalue(r, 0, 5), f->schema);
        pgb_hint("as the schema's owner, run GRANT CREATE ON SCHEMA %s TO %s, then migrate again "
                 "(a later migration reuses pgboot's " PGB_PORTER ": the grant can go then)",
                 PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 5));
        free(f->schema);
        f->schema = NULL;
    }
    PQclear(r);
    return rc;
}

int pgb_porter_ensure(PGconn *c, pgb_buf *ddl)
{
    found f;
    int rc = find(c, &f);
    if (rc || f.config == 1) {
        free(f.schema);
        return rc;
    }
    pgb_buf sql = {0};
    porter_sql(&sql, NULL, f.dict == 1 ? f.schema : NULL, f.dict == 0);
    if (sql.oom)
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    else
        rc = pgb_pq_exec(c, sql.s, "cannot create the text search configuration " PGB_PORTER);
    if (rc == 0 && ddl)
        pgb_buf_puts(ddl, sql.s);
    pgb_buf_free(&sql);
    free(f.schema);
    return rc;
}

int pgb_porter_stage(PGconn *c, PGconn **w, int nw, pgb_buf *ddl, int *staged)
{
    *staged = 0;
    found f;
    int rc = find(c, &f);
    if (rc)
        return rc;
    pgb_buf sql = {0};
    if (f.config == 1) {
        /* pgboot's, in the target schema: the workers' CREATE TABLE finds it
         * there (the tables still go into the staging schema, the first) */
        pgb_buf_puts(&sql, "SET search_path = " STAGING ", ");
        pgb_buf_ident(&sql, f.schema);
        for (int i = 0; i < nw && rc == 0 && !sql.oom; i++)
            rc = pgb_pq_exec(w[i], sql.s, "cannot set the search_path of a worker");
    } else {
        porter_sql(&sql, STAGING, f.dict == 1 ? f.schema : STAGING, f.dict == 0);
        if (!sql.oom)
            rc = pgb_pq_exec(c, sql.s, "cannot create the text search configuration " PGB_PORTER);
        if (rc == 0)
            *staged = PGB_PORTER_STAGED_CONFIG | (f.dict == 0 ? PGB_PORTER_STAGED_DICT : 0);
        if (rc == 0 && ddl) /* as the plain route shows them */
            porter_sql(ddl, NULL, f.dict == 1 ? f.schema : NULL, f.dict == 0);
    }
    if (rc == 0 && sql.oom)
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    pgb_buf_free(&sql);
    free(f.schema);
    return rc;
}

int pgb_porter_unstage(PGconn *c, int staged, const char *schema)
{
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        const char *kind = k == 0 ? "DICTIONARY" : "CONFIGURATION";
        if (!(staged & (k == 0 ? PGB_PORTER_STAGED_DICT : PGB_PORTER_STAGED_CONFIG)))
            continue;
        pgb_buf q = {0};
        pgb_buf_printf(&q, "ALTER TEXT SEARCH %s " STAGING "." PGB_PORTER " SET SCHEMA ", kind);
        pgb_buf_ident(&q, schema);
        rc = q.oom ? pgb_fail(PGBOOT_ENOMEM, "out of memory")
                   : pgb_pq_exec(c, q.s,
                                 "cannot move the text search configuration " PGB_PORTER
                                 " out of the staging schema");
        pgb_buf_free(&q);
    }
    return rc;
}
