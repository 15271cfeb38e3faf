/* Where bundles come from: resolving the registry URL, and the address of a
 * tarball in the npm registry layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"

#ifndef PGBOOT_DEFAULT_REGISTRY
#define PGBOOT_DEFAULT_REGISTRY ""
#endif

const char *pgboot_registry_builtin(void)
{
    return PGBOOT_DEFAULT_REGISTRY;
}

const char *pgboot_registry_source_name(pgboot_registry_source source)
{
    switch (source) {
    case PGBOOT_REGISTRY_OPTION:
        return "--mirror";
    case PGBOOT_REGISTRY_ENV_PGBOOT:
        return "PGBOOT_MIRROR";
    case PGBOOT_REGISTRY_ENV_NPM:
        return "npm_config_registry";
    case PGBOOT_REGISTRY_NPMRC:
        return ".npmrc";
    case PGBOOT_REGISTRY_BUILTIN:
        return "the default recorded at build time";
    default:
        return "nowhere";
    }
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r\n", s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* The value of the first `registry=` line of an .npmrc, malloc'd, or NULL. */
static char *npmrc_registry(const char *path)
{
    char *text;
    if (pgb_read_file(path, &text, NULL, 1 << 20) != 0) {
        pgb_error_reset(); /* an unreadable or missing .npmrc just means "not set here" */
        return NULL;
    }
    char *found = NULL;
    for (char *line = strtok(text, "\n"); line && !found; line = strtok(NULL, "\n")) {
        char *l = trim(line);
        if (*l == ';' || *l == '#')
            continue;
        char *eq = strchr(l, '=');
        if (!eq)
            continue;
        *eq = '\0';
        if (strcmp(trim(l), "registry") != 0)
            continue;
        char *v = trim(eq + 1);
        size_t n = strlen(v);
        if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
            v[n - 1] = '\0';
            v++;
        }
        if (*v)
            found = pgb_strdup(v);
    }
    free(text);
    return found;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int pgboot_registry_resolve(char **out, pgboot_registry_source *source, const char *mirror)
{
    *out = NULL;
    *source = PGBOOT_REGISTRY_NONE;
    char *url = NULL;
    const char *v;
    if (mirror && *mirror) {
        url = pgb_strdup(mirror);
        *source = PGBOOT_REGISTRY_OPTION;
    } else if ((v = env_nonempty("PGBOOT_MIRROR"))) {
        url = pgb_strdup(v);
        *source = PGBOOT_REGISTRY_ENV_PGBOOT;
    } else if ((v = env_nonempty("npm_config_registry")) ||
               (v = env_nonempty("NPM_CONFIG_REGISTRY"))) {
        url = pgb_strdup(v);
        *source = PGBOOT_REGISTRY_ENV_NPM;
    } else {
        const char *rc = env_nonempty("NPM_CONFIG_USERCONFIG");
        if (!rc)
            rc = env_nonempty("npm_config_userconfig");
        char *path = NULL, *home = NULL;
        if (rc)
            path = pgb_strdup(rc);
        else if (pgb_home_dir(&home) == 0)
            path = pgb_path_join(home, ".npmrc");
        pgb_error_reset();
        if (path && (url = npmrc_registry(path)))
            *source = PGBOOT_REGISTRY_NPMRC;
        free(path);
        free(home);
        if (!url && *PGBOOT_DEFAULT_REGISTRY) {
            url = pgb_strdup(PGBOOT_DEFAULT_REGISTRY);
            *source = PGBOOT_REGISTRY_BUILTIN;
        }
    }
    if (*source == PGBOOT_REGISTRY_NONE) {
        int rc = pgb_fail(PGBOOT_ENOREGISTRY,
                          "no registry is configured to download the PostgreSQL bundle from, and "
                          "it is not in the cache");
        pgb_hint("set one with --mirror URL or PGBOOT_MIRROR=URL (an npm registry, or file:///DIR "
                 "in its layout), or install from a local tarball with --from FILE.tgz");
        return rc;
    }
    if (!url)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (!pgb_str_has_prefix(url, "http://") && !pgb_str_has_prefix(url, "https://") &&
        !pgb_str_has_prefix(url, "file://")) {
        int rc = pgb_fail(PGBOOT_EINVALID,
                          "registry URL '%s' (from %s) must start with https://, http:// or "
                          "file://",
                          url, pgboot_registry_source_name(*source));
        free(url);
        return rc;
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        url[--n] = '\0';
    *out = url;
    return 0;
}

int pgboot_bundle_url(char **out, const char *registry, const pgboot_bundle_pin *pin)
{
    const char *slash = strrchr(pin->package, '/');
    const char *base = slash ? slash + 1 : pin->package;
    size_t n = strlen(registry);
    while (n > 0 && registry[n - 1] == '/')
        n--;
    *out = pgb_printf("%.*s/%s/-/%s-%s.tgz", (int)n, registry, pin->package, base, pin->version);
    return *out ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
}
