/*
 * Internal interfaces of launcher/ (what runs every time) and of the cluster
 * creation in bootstrap/cluster.c that it calls on first start. Not installed.
 */
#ifndef PGBOOT_LAUNCHER_H
#define PGBOOT_LAUNCHER_H

#include "../platform/platform.h"

/* Where an app's things live (launcher/app.c). All malloc'd. */
typedef struct {
    char *app;
    char *app_dir;
    char *data_dir;
    char *run_file;   /* <app dir>/pgboot.run */
    char *state_file; /* <app dir>/pgboot.state: what survives a stop (last port) */
    char *pgpass;     /* <app dir>/pgpass */
    char *lock_file;  /* <app dir>/pgboot.lock */
    char *log_dir;    /* <data dir>/log */
    char *log_file;   /* <data dir>/log/postgresql.log */
    char *socket_dir; /* private, short enough for the ~107-byte sun_path */
} pgb_app_paths;

PGB_MUST_USE int pgb_app_paths_make(pgb_app_paths *p, const char *app, const char *data_dir);
void pgb_app_paths_free(pgb_app_paths *p);
/* Create the socket directory 0700, or check that the existing one is ours
 * and private. */
PGB_MUST_USE int pgb_socket_dir_prepare(const char *dir);

/* The role names of a cluster. */
#define PGB_SUPERUSER "postgres"
#define PGB_SUPERUSER_ALT "pgboot_admin" /* when the app itself is named "postgres" */
const char *pgb_superuser_for(const char *app);

/* bootstrap/cluster.c: create the cluster for an app (first start): initdb in
 * a temporary directory renamed into place only when complete, the settings
 * file, and the pgpass file with fresh random passwords. */
PGB_MUST_USE int pgb_cluster_create(const pgb_app_paths *p, const char *bin_dir);
/* Persist `name=value` settings in the cluster's pgboot.conf. */
PGB_MUST_USE int pgb_cluster_set(const pgb_app_paths *p, const char *const *settings);
/* Read a password for `user` from the app's pgpass file (malloc'd). */
PGB_MUST_USE int pgb_pgpass_lookup(const char *pgpass, const char *user, char **password);
/* Ensure the app's role and database exist (connected as the superuser over
 * the socket of the running server). */
PGB_MUST_USE int pgb_cluster_ensure_app(const pgb_app_paths *p, int port);

/* Write a file atomically (temporary + rename) with the given mode. */
PGB_MUST_USE int pgb_write_file_atomic(const char *path, const char *data, size_t len,
                                       unsigned mode);

#endif
