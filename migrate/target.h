/* Into the app's own schema (--schema, --data-only), what the target's
 * catalog decides (migrate/target.c): the load order from its foreign keys
 * (parents first) and how a cycle between tables loads; what becomes of its
 * tables that hold rows already; and its sequences, set past the loaded
 * values. Internal. */
#ifndef PGBOOT_MIGRATE_TARGET_H
#define PGBOOT_MIGRATE_TARGET_H

#include <stdint.h>

#include "../platform/platform.h"
#include "copy.h"
#include "plan.h"
#include "report.h"

typedef struct pg_conn PGconn;

typedef enum {
    PGB_TT_LOAD = 0, /* rows go in */
    PGB_TT_SKIP,     /* the target's rows are kept, nothing is loaded */
    PGB_TT_REPLACE,  /* DELETE, then rows go in */
} pgb_tt_action;

typedef struct pgb_keyset pgb_keyset;

/* One foreign key of the target whose table or referenced table is in the
 * target schema. */
typedef struct {
    unsigned int oid;
    char *qname;                  /* schema.name, quoted, for SET CONSTRAINTS */
    char *name;                   /* the constraint's name */
    char *child_rel, *parent_rel; /* the tables as regclass text (quoted as needed) */
    int child, parent;            /* plan table indexes; -1: not a table of the migration */
    char **ccols, **pcols;        /* the columns, here and there */
    int ncols;
    int deferrable, match_full;
    int owned;            /* the role owns (or is a member of the owner of) its table */
    int defer;            /* deferred while loading (a cycle) */
    int made_deferrable;  /* and made DEFERRABLE for that, NOT DEFERRABLE again after */
    int bypass;           /* its triggers are off while loading (a cycle); validated after */
    int *ckey, *pkey;     /* the columns' positions among the copied ones; -1: not copied */
    char **ptypes;        /* the referenced columns' types (format_type) */
    pgb_keyset *rejected; /* under reject: the keys of the parent rows set aside */
    pgb_keyset *missing;  /* under reject: keys of rows of the child that no parent row has */
} pgb_tfk;

typedef struct {
    pgb_plan *p;
    pgb_tfk *fks;
    int nfks;
    pgb_tt_action *action; /* per plan table */
    int64_t *held;         /* per plan table: the rows the target's table held before */
    char *skipped;         /* per plan table: 1 for PGB_TT_SKIP */
    int *order;            /* plan table indexes, parents before children */
    int bypass;            /* some foreign key's triggers are off while loading */
    char *why;             /* the reason refuse_row gave last */
} pgb_target;

/* The tables o's skip_tables and replace_tables name (a target or a SQLite
 * name; another is PGBOOT_EINVALID). First. */
PGB_MUST_USE int pgb_target_names(pgb_target *tg, pgb_plan *p, const pgboot_migrate_options *o);
/* Then, once the plan has the target's types: read the target's foreign
 * keys and the rows its tables hold; decide every other table's action
 * (o's existing_rows), the load order, and for a cycle: its DEFERRABLE keys deferred; else (a
 * superuser) the other keys' triggers off; else (the owner of their tables) those keys made
 * DEFERRABLE for the load and deferred; else an error naming the cycle. Nothing is written. A
 * skipped table's rows count becomes 0 and its values are not checked (nothing of it is loaded),
 * with a word in rep. */
PGB_MUST_USE int pgb_target_read(pgb_target *tg, PGconn *c, const pgboot_migrate_options *o,
                                 pgb_report *rep);
/* In the transaction, before the rows: ALTER CONSTRAINT ... DEFERRABLE and
 * SET CONSTRAINTS ... DEFERRED, the
 * bypassed foreign keys' triggers disabled, the replaced tables emptied
 * (children first). Each statement goes to ddl. */
PGB_MUST_USE int pgb_target_before_load(pgb_target *tg, PGconn *c, pgb_buf *ddl);
/* The hooks of L that reject the children of rejected parent rows, and
 * rows whose parent row is not in the target (see
 * pgb_target_find_missing). */
void pgb_target_hooks(pgb_target *tg, pgb_load *L);
/* Under reject, before the rows of plan table ti go in: one scan of them
 * finds the keys they reference that the target's parent tables (loaded
 * before, or kept) do not hold, asked in batches; for a key of ti on
 * itself, another finds the rows whose chain of parents in ti leads to a
 * rejected row or to none; refuse_row then rejects those rows. */
PGB_MUST_USE int pgb_target_find_missing(pgb_target *tg, PGconn *c, int ti);
/* After the rows, when a cycle was broken: every foreign key of the loaded
 * tables validated (rows that reference nothing are an error naming them),
 * the deferred keys checked now and NOT DEFERRABLE again where they were,
 * the disabled triggers enabled again; then
 * every sequence owned by or used in the default of a loaded column set
 * past the largest value (listed in rep's "sequences"). */
PGB_MUST_USE int pgb_target_after_load(pgb_target *tg, PGconn *c, pgb_buf *ddl, pgb_report *rep);
void pgb_target_free(pgb_target *tg);

#endif
