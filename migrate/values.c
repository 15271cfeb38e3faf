/* Looking at single values: what kind of text a SQLite value is (an ISO
 * date, a timestamp with or without a zone, a UUID, a boolean word), whether
 * it is valid UTF-8, how a double prints exactly, and how a decimal number is
 * shaped. Used to choose column types, to encode COPY rows and to verify. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "values.h"

static int digits(const char *s, size_t n, size_t at, int count, int *out)
{
    int v = 0;
    for (int i = 0; i < count; i++) {
        if (at + (size_t)i >= n || !isdigit((unsigned char)s[at + (size_t)i]))
            return -1;
        v = v * 10 + (s[at + (size_t)i] - '0');
    }
    *out = v;
    return 0;
}

static int64_t days_from_civil(int y, int m, int d)
{
    /* Howard Hinnant's algorithm: days since 1970-01-01. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int pgb_parse_iso(const char *s, size_t n, pgb_iso *out)
{
    memset(out, 0, sizeof *out);
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (n < 10 || digits(s, n, 0, 4, &y) || s[4] != '-' || digits(s, n, 5, 2, &mo) || s[7] != '-' ||
        digits(s, n, 8, 2, &d))
        return -1;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    size_t i = 10;
    int64_t frac = 0;
    if (i < n && (s[i] == 'T' || s[i] == ' ')) {
        i++;
        if (digits(s, n, i, 2, &h) || i + 2 >= n || s[i + 2] != ':' || digits(s, n, i + 3, 2, &mi))
            return -1;
        i += 5;
        if (i < n && s[i] == ':') {
            if (digits(s, n, i + 1, 2, &sec))
                return -1;
            i += 3;
            if (i < n && s[i] == '.') {
                i++;
                int fd = 0, round_up = 0;
                while (i < n && isdigit((unsigned char)s[i])) {
                    if (fd < 6)
                        frac = frac * 10 + (s[i] - '0');
                    else if (s[i] != '0')
                        out->frac_lost = 1;
                    if (fd == 6)
                        round_up = s[i] >= '5';
                    fd++;
                    i++;
                }
                if (fd == 0)
                    return -1;
                out->frac_digits = fd;
                for (int k = fd; k < 6; k++)
                    frac *= 10;
                frac += round_up; /* 1000000 carries into the seconds below */
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return -1;
        out->has_time = 1;
    }
    int64_t offset = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        out->has_zone = 1;
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-') && out->has_time) {
        int oh, om = 0;
        int sign = s[i] == '-' ? -1 : 1;
        if (digits(s, n, i + 1, 2, &oh))
            return -1;
        i += 3;
        if (i < n && s[i] == ':') {
            if (digits(s, n, i + 1, 2, &om))
                return -1;
            i += 3;
        } else if (i + 1 < n && isdigit((unsigned char)s[i])) {
            if (digits(s, n, i, 2, &om))
                return -1;
            i += 2;
        }
        if (oh > 15 || om > 59)
            return -1;
        offset = sign * (oh * 3600 + om * 60);
        out->has_zone = 1;
    }
    if (i != n)
        return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    out->micros = secs * 1000000 + frac;
    return 0;
}

int pgb_zero_date(const char *s, size_t n)
{
    static const char zero[] = "0000-00-00 00:00:00";
    if (n < 10 || memcmp(s, zero, 10) != 0)
        return 0;
    if (n == 10)
        return 1;
    if (s[10] != ' ' && s[10] != 'T')
        return 0;
    /* "00:00" or "00:00:00", then optionally a fraction of zeros */
    size_t i;
    if (n < 16 || memcmp(s + 11, zero + 11, 5) != 0)
        return 0;
    i = 16;
    if (i < n && n >= 19 && !memcmp(s + 16, zero + 16, 3))
        i = 19;
    if (i < n && s[i] == '.' && i == 19) {
        i++;
        if (i == n)
            return 0;
        while (i < n && s[i] == '0')
            i++;
    }
    return i == n;
}

/* The civil date of a day count since 1970-01-01 (Howard Hinnant). */
static void civil_from_days(int64_t days, int64_t *y, int64_t *m, int64_t *d)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

