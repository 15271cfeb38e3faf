/* A gate for the migration's background work (migrate/gate.c). Internal.
 *
 * The source's SHA-256 and SQLite's quick_check read the whole file on
 * threads of their own; nothing needs their results before the end. When
 * the target server runs on this machine, every core is busy while the
 * staged load and its index builds run, and a thread of ours there takes a
 * core from the server (nice does not help: the server's processes are in
 * another session, another scheduling group). So the migration closes the
 * gate for those phases and opens it where the server leaves a core free:
 * while the source is planned, and while the foreign keys are validated
 * one at a time at the end. The background threads pass the gate between
 * chunks of their work. */
#ifndef PGBOOT_MIGRATE_GATE_H
#define PGBOOT_MIGRATE_GATE_H

#include <pthread.h>
#include <sys/socket.h>

typedef enum {
    PGB_GATE_OPEN = 0,  /* the work runs */
    PGB_GATE_CLOSED,    /* it waits at its next pgb_gate_pass */
    PGB_GATE_CANCELLED, /* it stops: its result will not be used */
} pgb_gate_state;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pgb_gate_state state;
} pgb_gate;

/* Open, for one migration; pgb_gate_destroy after every thread that passes
 * it was joined. */
void pgb_gate_init(pgb_gate *g);
void pgb_gate_destroy(pgb_gate *g);
/* From the migration's thread. Cancelled stays cancelled. */
void pgb_gate_set(pgb_gate *g, pgb_gate_state s);
/* From a background thread, between chunks of its work: returns at once
 * when open (0), waits while closed, returns -1 once cancelled. g may be
 * NULL: always open. */
int pgb_gate_pass(pgb_gate *g);

/* Is the server at the other end of the connected socket sock on this
 * machine, its processes on our cores? 1 for a Unix socket, a loopback
 * address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104), or the address of the
 * socket's own end (a connection to one of this machine's addresses); 0
 * otherwise. When sock tells nothing (-1, not connected), host decides:
 * empty or NULL, a socket directory, "localhost" (in any case), a loopback
 * address. */
int pgb_server_on_this_machine(int sock, const char *host);
/* The same for addresses: peer, the server's; self, our end's (may be
 * NULL). */
int pgb_addr_on_this_machine(const struct sockaddr *peer, const struct sockaddr *self);

#endif
