/* The report of a migration (JSON), its summary, and the result handed to
 * the caller (migrate/report.c). Internal. */
#ifndef PGBOOT_MIGRATE_REPORT_H
#define PGBOOT_MIGRATE_REPORT_H

#include <stdint.h>

#include <jansson.h>

#include "../platform/platform.h"
#include "plan.h"

struct pgboot_migration {
    char *report;
    char *summary;
    char *ddl;
    int already_done;
    uint64_t rejected;
};

struct pgb_report {
    json_t *root;
    json_t *skipped;
    json_t *warnings;
};

typedef struct pgb_report pgb_report;

/* Something not carried over, with the reason; a warning. */
void pgb_report_skip(pgb_report *r, const char *kind, const char *name, const char *reason);
void pgb_report_warn(pgb_report *r, const char *fmt, ...) PGB_PRINTF(2, 3);
/* The plan's tables and columns, with their types and counts. */
json_t *pgb_report_tables(pgb_plan *p);
/* The summary printed after a migration (malloc'd; NULL when out of memory). */
char *pgb_report_summary(pgb_plan *p, pgb_report *rep, int64_t ms, int verify_full, int dry_run,
                         uint64_t rejected);
/* The cells that cannot be stored, at most 20: into problems (JSON) and msg;
 * returns how many there are in all. */
int pgb_report_bad_cells(pgb_plan *p, json_t *problems, pgb_buf *msg);
/* Write the report to path (its folder made if need be). */
PGB_MUST_USE int pgb_report_write(const char *path, const char *json);

#endif
