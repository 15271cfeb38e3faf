/* Reading a directory with getdents64(2) into a stack buffer: no malloc, so
 * usable after fork() in a multi-threaded host (copy.c, remove.c). Internal
 * to platform/linux/. */
#ifndef PGBOOT_LINUX_GETDENTS_H
#define PGBOOT_LINUX_GETDENTS_H

#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct linux_dirent64 {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Fill buf with entries of the open directory fd: bytes read, 0 at the end,
 * -1 with errno. */
static inline long pgb_getdents(int fd, char *buf, size_t size)
{
    return syscall(SYS_getdents64, fd, buf, size);
}

static inline int pgb_is_dot_or_dotdot(const char *name)
{
    return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

#endif
