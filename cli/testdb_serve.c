/* pgboot testdb serve: a broker that hands out test databases from one open
 * template (its connection and its pool, refilled by the handle's background
 * thread) to several clients at once, speaking JSON lines:
 *
 *   {"op":"clone"}                          -> {"url":"postgresql://..."}
 *   {"op":"drop","url":U}                   -> {"ok":true}
 *   {"op":"keep","url":U,"label":L}         -> {"url":"postgresql://..."}
 *   an "id" member of a request is echoed in its reply; any failure is
 *   {"error":"...","hint":"..."} on that request's line.
 *
 * Clients: stdin/stdout (when stdin is a pipe, socket or terminal) and every
 * connection to a Unix socket in a private directory (its path is in the
 * first line on stdout, {"event":"ready","socket":...}). One thread runs the
 * loop (poll) and clones, so the handle is used from one thread only, as the
 * API asks; drops and keeps (each a connection of its own, any thread) go to
 * a worker thread, so they never hold up another client's clone. A client's
 * next request waits for the reply to its previous one: replies come in the
 * order of its requests.
 * It stops when stdin closes, on SIGTERM/SIGINT/SIGHUP and when its parent
 * dies; then it removes the socket and drops the databases it handed out that
 * were neither dropped nor kept (the pool stays for the next caller). A
 * broker killed outright is cleaned up after by the next one to start (see
 * reclaim_dead_brokers). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include "cli.h"

#define MAX_LINE (64u << 10)     /* a longer request is refused */
#define MAX_BUFFERED (16u << 20) /* requests a client sent ahead of its replies */
#define MAX_CLIENTS 1024

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static int sbuf_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static void sbuf_drop(sbuf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    if (b->p)
        b->p[b->len] = '\0';
}

typedef struct {
    unsigned long serial; /* names it to the worker's replies */
    int pending;          /* a drop or keep of its is with the worker */
    int in_fd, out_fd;    /* the same socket, or stdin and stdout */
    int stdio;
    sbuf in, out;
    int eof;        /* the client sent its last byte */
    int broken;     /* writing to it failed: it is gone */
    int discarding; /* the rest of an overlong line */
} client;

/* A drop or keep for the worker, and then its outcome. */
typedef struct job {
    struct job *next;
    unsigned long client;
    int keep;
    char *url, *label;
    json_t *id;
    /* the outcome */
    json_t *reply;
    int forget; /* the broker no longer owns url: dropped, gone or kept */
} job;

typedef struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *todo, *todo_tail, *done, *done_tail;
    int stop;
    int wake[2]; /* the worker writes a byte when a job is done */
} worker;

typedef struct {
    pgboot_testdb *t;
    worker w;
    unsigned long next_serial;
    client **clients;
    size_t nclients;
    char **handed; /* URLs handed out, neither dropped nor kept yet */
    size_t nhanded;
    int journal; /* <socket dir>/handed: every URL handed out, one a line; -1 */
    char *ahead; /* a clone made ahead of the next request (also in handed), or NULL */
    const char *stop_reason;
    client *io; /* stdin/stdout, or NULL */
} broker;

/* ---- signals and the parent ------------------------------------------- */

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    ssize_t w = write(sig_pipe[1], &c, 1);
    (void)w;
    errno = saved;
}

