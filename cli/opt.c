/* Option tables: parsing one command's argv against its table, and the usage
 * text generated from the tables (so it cannot drift from what is parsed).
 * The parsing is getopt_long's, fed a table built from the command's specs;
 * what getopt refuses is explained here, naming the commands an option of
 * another command belongs to. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* More than any command's options (migrate has the most, about 30). */
#define MAX_OPTS 64
#define HELP_COL 26
#define WIDTH 80

static const cli_opt help_opt = {CLI_OPT_HELP, "help", 'h', NULL, "show this help", NULL};

/* Each option of a table, with the group it comes from (NULL: the command's own). */
typedef void (*opt_visit)(const cli_opt *o, const cli_opt_group *g, void *ctx);

static void each_opt(const cli_opt *table, opt_visit fn, void *ctx)
{
    for (const cli_opt *e = table; e->name || e->include; e++) {
        if (!e->include) {
            fn(e, NULL, ctx);
            continue;
        }
        for (const cli_opt *o = e->include->opts; o->name; o++)
            fn(o, e->include, ctx);
    }
}

typedef struct {
    cli_opt_id id;
    const cli_opt *found;
} id_lookup;

static void match_id(const cli_opt *o, const cli_opt_group *g, void *ctx)
{
    (void)g;
    id_lookup *l = ctx;
    if (o->id == l->id && !l->found)
        l->found = o;
}

const cli_opt *cli_opt_find(const cli_opt *table, cli_opt_id id)
{
    id_lookup l = {id, NULL};
    each_opt(table, match_id, &l);
    return l.found;
}

/* ---- parsing --------------------------------------------------------------- */

typedef struct {
    const cli_opt *specs[MAX_OPTS + 1];
    size_t n;
    struct option longopts[MAX_OPTS + 2];
    char shortopts[4 + 2 * MAX_OPTS];
    unsigned char seen[MAX_OPTS + 1];
} parser_impl;

static void add_spec(const cli_opt *o, const cli_opt_group *g, void *ctx)
{
    (void)g;
    parser_impl *im = ctx;
    if (im->n < MAX_OPTS)
        im->specs[im->n++] = o;
}

int cli_parser_init(cli_parser *p, const cli_cmd *cmd, int argc, char **argv)
{
    memset(p, 0, sizeof *p);
    parser_impl *im = calloc(1, sizeof *im);
    if (!im) {
        fprintf(stderr, "pgboot: error: out of memory\n");
        return CLI_EXIT_FAILURE;
    }
    each_opt(cmd->opts, add_spec, im);
    im->specs[im->n++] = &help_opt;
    /* "+": stop at the first operand; ":": a missing argument is told apart. */
    char *s = im->shortopts;
    *s++ = '+';
    *s++ = ':';
    for (size_t i = 0; i < im->n; i++) {
        const cli_opt *o = im->specs[i];
        im->longopts[i] =
            (struct option){o->name, o->arg ? required_argument : no_argument, NULL, (int)o->id};
        if (o->short_name) {
            *s++ = o->short_name;
            if (o->arg)
                *s++ = ':';
        }
    }
    *s = '\0';
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    p->impl = im;
    optind = 1;
    opterr = 0;
    return 0;
}

void cli_parser_free(cli_parser *p)
{
    free(p->impl);
    p->impl = NULL;
}

static const cli_opt *spec_of(const parser_impl *im, int c)
{
    for (size_t i = 0; i < im->n; i++)
        if ((int)im->specs[i]->id == c || (c < CLI_OPT_HELP && im->specs[i]->short_name == c))
            return im->specs[i];
    return NULL;
}

/* Collecting the commands whose tables have an option of a name. */
typedef struct {
    const char *name; /* long name, or NULL */
    char short_name;
    int found;
} opt_lookup;

static void match_opt(const cli_opt *o, const cli_opt_group *g, void *ctx)
{
    (void)g;
    opt_lookup *l = ctx;
    if ((l->name && !strcmp(o->name, l->name)) || (l->short_name && o->short_name == l->short_name))
        l->found = 1;
}

/* "start, restart and serve": the commands with that option; 0 if none. */
static int commands_with(const char *name, char short_name, char *buf, size_t size)
{
    const cli_cmd *hits[32];
    int n = 0;
    for (const cli_cmd *c = cli_cmds; c->name && n < 32; c++) {
        opt_lookup l = {name, short_name, 0};
        each_opt(c->opts, match_opt, &l);
        if (l.found)
            hits[n++] = c;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                i == 0       ? ""
                                : i == n - 1 ? " and "
                                             : ", ",
                                hits[i]->name);
    return n;
}

/* getopt refused argv[optind - 1] (optopt: the short option, or the id of a
 * flag given a value, or 0). */
