/*
 * reprocheck's readdir reverser: preloaded (through /etc/ld.so.preload) into
 * the fileordering factor's experiment runs, it makes readdir() and
 * readdir64() return each directory's entries in the reverse of the order the
 * filesystem gives, as `disorderfs --reverse-dirents=yes` does, without FUSE
 * or a host directory, so that it works on any engine.
 *
 * On the first readdir of a DIR stream every entry is read through the real
 * readdir64 and kept until the stream is closed, rewound or repositioned;
 * calls hand them out last first. A read error is reported, with its errno,
 * after the entries read before it. glibc's scandir reads directories through
 * its internal readdir, so an unsorted scandir (no comparison function) is
 * reversed too.
 *
 * Not reached: statically linked programs, glibc's glob, ftw/nftw and fts,
 * scandirat, readdir_r and direct getdents64 syscalls; telldir after the
 * first readdir reports the end of the stream. REPROCHECK_READDIR_PASSTHROUGH
 * in the environment turns it off (the factor probe lists both orders).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* On LP64 glibc, struct dirent and struct dirent64 are the same. */
_Static_assert(sizeof(struct dirent) == sizeof(struct dirent64), "64-bit targets only");

/* The oldest dlsym, so that images older than the host's glibc load this too. */
#if defined(__x86_64__)
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
#elif defined(__aarch64__)
__asm__(".symver dlsym,dlsym@GLIBC_2.17");
#endif

struct kept {
    DIR *dir;
    struct dirent64 **entries; /* in filesystem order; all valid until forgotten */
    size_t count;
    size_t next;      /* entries[next - 1] is handed out next */
    int error;        /* errno of a failed read, reported after the entries */
    int pass_through; /* out of memory while reading: the rest in the filesystem's order */
    struct kept *link;
};

static struct kept *all_kept;
static volatile char lock_word;
static int pass_through_all;

static struct dirent64 *(*real_readdir64)(DIR *);
static int (*real_closedir)(DIR *);
static void (*real_rewinddir)(DIR *);
static void (*real_seekdir)(DIR *, long);
static DIR *(*real_opendir)(const char *);
static DIR *(*real_fdopendir)(int);
static int (*real_scandir)(const char *, struct dirent ***, int (*)(const struct dirent *),
                           int (*)(const struct dirent **, const struct dirent **));
static int (*real_scandir64)(const char *, struct dirent64 ***, int (*)(const struct dirent64 *),
                             int (*)(const struct dirent64 **, const struct dirent64 **));

static void lock(void) {
    while (__atomic_test_and_set(&lock_word, __ATOMIC_ACQUIRE)) {
    }
}

static void unlock(void) { __atomic_clear(&lock_word, __ATOMIC_RELEASE); }

/* A child forked while another thread held the lock would spin forever. */
static void unlock_in_child(void) { __atomic_clear(&lock_word, __ATOMIC_RELEASE); }

static void *next_symbol(const char *name) {
    void *found = dlsym(RTLD_NEXT, name);
    if (!found) abort(); /* glibc always has these; anything else cannot run with this preloaded */
    return found;
}

__attribute__((constructor)) static void resolve(void) {
    real_readdir64 = (struct dirent64 * (*)(DIR *)) next_symbol("readdir64");
    real_closedir = (int (*)(DIR *))next_symbol("closedir");
    real_rewinddir = (void (*)(DIR *))next_symbol("rewinddir");
    real_seekdir = (void (*)(DIR *, long))next_symbol("seekdir");
    real_opendir = (DIR * (*)(const char *)) next_symbol("opendir");
    real_fdopendir = (DIR * (*)(int)) next_symbol("fdopendir");
    real_scandir = (int (*)(const char *, struct dirent ***, int (*)(const struct dirent *),
                            int (*)(const struct dirent **, const struct dirent **)))next_symbol("scandir");
    real_scandir64 = (int (*)(const char *, struct dirent64 ***, int (*)(const struct dirent64 *),
                              int (*)(const struct dirent64 **, const struct dirent64 **)))next_symbol("scandir64");
    pass_through_all = getenv("REPROCHECK_READDIR_PASSTHROUGH") != NULL;
    pthread_atfork(NULL, NULL, unlock_in_child);
}