int cli_testdb_serve_prepare(void)
{
    pid_t parent = getppid();
#if defined(__linux__)
    /* The parent dies (even by SIGKILL): we get SIGTERM and clean up. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    if (getppid() != parent)
        return CLI_EXIT_FAILURE; /* the parent is already gone */
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        fprintf(stderr, "pgboot: error: cannot set up signal handling: %s\n", strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    return 0;
}

int cli_testdb_serve_failed(int rc)
{
    /* The error is on stderr already; a parent reading stdout sees it too. */
    cli_print_json(json_pack("{s:s, s:s?, s:s?}", "event", "error", "error", pgboot_error_last(),
                             "hint", pgboot_error_hint()));
    return rc;
}

/* stdin counts as a client only when it is a pipe, socket or terminal (as
 * for pgboot serve): with /dev/null the broker serves its socket until a
 * signal. */
static int stdin_is_client(void)
{
    struct stat st;
    if (fstat(0, &st) != 0)
        return 0;
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(0);
}

/* ---- databases handed out -------------------------------------------- */

static void handed_add(broker *b, const char *url)
{
    if (b->journal >= 0) { /* for the next broker, should this one be killed */
        struct iovec v[2] = {{(void *)url, strlen(url)}, {"\n", 1}};
        if (writev(b->journal, v, 2) != (ssize_t)(v[0].iov_len + 1)) {
            close(b->journal);
            b->journal = -1;
        }
    }
    char **h = realloc(b->handed, (b->nhanded + 1) * sizeof *h);
    char *u = strdup(url);
    if (!h || !u) { /* then it is not dropped at the end; nothing else is lost */
        free(u);
        if (h)
            b->handed = h;
        return;
    }
    b->handed = h;
    b->handed[b->nhanded++] = u;
}

static void handed_forget(broker *b, const char *url)
{
    for (size_t i = 0; i < b->nhanded; i++)
        if (!strcmp(b->handed[i], url)) {
            free(b->handed[i]);
            b->handed[i] = b->handed[--b->nhanded];
            return;
        }
}

/* ---- output --------------------------------------------------------- */

/* Write what is buffered: 0, or -1 when the client is gone. */
static int client_flush(client *c)
{
    while (c->out.len > 0 && !c->broken) {
        ssize_t w = c->stdio ? write(c->out_fd, c->out.p, c->out.len)
                             : send(c->out_fd, c->out.p, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            sbuf_drop(&c->out, (size_t)w);
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->stdio)
                return 0; /* the rest when poll says it can take more */
            struct pollfd p = {.fd = c->out_fd, .events = POLLOUT};
            poll(&p, 1, -1);
        } else {
            c->broken = 1;
        }
    }
    return c->broken ? -1 : 0;
}

/* Send reply (consumed) with the request's id; 0, or -1 if the client is
 * gone (its reply cannot reach it). */
static int reply(client *c, json_t *rep, json_t *id)
{
    if (!rep)
        rep = json_pack("{s:s}", "error", "out of memory");
    if (id)
        json_object_set(rep, "id", id);
    char *line = json_dumps(rep, JSON_COMPACT);
    json_decref(rep);
    if (!line || sbuf_add(&c->out, line, strlen(line)) != 0 || sbuf_add(&c->out, "\n", 1) != 0) {
        free(line);
        return -1;
    }
    free(line);
    return client_flush(c);
}

static json_t *error_reply(const char *msg, const char *hint)
{
    return json_pack("{s:s, s:s?}", "error", msg, "hint", hint);
}

static json_t *library_error(void)
{
    const char *e = pgboot_error_last();
    return error_reply(e && *e ? e : "failed", pgboot_error_hint());
}

/* ---- requests ------------------------------------------------------- */

static const char *const PROTOCOL_HINT =
    "send one JSON object per line: {\"op\":\"clone\"}, {\"op\":\"drop\",\"url\":URL} or "
    "{\"op\":\"keep\",\"url\":URL,\"label\":TEXT}";

/* One clone is made ahead, once a turn of the loop has sent its replies, so
 * that a clone request is answered at once: a claim from the pool takes
 * ~0.5 ms, more while the pool is being refilled, and the request would wait
 * for it. The clone counts as handed out (journal, dropped at the end) from
 * the moment it is made; no one has connected to it when it is handed out. */
static void clone_ahead(broker *b)
{
    if (b->ahead)
        return;
    char *url = NULL;
    if (pgboot_testdb_clone(b->t, &url) != 0)
        return; /* the next request clones on the spot and reports the error */
    handed_add(b, url);
    b->ahead = strdup(url);
    if (!b->ahead && pgboot_testdb_drop(url) == 0)
        handed_forget(b, url);
    pgboot_free(url);
}

static void op_clone(broker *b, client *c, json_t *id)
{
    char *url = NULL;
    if (b->ahead && pgboot_testdb_ping(b->t) != 0) {
        reply(c, library_error(), id); /* the server is gone: no URL that cannot work */
        return;
    }
    if (b->ahead) {
        url = b->ahead;
        b->ahead = NULL;
        if (reply(c, json_pack("{s:s}", "url", url), id) != 0 && pgboot_testdb_drop(url) == 0)
            handed_forget(b, url); /* nobody got it (the client died mid-request) */
        free(url);
        return;
    }
    if (pgboot_testdb_clone(b->t, &url) != 0) {
        reply(c, library_error(), id);
        return;
    }
    handed_add(b, url);
    if (reply(c, json_pack("{s:s}", "url", url), id) != 0) {
        /* Nobody got it (the client died mid-request): it goes at once. */
        if (pgboot_testdb_drop(url) == 0)
            handed_forget(b, url);
    }
    pgboot_free(url);
}

