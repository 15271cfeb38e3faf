/* The error model: one thread-local record of the last failure, set once at
 * its source (pgb_fail) and read by the caller (pgboot_error_last). */
#include <stdio.h>
#include <string.h>

#include "platform.h"

#define MSG_MAX 1024
#define HINT_MAX 512

static _Thread_local struct {
    int code;
    int has_hint;
    char msg[MSG_MAX];
    char hint[HINT_MAX];
} last;

int pgb_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last.msg, sizeof last.msg, fmt, ap);
    va_end(ap);
    /* Messages are one line: fold anything a dependency handed us. */
    for (char *p = last.msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    last.code = code ? code : PGBOOT_ERROR;
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
