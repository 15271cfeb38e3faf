/* A sha512 that follows a file as it is written.
 *
 * The downloading thread appends to the file and announces how far it got;
 * this thread reads the new bytes back (from the page cache) and hashes them.
 * Verification thus overlaps the transfer instead of adding a pass after it:
 * what remains on the critical path is only the wait, after the last byte,
 * for the hasher to catch up (measured and reported as the verify time). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootstrap.h"

#define CHUNK (1024 * 1024)

static void *hasher_main(void *arg)
{
    pgb_hasher *h = arg;
    unsigned char *buf = malloc(CHUNK);
    pthread_mutex_lock(&h->mu);
    if (!buf)
        h->err = ENOMEM;
    while (!h->err && !h->stop) {
        if (h->hashed == h->avail) {
            if (h->closed)
                break;
            pthread_cond_wait(&h->cv, &h->mu);
            continue;
        }
        uint64_t off = h->hashed;
        size_t want = h->avail - off < CHUNK ? (size_t)(h->avail - off) : CHUNK;
        pthread_mutex_unlock(&h->mu);
        ssize_t r = pread(h->fd, buf, want, (off_t)off);
        if (r > 0)
            crypto_hash_sha512_update(&h->hs, buf, (size_t)r);
        pthread_mutex_lock(&h->mu);
        if (r < 0 && errno != EINTR)
            h->err = errno;
        else if (r == 0)
            h->err = EIO; /* the file is shorter than announced */
        else if (r > 0)
            h->hashed += (uint64_t)r;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    free(buf);
    return NULL;
}

int pgb_hasher_start(pgb_hasher *h, int fd, uint64_t already)
{
    memset(h, 0, sizeof *h);
    h->fd = fd;
    h->avail = already;
    crypto_hash_sha512_init(&h->hs);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    int e = pthread_create(&h->thread, NULL, hasher_main, h);
    if (e != 0) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        return pgb_fail(PGBOOT_ERROR, "cannot start the verification thread: %s", strerror(e));
    }
    h->running = 1;
    return 0;
}

void pgb_hasher_advance(pgb_hasher *h, uint64_t avail)
{
    pthread_mutex_lock(&h->mu);
    h->avail = avail;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void stop_thread(pgb_hasher *h, int stop)
{
    if (!h->running)
        return;
    pthread_mutex_lock(&h->mu);
    h->closed = 1;
    h->stop = stop;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    h->running = 0;
}

int pgb_hasher_finish(pgb_hasher *h, unsigned char digest[PGBOOT_SHA512_BYTES], const char *path)
{
    stop_thread(h, 0);
    if (h->err)
        return pgb_fail(PGBOOT_ERROR, "cannot read back %s to verify it: %s", path,
                        strerror(h->err));
    crypto_hash_sha512_final(&h->hs, digest);
    return 0;
}

void pgb_hasher_abort(pgb_hasher *h)
{
    stop_thread(h, 1);
}
