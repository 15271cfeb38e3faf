/* The memory budget (--memory, options.memory): the settings derived from
 * it, and how they meet the settings given explicitly (those win).
 *
 * For a budget M (README, "A memory budget"):
 *   shared_buffers           M / 4
 *   effective_cache_size     M * 3 / 4 (a planner hint: no memory is taken)
 *   max_connections          M / 16MB, from 20 to 200
 *   work_mem                 (M / 4) / max_connections, at least 1MB
 *   maintenance_work_mem     M / 16, from 16MB to 2GB
 *   autovacuum_max_workers   1 below 1GB, 2 below 4GB, else 3
 *   autovacuum_work_mem      M / 32, from 8MB to 1GB
 * so that shared memory, one sort or hash per connection at once, one
 * maintenance operation and every autovacuum worker together take about
 * two thirds of M, leaving the rest for the processes themselves. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "launcher.h"

#define KB_PER_MB 1024ULL
#define KB_PER_GB (1024ULL * 1024ULL)
#define BUDGET_MIN_KB (128 * KB_PER_MB)
#define BUDGET_MAX_KB (1024 * KB_PER_GB)

int pgb_memory_parse(const char *text, const char *what, uint64_t *kb)
{
    *kb = 0;
    const char *s = text ? text : "";
    uint64_t v = 0;
    size_t digits = 0;
    for (; s[digits] >= '0' && s[digits] <= '9' && digits < 12; digits++)
        v = v * 10 + (uint64_t)(s[digits] - '0');
    const char *unit = s + digits;
    uint64_t mult = 0;
    if (!strcmp(unit, "kB"))
        mult = 1;
    else if (!strcmp(unit, "MB"))
        mult = KB_PER_MB;
    else if (!strcmp(unit, "GB"))
        mult = KB_PER_GB;
    if (digits == 0 || (s[digits] >= '0' && s[digits] <= '9') || !mult) {
        int rc = pgb_fail(PGBOOT_EINVALID, "%s '%s' is not a size: digits and a unit, kB, MB or GB",
                          what, s);
        pgb_hint("for example %s 512MB or %s 2GB (the units are case-sensitive, as in "
                 "PostgreSQL)",
                 what, what);
        return rc;
    }
    v *= mult;
    if (v < BUDGET_MIN_KB || v > BUDGET_MAX_KB) {
        int rc = pgb_fail(PGBOOT_EINVALID,
                          "%s %s is out of range: a budget is from 128MB to 1024GB", what, s);
        pgb_hint("below 128MB, leave out %s: the default profile (shared_buffers 16MB, 20 "
                 "connections) is the small one",
                 what);
        return rc;
    }
    *kb = v;
    return 0;
}

int pgboot_memory_budget_parse(const char *text, uint64_t *bytes)
{
    pgb_error_reset();
    uint64_t kb = 0;
    int rc = pgb_memory_parse(text, "--memory", &kb);
    if (bytes)
        *bytes = kb * 1024;
    return rc;
}

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* In MB when it is whole MB, else kB (PostgreSQL's units). */
static void put_size(char *out, const char *name, uint64_t kb)
{
    if (kb % KB_PER_MB == 0)
        snprintf(out, PGB_MEMORY_ITEM, "%s=%lluMB", name, (unsigned long long)(kb / KB_PER_MB));
    else
        snprintf(out, PGB_MEMORY_ITEM, "%s=%llukB", name, (unsigned long long)kb);
}

void pgb_memory_derive(uint64_t kb, char out[PGB_MEMORY_SETTINGS][PGB_MEMORY_ITEM])
{
    uint64_t conns = clamp(kb / (16 * KB_PER_MB), 20, 200);
    uint64_t workers = kb < KB_PER_GB ? 1 : kb < 4 * KB_PER_GB ? 2 : 3;
    put_size(out[0], "shared_buffers", kb / 4);
    put_size(out[1], "effective_cache_size", kb / 4 * 3);
    snprintf(out[2], PGB_MEMORY_ITEM, "max_connections=%llu", (unsigned long long)conns);
    put_size(out[3], "work_mem", clamp(kb / 4 / conns, KB_PER_MB, KB_PER_GB));
    put_size(out[4], "maintenance_work_mem", clamp(kb / 16, 16 * KB_PER_MB, 2 * KB_PER_GB));
    snprintf(out[5], PGB_MEMORY_ITEM, "autovacuum_max_workers=%llu", (unsigned long long)workers);
    put_size(out[6], "autovacuum_work_mem", clamp(kb / 32, 8 * KB_PER_MB, KB_PER_GB));
}

/* Does `settings` give the setting of item (its "name=")? */
static int given(const char *const *settings, const char *item)
{
    size_t n = strcspn(item, "=");
    for (size_t i = 0; settings && settings[i]; i++)
        if (strcspn(settings[i], "=") == n && !strncasecmp(settings[i], item, n))
            return 1;
    return 0;
}

int pgb_memory_settings(const char *budget, const char *const *settings, const char *const *unset,
                        const char *conf, size_t conf_len, char ***out, size_t *nderived)
{
    *out = NULL;
    *nderived = 0;
    if (!budget)
        return 0;
    uint64_t kb;
    int rc = pgb_memory_parse(budget, "--memory", &kb);
    if (rc)
        return rc;
    char derived[PGB_MEMORY_SETTINGS][PGB_MEMORY_ITEM];
    pgb_memory_derive(kb, derived);
    size_t n = 0;
    while (settings && settings[n])
        n++;
    /* One block: the pointers, then the derived items' text. */
    char **list = malloc((PGB_MEMORY_SETTINGS + n + 1) * sizeof *list +
                         PGB_MEMORY_SETTINGS * PGB_MEMORY_ITEM);
    if (!list)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    char *text = (char *)(list + PGB_MEMORY_SETTINGS + n + 1);
    size_t k = 0;
    for (size_t i = 0; i < PGB_MEMORY_SETTINGS; i++) {
        /* An explicit --set wins, now or from before (unless this start
         * unsets it: the budget then takes the setting over again). */
        if (given(settings, derived[i]) ||
            (!given(unset, derived[i]) &&
             pgb_conf_explicit(conf, conf_len, derived[i], strcspn(derived[i], "="))))
            continue;
        list[k] = text + i * PGB_MEMORY_ITEM;
        memcpy(list[k++], derived[i], PGB_MEMORY_ITEM);
    }
    *nderived = k;
    for (size_t i = 0; i < n; i++)
        list[k++] = (char *)settings[i];
    list[k] = NULL;
    *out = list;
    return 0;
}
