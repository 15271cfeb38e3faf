/*
 * Internal support shared by bootstrap/ and launcher/: the error model, small
 * string and file helpers, and the operating-system layer. Everything that
 * touches OS-specific APIs (processes, locks, home directories, terminals) is
 * declared here and implemented under platform/linux/ (the only one so far).
 * Not installed; not part of the public API.
 */
#ifndef PGBOOT_PLATFORM_H
#define PGBOOT_PLATFORM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "pgboot.h"

#define PGB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define PGB_MUST_USE __attribute__((warn_unused_result))

/* --- errors (platform/error.c) ------------------------------------------
 * pgb_fail() records the code and one-line message at the source of a failure
 * and returns the code, so `return pgb_fail(...)` is the idiom. Callers further
 * up return the code unchanged and do not touch the message. */
int pgb_fail(int code, const char *fmt, ...) PGB_PRINTF(2, 3);
/* Attach a hint ("the way out") to the failure just recorded. */
void pgb_hint(const char *fmt, ...) PGB_PRINTF(1, 2);
void pgb_error_reset(void);
/* 0 when an options struct's `version` is one this library knows (1 to
 * `current`; a caller built against an older header passes an older one and
 * the library reads only that version's fields), else PGBOOT_EINVALID. */
int pgb_version_check(unsigned int version, unsigned int current, const char *what);
/* A PostgreSQL major as text ("16"): 0 and *major, or PGBOOT_EINVALID. */
PGB_MUST_USE int pgb_pg_major_parse(const char *text, unsigned int *major);

/* Cleaning up after a failure may fail too, or reset the record: set the
 * first failure aside before, and put it back after.
 *
 *     pgb_error_saved first;
 *     pgb_error_save(&first);
 *     ... close, roll back, remove ...
 *     pgb_error_restore(&first);
 *
 * pgb_error_restore() brings back the saved code, message and hint; a failure
 * recorded since the save and still recorded (not reset) is added to the
 * message, "<first>; then, cleaning up: <later>". When no failure was
 * recorded at the save, it changes nothing. Thread-local, like the record;
 * no allocation, so it works when memory is out. */
#define PGB_ERROR_MSG_MAX 1024
#define PGB_ERROR_HINT_MAX 512
typedef struct {
    int code;
    int has_hint;
    unsigned serial;
    char msg[PGB_ERROR_MSG_MAX];
    char hint[PGB_ERROR_HINT_MAX];
} pgb_error_saved;
void pgb_error_save(pgb_error_saved *saved);
void pgb_error_restore(const pgb_error_saved *saved);

/* --- strings and paths (platform/util.c) --------------------------------- */
char *pgb_strdup(const char *s);                         /* NULL-safe; NULL on OOM */
char *pgb_printf(const char *fmt, ...) PGB_PRINTF(1, 2); /* malloc'd; NULL on OOM */
char *pgb_vprintf(const char *fmt, va_list ap);
char *pgb_path_join(const char *a, const char *b); /* a + "/" + b */
int pgb_str_has_prefix(const char *s, const char *prefix);
/* Lexically check a relative archive path: not empty, not absolute, no "..".
 * Returns 0 if safe, else a static reason string via *why. */
int pgb_path_is_safe_relative(const char *p, const char **why);
/* Hex-encode `len` bytes into `out` (2*len+1 bytes). */
void pgb_hex(char *out, const unsigned char *in, size_t len);
/* Keep the last `max_lines` lines of a text (in place); returns s. */
char *pgb_tail_lines(char *s, int max_lines);
/* Keep the line of a child's output that names the cause (PANIC/FATAL/ERROR
 * first, then "error:"), else its last 4 lines (in place); returns s. */
char *pgb_cause_line(char *s);

/* --- a growable string (platform/buf.c) ---------------------------------- */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} pgb_buf;
void pgb_buf_add(pgb_buf *b, const char *s, size_t n);
void pgb_buf_puts(pgb_buf *b, const char *s);
void pgb_buf_printf(pgb_buf *b, const char *fmt, ...) PGB_PRINTF(2, 3);
void pgb_buf_free(pgb_buf *b);
/* Append `name` as a double-quoted identifier. */
void pgb_buf_ident(pgb_buf *b, const char *name);
/* Append `s` as a single-quoted literal. */
void pgb_buf_literal(pgb_buf *b, const char *s, size_t n);

/* --- files (platform/linux/fs.c) ------------------------------------------ */
PGB_MUST_USE int pgb_read_file(const char *path, char **out, size_t *len, size_t max);
/* Write a file atomically (a temporary beside it, fsync, rename) with `mode`. */
PGB_MUST_USE int pgb_write_file_atomic(const char *path, const char *data, size_t len,
                                       unsigned mode);
PGB_MUST_USE int pgb_mkdir_p(const char *path, unsigned mode);
int pgb_path_exists(const char *path);
int pgb_is_dir(const char *path);
/* Create `path` (0644, never through a link) or set its mtime to now. Best
 * effort: a failure is ignored (it is a hint, not a record). */
