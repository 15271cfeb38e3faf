/* Reading and writing values exactly: dates, UUIDs, booleans, UTF-8, JSON, numbers
 * (migrate/values.c). Internal. */
#ifndef PGBOOT_MIGRATE_VALUES_H
#define PGBOOT_MIGRATE_VALUES_H

#include <stddef.h>
#include <stdint.h>

/* An ISO-8601 date or timestamp: "YYYY-MM-DD", optionally followed by "T" or
 * " " and "HH:MM[:SS[.f...]]", optionally by "Z" or "+HH[:MM]"/"-HH[:MM]".
 * Returns 0 if s is one, with its parts. */
typedef struct {
    int has_time;
    int has_zone;
    int frac_digits; /* any number: Rust and Go write 9, .NET 7 */
    int frac_lost;   /* a digit past the sixth is not 0: microseconds cannot hold it */
    int64_t micros;  /* since 1970-01-01 00:00:00 (UTC when has_zone), rounded to the
                        nearest microsecond (halves up) */
} pgb_iso;
int pgb_parse_iso(const char *s, size_t n, pgb_iso *out);
/* MySQL's "no date": "0000-00-00", optionally with a time of zeros
 * ("0000-00-00 00:00:00", "T00:00:00.000"). 1 if s is one. */
int pgb_zero_date(const char *s, size_t n);
/* A timestamp in microseconds since 1970-01-01 as PostgreSQL reads it back:
 * "YYYY-MM-DD HH:MM:SS.ffffff" (no fraction when 0), with "+00" when utc.
 * Returns the length; buf >= 40. */
int pgb_micros_text(int64_t micros, int utc, char *buf, size_t cap);
/* A UUID as 8-4-4-4-12 hex (or 32 hex digits, or in braces): the 32 lower
 * hex digits into hex (33 bytes). */
int pgb_parse_uuid(const char *s, size_t n, char *hex);
/* 1: true-ish text, 0: false-ish, -1: neither. */
int pgb_parse_bool_text(const char *s, size_t n);
/* Valid UTF-8 without NUL bytes? */
int pgb_utf8_ok(const char *s, size_t n);
/* One JSON text as jansson's json_loadb(JSON_DECODE_ANY) takes it (and so
 * jsonb: valid UTF-8, no \u0000, paired surrogates, numbers within a
 * double / 64-bit integer, at most 2048 levels)? 0 if so, with *container
 * set for an object or array at the top; -1 if not. Allocates nothing. */
int pgb_json_check(const char *s, size_t n, int *container);
/* Number of UTF-8 characters. */
size_t pgb_utf8_len(const char *s, size_t n);
/* The shortest decimal text that reads back as exactly d (as PostgreSQL's
 * float8 output gives it); returns its length. buf: at least 32 bytes. */
int pgb_double_text(double d, char *buf);
/* A numeric special as PostgreSQL's numeric reads it (any case): 'NaN' 1;
 * 'Infinity'/'inf', with or without '+', 2; '-Infinity'/'-inf' 3; else 0.
 * *canon: the text PostgreSQL gives back ("NaN", "Infinity", "-Infinity"). */
int pgb_numeric_special(const char *s, size_t n, const char **canon);
/* An excerpt of a value for a message or a report, always valid UTF-8: at
 * most max_chars characters of s, valid UTF-8 as it is, every other byte and
 * every control character as \xNN (backslash as \\), "..." when cut.
 * Into out (cap bytes; max_chars * 4 + 8 is always enough). */
void pgb_excerpt(const char *s, size_t n, size_t max_chars, char *out, size_t cap);
/* Decimal digits of a number given as text: digits before and after the
 * point (after trimming trailing zeros); -1 if not a plain decimal number. */
int pgb_decimal_shape(const char *s, size_t n, int *int_digits, int *frac_digits);
/* A decimal text normalised for comparison: no '+', no leading zeros, no
 * trailing fraction zeros, "-0" -> "0". Into out (n + 2 bytes). */
void pgb_decimal_normal(const char *s, size_t n, char *out);

/* Text that reads back as exactly d, in one try (17 digits, not the fewest):
 * for a double precision column, where only the value counts. buf >= 32. */
int pgb_double_exact(double d, char *buf);
/* A REAL as text, exactly: the shortest digits that read back as the same
 * double, with ".0" kept on integral values (SQLite's own text form has
 * only 15 digits and would lose some). Returns the length; buf >= 40. */
int pgb_real_text(double d, char *buf);
/* Epoch seconds as "YYYY-MM-DD HH:MM:SS+00"; returns the length. */
int pgb_epoch_text(int64_t secs, char *buf, size_t cap);
/* A decimal in plain notation (no exponent) from "d.ddde+XX"-style text. */
void pgb_plain_decimal(const char *s, char *out, size_t cap);

#endif