static void job_free(job *j)
{
    if (!j)
        return;
    free(j->url);
    free(j->label);
    json_decref(j->id);
    json_decref(j->reply);
    free(j);
}

static void job_push(job **head, job **tail, job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static job *job_pop(job **head, job **tail)
{
    job *j = *head;
    if (j) {
        *head = j->next;
        if (!*head)
            *tail = NULL;
    }
    return j;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->todo && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->todo)
            break; /* stopped, and every job asked for is done (a keep asked for is made) */
        job *j = job_pop(&w->todo, &w->todo_tail);
        pthread_mutex_unlock(&w->mu);
        char *kept = NULL;
        if (j->keep ? pgboot_testdb_keep(j->url, j->label, &kept) != 0
                    : pgboot_testdb_drop(j->url) != 0) {
            /* Already gone: nothing to drop at the end either. */
            j->forget = !j->keep && pgboot_error_code_last() == PGBOOT_ENOTFOUND;
            j->reply = library_error();
        } else {
            j->forget = 1;
            j->reply = j->keep ? json_pack("{s:s}", "url", kept) : json_pack("{s:b}", "ok", 1);
        }
        pgboot_free(kept);
        pthread_mutex_lock(&w->mu);
        job_push(&w->done, &w->done_tail, j);
        ssize_t n = write(w->wake[1], "", 1);
        (void)n;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static int worker_start(worker *w)
{
    memset(w, 0, sizeof *w);
    if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        close(w->wake[0]);
        close(w->wake[1]);
        return -1;
    }
    return 0;
}

/* The worker ends once the jobs asked for are done. */
static void worker_stop(worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    job *j;
    while ((j = job_pop(&w->todo, &w->todo_tail)))
        job_free(j);
    while ((j = job_pop(&w->done, &w->done_tail)))
        job_free(j);
    close(w->wake[0]);
    close(w->wake[1]);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

static void submit(broker *b, client *c, int keep, const char *url, const char *label, json_t *id)
{
    job *j = calloc(1, sizeof *j);
    if (j) {
        j->client = c->serial;
        j->keep = keep;
        j->url = strdup(url);
        j->label = label ? strdup(label) : NULL;
        j->id = id ? json_incref(id) : NULL;
    }
    if (!j || !j->url || (label && !j->label)) {
        job_free(j);
        reply(c, error_reply("out of memory", NULL), id);
        return;
    }
    c->pending = 1;
    pthread_mutex_lock(&b->w.mu);
    job_push(&b->w.todo, &b->w.todo_tail, j);
    pthread_cond_signal(&b->w.cv);
    pthread_mutex_unlock(&b->w.mu);
}

/* A drop or keep of a database on another server: refused before the
 * broker connects anywhere with the URL it was given. 1 when refused. */
static int not_ours(broker *b, client *c, const char *url, const char *what, json_t *id)
{
    int is_url = !strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11);
    if (!is_url || pgboot_testdb_serves(b->t, url))
        return 0; /* what is not a URL: the library says so */
    /* Named by host and port only: the URLs carry passwords. */
    char *own = pgboot_testdb_address(b->t, NULL), *theirs = pgboot_testdb_address(b->t, url);
    char msg[600];
    if (!theirs)
        snprintf(msg, sizeof msg,
                 "the URL is not valid (libpq cannot read it); this broker %s only "
                 "databases of its own server",
                 what);
    else
        snprintf(msg, sizeof msg,
                 "this broker %s only databases of its own server (%.200s); the URL names %.200s",
                 what, own ? own : "?", theirs);
    pgboot_free(own);
    pgboot_free(theirs);
    reply(c,
          error_reply(msg, "send the URL as the broker handed it out; for a database of "
                           "another server: pgboot testdb drop URL (or keep URL)"),
          id);
    return 1;
}

