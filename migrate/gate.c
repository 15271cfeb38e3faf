/* The gate of the migration's background work: see gate.h. */
#include <time.h>

#include "../platform/platform.h"
#include "gate.h"

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Wait on g->cv until deadline (CLOCK_MONOTONIC, ns) or a signal. */
static void wait_until(pgb_gate *g, int64_t deadline)
{
    struct timespec ts = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
    pthread_cond_timedwait(&g->cv, &g->mu, &ts);
}

void pgb_gate_init(pgb_gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &a);
    pthread_condattr_destroy(&a);
    g->state = PGB_GATE_SPARE;
    g->idle_seconds = pgb_cpu_idle_seconds;
    g->probing = 0;
    g->run_until_ns = 0;
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

/* SPARE, g->mu held, no probe running: hold the work for a probe's time and
 * measure the machine's idle CPU meanwhile; a spare core opens the gate for
 * a while. */
static void probe(pgb_gate *g)
{
    g->probing = 1;
    double idle0 = g->idle_seconds();
    int64_t t0 = now_ns(), end = t0 + (int64_t)PGB_GATE_PROBE_MS * 1000000;
    while (g->state == PGB_GATE_SPARE && now_ns() < end)
        wait_until(g, end);
    if (g->state == PGB_GATE_SPARE) {
        double idle1 = g->idle_seconds();
        int64_t t1 = now_ns();
        double spare = idle0 < 0 || idle1 < 0 ? PGB_GATE_SPARE_CORES
                                              : (idle1 - idle0) / ((double)(t1 - t0) / 1e9);
        if (spare >= PGB_GATE_SPARE_CORES)
            g->run_until_ns = t1 + (int64_t)PGB_GATE_RUN_MS * 1000000;
    }
    g->probing = 0;
    pthread_cond_broadcast(&g->cv);
}

int pgb_gate_pass(pgb_gate *g)
{
    if (!g)
        return 0;
    pthread_mutex_lock(&g->mu);
    int rc;
    for (;;) {
        if (g->state == PGB_GATE_CANCELLED) {
            rc = -1;
            break;
        }
        if (g->state == PGB_GATE_OPEN || now_ns() < g->run_until_ns) {
            rc = 0;
            break;
        }
        if (g->probing) /* another thread's probe decides for both */
            wait_until(g, now_ns() + (int64_t)PGB_GATE_PROBE_MS * 1000000);
        else
            probe(g);
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}