int pgb_micros_text(int64_t micros, int utc, char *buf, size_t cap)
{
    int64_t secs = micros / 1000000, us = micros % 1000000;
    if (us < 0) {
        us += 1000000;
        secs--;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y, m, d;
    civil_from_days(days, &y, &m, &d);
    int n = snprintf(buf, cap, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld", (long long)y,
                     (long long)m, (long long)d, (long long)(rem / 3600),
                     (long long)(rem % 3600 / 60), (long long)(rem % 60));
    if (us && n > 0 && (size_t)n < cap) {
        n += snprintf(buf + n, cap - (size_t)n, ".%06lld", (long long)us);
        while (buf[n - 1] == '0')
            buf[--n] = '\0';
    }
    if (utc && n > 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, "+00");
    return n;
}

int pgb_parse_uuid(const char *s, size_t n, char *hex)
{
    size_t o = 0;
    size_t a = 0, b = n;
    if (n >= 2 && s[0] == '{' && s[n - 1] == '}') {
        a = 1;
        b = n - 1;
    }
    size_t len = b - a;
    if (len != 32 && len != 36)
        return -1;
    for (size_t i = a; i < b; i++) {
        size_t pos = i - a;
        if (len == 36 && (pos == 8 || pos == 13 || pos == 18 || pos == 23)) {
            if (s[i] != '-')
                return -1;
            continue;
        }
        if (!isxdigit((unsigned char)s[i]))
            return -1;
        hex[o++] = (char)tolower((unsigned char)s[i]);
    }
    hex[o] = '\0';
    return o == 32 ? 0 : -1;
}

int pgb_parse_bool_text(const char *s, size_t n)
{
    static const char *const yes[] = {"true", "t", "1", NULL};
    static const char *const no[] = {"false", "f", "0", NULL};
    for (int i = 0; yes[i]; i++)
        if (strlen(yes[i]) == n && !strncasecmp(s, yes[i], n))
            return 1;
    for (int i = 0; no[i]; i++)
        if (strlen(no[i]) == n && !strncasecmp(s, no[i], n))
            return 0;
    return -1;
}

int pgb_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* Eight bytes at a time while they are ASCII without NUL: most text
         * is, and this check is the scan's largest cost on a big table. */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
            if ((w & highs) || ((w - ones) & ~w & highs))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = p[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        int len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || i + (size_t)len > n)
            return 0;
        uint32_t cp = c & (0x7f >> len);
        for (int k = 1; k < len; k++) {
            if ((p[i + (size_t)k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + (size_t)k] & 0x3f);
        }
        /* No overlong forms, no surrogates, nothing past U+10FFFF. */
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return 0;
        i += (size_t)len;
    }
    return 1;
}

size_t pgb_utf8_len(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            count++;
    return count;
}

/* NaN and the infinities as PostgreSQL writes them: the length, or -1 for a
 * finite d. */
static int nonfinite_text(double d, char *buf)
{
    if (d != d)
        return snprintf(buf, 32, "NaN");
    if (d > 1.7976931348623157e308)
        return snprintf(buf, 32, "Infinity");
    if (d < -1.7976931348623157e308)
        return snprintf(buf, 32, "-Infinity");
    return -1;
}

int pgb_double_text(double d, char *buf)
{
    int n = nonfinite_text(d, buf);
    if (n >= 0)
        return n;
    if (d == 0)
        return snprintf(buf, 32, "%s", signbit(d) ? "-0" : "0");
    /* The fewest significant digits that read back exactly ... A double
     * whose shortest form has k <= 15 digits rounds to those same k digits
     * (padded with zeros) at 15 digits: a double's error is under 1.2e-16
     * relative, half a 15-digit unit at least 5e-16. So 15 digits with the
     * trailing zeros cut is the shortest when it reads back, else 16, else
     * 17 (always enough): at most three tries, not seventeen. */
    char e[40];
    for (int p = 15; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, d);
        if (p == 17 || strtod(e, NULL) == d)
            break;
    }
    char digs[24];
    int nd = 0, neg = 0;
    const char *q = e;
    if (*q == '-') {
        neg = 1;
        q++;
    }
    for (; *q && *q != 'e'; q++)
        if (isdigit((unsigned char)*q) && nd < 20)
            digs[nd++] = *q;
    int exp = atoi(q + 1);
    while (nd > 1 && digs[nd - 1] == '0')
        nd--;
    /* ... laid out as PostgreSQL's float8 output does: fixed notation for
     * decimal exponents in [-4, 15), else d.ddde+XX. */
    int o = 0;
    if (neg)
        buf[o++] = '-';
    if (exp >= -4 && exp < 15) {
        if (exp < 0) {
            buf[o++] = '0';
            buf[o++] = '.';
            for (int i = 0; i < -exp - 1; i++)
                buf[o++] = '0';
            for (int i = 0; i < nd; i++)
                buf[o++] = digs[i];
        } else {
            for (int i = 0; i <= exp; i++)
                buf[o++] = i < nd ? digs[i] : '0';
            if (nd > exp + 1) {
                buf[o++] = '.';
                for (int i = exp + 1; i < nd; i++)
                    buf[o++] = digs[i];
            }
        }
        buf[o] = '\0';
        return o;
    }
    buf[o++] = digs[0];
    if (nd > 1) {
        buf[o++] = '.';
        for (int i = 1; i < nd; i++)
            buf[o++] = digs[i];
    }
    o += snprintf(buf + o, 12, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return o;
}

