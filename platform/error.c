/* The error model: one thread-local record of the last failure, set once at
 * its source (pgb_fail) and read by the caller (pgboot_error_last). A cleanup
 * after a failure sets the record aside (pgb_error_save) and puts it back
 * (pgb_error_restore), so the first failure is the one reported. */
#include <stdio.h>
#include <string.h>

#include "platform.h"

#define MSG_MAX PGB_ERROR_MSG_MAX
#define HINT_MAX PGB_ERROR_HINT_MAX

static _Thread_local struct {
    int code;
    int has_hint;
    unsigned serial; /* failures recorded on this thread, to tell a cleanup's apart */
    char msg[MSG_MAX];
    char hint[HINT_MAX];
} last;

int pgb_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last.msg, sizeof last.msg, fmt, ap);
    va_end(ap);
    /* Messages are one line: fold anything a dependency handed us (libpq's
     * messages end in a newline, which would be a trailing space). */
    for (char *p = last.msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    for (size_t n = strlen(last.msg); n > 0 && last.msg[n - 1] == ' '; n--)
        last.msg[n - 1] = '\0';
    last.code = code ? code : PGBOOT_ERROR;
    last.serial++;
    last.has_hint = 0;
    last.hint[0] = '\0';
    return last.code;
}

void pgb_hint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last.hint, sizeof last.hint, fmt, ap);
    va_end(ap);
    last.has_hint = 1;
}

void pgb_error_reset(void)
{
    last.code = 0;
    last.has_hint = 0;
    last.msg[0] = '\0';
    last.hint[0] = '\0';
}

void pgb_error_save(pgb_error_saved *s)
{
    s->code = last.code;
    s->has_hint = last.has_hint;
    s->serial = last.serial;
    memcpy(s->msg, last.msg, sizeof s->msg);
    memcpy(s->hint, last.hint, sizeof s->hint);
}

void pgb_error_restore(const pgb_error_saved *s)
{
    if (s->code == 0)
        return; /* nothing was in flight: whatever the cleanup left stands */
    /* A failure the cleanup recorded and left (it did not reset it) goes
     * after the first one, which keeps its code and its hint. */
    char added[MSG_MAX] = "";
    if (last.serial != s->serial && last.code != 0 && last.msg[0])
        snprintf(added, sizeof added, "%s", last.msg);
    last.code = s->code;
    last.has_hint = s->has_hint;
    memcpy(last.msg, s->msg, sizeof last.msg);
    memcpy(last.hint, s->hint, sizeof last.hint);
    if (added[0]) {
        size_t n = strlen(last.msg);
        while (n > 0 && (last.msg[n - 1] == ' ' || last.msg[n - 1] == '.'))
            last.msg[--n] = '\0';
        snprintf(last.msg + n, sizeof last.msg - n, "; then, cleaning up: %s", added);
    }
}

const char *pgboot_error_last(void)
{
    return last.msg;
}

const char *pgboot_error_hint(void)
{
    return last.has_hint ? last.hint : NULL;
}

int pgboot_error_code_last(void)
{
    return last.code;
}

void pgboot_error_clear(void)
{
    pgb_error_reset();
}

const char *pgboot_version(void)
{
    return PGBOOT_VERSION_STRING;
}