static void op_drop(broker *b, client *c, json_t *req, json_t *id)
{
    const char *url = json_string_value(json_object_get(req, "url"));
    if (!url) {
        reply(c, error_reply("drop needs \"url\": the database's URL", PROTOCOL_HINT), id);
        return;
    }
    if (!not_ours(b, c, url, "drops", id))
        submit(b, c, 0, url, NULL, id);
}

static void op_keep(broker *b, client *c, json_t *req, json_t *id)
{
    const char *url = json_string_value(json_object_get(req, "url"));
    json_t *jl = json_object_get(req, "label");
    const char *label = json_string_value(jl);
    if (!url || (jl && !label)) {
        reply(c,
              error_reply("keep needs \"url\" (the database's URL) and takes a \"label\" (text)",
                          PROTOCOL_HINT),
              id);
        return;
    }
    if (!not_ours(b, c, url, "keeps", id))
        submit(b, c, 1, url, label, id);
}

static void handle_line(broker *b, client *c, const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i == len)
        return; /* an empty line */
    json_error_t err;
    json_t *req = json_loadb(line, len, 0, &err);
    if (!req || !json_is_object(req)) {
        char msg[300];
        if (req)
            snprintf(msg, sizeof msg, "a request is a JSON object, not this line");
        else
            snprintf(msg, sizeof msg, "malformed request (column %d): %s", err.column, err.text);
        reply(c, error_reply(msg, PROTOCOL_HINT), NULL);
        json_decref(req);
        return;
    }
    json_t *id = json_object_get(req, "id");
    const char *op = json_string_value(json_object_get(req, "op"));
    if (!op)
        reply(c, error_reply("a request needs \"op\": clone, drop or keep", PROTOCOL_HINT), id);
    else if (!strcmp(op, "clone"))
        op_clone(b, c, id);
    else if (!strcmp(op, "drop"))
        op_drop(b, c, req, id);
    else if (!strcmp(op, "keep"))
        op_keep(b, c, req, id);
    else {
        /* At most 60 bytes of it, not cutting a character (a reply is UTF-8). */
        int n = (int)strnlen(op, 61);
        if (n > 60)
            for (n = 60; n > 0 && ((unsigned char)op[n] & 0xC0) == 0x80; n--) {
            }
        char msg[200];
        snprintf(msg, sizeof msg, "unknown op '%.*s'", n, op);
        reply(c, error_reply(msg, PROTOCOL_HINT), id);
    }
    json_decref(req);
}

/* Answer the client's complete lines, one after the other; a line waits
 * while the client's previous drop or keep is with the worker. */
static void process_lines(broker *b, client *c)
{
    while (!c->pending && !c->broken) {
        char *nl = c->in.len ? memchr(c->in.p, '\n', c->in.len) : NULL;
        if (!nl) {
            if (!c->discarding && c->in.len > MAX_LINE) {
                reply(c, error_reply("request line too long (more than 64 KiB)", PROTOCOL_HINT),
                      NULL);
                c->discarding = 1;
            }
            if (c->discarding)
                c->in.len = 0; /* the rest of it goes as it comes */
            return;
        }
        size_t n = (size_t)(nl - c->in.p);
        if (!c->discarding && n > MAX_LINE)
            reply(c, error_reply("request line too long (more than 64 KiB)", PROTOCOL_HINT), NULL);
        else if (!c->discarding)
            handle_line(b, c, c->in.p, n);
        c->discarding = 0;
        sbuf_drop(&c->in, n + 1);
    }
}

/* Whether the client has a complete line not yet answered. */
static int has_line(const client *c)
{
    return c->in.len && memchr(c->in.p, '\n', c->in.len);
}

/* Read what the client sent and answer each complete line. */
static void client_read(broker *b, client *c)
{
    char buf[16384];
    ssize_t r = read(c->in_fd, buf, sizeof buf);
    if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (r <= 0) {
        c->eof = 1;
        /* stdin's last line may lack its newline; a socket client's cut
         * line is a request it died in the middle of. */
        if (c->stdio && c->in.len > 0 && !has_line(c) && !c->discarding)
            sbuf_add(&c->in, "\n", 1);
        else if (!c->stdio && !has_line(c))
            c->in.len = 0;
    } else if (c->in.len + (size_t)r > MAX_BUFFERED || sbuf_add(&c->in, buf, (size_t)r) != 0) {
        c->broken = 1; /* sends far ahead of its replies: let it go */
        return;
    }
    process_lines(b, c);
}