int pgb_numeric_special(const char *s, size_t n, const char **canon)
{
    static const char *const names[] = {"nan",       "inf",  "infinity", "+inf",
                                        "+infinity", "-inf", "-infinity"};
    static const int kinds[] = {1, 2, 2, 2, 2, 3, 3};
    static const char *const canons[] = {NULL, "NaN", "Infinity", "-Infinity"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == n && !strncasecmp(s, names[i], n)) {
            if (canon)
                *canon = canons[kinds[i]];
            return kinds[i];
        }
    return 0;
}

void pgb_excerpt(const char *s, size_t n, size_t max_chars, char *out, size_t cap)
{
    size_t o = 0, chars = 0, i = 0;
    if (cap == 0)
        return;
    while (i < n && chars < max_chars) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xe0) == 0xc0 ? 2
                     : (c & 0xf0) == 0xe0 ? 3
                     : (c & 0xf8) == 0xf0 ? 4
                                          : 0;
        char piece[8];
        size_t plen;
        if (len > 1 && i + len <= n && pgb_utf8_ok(s + i, len)) {
            memcpy(piece, s + i, len);
            plen = len;
        } else if (c == '\\') {
            memcpy(piece, "\\\\", 2);
            plen = 2;
            len = 1;
        } else if (c >= 0x20 && c < 0x7f) {
            piece[0] = (char)c;
            plen = 1;
            len = 1;
        } else {
            plen = (size_t)snprintf(piece, sizeof piece, "\\x%02x", c);
            len = 1;
        }
        if (o + plen + 4 > cap)
            break;
        memcpy(out + o, piece, plen);
        o += plen;
        i += len;
        chars++;
    }
    if (i < n && o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

int pgb_decimal_shape(const char *s, size_t n, int *int_digits, int *frac_digits)
{
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < n && s[i] == '0' && i + 1 < n && s[i + 1] != '.')
        i++;
    int id = 0, fd = 0, any = 0;
    while (i < n && isdigit((unsigned char)s[i])) {
        id++;
        any = 1;
        i++;
    }
    if (i < n && s[i] == '.') {
        i++;
        size_t start = i;
        while (i < n && isdigit((unsigned char)s[i])) {
            any = 1;
            i++;
        }
        size_t end = i;
        while (end > start && s[end - 1] == '0')
            end--;
        fd = (int)(end - start);
    }
    if (!any || i != n)
        return -1;
    if (id == 1 && s[n > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0] == '0')
        id = 0;
    *int_digits = id;
    *frac_digits = fd;
    return 0;
}

void pgb_decimal_normal(const char *s, size_t n, char *out)
{
    size_t i = 0, o = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    while (i < n && s[i] == '0')
        i++;
    size_t int_start = o;
    if (neg)
        out[o++] = '-';
    int_start = o;
    while (i < n && isdigit((unsigned char)s[i]))
        out[o++] = s[i++];
    if (o == int_start)
        out[o++] = '0';
    if (i < n && s[i] == '.') {
        i++;
        size_t dot = o;
        out[o++] = '.';
        while (i < n && isdigit((unsigned char)s[i]))
            out[o++] = s[i++];
        while (o > dot + 1 && out[o - 1] == '0')
            o--;
        if (o == dot + 1)
            o = dot;
    }
    out[o] = '\0';
    if (!strcmp(out, "-0"))
        strcpy(out, "0");
}

