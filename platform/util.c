/* Small string and path helpers with no OS dependency. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

char *pgb_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *pgb_vprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *pgb_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = pgb_vprintf(fmt, ap);
    va_end(ap);
    return s;
}

char *pgb_path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    if (la > 0 && a[la - 1] == '/')
        return pgb_printf("%s%s", a, b);
    return pgb_printf("%s/%s", a, b);
}

int pgb_str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int pgb_path_is_safe_relative(const char *p, const char **why)
{
    if (!p || !*p) {
        *why = "empty path";
        return -1;
    }
    if (p[0] == '/') {
        *why = "absolute path";
        return -1;
    }
    if (strchr(p, '\\')) {
        *why = "backslash in path";
        return -1;
    }
    const char *s = p;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            *why = "'..' in path";
            return -1;
        }
        if (!e)
            break;
        s = e + 1;
    }
    return 0;
}

void pgb_hex(char *out, const unsigned char *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

char *pgb_tail_lines(char *s, int max_lines)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    int lines = 0;
    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] == '\n' && ++lines == max_lines) {
            memmove(s, s + i, n - i + 1);
            break;
        }
    }
    return s;
}

char *pgb_cause_line(char *s)
{
    /* PostgreSQL's own report of the cause, else a program's "error:" line. */
    static const char *const marks[] = {"PANIC:", "FATAL:", "ERROR:", "error:"};
    for (size_t m = 0; m < sizeof marks / sizeof marks[0]; m++) {
        char *hit = strstr(s, marks[m]);
        if (!hit)
            continue;
        char *start = hit;
        while (start > s && start[-1] != '\n')
            start--;
        size_t len = strcspn(start, "\r\n");
        memmove(s, start, len);
        s[len] = '\0';
        return s;
    }
    return pgb_tail_lines(s, 4);
}

int pgb_version_check(unsigned int version, unsigned int current, const char *what)
{
    if (version >= 1 && version <= current)
        return 0;
    int rc = pgb_fail(PGBOOT_EINVALID, "%s.version is %u; this library knows versions 1 to %u",
                      what, version, current);
    pgb_hint("initialise the struct with its _INIT macro or its _options_init() function");
    return rc;
}

void pgboot_free(void *p)
{
    free(p);
}

int pgb_pg_major_parse(const char *text, unsigned int *major)
{
    *major = 0;
    if (!text || !*text || strlen(text) > 4 || strspn(text, "0123456789") != strlen(text) ||
        text[0] == '0')
        return pgb_fail(PGBOOT_EINVALID,
                        "'%.40s' is not a PostgreSQL major version (a number such as 16, 17 "
                        "or 18)",
                        text ? text : "");
    *major = (unsigned int)atoi(text);
    return 0;
}
