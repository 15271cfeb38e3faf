/* The gate of the migration's background work: see gate.h. */
#include "gate.h"

void pgb_gate_init(pgb_gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->state = PGB_GATE_OPEN;
}

void pgb_gate_destroy(pgb_gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

void pgb_gate_set(pgb_gate *g, pgb_gate_state s)
{
    pthread_mutex_lock(&g->mu);
    if (g->state != PGB_GATE_CANCELLED)
        g->state = s;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

int pgb_gate_pass(pgb_gate *g)
{
    if (!g)
        return 0;
    pthread_mutex_lock(&g->mu);
    while (g->state == PGB_GATE_CLOSED)
        pthread_cond_wait(&g->cv, &g->mu);
    int rc = g->state == PGB_GATE_CANCELLED ? -1 : 0;
    pthread_mutex_unlock(&g->mu);
    return rc;
}