void pgb_touch(const char *path);
int pgb_fsync_dir(const char *path);
/* Copy the directory tree `src` to `dst` (which must not exist), by reflink
 * where possible. System calls only (no malloc): safe after fork(). 0 or -1
 * with errno. */
int pgb_copy_tree(const char *src, const char *dst);
/* Space on the file system of `path`: bytes an unprivileged user may still
 * write. 0 or -1 with errno. */
int pgb_fs_free_bytes(const char *path, uint64_t *out);
/* Is `path` a directory on a tmpfs (memory) that this user may write in? */
int pgb_fs_is_tmpfs(const char *path);
/* Bytes a tree takes on its file system (allocated blocks; links not
 * followed). 0 or -1 with errno. */
int pgb_tree_disk_usage(const char *path, uint64_t *out);
/* The pid of a live process whose executable is inside `dir` (not a zombie;
 * processes that cannot be inspected are skipped), or 0. */
int pgb_pid_running_from(const char *dir);
/* The user's home directory: $HOME (refused unless absolute), else the
 * password database. malloc'd. */
PGB_MUST_USE int pgb_home_dir(char **out);
/* A short random suffix for temporary names (letters and digits). */
void pgb_random_name(char *out, size_t len);

/* --- removing what pgboot made (platform/linux/remove.c) ------------------
 * The only way pgboot removes files. The walk never follows a symbolic link,
 * never enters "." or "..", and never leaves the file system it starts on;
 * installed (read-only) directories are made writable first. System calls
 * only: safe after fork() in a multi-threaded host. */
/* Remove the tree `path` (a file: unlink it). Missing is fine. A link, or a
 * path whose last component is "." or "..", is refused (errno ELOOP or
 * EINVAL); a mount point inside is left (EXDEV). 0 or -1 with errno. */
int pgb_rmtree(const char *path);
/* Remove everything inside the directory `path`, never `path` itself (a
 * directory pgboot did not create is left as it was found). 0 or -1/errno. */
int pgb_empty_dir(const char *path);
/* Remove (as pgb_rmtree) every entry of `dir` whose name starts with `prefix`
 * (not empty; "." and ".." never match). */
void pgb_remove_matching(const char *dir, const char *prefix);
/* Work directories: where pgboot builds something (initdb's output) before
 * renaming it into place. A marker file inside names the creator's pid, so a
 * killed run's leftovers are recognised by what pgboot wrote into them, never
 * by name alone. pgb_workdir_make creates `path` (0700) and its marker, with
 * a one-line `note` the cleanup can read back. */
PGB_MUST_USE int pgb_workdir_make(const char *path, const char *note);
/* 1 if `path` is a marked work directory of this user whose creator is gone
 * (or is this process), with its note in *note (malloc'd; NULL-able); else 0. */
int pgb_workdir_abandoned(const char *path, char **note);
/* Remove a work directory: its contents, then its marker, then itself, so a
 * removal cut short leaves one still recognised. 0 or -1 with errno. */
int pgb_workdir_remove(const char *path);
/* Drop the marker of a finished work directory before renaming it into
 * place (what is in place is no longer a leftover). 0 or -1. */
int pgb_workdir_unmark(const char *path);
/* Remove the abandoned work directories among the entries of `dir` whose
 * names start with `prefix` (not empty). Call under the lock that guards them. */
void pgb_workdir_remove_abandoned(const char *dir, const char *prefix);

/* --- locks (platform/linux/lock.c) ---------------------------------------- */
/* Take an exclusive lock on `path` (created 0600 if missing), waiting for it.
 * Released by pgb_unlock() or when the process dies. */
PGB_MUST_USE int pgb_lock(const char *path, int *fd_out);
/* The same without waiting: 0 taken, 1 held by another process (nothing
 * open), or a negative error. */
PGB_MUST_USE int pgb_lock_try(const char *path, int *fd_out);
void pgb_unlock(int fd);

/* --- processes (platform/linux/proc.c) ------------------------------------ */
/* In a forked child: be killed (SIGKILL) when the thread that forked it, in
 * process `parent`, dies. 0, or -1 when the parent is already gone. */
int pgb_die_with_parent(int parent);
/* What a worker does as the other user: `lifeline_fd` is the read end of the
 * lifeline pipe (-1 if none was asked for), `rc` 0 or the failure of becoming
 * the user (then it only reports it). Returns a malloc'd text for the caller
 * (a JSON result, say), or NULL. Runs in a forked child of a possibly
 * multi-threaded host, as pgboot's root path has always done. */
typedef char *(*pgb_worker_fn)(void *arg, int lifeline_fd, int rc);
/* Run fn in a forked process that has become `user` (created first with
 * create_user) and dies with this process; its text comes back in *result
 * (malloc'd, "" when it gave none). With want_lifeline, a pipe whose read end
 * the worker gets and whose write end comes back in *lifeline_out (the
 * caller's to keep open while what the worker started must live). 0, or
 * PGBOOT_ERROR / PGBOOT_ENOMEM when the worker could not run. */
PGB_MUST_USE int pgb_run_as_user(const char *user, int create_user, int want_lifeline,
                                 pgb_worker_fn fn, void *arg, char **result, int *lifeline_out);
