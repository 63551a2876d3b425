/*
 * reprocheck's file-times fix for libfaketime: preloaded (through
 * /etc/ld.so.preload, before libfaketime) into the time factor's experiment
 * runs, so that setting a file's times never goes through libfaketime.
 *
 * The time factor shifts the clock, never file times (NO_FAKE_STAT=1): what
 * the kernel writes gets the real time. libfaketime 0.9.10 (Debian
 * bookworm's) still rewrites the utime family:
 *   - utime(path, NULL) and utimes(path, NULL), "set to now", fail with
 *     EINVAL: it hands the kernel a timespec it never filled in
 *     (libfaketime#535/#537). dpkg-source does that to .pc/applied-patches on
 *     every package with quilt patches, so none could be built.
 *   - utimensat(..., NULL, ...) and futimens(fd, NULL), as `touch FILE` calls
 *     them, set the shifted "now": a file touched then looks 398 days newer
 *     than the files written beside it, and make regenerates configure in a
 *     loop (seen with dash 0.5.12-2's autoreconf).
 * Here every call of the family goes straight to the utimensat system call:
 * "now" is the real now, as for files the build writes, and explicit times
 * (touch -d, cp -p, tar) are kept exactly, as libfaketime keeps them with
 * NO_FAKE_STAT=1. The clock itself stays shifted.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

/* utimensat(2) itself: a NULL path means dirfd's file, NULL times means now. */
static int set_times(int dirfd, const char *path, const struct timespec times[2], int flags) {
    return (int)syscall(SYS_utimensat, dirfd, path, times, flags);
}

/* Microseconds to a timespec pair; NULL stays NULL ("now"). */
static const struct timespec *from_timevals(const struct timeval tv[2], struct timespec ts[2]) {
    if (tv == NULL)
        return NULL;
    for (int i = 0; i < 2; i++) {
        ts[i].tv_sec = tv[i].tv_sec;
        ts[i].tv_nsec = tv[i].tv_usec * 1000;
    }
    return ts;
}

int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags) {
    return set_times(dirfd, path, times, flags);
}

int futimens(int fd, const struct timespec times[2]) {
    return set_times(fd, NULL, times, 0);
}

int utime(const char *path, const struct utimbuf *times) {
    if (times == NULL)
        return set_times(AT_FDCWD, path, NULL, 0);
    struct timespec ts[2] = {{times->actime, 0}, {times->modtime, 0}};
    return set_times(AT_FDCWD, path, ts, 0);
}

int utimes(const char *path, const struct timeval times[2]) {
    struct timespec ts[2];
    return set_times(AT_FDCWD, path, from_timevals(times, ts), 0);
}

int lutimes(const char *path, const struct timeval times[2]) {
    struct timespec ts[2];
    return set_times(AT_FDCWD, path, from_timevals(times, ts), AT_SYMLINK_NOFOLLOW);
}

int futimes(int fd, const struct timeval times[2]) {
    struct timespec ts[2];
    return set_times(fd, NULL, from_timevals(times, ts), 0);
}

int futimesat(int dirfd, const char *path, const struct timeval times[2]) {
    struct timespec ts[2];
    return set_times(dirfd, path, from_timevals(times, ts), 0);
}