int pgb_epoch_text(int64_t secs, char *buf, size_t cap)
{
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y, m, d;
    civil_from_days(days, &y, &m, &d);
    return snprintf(buf, cap, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld+00", (long long)y,
                    (long long)m, (long long)d, (long long)(rem / 3600),
                    (long long)(rem % 3600 / 60), (long long)(rem % 60));
}

void pgb_plain_decimal(const char *s, char *out, size_t cap)
{
    const char *e = strpbrk(s, "eE");
    if (!e || cap < 2) {
        snprintf(out, cap, "%s", s);
        return;
    }
    int exp = atoi(e + 1);
    char digs[64];
    int nd = 0, point = -1, neg = 0;
    for (const char *p = s; p < e && nd < 60; p++) {
        if (*p == '-')
            neg = 1;
        else if (*p == '.')
            point = nd;
        else if (isdigit((unsigned char)*p))
            digs[nd++] = *p;
    }
    if (point < 0)
        point = nd;
    int pos = point + exp; /* digits before the decimal point */
    size_t o = 0;
    if (neg && o + 1 < cap)
        out[o++] = '-';
    if (pos <= 0) {
        out[o++] = '0';
        if (o + 1 < cap)
            out[o++] = '.';
        for (int i = 0; i < -pos && o + 1 < cap; i++)
            out[o++] = '0';
        for (int i = 0; i < nd && o + 1 < cap; i++)
            out[o++] = digs[i];
    } else {
        for (int i = 0; i < pos && o + 1 < cap; i++)
            out[o++] = i < nd ? digs[i] : '0';
        if (nd > pos && o + 1 < cap) {
            out[o++] = '.';
            for (int i = pos; i < nd && o + 1 < cap; i++)
                out[o++] = digs[i];
        }
    }
    out[o] = '\0';
}

int pgb_double_exact(double d, char *buf)
{
    int n = nonfinite_text(d, buf);
    if (n >= 0)
        return n;
    /* 17 significant digits always read back as the same double. */
    return snprintf(buf, 32, "%.17g", d);
}

int pgb_real_text(double d, char *buf)
{
    int n = pgb_double_text(d, buf);
    if (!strpbrk(buf, ".eEnN") && n + 2 < 40) {
        buf[n++] = '.';
        buf[n++] = '0';
        buf[n] = '\0';
    }
    return n;
}

/* ---- JSON -------------------------------------------------------------------- */

/* A JSON checker that allocates nothing, accepting exactly what jansson's
 * json_loadb(JSON_DECODE_ANY) accepts (the differential test in
 * tests/unit/test_migrate.c holds it to that): the scan checks every value
 * of a JSON column, and building a tree for each one cost more than reading
 * the database. */
#define JSON_MAX_DEPTH 2048

typedef struct {
    const unsigned char *p, *end;
} jcur;

