/* Facts about this machine, and time. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "../platform.h"

const char *pgb_sys_platform(void)
{
#if defined(__APPLE__)
    const char *os = "darwin";
#elif defined(_WIN32)
    const char *os = "windows";
#else
    const char *os = "linux";
#endif
    static _Thread_local char name[32];
    struct utsname u;
    const char *arch = "unknown";
    if (uname(&u) == 0) {
        const char *m = u.machine;
        if (!strcmp(m, "x86_64") || !strcmp(m, "amd64"))
            arch = "x64";
        else if (!strcmp(m, "aarch64") || !strcmp(m, "arm64"))
            arch = "arm64";
        else if (!strncmp(m, "armv", 4) || !strcmp(m, "arm"))
            arch = "arm";
        else if (m[0] == 'i' && !strcmp(m + 2, "86"))
            arch = "ia32";
        else if (!strncmp(m, "ppc64", 5))
            arch = "ppc64";
        else
            arch = m;
    }
    snprintf(name, sizeof name, "%s-%.20s", os, arch);
    return name;
}

void pgb_sleep_ms(uint32_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

uint64_t pgb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