static void free_kept(struct kept *k) {
    for (size_t i = 0; i < k->count; i++) free(k->entries[i]);
    free(k->entries);
    free(k);
}

/* Unlinks and returns the entries kept for `dir`, if any. Call locked. */
static struct kept *take(DIR *dir) {
    for (struct kept **p = &all_kept; *p; p = &(*p)->link) {
        if ((*p)->dir == dir) {
            struct kept *found = *p;
            *p = found->link;
            return found;
        }
    }
    return NULL;
}

static void put(struct kept *k) {
    lock();
    k->link = all_kept;
    all_kept = k;
    unlock();
}

static void forget(DIR *dir) {
    lock();
    struct kept *k = take(dir);
    unlock();
    if (k) free_kept(k);
}

/* Reads the whole stream; NULL only when not even the record fits in
 * memory. Out of memory part way, it keeps what it read and marks the rest
 * to be passed through. The caller's errno is left as it was. */
static struct kept *read_all(DIR *dir) {
    int saved_errno = errno;
    struct kept *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->dir = dir;
    size_t capacity = 0;
    for (;;) {
        errno = 0;
        struct dirent64 *entry = real_readdir64(dir);
        if (!entry) {
            k->error = errno;
            break;
        }
        if (k->count == capacity) {
            size_t grown_capacity = capacity ? capacity * 2 : 64;
            struct dirent64 **grown = realloc(k->entries, grown_capacity * sizeof *grown);
            if (!grown) {
                k->pass_through = 1;
                break;
            }
            k->entries = grown;
            capacity = grown_capacity;
        }
        /* Whole records: callers may copy `*entry`. */
        size_t size = entry->d_reclen > sizeof *entry ? entry->d_reclen : sizeof *entry;
        struct dirent64 *copy = calloc(1, size);
        if (!copy) {
            k->pass_through = 1; /* this entry is lost to the stream: the factor cannot help it */
            break;
        }
        memcpy(copy, entry, entry->d_reclen);
        k->entries[k->count++] = copy;
    }
    k->next = k->count;
    errno = saved_errno;
    return k;
}

struct dirent64 *readdir64(DIR *dir) {
    if (pass_through_all) return real_readdir64(dir);
    lock();
    struct kept *k = take(dir);
    unlock();
    if (!k) {
        k = read_all(dir);
        if (!k) return real_readdir64(dir);
    }
    struct dirent64 *next = NULL;
    if (k->next > 0) {
        next = k->entries[--k->next];
    } else if (k->pass_through) {
        next = real_readdir64(dir);
    } else if (k->error) {
        errno = k->error;
        k->error = 0;
    }
    put(k);
    return next;
}

struct dirent *readdir(DIR *dir) { return (struct dirent *)readdir64(dir); }

int closedir(DIR *dir) {
    forget(dir);
    return real_closedir(dir);
}

void rewinddir(DIR *dir) {
    forget(dir);
    real_rewinddir(dir);
}

void seekdir(DIR *dir, long position) {
    forget(dir);
    real_seekdir(dir, position);
}

/* A stream closed where this library did not see it may leave entries under
 * an address a new stream reuses. */
DIR *opendir(const char *path) {
    DIR *dir = real_opendir(path);
    if (dir) forget(dir);
    return dir;
}

DIR *fdopendir(int fd) {
    DIR *dir = real_fdopendir(fd);
    if (dir) forget(dir);
    return dir;
}

static void reverse(void **items, size_t count) {
    for (size_t i = 0; i + 1 < count - i; i++) {
        void *swap = items[i];
        items[i] = items[count - 1 - i];
        items[count - 1 - i] = swap;
    }
}

int scandir(const char *path, struct dirent ***list, int (*select)(const struct dirent *),
            int (*compare)(const struct dirent **, const struct dirent **)) {
    int count = real_scandir(path, list, select, compare);
    if (count > 1 && !compare && !pass_through_all) reverse((void **)*list, (size_t)count);
    return count;
}

int scandir64(const char *path, struct dirent64 ***list, int (*select)(const struct dirent64 *),
              int (*compare)(const struct dirent64 **, const struct dirent64 **)) {
    int count = real_scandir64(path, list, select, compare);
    if (count > 1 && !compare && !pass_through_all) reverse((void **)*list, (size_t)count);
    return count;
}