static int refused(cli_parser *p, int optopt_)
{
    const char *word = p->argv[optind - 1];
    const char *cmd = p->cmd->name;
    if (optopt_ >= CLI_OPT_HELP) {
        const cli_opt *o = spec_of(p->impl, optopt_);
        return cli_cmd_usage_error(p->cmd, "%s: --%s takes no value ('%s')", cmd, o ? o->name : "?",
                                   word);
    }
    char name[64] = "", shown[72], others[256];
    char short_name = 0;
    if (optopt_ > 0) {
        short_name = (char)optopt_;
        snprintf(shown, sizeof shown, "-%c", short_name);
    } else {
        const char *n = word + (word[0] == '-' && word[1] == '-' ? 2 : 0);
        snprintf(name, sizeof name, "%.*s", (int)strcspn(n, "="), n);
        snprintf(shown, sizeof shown, "--%s", name);
    }
    if (commands_with(short_name ? NULL : name, short_name, others, sizeof others) > 0)
        return cli_cmd_usage_error(p->cmd, "%s does not apply to %s; it is an option of %s", shown,
                                   cmd, others);
    return cli_cmd_usage_error(p->cmd, "%s: unknown or ambiguous option '%s'", cmd,
                               optopt_ > 0 ? shown : word);
}

int cli_parse_next(cli_parser *p, const char **arg)
{
    parser_impl *im = p->impl;
    *arg = NULL;
    int c = getopt_long(p->argc, p->argv, im->shortopts, im->longopts, NULL);
    if (c == -1) {
        p->next = optind;
        return 0;
    }
    p->status = CLI_EXIT_USAGE;
    if (c == ':') {
        const cli_opt *o = spec_of(im, optopt);
        cli_cmd_usage_error(p->cmd, "%s: %s needs a value%s%s", p->cmd->name, p->argv[optind - 1],
                            o && o->arg ? ": " : "", o && o->arg ? o->arg : "");
        return -1;
    }
    if (c == '?') {
        refused(p, optopt);
        return -1;
    }
    const cli_opt *o = spec_of(im, c);
    if (!o) { /* cannot happen: getopt returns what the table holds */
        cli_cmd_usage_error(p->cmd, "%s: unknown option '%s'", p->cmd->name, p->argv[optind - 1]);
        return -1;
    }
    if (o->id == CLI_OPT_HELP) {
        cli_usage_cmd(stdout, p->cmd);
        p->status = CLI_EXIT_OK;
        return -1;
    }
    p->status = CLI_EXIT_OK;
    for (size_t i = 0; i < im->n; i++)
        if (im->specs[i] == o)
            im->seen[i] = 1;
    *arg = optarg;
    return (int)o->id;
}

int cli_parse_seen(const cli_parser *p, cli_opt_id id)
{
    const parser_impl *im = p->impl;
    for (size_t i = 0; i < im->n; i++)
        if (im->specs[i]->id == id && im->seen[i])
            return 1;
    return 0;
}

/* ---- usage ----------------------------------------------------------------- */

/* Print text from column col (where the cursor is), words wrapped at WIDTH,
 * further lines indented to col; then a newline. */
