/* Downloading a bundle: libcurl with TLS verification always on, bounded
 * redirects, connect and low-speed timeouts, retries with back-off on
 * transient failures, and resumption of a partial file with a Range request.
 * The sha512 is computed while bytes arrive, so verification costs no second
 * pass over the file; nothing is renamed into place unless it matches. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../platform/dynload.h"
#include "bootstrap.h"

#define IO_CHUNK (256 * 1024)

void pgb_integrity_format(char *out, size_t outlen, const unsigned char digest[PGBOOT_SHA512_BYTES])
{
    char b64[sodium_base64_ENCODED_LEN(PGBOOT_SHA512_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, digest, PGBOOT_SHA512_BYTES, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, outlen, "sha512-%s", b64);
}

/* Feed `len` bytes of fd from offset 0 into the hash. */
static int hash_fd(int fd, crypto_hash_sha512_state *st, uint64_t len, const char *path)
{
    unsigned char *buf = malloc(IO_CHUNK);
    if (!buf)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    uint64_t off = 0;
    while (off < len) {
        size_t want = len - off < IO_CHUNK ? (size_t)(len - off) : IO_CHUNK;
        ssize_t r = pread(fd, buf, want, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(buf);
            return pgb_fail(PGBOOT_ERROR, "cannot read %s: %s", path,
                            r < 0 ? strerror(errno) : "unexpected end of file");
        }
        crypto_hash_sha512_update(st, buf, (size_t)r);
        off += (uint64_t)r;
    }
    free(buf);
    return 0;
}

int pgb_file_matches(const char *path, const unsigned char expected[PGBOOT_SHA512_BYTES],
                     int *match)
{
    *match = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pgb_fail(errno == ENOENT ? PGBOOT_ENOTFOUND : PGBOOT_ERROR, "cannot open %s: %s",
                        path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return pgb_fail(PGBOOT_ERROR, "cannot stat %s: %s", path, strerror(errno));
    }
    crypto_hash_sha512_state hs;
    crypto_hash_sha512_init(&hs);
    int rc = hash_fd(fd, &hs, (uint64_t)st.st_size, path);
    close(fd);
    if (rc)
        return rc;
    unsigned char got[PGBOOT_SHA512_BYTES];
    crypto_hash_sha512_final(&hs, got);
    *match = sodium_memcmp(got, expected, PGBOOT_SHA512_BYTES) == 0;
    return 0;
}

static int mismatch(const char *what, const unsigned char expected[PGBOOT_SHA512_BYTES],
                    const unsigned char got[PGBOOT_SHA512_BYTES])
{
    char e[128], g[128];
    pgb_integrity_format(e, sizeof e, expected);
    pgb_integrity_format(g, sizeof g, got);
    int rc = pgb_fail(PGBOOT_EINTEGRITY, "%s does not match the pinned digest: expected %s, got %s",
                      what, e, g);
    pgb_hint("the file was deleted; if a mirror serves it, the mirror is broken or tampered with");
    return rc;
}