/* The worker's finished jobs: each reply to its client (if still there),
 * whose next requests then go on. */
static void collect_done(broker *b)
{
    char drain[64];
    while (read(b->w.wake[0], drain, sizeof drain) > 0) {
    }
    pthread_mutex_lock(&b->w.mu);
    job *done = b->w.done;
    b->w.done = b->w.done_tail = NULL;
    pthread_mutex_unlock(&b->w.mu);
    while (done) {
        job *j = done;
        done = j->next;
        if (j->forget)
            handed_forget(b, j->url);
        client *c = NULL;
        for (size_t i = 0; i < b->nclients && !c; i++)
            if (b->clients[i]->serial == j->client)
                c = b->clients[i];
        if (!c && b->io && b->io->serial == j->client)
            c = b->io;
        if (c) {
            c->pending = 0;
            reply(c, j->reply, j->id);
            j->reply = NULL;
            process_lines(b, c);
        }
        job_free(j);
    }
}

static void client_free(client *c)
{
    if (!c)
        return;
    if (!c->stdio)
        close(c->in_fd);
    free(c->in.p);
    free(c->out.p);
    free(c);
}

static client *client_new(broker *b, int in_fd, int out_fd, int stdio)
{
    client *c = calloc(1, sizeof *c);
    if (c) {
        c->serial = ++b->next_serial;
        c->in_fd = in_fd;
        c->out_fd = out_fd;
        c->stdio = stdio;
    }
    return c;
}

static void accept_clients(broker *b, int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN: no more; anything else: try again at the next poll */
        client **cs =
            b->nclients < MAX_CLIENTS ? realloc(b->clients, (b->nclients + 1) * sizeof *cs) : NULL;
        client *c = cs ? client_new(b, fd, fd, 0) : NULL;
        if (cs)
            b->clients = cs;
        if (!c) {
            const char *full = "{\"error\":\"the broker has too many clients\",\"hint\":\"close "
                               "the connections to it you no longer use (one a test process is "
                               "enough); it serves 1024 at most\"}\n";
            ssize_t w = send(fd, full, strlen(full), MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
            close(fd);
            continue;
        }
        b->clients[b->nclients++] = c;
    }
}

/* ---- a broker killed (SIGKILL, OOM) ------------------------------------ *
 * Each broker keeps <socket dir>/handed, the URLs it handed out, locked
 * (flock) for its whole life; the kernel lets go of the lock when it dies,
 * however it dies. A starting broker drops the databases of the journals it
 * can lock (their brokers are gone; those dropped or kept since are not found)
 * and removes their directories. */

#define JOURNAL "handed"

/* The journal of the broker whose socket is sock, locked: its fd, or -1. It
 * is made under another name and renamed once locked, so no one finds it
 * unlocked. */
static int journal_open(const char *sock)
{
    const char *slash = strrchr(sock, '/');
    char tmp[sizeof(struct sockaddr_un) + 32], path[sizeof tmp];
    snprintf(tmp, sizeof tmp, "%.*s/" JOURNAL ".new", (int)(slash - sock), sock);
    snprintf(path, sizeof path, "%.*s/" JOURNAL, (int)(slash - sock), sock);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 && (flock(fd, LOCK_EX | LOCK_NB) != 0 || rename(tmp, path) != 0)) {
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        fprintf(stderr,
                "pgboot: note: cannot keep the list of databases handed out in %s (%s): if "
                "this broker is killed, the next one cannot drop them\n",
                path, strerror(errno));
    return fd;
}

/* The journal dir/handed of a broker that is gone (its lock is free). */
static void reclaim_one(const char *dir)
{
    char path[4096], sock[4096];
    snprintf(path, sizeof path, "%s/" JOURNAL, dir);
    snprintf(sock, sizeof sock, "%s/broker.sock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return; /* not a broker's yet, or not one that keeps a journal */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd); /* its broker is alive */
        return;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int dropped = 0, failed = 0;
    char err[512] = "";
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (n == 0)
            continue;
        if (pgboot_testdb_drop(line) == 0)
            dropped++;
        else if (pgboot_error_code_last() != PGBOOT_ENOTFOUND) {
            failed++;
            snprintf(err, sizeof err, "%s", pgboot_error_last());
        }
    }
    free(line);
    if (dropped)
        fprintf(stderr,
                "pgboot: note: dropped %d database(s) handed out by a broker that was killed "
                "(%s)\n",
                dropped, dir);
    if (failed)
        fprintf(stderr,
                "pgboot: note: %d database(s) handed out by a broker that was killed could not "
                "be dropped (%s); the next broker tries again: %s\n"
                "hint: start the server they are on, or remove %s to forget them\n",
                failed, path, err, dir);
    else if (pgboot_testdb_socket_remove(sock) != 0)
        fprintf(stderr, "pgboot: note: %s\n", pgboot_error_last());
    fclose(f); /* lets go of the lock, after the directory is gone */
}

