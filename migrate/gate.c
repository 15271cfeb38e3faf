/* The gate of the migration's background work: see gate.h. */
#include "gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

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

static int loopback(const struct sockaddr *a)
{
    if (a->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    if (a->sa_family != AF_INET6)
        return 0;
    const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(x) || (IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127);
}

int pgb_addr_on_this_machine(const struct sockaddr *peer, const struct sockaddr *self)
{
    if (peer->sa_family == AF_UNIX || loopback(peer))
        return 1;
    if (!self || self->sa_family != peer->sa_family)
        return 0;
    if (peer->sa_family == AF_INET)
        return ((const struct sockaddr_in *)peer)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)self)->sin_addr.s_addr;
    if (peer->sa_family == AF_INET6)
        return !memcmp(&((const struct sockaddr_in6 *)peer)->sin6_addr,
                       &((const struct sockaddr_in6 *)self)->sin6_addr, sizeof(struct in6_addr));
    return 0;
}

int pgb_server_on_this_machine(int sock, const char *host)
{
    struct sockaddr_storage peer, self;
    socklen_t np = sizeof peer, ns = sizeof self;
    if (sock >= 0 && getpeername(sock, (struct sockaddr *)&peer, &np) == 0)
        return pgb_addr_on_this_machine((struct sockaddr *)&peer,
                                        getsockname(sock, (struct sockaddr *)&self, &ns) == 0
                                            ? (struct sockaddr *)&self
                                            : NULL);
    return !host || !*host || *host == '/' || *host == '@' || !strcasecmp(host, "localhost") ||
           !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}