static void j_ws(jcur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int j_hex4(jcur *c, unsigned *out)
{
    if (c->end - c->p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char h = c->p[i];
        v <<= 4;
        if (h >= '0' && h <= '9')
            v |= (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f')
            v |= (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            v |= (unsigned)(h - 'A' + 10);
        else
            return -1;
    }
    c->p += 4;
    *out = v;
    return 0;
}

static int j_string(jcur *c)
{
    c->p++; /* the opening quote */
    const unsigned char *run = c->p;
    for (;;) {
        if (c->p >= c->end)
            return -1;
        unsigned char ch = *c->p;
        if (ch == '"' || ch == '\\' || ch < 0x20) {
            if (!pgb_utf8_ok((const char *)run, (size_t)(c->p - run)))
                return -1;
        }
        if (ch == '"') {
            c->p++;
            return 0;
        }
        if (ch < 0x20)
            return -1;
        if (ch != '\\') {
            c->p++;
            continue;
        }
        c->p++;
        if (c->p >= c->end)
            return -1;
        ch = *c->p++;
        if (ch == 'u') {
            unsigned u;
            if (j_hex4(c, &u) != 0 || u == 0)
                return -1;
            if (u >= 0xDC00 && u <= 0xDFFF)
                return -1;
            if (u >= 0xD800 && u <= 0xDBFF) {
                unsigned lo;
                if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u')
                    return -1;
                c->p += 2;
                if (j_hex4(c, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
            }
        } else if (!strchr("\"\\/bfnrt", ch) || ch == 0) {
            return -1;
        }
        run = c->p;
    }
}

static int j_number(jcur *c)
{
    const unsigned char *start = c->p;
    int is_real = 0;
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p >= c->end)
        return -1;
    if (*c->p == '0') {
        c->p++;
    } else if (*c->p >= '1' && *c->p <= '9') {
        while (c->p < c->end && isdigit(*c->p))
            c->p++;
    } else {
        return -1;
    }
    if (c->p < c->end && *c->p == '.') {
        is_real = 1;
        c->p++;
        if (c->p >= c->end || !isdigit(*c->p))
            return -1;
        while (c->p < c->end && isdigit(*c->p))
            c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        is_real = 1;
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (c->p >= c->end || !isdigit(*c->p))
            return -1;
        while (c->p < c->end && isdigit(*c->p))
            c->p++;
    }
    /* jansson refuses integers beyond 64 bits and reals beyond a double. */
    char buf[512];
    size_t n = (size_t)(c->p - start);
    if (!is_real) {
        size_t digits = n - (*start == '-');
        if (digits < 19)
            return 0;
        if (digits > 19)
            return -1;
        const char *lim = *start == '-' ? "9223372036854775808" : "9223372036854775807";
        return memcmp(start + (*start == '-'), lim, 19) <= 0 ? 0 : -1;
    }
    char *text = n < sizeof buf ? buf : malloc(n + 1);
    if (!text)
        return -1;
    memcpy(text, start, n);
    text[n] = '\0';
    errno = 0;
    double d = strtod(text, NULL);
    int overflow = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
    if (text != buf)
        free(text);
    return overflow ? -1 : 0;
}

/* An object member's key and its colon. */
static int j_key(jcur *c)
{
    j_ws(c);
    if (c->p >= c->end || *c->p != '"' || j_string(c) != 0)
        return -1;
    j_ws(c);
    if (c->p >= c->end || *c->p != ':')
        return -1;
    c->p++;
    return 0;
}

int pgb_json_check(const char *s, size_t n, int *container)
{
    jcur c = {(const unsigned char *)s, (const unsigned char *)s + n};
    /* what each open level is: 1 object, 0 array */
    unsigned char stack[JSON_MAX_DEPTH];
    int depth = 0;
    *container = 0;
    j_ws(&c);
    if (c.p < c.end && (*c.p == '{' || *c.p == '['))
        *container = 1;
    for (;;) {
        /* a value */
        j_ws(&c);
        if (c.p >= c.end)
            return -1;
        unsigned char ch = *c.p;
        if (ch == '{' || ch == '[') {
            if (depth >= JSON_MAX_DEPTH)
                return -1;
            stack[depth++] = ch == '{';
            c.p++;
            j_ws(&c);
            if (c.p < c.end && *c.p == (ch == '{' ? '}' : ']')) {
                c.p++;
                depth--;
                goto after_value;
            }
            if (ch == '{' && j_key(&c) != 0)
                return -1;
            continue;
        }
        if (ch == '"') {
            if (j_string(&c) != 0)
                return -1;
        } else if (ch == '-' || isdigit(ch)) {
            if (j_number(&c) != 0)
                return -1;
        } else if (c.end - c.p >= 4 && !memcmp(c.p, "true", 4)) {
            c.p += 4;
        } else if (c.end - c.p >= 5 && !memcmp(c.p, "false", 5)) {
            c.p += 5;
        } else if (c.end - c.p >= 4 && !memcmp(c.p, "null", 4)) {
            c.p += 4;
        } else {
            return -1;
        }
    after_value:
        for (;;) {
            j_ws(&c);
            if (depth == 0)
                return c.p == c.end ? 0 : -1;
            if (c.p >= c.end)
                return -1;
            int obj = stack[depth - 1];
            if (*c.p == (obj ? '}' : ']')) {
                c.p++;
                depth--;
                continue;
            }
            if (*c.p != ',')
                return -1;
            c.p++;
            if (obj && j_key(&c) != 0)
                return -1;
            break;
        }
    }
}
