/* A gate for the migration's background work (migrate/gate.c). Internal.
 *
 * The source's SHA-256 and SQLite's quick_check read the whole file on
 * threads of their own; nothing needs their results before the end. While
 * the target server runs on this machine and a staged load keeps every core
 * busy, a thread of ours takes a core from the server (nice does not help:
 * the server's processes are in another session, another scheduling group).
 * So the threads run on spare CPU only: they pass the gate between chunks of
 * their work, and while the machine has no spare core they wait, probing
 * now and then whether it has one (the plan, and the foreign-key
 * validations at the end, which PostgreSQL runs one at a time, leave one).
 * Whoever needs their results opens the gate; a migration that ends without
 * needing them cancels it. */
#ifndef PGBOOT_MIGRATE_GATE_H
#define PGBOOT_MIGRATE_GATE_H

#include <pthread.h>
#include <stdint.h>

typedef enum {
    PGB_GATE_SPARE = 0, /* the work runs while the machine has a spare core */
    PGB_GATE_OPEN,      /* it runs */
    PGB_GATE_CANCELLED, /* it stops: its result will not be used */
} pgb_gate_state;

/* Probing: the machine's idle CPU over PGB_GATE_PROBE_MS with the work
 * held; at PGB_GATE_SPARE_CORES or more the work runs for PGB_GATE_RUN_MS,
 * then the gate probes again. */
#define PGB_GATE_PROBE_MS 100
#define PGB_GATE_RUN_MS 400
#define PGB_GATE_SPARE_CORES 0.4

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    pgb_gate_state state;
    /* the machine's idle core-seconds (pgb_cpu_idle_seconds; a test's
     * own); below 0: unknown, the work runs */
    double (*idle_seconds)(void);
    int probing;          /* a thread is probing; the others wait */
    int64_t run_until_ns; /* spare found: the work passes until then */
} pgb_gate;

/* In SPARE, for one migration; pgb_gate_destroy after every thread that
 * passes it was joined. */
void pgb_gate_init(pgb_gate *g);
void pgb_gate_destroy(pgb_gate *g);
/* From the migration's thread. Cancelled stays cancelled. A waiting or
 * probing thread sees the change at once. */
void pgb_gate_set(pgb_gate *g, pgb_gate_state s);
/* From a background thread, between chunks of its work (each well under a
 * PGB_GATE_PROBE_MS): 0 to go on, after waiting while there is no spare
 * core; -1 once cancelled. g may be NULL: always open. */
int pgb_gate_pass(pgb_gate *g);

#endif
