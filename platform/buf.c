/* A growable string (the pattern of curl's dynbuf and libgit2's git_str):
 * appends never fail loudly; an allocation failure sets `oom`, and the
 * caller checks it once at the end. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

void pgb_buf_add(pgb_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void pgb_buf_puts(pgb_buf *b, const char *s)
{
    pgb_buf_add(b, s, strlen(s));
}

void pgb_buf_printf(pgb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = pgb_vprintf(fmt, ap);
    va_end(ap);
    if (!s) {
        b->oom = 1;
        return;
    }
    pgb_buf_puts(b, s);
    free(s);
}

void pgb_buf_free(pgb_buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

void pgb_buf_ident(pgb_buf *b, const char *name)
{
    pgb_buf_add(b, "\"", 1);
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            pgb_buf_add(b, "\"", 1);
        pgb_buf_add(b, p, 1);
    }
    pgb_buf_add(b, "\"", 1);
}

void pgb_buf_literal(pgb_buf *b, const char *s, size_t n)
{
    pgb_buf_add(b, "'", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'')
            pgb_buf_add(b, "'", 1);
        pgb_buf_add(b, s + i, 1);
    }
    pgb_buf_add(b, "'", 1);
}