/* Run argv[0] (a path) with argv, no shell, stdin from /dev/null, and capture
 * stdout and stderr together (at most `max` bytes kept). *status is the exit
 * status, or 128+signal. A failed exec is a real error, not a status. */
PGB_MUST_USE int pgb_run_capture(char *const argv[], char **output, int *status, size_t max);
/* Run the shell line `cmd` with /bin/sh -c and envp, stdin from /dev/null,
 * in a process group of its own (that dies with this thread's process), for
 * at most timeout_ms: then the whole group is killed (SIGKILL) and
 * *timed_out set. When the shell ends, what it left in its group is killed.
 * The last tail_max bytes of stdout and stderr together go to tail
 * (*tail_len; not NUL-terminated). *status: the shell's wait status. 0, or
 * PGBOOT_ERROR when it could not start. */
PGB_MUST_USE int pgb_run_shell(const char *cmd, char *const envp[], unsigned timeout_ms, char *tail,
                               size_t tail_max, size_t *tail_len, int *status, int *timed_out);

/* Is `pid` a live (not zombie) process? */
int pgb_pid_alive(int pid);
/* Is `pid` stopped by a signal (SIGSTOP, SIGTSTP) or a tracer? */
int pgb_pid_stopped(int pid);
/* The command name of `pid` (/proc/<pid>/comm) into buf; -1 if gone. */
int pgb_pid_comm(int pid, char *buf, size_t len);
/* Is the current directory of `pid` the directory `dir`? (-1: cannot tell) */
int pgb_pid_cwd_is(int pid, const char *dir);
/* The proportional set size of `pid` and its child processes (a postmaster
 * and its backends), in bytes, summed from /proc/<pid>/smaps_rollup;
 * *count gets how many processes were counted. PGBOOT_ENOTRUNNING when pid
 * is gone, PGBOOT_ERROR when its figures cannot be read (another account's
 * process). A child that ends meanwhile is left out. */
PGB_MUST_USE int pgb_proc_tree_pss(int pid, uint64_t *bytes, int *count);

/* How a server process is launched. */
typedef struct {
    char *const *argv;         /* argv[0] is a path */
    int log_fd;                /* stdout and stderr go here */
    int lifeline_fd;           /* -1: detached (own session, reparented to init).
                                   >= 0: the read end of a pipe whose write end the host
                                   holds: a supervisor process watches it and stops the
                                   server when the host is gone. */
    int owner_gone_signal;     /* what the supervisor sends then; 0: SIGINT (fast shutdown) */
    char *const *remove_after; /* supervised: NULL-terminated paths the supervisor
                                  removes (rm -rf) once the server has exited */
} pgb_launch;
/* Start a long-running program (stdin from /dev/null) without making it a
 * child of the caller; *pid is its pid. A failed exec is an error. */
PGB_MUST_USE int pgb_spawn_server(const pgb_launch *l, int *pid);

/* Fork a process detached from the caller: a session of its own, reparented
 * to init (the intermediate child is reaped here, so nothing lingers as a
 * zombie of the caller), stdin/stdout/stderr on /dev/null (a parent reading
 * our stdout to EOF must not wait for it). Returns 1 in the detached process,
 * 0 in the caller, -1 if it could not be made. Only async-signal-safe calls
 * happen in the child before it returns. */
int pgb_fork_detached(void);
/* Lower the calling thread's CPU priority (nice 10): for work off the
 * critical path that would otherwise take a core from the work on it.
 * Linux: a thread's own nice value; best effort, no error. */
void pgb_thread_background(void);
/* The machine's idle CPU time since boot, in core-seconds (every core's
 * idle and I/O-wait time, summed), or -1 where it cannot be read. Linux:
 * /proc/stat, in clock ticks (usually 10 ms). Thread-safe. */
double pgb_cpu_idle_seconds(void);

/* Become `user` (as root): groups, gid, uid, HOME/USER/LOGNAME; forget the
 * XDG_* variables of the previous identity. Creates the account as a system
 * user first if `create` and it does not exist. */
PGB_MUST_USE int pgb_become_user(const char *user, int create);

/* --- network (platform/linux/net.c) --------------------------------------- */
/* Can 127.0.0.1:port be bound right now? */
int pgb_port_is_free(int port);
/* A port on 127.0.0.1 that was free a moment ago. */
PGB_MUST_USE int pgb_port_pick(int *port);
/* Does the PostgreSQL server on this Unix socket answer? Like PQping, but
 * without loading libpq (which costs ~5 ms of library loading per process).
 * NO_ANSWER: connected, but no reply within timeout_ms (a hung server: the
 * kernel accepts for it); NO_SOCKET: nothing accepts on the socket. */
enum { PGB_PING_OK = 0, PGB_PING_REJECT = 1, PGB_PING_NO_ANSWER = 2, PGB_PING_NO_SOCKET = 3 };
int pgb_pg_ping(const char *socket_dir, int port, uint32_t timeout_ms);

/* --- system facts (platform/linux/sys.c) ---------------------------------- */
const char *pgb_sys_platform(void);
void pgb_sleep_ms(uint32_t ms);
uint64_t pgb_now_ms(void);

#endif
