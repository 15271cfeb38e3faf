/* The manifest of pinned bundles (vendor-manifest.json), and npm integrity
 * strings. The manifest is the root of trust: the digests in it are compiled
 * into the library, so nothing fetched from a registry can vouch for itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "bootstrap.h"

/* One PostgreSQL major's release: its version and its pins. */
typedef struct {
    unsigned int major;
    const char *pg_version; /* "16.14", owned by root */
    size_t count;
    pgboot_bundle_pin *pins;
} release;

struct pgboot_manifest {
    unsigned int default_major;
    size_t nreleases;
    release *releases; /* ascending majors */
    json_t *root;      /* owns the strings the pins point into */
};

void pgboot_manifest_free(pgboot_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nreleases; i++)
        free(m->releases[i].pins);
    free(m->releases);
    json_decref(m->root);
    free(m);
}

static const release *release_of(const pgboot_manifest *m, unsigned int major)
{
    for (size_t i = 0; i < m->nreleases; i++)
        if (m->releases[i].major == major)
            return &m->releases[i];
    return NULL;
}

static const release *default_release(const pgboot_manifest *m)
{
    return release_of(m, m->default_major);
}

const char *pgboot_manifest_pg_version(const pgboot_manifest *m)
{
    return default_release(m)->pg_version;
}

size_t pgboot_manifest_count(const pgboot_manifest *m)
{
    return default_release(m)->count;
}

const pgboot_bundle_pin *pgboot_manifest_at(const pgboot_manifest *m, size_t i)
{
    const release *r = default_release(m);
    return i < r->count ? &r->pins[i] : NULL;
}

unsigned int pgboot_manifest_default_major(const pgboot_manifest *m)
{
    return m->default_major;
}

size_t pgboot_manifest_major_count(const pgboot_manifest *m)
{
    return m->nreleases;
}

unsigned int pgboot_manifest_major_at(const pgboot_manifest *m, size_t i)
{
    return i < m->nreleases ? m->releases[i].major : 0;
}

const char *pgboot_manifest_major_version(const pgboot_manifest *m, unsigned int major)
{
    const release *r = release_of(m, major);
    return r ? r->pg_version : NULL;
}

void pgb_manifest_majors_text(const pgboot_manifest *m, char *out, size_t len)
{
    out[0] = '\0';
    for (size_t i = 0; i < m->nreleases; i++) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%u", i ? ", " : "", m->releases[i].major);
    }
}

const pgboot_bundle_pin *pgboot_manifest_find_major(const pgboot_manifest *m, unsigned int major,
                                                    const char *platform)
{
    const release *r = release_of(m, major ? major : m->default_major);
    if (!r) {
        char known[128];
        pgb_manifest_majors_text(m, known, sizeof known);
        pgb_fail(PGBOOT_ENOTFOUND, "no PostgreSQL %u bundle is pinned (pinned majors: %s)", major,
                 known);
        pgb_hint("choose one of them with --pg-version (or PGBOOT_PG_VERSION)");
        return NULL;
    }
    for (size_t i = 0; i < r->count; i++)
        if (!strcmp(r->pins[i].platform, platform))
            return &r->pins[i];
    char known[512] = "";
    for (size_t i = 0; i < r->count; i++) {
        if (i)
            strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, r->pins[i].platform, sizeof known - strlen(known) - 1);
    }
    pgb_fail(PGBOOT_ENOTFOUND, "no PostgreSQL %u bundle is pinned for platform '%s'", r->major,
             platform);
    pgb_hint("pinned platforms: %s", known);
    return NULL;
}

const pgboot_bundle_pin *pgboot_manifest_find(const pgboot_manifest *m, const char *platform)
{
    return pgboot_manifest_find_major(m, 0, platform);
}

/* Characters that may appear in names we put into URLs and file names. */
static int is_safe_token(const char *s, const char *extra)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || strchr(extra, c)))
            return 0;
    }
    return 1;
}

static int get_string(json_t *obj, const char *key, const char **out, const char *where)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return pgb_fail(PGBOOT_EINVALID, "%s: field '%s' is missing or not a non-empty string",
                        where, key);
    *out = json_string_value(v);
    return 0;
}