int pgb_copy_verified(const char *src, const char *dest,
                      const unsigned char expected[PGBOOT_SHA512_BYTES], uint32_t *verify_ms)
{
    *verify_ms = 0;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return pgb_fail(errno == ENOENT ? PGBOOT_ENOTFOUND : PGBOOT_ERROR, "cannot open %s: %s",
                        src, strerror(errno));
    char *part = pgb_printf("%s.part", dest);
    unsigned char *buf = malloc(IO_CHUNK);
    pgb_hasher h = {0};
    int out = -1, rc = 0;
    uint64_t copied = 0;
    if (!part || !buf) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    out = open(part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot create %s: %s", part, strerror(errno));
        goto done;
    }
    if ((rc = pgb_hasher_start(&h, out, 0)) != 0)
        goto done;
    for (;;) {
        ssize_t r = read(in, buf, IO_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = pgb_fail(PGBOOT_ERROR, "cannot read %s: %s", src, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        for (ssize_t w = 0; w < r;) {
            ssize_t n = pwrite(out, buf + w, (size_t)(r - w), (off_t)(copied + (uint64_t)w));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = pgb_fail(PGBOOT_ERROR, "cannot write %s: %s", part, strerror(errno));
                goto done;
            }
            w += n;
        }
        copied += (uint64_t)r;
        pgb_hasher_advance(&h, copied);
    }
    unsigned char got[PGBOOT_SHA512_BYTES];
    uint64_t t0 = pgb_now_ms();
    if ((rc = pgb_hasher_finish(&h, got, part)) != 0)
        goto done;
    *verify_ms = (uint32_t)(pgb_now_ms() - t0);
    if (sodium_memcmp(got, expected, PGBOOT_SHA512_BYTES) != 0) {
        rc = mismatch(src, expected, got);
        goto done;
    }
    if (fsync(out) != 0 || close(out) != 0) {
        out = -1;
        rc = pgb_fail(PGBOOT_ERROR, "cannot write %s: %s", part, strerror(errno));
        goto done;
    }
    out = -1;
    if (rename(part, dest) != 0)
        rc = pgb_fail(PGBOOT_ERROR, "cannot rename %s: %s", part, strerror(errno));
done:
    pgb_hasher_abort(&h);
    if (out >= 0)
        close(out);
    if (rc && part)
        unlink(part);
    close(in);
    free(part);
    free(buf);
    return rc;
}

/* ---- network ------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* State of one transfer attempt. */
typedef struct {
    CURL *curl;
    int fd;
    const char *part;
    pgb_hasher h;      /* follows the part file */
    uint64_t have;     /* bytes in the part file */
    uint64_t resume;   /* offset this attempt asked to start at */
    uint64_t max_size; /* 0: unbounded */
    uint64_t total;    /* expected size if known */
    long status;       /* HTTP status of the final response (0: file://) */
    int started;       /* first body byte seen */
    int restarted;     /* the server ignored our Range: started from zero */
    int write_errno;
    int too_large;
    int bad_status;
    const pgboot_fetch_options *opts;
} xfer;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;
    if (!x->started) {
        x->started = 1;
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
        if (x->status != 0 && x->status != 200 && x->status != 206) {
            x->bad_status = 1;
            return 0;
        }
        if (x->resume > 0 && x->status == 200) {
            /* The server ignored the Range request: start over from zero. */
            pgb_hasher_abort(&x->h);
            if (ftruncate(x->fd, 0) != 0) {
                x->write_errno = errno;
                return 0;
            }
            x->have = 0;
            x->restarted = 1;
            if (pgb_hasher_start(&x->h, x->fd, 0) != 0) {
                x->write_errno = EAGAIN;
                return 0;
            }
        }
    }
    if (x->max_size && x->have + len > x->max_size) {
        x->too_large = 1;
        return 0;
    }
    for (size_t w = 0; w < len;) {
        ssize_t n = pwrite(x->fd, data + w, len - w, (off_t)(x->have + w));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            x->write_errno = errno;
            return 0;
        }
        w += (size_t)n;
    }
    x->have += len;
    pgb_hasher_advance(&x->h, x->have);
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)ultotal;
    (void)ulnow;
    xfer *x = ud;
    if (x->opts->progress) {
        uint64_t base = x->restarted ? 0 : x->resume;
        uint64_t total = x->total ? x->total : (dltotal > 0 ? base + (uint64_t)dltotal : 0);
        x->opts->progress(base + (uint64_t)dlnow, total, x->opts->progress_payload);
    }
    return 0;
}

static int is_transient_curl(CURLcode c)
{
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

static int is_transient_status(long s)
{
    return s == 408 || s == 429 || (s >= 500 && s <= 599);
}

/* Go on from what a previous attempt left in the part file (the hasher reads
 * it again while the rest arrives); a part file larger than the bound is
 * discarded. */
static int resume_state(xfer *x)
{
    struct stat st;
    if (fstat(x->fd, &st) != 0)
        return pgb_fail(PGBOOT_ERROR, "cannot stat %s: %s", x->part, strerror(errno));
    x->have = (uint64_t)st.st_size;
    if (x->max_size && x->have > x->max_size) {
        if (ftruncate(x->fd, 0) != 0)
            return pgb_fail(PGBOOT_ERROR, "cannot truncate %s: %s", x->part, strerror(errno));
        x->have = 0;
    }
    return pgb_hasher_start(&x->h, x->fd, x->have);
}

/* The limits of every attempt, from the options. */
typedef struct {
    int retries;
    uint32_t delay_ms;
    long connect_ms, low_time_s, low_limit;
} limits;

static limits limits_of(const pgboot_fetch_options *o)
{
    limits l;
    l.retries = o->max_retries == 0 ? 5 : (o->max_retries < 0 ? 0 : o->max_retries);
    l.delay_ms = o->retry_delay_ms ? o->retry_delay_ms : 500;
    l.connect_ms = o->connect_timeout_ms ? (long)o->connect_timeout_ms : 30000;
    l.low_time_s = o->low_speed_time_ms ? (long)((o->low_speed_time_ms + 999) / 1000) : 30;
    l.low_limit = o->low_speed_limit ? (long)o->low_speed_limit : 1024;
    return l;
}

/* One attempt's handle: from x->have on, with the safety settings that never
 * change (TLS verification, bounded redirects, protocols, timeouts). */
static void setup_transfer(xfer *x, const char *url, char *errbuf, const limits *l)
{
    CURL *c = x->curl;
    curl_easy_reset(c);
    errbuf[0] = '\0';
    x->started = x->restarted = x->bad_status = x->too_large = x->write_errno = 0;
    x->status = 0;
    x->resume = x->have;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "pgboot/" PGBOOT_VERSION_STRING);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, l->connect_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, l->low_limit);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, l->low_time_s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
    if (x->max_size)
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_size);
    /* A plain Range header (not CURLOPT_RESUME_FROM, with which libcurl gives
     * up on a server that ignores ranges): a 200 answer is then handled in
     * on_body by starting over from zero. */
    if (x->resume > 0) {
        char range[32];
        snprintf(range, sizeof range, "%llu-", (unsigned long long)x->resume);
        curl_easy_setopt(c, CURLOPT_RANGE, range); /* libcurl copies it */
    }
}