/* The directories of brokers that are gone, where brokers make them. */
static void reclaim_dead_brokers(const char *own_sock)
{
    const char *bases[3] = {getenv("XDG_RUNTIME_DIR"), getenv("TMPDIR"), "/tmp"};
    for (int i = 0; i < 3; i++) {
        int seen = !bases[i] || bases[i][0] != '/';
        for (int j = 0; j < i && !seen; j++)
            seen = bases[j] && !strcmp(bases[j], bases[i]);
        if (seen)
            continue;
        DIR *d = opendir(bases[i]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, "pgboot-broker-", 14) != 0 || strlen(e->d_name) != 20)
                continue;
            char dir[4096];
            struct stat st;
            snprintf(dir, sizeof dir, "%s/%s", bases[i], e->d_name);
            if (!strncmp(own_sock, dir, strlen(dir)) && own_sock[strlen(dir)] == '/')
                continue;
            if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
                continue;
            reclaim_one(dir);
        }
        closedir(d);
    }
}

/* ---- the loop ------------------------------------------------------- */

int cli_testdb_serve(pgboot_testdb *t)
{
    broker b;
    memset(&b, 0, sizeof b);
    b.t = t;
    /* A client that left: EPIPE, not death. Only now: an ignored SIGPIPE
     * would pass on to the template's command (--template-cmd), run before. */
    signal(SIGPIPE, SIG_IGN);
    int lfd = -1;
    char *sock = NULL;
    if (pgboot_testdb_socket_open(&lfd, &sock) != 0)
        return cli_testdb_serve_failed(cli_fail());
    b.journal = journal_open(sock);
    reclaim_dead_brokers(sock);
    int use_stdin = stdin_is_client();
    client *io = use_stdin ? client_new(&b, 0, 1, 1) : NULL;
    b.io = io;
    if ((use_stdin && !io) || worker_start(&b.w) != 0) {
        fprintf(stderr, "pgboot: error: cannot set up the broker: %s\n",
                use_stdin && !io ? "out of memory" : "no worker thread");
        client_free(io);
        close(lfd);
        if (b.journal >= 0)
            close(b.journal);
        if (pgboot_testdb_socket_remove(sock) != 0)
            cli_fail();
        pgboot_free(sock);
        return CLI_EXIT_FAILURE;
    }
    cli_print_json(json_pack("{s:s, s:s, s:s, s:i}", "event", "ready", "socket", sock, "template",
                             pgboot_testdb_template(t), "pid", (int)getpid()));
    b.stop_reason = NULL;
    struct pollfd *fds = NULL;
    while (!b.stop_reason) {
        size_t n = 4 + b.nclients;
        struct pollfd *nf = realloc(fds, n * sizeof *nf);
        if (!nf) {
            b.stop_reason = "out of memory";
            break;
        }
        fds = nf;
        fds[0] = (struct pollfd){.fd = sig_pipe[0], .events = POLLIN};
        fds[1] = (struct pollfd){.fd = lfd, .events = POLLIN};
        fds[2] = (struct pollfd){.fd = io && !io->eof ? 0 : -1, .events = POLLIN};
        fds[3] = (struct pollfd){.fd = b.w.wake[0], .events = POLLIN};
        for (size_t i = 0; i < b.nclients; i++) {
            client *c = b.clients[i];
            fds[4 + i] = (struct pollfd){
                .fd = c->eof && !c->out.len ? -1 : c->in_fd, /* at its end: no POLLHUP spin */
                .events = (short)((c->eof ? 0 : POLLIN) | (c->out.len ? POLLOUT : 0))};
        }
        int r = poll(fds, n, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            b.stop_reason = "poll failed";
            break;
        }
        if (fds[0].revents) {
            b.stop_reason = "signal";
            break;
        }
        if (fds[3].revents)
            collect_done(&b);
        if (io && fds[2].revents)
            client_read(&b, io);
        if (io && io->broken)
            b.stop_reason = "stdout closed";
        else if (io && io->eof && !io->pending && !has_line(io))
            b.stop_reason = "stdin closed"; /* after the answers to all it sent */
        size_t had = b.nclients;            /* accept after serving the ones polled */
        for (size_t i = 0; i < had; i++) {
            client *c = b.clients[i];
            if (fds[4 + i].revents & POLLOUT)
                client_flush(c);
            if (fds[4 + i].revents & (POLLIN | POLLHUP | POLLERR))
                client_read(&b, c);
        }
        if (fds[1].revents)
            accept_clients(&b, lfd);
        /* Clients that are gone, or said all and got all their replies. */
        size_t k = 0;
        for (size_t i = 0; i < b.nclients; i++) {
            client *c = b.clients[i];
            if (c->broken || (c->eof && !c->pending && !has_line(c) && c->out.len == 0))
                client_free(c);
            else
                b.clients[k++] = c;
        }
        b.nclients = k;
        if (!b.stop_reason)
            clone_ahead(&b);
    }
    free(fds);
    free(b.ahead); /* in handed: dropped below */
    worker_stop(&b.w);
    for (size_t i = 0; i < b.nclients; i++)
        client_free(b.clients[i]);
    free(b.clients);
    close(lfd);
    int rc = 0;
    if (pgboot_testdb_socket_remove(sock) != 0)
        rc = cli_fail();
    pgboot_free(sock);
    /* What it handed out and nobody dropped or kept. */
    int left = 0;
    for (size_t i = 0; i < b.nhanded; i++) {
        if (pgboot_testdb_drop(b.handed[i]) != 0 && pgboot_error_code_last() != PGBOOT_ENOTFOUND)
            left++;
        free(b.handed[i]);
    }
    free(b.handed);
    if (b.journal >= 0)
        close(b.journal);
    if (left)
        fprintf(stderr,
                "pgboot: note: %d database(s) the broker handed out could not be dropped: "
                "%s\n",
                left, pgboot_error_last());
    if (!io || !io->broken) {
        cli_print_json(json_pack("{s:s, s:s}", "event", "stopped", "reason", b.stop_reason));
    }
    client_free(io);
    return rc;
}