static int get_size(json_t *obj, const char *key, uint64_t *out, const char *where)
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return pgb_fail(PGBOOT_EINVALID, "%s: field '%s' must be a non-negative integer", where,
                        key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_pin(pgboot_bundle_pin *pin, const char *platform, json_t *obj, const char *origin,
                     const char *pg_version)
{
    char where[256];
    snprintf(where, sizeof where, "%s: platform '%s'", origin, platform);
    if (!json_is_object(obj))
        return pgb_fail(PGBOOT_EINVALID, "%s is not an object", where);
    if (!is_safe_token(platform, ""))
        return pgb_fail(PGBOOT_EINVALID,
                        "%s: the platform name has characters other than "
                        "letters, digits, '.', '-' and '_'",
                        where);
    pin->platform = platform;
    pin->pg_version = pg_version;
    int rc;
    if ((rc = get_string(obj, "package", &pin->package, where)) ||
        (rc = get_string(obj, "version", &pin->version, where)) ||
        (rc = get_string(obj, "tarball", &pin->tarball, where)) ||
        (rc = get_string(obj, "integrity", &pin->integrity, where)) ||
        (rc = get_size(obj, "size", &pin->size, where)) ||
        (rc = get_size(obj, "unpacked_size", &pin->unpacked_size, where)))
        return rc;
    const char *pkg = pin->package;
    if (pkg[0] == '@') {
        const char *slash = strchr(pkg, '/');
        if (!slash || slash == pkg + 1 || !is_safe_token(slash + 1, "") || strchr(slash + 1, '/'))
            return pgb_fail(PGBOOT_EINVALID, "%s: package '%s' is not an npm package name", where,
                            pkg);
    } else if (!is_safe_token(pkg, "")) {
        return pgb_fail(PGBOOT_EINVALID, "%s: package '%s' is not an npm package name", where, pkg);
    }
    if (!is_safe_token(pin->version, "+"))
        return pgb_fail(PGBOOT_EINVALID, "%s: version '%s' is not a package version", where,
                        pin->version);
    if (!is_safe_token(pin->tarball, ""))
        return pgb_fail(PGBOOT_EINVALID, "%s: tarball '%s' is not a plain file name", where,
                        pin->tarball);
    unsigned char digest[PGBOOT_SHA512_BYTES];
    if (pgboot_integrity_parse(pin->integrity, digest) != 0)
        return pgb_fail(PGBOOT_EINVALID, "%s: %s", where, pgboot_error_last());
    return 0;
}

/* One release object: {"postgresql": "16.14", "platforms": {...}}. */
static int parse_release(release *r, unsigned int major, json_t *obj, const char *origin)
{
    r->major = major;
    const char *pgv = json_string_value(json_object_get(obj, "postgresql"));
    json_t *plats = json_object_get(obj, "platforms");
    char where[300];
    snprintf(where, sizeof where, "%s: release %u", origin, major);
    if (!json_is_object(obj))
        return pgb_fail(PGBOOT_EINVALID, "%s is not an object", where);
    if (!pgv || !*pgv || strspn(pgv, "0123456789.") != strlen(pgv))
        return pgb_fail(PGBOOT_EINVALID,
                        "%s: field 'postgresql' must be a version such as \"16.14\"", where);
    if ((unsigned int)atoi(pgv) != major || pgv[strspn(pgv, "0123456789")] != '.')
        return pgb_fail(PGBOOT_EINVALID,
                        "%s: field 'postgresql' (%s) is not a PostgreSQL %u version", where, pgv,
                        major);
    if (!json_is_object(plats) || json_object_size(plats) == 0)
        return pgb_fail(PGBOOT_EINVALID, "%s: field 'platforms' must be a non-empty object", where);
    r->pg_version = pgv;
    if (!(r->pins = calloc(json_object_size(plats), sizeof *r->pins)))
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach(plats, key, val)
    {
        int rc = parse_pin(&r->pins[r->count], key, val, origin, pgv);
        if (rc)
            return rc;
        r->count++;
    }
    return 0;
}

static int cmp_release(const void *a, const void *b)
{
    unsigned int x = ((const release *)a)->major, y = ((const release *)b)->major;
    return x < y ? -1 : x > y;
}

/* Schema 1: one release, {"schema": 1, "postgresql": "16.14", "platforms": {...}}.
 * Schema 2: {"schema": 2, "default_major": 16, "releases": {"16": {"postgresql":
 * "16.14", "platforms": {...}}, "17": ...}}. */
static int parse_root(pgboot_manifest *m, json_t *root, const char *origin)
{
    json_t *schema = json_object_get(root, "schema");
    if (!json_is_object(root))
        return pgb_fail(PGBOOT_EINVALID, "%s: the top level is not an object", origin);
    json_int_t sv = json_is_integer(schema) ? json_integer_value(schema) : 0;
    if (sv == 1) {
        const char *pgv = json_string_value(json_object_get(root, "postgresql"));
        if (!pgv || !*pgv || strspn(pgv, "0123456789.") != strlen(pgv))
            return pgb_fail(PGBOOT_EINVALID,
                            "%s: field 'postgresql' must be a version such as \"16.14\"", origin);
        if (!(m->releases = calloc(1, sizeof *m->releases)))
            return pgb_fail(PGBOOT_ENOMEM, "out of memory");
        m->nreleases = 1;
        m->default_major = (unsigned int)atoi(pgv);
        return parse_release(&m->releases[0], m->default_major, root, origin);
    }
    if (sv != 2)
        return pgb_fail(PGBOOT_EINVALID,
                        "%s: field 'schema' must be 1 or 2 (this pgboot reads manifest "
                        "schemas 1 and 2)",
                        origin);
    json_t *rels = json_object_get(root, "releases");
    json_t *def = json_object_get(root, "default_major");
    if (!json_is_object(rels) || json_object_size(rels) == 0)
        return pgb_fail(PGBOOT_EINVALID, "%s: field 'releases' must be a non-empty object", origin);
    if (!json_is_integer(def) || json_integer_value(def) <= 0)
        return pgb_fail(PGBOOT_EINVALID, "%s: field 'default_major' must be a major such as 16",
                        origin);
    m->default_major = (unsigned int)json_integer_value(def);
    if (!(m->releases = calloc(json_object_size(rels), sizeof *m->releases)))
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach(rels, key, val)
    {
        unsigned int major;
        if (pgb_pg_major_parse(key, &major) != 0)
            return pgb_fail(PGBOOT_EINVALID, "%s: release '%.40s' is not named by its major",
                            origin, key);
        int rc = parse_release(&m->releases[m->nreleases], major, val, origin);
        m->nreleases++;
        if (rc)
            return rc;
    }
    qsort(m->releases, m->nreleases, sizeof *m->releases, cmp_release);
    if (!release_of(m, m->default_major))
        return pgb_fail(PGBOOT_EINVALID, "%s: 'default_major' %u has no release", origin,
                        m->default_major);
    return 0;
}

int pgboot_manifest_parse(pgboot_manifest **out, const char *json, size_t len, const char *origin)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        int rc = pgb_fail(PGBOOT_EINVALID, "%s is not valid JSON (line %d, column %d: %s)", origin,
                          jerr.line, jerr.column, jerr.text);
        pgb_hint("fix the file or leave out --manifest to use the manifest built into pgboot");
        return rc;
    }
    pgboot_manifest *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(root);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    m->root = root;
    int rc = parse_root(m, root, origin);
    if (rc != 0) {
        pgboot_manifest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int pgboot_manifest_load(pgboot_manifest **out, const char *path)
{
    *out = NULL;
    if (!path)
        return pgboot_manifest_parse(out, pgb_builtin_manifest, pgb_builtin_manifest_len,
                                     "the built-in manifest");
    char *buf;
    size_t len;
    int rc = pgb_read_file(path, &buf, &len, 1 << 20);
    if (rc)
        return rc;
    rc = pgboot_manifest_parse(out, buf, len, path);
    free(buf);
    return rc;
}

int pgboot_integrity_parse(const char *integrity, unsigned char digest[PGBOOT_SHA512_BYTES])
{
    if (!integrity)
        return pgb_fail(PGBOOT_EINVALID, "no integrity string");
    /* Subresource-integrity strings may list several hashes separated by
     * spaces; pgboot trusts only sha512. */
    const char *p = integrity;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n > 7 && !strncmp(p, "sha512-", 7)) {
            const char *b64 = p + 7;
            size_t b64len = n - 7;
            /* Drop "?options" as SRI allows. */
            const char *q = memchr(b64, '?', b64len);
            if (q)
                b64len = (size_t)(q - b64);
            size_t got = 0;
            const char *end = NULL;
            if (sodium_base642bin(digest, PGBOOT_SHA512_BYTES, b64, b64len, NULL, &got, &end,
                                  sodium_base64_VARIANT_ORIGINAL) != 0 ||
                got != PGBOOT_SHA512_BYTES || end != b64 + b64len)
                return pgb_fail(PGBOOT_EINVALID,
                                "integrity '%.100s' is not a valid sha512 digest (expected 64 "
                                "bytes of base64)",
                                integrity);
            return 0;
        }
        p += n;
    }
    return pgb_fail(PGBOOT_EINVALID,
                    "integrity '%.100s' has no sha512 digest (expected \"sha512-<base64>\")",
                    integrity);
}

int pgboot_pg_major_parse(const char *text, unsigned int *major)
{
    pgb_error_reset();
    return pgb_pg_major_parse(text, major);
}

const char *pgboot_platform_current(void)
{
    return pgb_sys_platform();
}