typedef enum {
    XFER_BODY,  /* the whole body is in the part file: verify it */
    XFER_RETRY, /* a transient failure (recorded): try again after a pause */
    XFER_FAIL,  /* a failure that another attempt cannot mend (recorded) */
    XFER_AGAIN, /* start over at once, not counted as an attempt */
} outcome;

/* What one attempt's result means (as curl's retrycheck decides). */
static outcome retry_check(xfer *x, CURLcode cc, long status, const char *url, const char *errbuf)
{
    if (cc == CURLE_OK && status != 0 && status != 200 && status != 206)
        x->bad_status = 1; /* an empty error body never reached on_body */
    if (x->write_errno) {
        pgb_fail(PGBOOT_ERROR, "cannot write or verify %s: %s", x->part, strerror(x->write_errno));
        pgb_hint("free some disk space or use another --cache-dir");
        return XFER_FAIL;
    }
    if (x->too_large || cc == CURLE_FILESIZE_EXCEEDED) {
        pgb_fail(PGBOOT_EINTEGRITY,
                 "download of %s is larger than the %llu bytes the manifest allows", url,
                 (unsigned long long)x->max_size);
        return XFER_FAIL;
    }
    if (status == 416 && x->resume > 0) {
        /* Nothing past our offset: the part file may already be complete (a
         * fetch killed between the last byte and the rename). */
        x->bad_status = 0;
        return XFER_BODY;
    }
    if (x->bad_status) {
        if (is_transient_status(status)) {
            pgb_fail(PGBOOT_ENETWORK, "download of %s failed: HTTP %ld", url, status);
            return XFER_RETRY;
        }
        pgb_fail(PGBOOT_ENETWORK, "download of %s failed: HTTP %ld%s", url, status,
                 status == 404 ? " (not found)" : "");
        pgb_hint("check the registry URL (--mirror, PGBOOT_MIRROR, npm_config_registry or .npmrc)");
        return XFER_FAIL;
    }
    if (cc == CURLE_OK)
        return XFER_BODY;
    pgb_fail(PGBOOT_ENETWORK, "download of %s failed: %s", url,
             errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY)
        pgb_hint("no network? use --mirror file:///DIR, --from FILE.tgz, or set https_proxy");
    else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
        pgb_hint("TLS verification is never turned off; install the CA certificates "
                 "(ca-certificates) or point CURL_CA_BUNDLE at them");
    else if (cc == CURLE_FILE_COULDNT_READ_FILE)
        pgb_hint("the file:// mirror must hold <package>/-/<name>-<version>.tgz");
    return is_transient_curl(cc) ? XFER_RETRY : XFER_FAIL;
}

/* After a whole body: check the digest, make the file durable and rename it
 * into place (as curl's post_per_transfer finishes a transfer). XFER_BODY
 * here means done; *fresh_retry allows one fresh download when kept bytes of
 * an earlier attempt may be the bad ones. */