/* ---- a client: pgboot testdb under a broker ---------------------------- */

int cli_testdb_from_broker(const char *path, unsigned long count)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    int fd = -1;
    if (strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
    } else {
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            int e = errno;
            close(fd);
            fd = -1;
            errno = e;
        }
    }
    if (fd < 0) {
        fprintf(stderr,
                "pgboot: error: cannot reach the broker at %s (PGBOOT_BROKER_SOCKET): %s\n"
                "hint: start one with 'pgboot testdb serve', or unset PGBOOT_BROKER_SOCKET and "
                "give --app NAME or --url URL with the template\n",
                path, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    FILE *in = fdopen(fd, "r");
    int rc = in ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    char *line = NULL;
    size_t cap = 0;
    for (unsigned long i = 0; rc == CLI_EXIT_OK && i < count; i++) {
        static const char req[] = "{\"op\":\"clone\"}\n";
        json_t *rep = NULL;
        if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1) &&
            getline(&line, &cap, in) > 0)
            rep = json_loads(line, 0, NULL);
        const char *url = json_string_value(json_object_get(rep, "url"));
        const char *err = json_string_value(json_object_get(rep, "error"));
        const char *hint = json_string_value(json_object_get(rep, "hint"));
        if (url) {
            printf("%s\n", url);
        } else {
            fprintf(stderr, "pgboot: error: the broker at %s: %s\n", path,
                    err ? err : "no answer (did it stop?)");
            if (!err)
                hint = "the broker's stderr says why it stopped; start one again with "
                       "'pgboot testdb serve', or unset PGBOOT_BROKER_SOCKET";
            if (hint)
                fprintf(stderr, "hint: %s\n", hint);
            rc = CLI_EXIT_FAILURE;
        }
        json_decref(rep);
    }
    free(line);
    if (in)
        fclose(in);
    else
        close(fd);
    fflush(stdout);
    return rc;
}