static void put_wrapped(FILE *out, const char *text, int col)
{
    int at = col;
    const char *p = text;
    while (*p) {
        size_t w = strcspn(p, " ");
        if (at > col && at + 1 + (int)w > WIDTH) {
            fprintf(out, "\n%*s", col, "");
            at = col;
        } else if (at > col) {
            fputc(' ', out);
            at++;
        }
        fwrite(p, 1, w, out);
        at += (int)w;
        p += w;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

static void put_opt(FILE *out, const cli_opt *o, const char *also)
{
    char left[96];
    if (o->short_name)
        snprintf(left, sizeof left, "  -%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
    else
        snprintf(left, sizeof left, "  --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    int n = (int)strlen(left);
    if (n > HELP_COL - 2)
        fprintf(out, "%s\n%*s", left, HELP_COL, "");
    else
        fprintf(out, "%-*s", HELP_COL, left);
    if (!also) {
        put_wrapped(out, o->help, HELP_COL);
        return;
    }
    char text[1024];
    snprintf(text, sizeof text, "%s [%s]", o->help, also);
    put_wrapped(out, text, HELP_COL);
}

typedef struct {
    FILE *out;
    const cli_opt_group *titled; /* print the options of this group only */
    const cli_opt_group *groups[MAX_OPTS];
    size_t ngroups;
} usage_ctx;

static void put_untitled(const cli_opt *o, const cli_opt_group *g, void *ctx)
{
    usage_ctx *u = ctx;
    if (g && g->title) {
        for (size_t i = 0; i < u->ngroups; i++)
            if (u->groups[i] == g)
                return;
        if (u->ngroups < MAX_OPTS)
            u->groups[u->ngroups++] = g;
        return;
    }
    put_opt(u->out, o, NULL);
}

void cli_usage_cmd(FILE *out, const cli_cmd *cmd)
{
    fprintf(out, "usage: pgboot %s [options]%s%s\n\n", cmd->name, cmd->operands ? " " : "",
            cmd->operands ? cmd->operands : "");
    put_wrapped(out, cmd->about ? cmd->about : cmd->summary, 0);
    fprintf(out, "\noptions:\n");
    usage_ctx u = {.out = out};
    each_opt(cmd->opts, put_untitled, &u);
    put_opt(out, &help_opt, NULL);
    for (size_t i = 0; i < u.ngroups; i++) {
        fprintf(out, "\n%s:\n", u.groups[i]->title);
        for (const cli_opt *o = u.groups[i]->opts; o->name; o++)
            put_opt(out, o, NULL);
    }
}

/* ---- the whole tool's usage ------------------------------------------------ */

typedef struct {
    const void *key; /* a spec, or a titled group */
    int found;
} key_lookup;

static void match_key(const cli_opt *o, const cli_opt_group *g, void *ctx)
{
    key_lookup *l = ctx;
    if (o == l->key || (g && g->title && g == l->key))
        l->found = 1;
}

/* "start, restart" for a spec or a titled group. */
static void commands_of(const void *key, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (const cli_cmd *c = cli_cmds; c->name && len < size; c++) {
        key_lookup l = {key, 0};
        each_opt(c->opts, match_key, &l);
        if (l.found)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", c->name);
    }
}

/* Every option once, in the order of the commands: a spec, or a titled group. */
typedef struct {
    const void *keys[4 * MAX_OPTS];
    int titled[4 * MAX_OPTS];
    size_t n;
} key_list;

static void add_key(const cli_opt *o, const cli_opt_group *g, void *ctx)
{
    key_list *k = ctx;
    int titled = g && g->title;
    const void *key = titled ? (const void *)g : (const void *)o;
    for (size_t i = 0; i < k->n; i++)
        if (k->keys[i] == key)
            return;
    if (k->n < sizeof k->keys / sizeof k->keys[0]) {
        k->keys[k->n] = key;
        k->titled[k->n++] = titled;
    }
}

void cli_usage_all(FILE *out)
{
    fputs("usage: pgboot <command> [options] [operands]\n"
          "       pgboot <command> --help    the options of one command\n"
          "       pgboot --version | --help\n"
          "\n"
          "PostgreSQL with zero setup.\n"
          "\n"
          "commands:\n",
          out);
    key_list keys = {.n = 0};
    for (const cli_cmd *c = cli_cmds; c->name; c++) {
        fprintf(out, "  %-9s", c->name);
        put_wrapped(out, c->summary, 11);
        each_opt(c->opts, add_key, &keys);
    }
    char cmds[512];
    fputs("\noptions [the commands that take them]:\n", out);
    for (size_t i = 0; i < keys.n; i++) {
        if (keys.titled[i])
            continue;
        commands_of(keys.keys[i], cmds, sizeof cmds);
        put_opt(out, keys.keys[i], cmds);
    }
    put_opt(out, &help_opt, "all");
    for (size_t i = 0; i < keys.n; i++) {
        if (!keys.titled[i])
            continue;
        const cli_opt_group *g = keys.keys[i];
        commands_of(g, cmds, sizeof cmds);
        char head[640];
        snprintf(head, sizeof head, "%s [%s]:", g->title, cmds);
        fputc('\n', out);
        put_wrapped(out, head, 0);
        for (const cli_opt *o = g->opts; o->name; o++)
            put_opt(out, o, NULL);
    }
    fputs(
        "\n"
        "environment: PGBOOT_APP, PGBOOT_MIRROR, PGBOOT_DATABASE_URL, PGBOOT_CACHE_DIR,\n"
        "             npm_config_registry, NPM_CONFIG_USERCONFIG, https_proxy/http_proxy/no_proxy\n"
        "exit status: 0 ok, 1 failure, 2 usage error, 3 not running, 4 stopping and\n"
        "             5 not answering (status, url, env)\n",
        out);
}

int cli_parse_all(cli_parser *p, int (*on_option)(void *ctx, cli_opt_id id, const char *arg),
                  void *ctx)
{
    const char *arg;
    int id, rc = 0;
    while (rc == 0 && (id = cli_parse_next(p, &arg)) > 0)
        rc = on_option(ctx, (cli_opt_id)id, arg);
    if (rc == 0 && id < 0)
        rc = p->status ? p->status : -1;
    return rc;
}

int cli_choice(const char *opt, const char *arg, const char *const names[], int *out)
{
    size_t n = 0;
    for (; names[n]; n++) {
        if (!strcmp(arg, names[n])) {
            *out = (int)n;
            return 0;
        }
    }
    char list[256] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                 i == 0 ? "" : (i + 1 == n ? " or " : ", "), names[i]);
    return cli_usage_error("%s is %s, not '%s'", opt, list, arg);
}