static outcome post_transfer(xfer *x, const char *url, const char *final_path,
                             const unsigned char expected[PGBOOT_SHA512_BYTES], uint32_t *verify_ms,
                             int *fresh_retry)
{
    unsigned char got[PGBOOT_SHA512_BYTES];
    uint64_t t0 = pgb_now_ms();
    if (pgb_hasher_finish(&x->h, got, x->part) != 0)
        return XFER_FAIL;
    *verify_ms = (uint32_t)(pgb_now_ms() - t0);
    if (sodium_memcmp(got, expected, PGBOOT_SHA512_BYTES) != 0) {
        if (x->resume > 0 && !x->restarted && !*fresh_retry) {
            *fresh_retry = 1;
            if (ftruncate(x->fd, 0) == 0)
                return XFER_AGAIN;
            pgb_fail(PGBOOT_ERROR, "cannot truncate %s: %s", x->part, strerror(errno));
            return XFER_FAIL;
        }
        mismatch(url, expected, got);
        return XFER_FAIL;
    }
    if (fsync(x->fd) != 0) {
        pgb_fail(PGBOOT_ERROR, "cannot write %s: %s", x->part, strerror(errno));
        return XFER_FAIL;
    }
    close(x->fd);
    x->fd = -1;
    if (rename(x->part, final_path) != 0) {
        pgb_fail(PGBOOT_ERROR, "cannot rename %s to %s: %s", x->part, final_path, strerror(errno));
        return XFER_FAIL;
    }
    return XFER_BODY;
}

/* The pause before the next attempt: doubled each time, at most 30 s. */
static void retry_sleep(uint32_t *delay_ms)
{
    pgb_sleep_ms(*delay_ms);
    *delay_ms = *delay_ms >= 15000 ? 30000 : *delay_ms * 2;
}

int pgb_download(const char *url, const char *part_path, const char *final_path,
                 const unsigned char expected[PGBOOT_SHA512_BYTES], uint64_t max_size,
                 const pgboot_fetch_options *o, uint32_t *verify_ms)
{
    *verify_ms = 0;
    if (pgb_need_lib(PGB_LIB_CURL) != 0)
        return PGBOOT_EBROKEN;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return pgb_fail(PGBOOT_ENETWORK, "cannot initialise libcurl: %s",
                        curl_easy_strerror(curl_init_rc));
    limits lim = limits_of(o);
    xfer x = {.fd = -1, .part = part_path, .max_size = max_size, .total = max_size, .opts = o};
    x.fd = open(part_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (x.fd < 0)
        return pgb_fail(PGBOOT_ERROR, "cannot create %s: %s", part_path, strerror(errno));
    x.curl = curl_easy_init();
    if (!x.curl) {
        close(x.fd);
        return pgb_fail(PGBOOT_ENOMEM, "cannot create a libcurl handle");
    }
    char errbuf[CURL_ERROR_SIZE];
    int fresh_retry = 0;
    outcome out = XFER_FAIL;
    for (int attempt = 0;; attempt++) {
        pgb_hasher_abort(&x.h); /* what an earlier attempt hashed is read again */
        if (resume_state(&x) != 0) {
            out = XFER_FAIL;
            break;
        }
        setup_transfer(&x, url, errbuf, &lim);
        CURLcode cc = curl_easy_perform(x.curl);
        long status = x.status;
        if (!x.started)
            curl_easy_getinfo(x.curl, CURLINFO_RESPONSE_CODE, &status);
        out = retry_check(&x, cc, status, url, errbuf);
        if (out == XFER_BODY)
            out = post_transfer(&x, url, final_path, expected, verify_ms, &fresh_retry);
        if (out == XFER_AGAIN) {
            attempt--;
            continue;
        }
        if (out != XFER_RETRY)
            break;
        if (attempt >= lim.retries) {
            /* The last attempt's message stands; the count and the way on
             * are the hint. */
            if (lim.retries > 0)
                pgb_hint("gave up after %d attempts; the partial download is kept and will be "
                         "resumed next time; --mirror URL picks another source",
                         attempt + 1);
            break;
        }
        retry_sleep(&lim.delay_ms);
    }
    int rc = out == XFER_BODY ? 0 : pgboot_error_code_last();
    if (rc == 0 && out != XFER_BODY)
        rc = PGBOOT_ENETWORK;
    pgb_hasher_abort(&x.h);
    curl_easy_cleanup(x.curl);
    if (x.fd >= 0)
        close(x.fd);
    /* Keep a partial download only where resuming it can help: a digest
     * mismatch or an oversized body must never be resumed. */
    if (rc == PGBOOT_EINTEGRITY || (rc != 0 && x.have == 0))
        unlink(part_path);
    return rc;
}
