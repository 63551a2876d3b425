/*
 * reprocheck's readdir reverser: preloaded (through /etc/ld.so.preload) into
 * the fileordering factor's experiment runs, it makes readdir() and
 * readdir64() return each directory's entries in the reverse of the order the
 * filesystem gives, as `disorderfs --reverse-dirents=yes` does, without FUSE
 * or a host directory, so that it works on any engine.
 *
 * On the first readdir of a DIR stream every entry is read through the real
 * readdir64 and kept; later calls hand them out last first. closedir,
 * rewinddir and seekdir drop what was kept.
 *
 * glibc's scandir and glob read directories through its internal readdir,
 * so they are wrapped too: an unsorted scandir (no comparison function) and
 * a GLOB_NOSORT glob return their results reversed.
 *
 * Not reached: statically linked programs, glibc's ftw/nftw and fts, and
 * direct getdents64 syscalls. readdir_r is deprecated and passed through
 * untouched.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

/* On LP64 glibc, struct dirent and struct dirent64 are the same. */
_Static_assert(sizeof(struct dirent) == sizeof(struct dirent64), "64-bit targets only");

struct kept {
    DIR *dir;
    struct dirent64 **entries; /* in filesystem order */
    size_t count;
    struct dirent64 *handed_out; /* valid until the stream's next readdir */
    struct kept *next;
};

static struct kept *all_kept;
static volatile int lock_word;

static void lock(void) {
    while (__atomic_test_and_set(&lock_word, __ATOMIC_ACQUIRE)) {
    }
}

static void unlock(void) { __atomic_clear(&lock_word, __ATOMIC_RELEASE); }

static struct dirent64 *(*real_readdir64)(DIR *);
static int (*real_closedir)(DIR *);
static void (*real_rewinddir)(DIR *);
static void (*real_seekdir)(DIR *, long);

static void resolve(void) {
    if (!real_readdir64) {
        real_readdir64 = (struct dirent64 * (*)(DIR *)) dlsym(RTLD_NEXT, "readdir64");
        real_closedir = (int (*)(DIR *))dlsym(RTLD_NEXT, "closedir");
        real_rewinddir = (void (*)(DIR *))dlsym(RTLD_NEXT, "rewinddir");
        real_seekdir = (void (*)(DIR *, long))dlsym(RTLD_NEXT, "seekdir");
    }
}

static void free_kept(struct kept *k) {
    for (size_t i = 0; i < k->count; i++) free(k->entries[i]);
    free(k->entries);
    free(k->handed_out);
    free(k);
}

/* Unlinks and returns the entries kept for `dir`, if any. Call locked. */
static struct kept *take(DIR *dir) {
    for (struct kept **p = &all_kept; *p; p = &(*p)->next) {
        if ((*p)->dir == dir) {
            struct kept *found = *p;
            *p = found->next;
            return found;
        }
    }
    return NULL;
}

static void forget(DIR *dir) {
    lock();
    struct kept *k = take(dir);
    unlock();
    if (k) free_kept(k);
}

/* Reads the whole stream. NULL when memory runs out: then the caller passes
 * the stream through in its own order rather than fail the build. */
static struct kept *read_all(DIR *dir) {
    struct kept *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->dir = dir;
    size_t capacity = 0;
    struct dirent64 *entry;
    while ((entry = real_readdir64(dir))) {
        if (k->count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            struct dirent64 **grown = realloc(k->entries, capacity * sizeof *grown);
            if (!grown) goto fail;
            k->entries = grown;
        }
        struct dirent64 *copy = malloc(entry->d_reclen);
        if (!copy) goto fail;
        memcpy(copy, entry, entry->d_reclen);
        k->entries[k->count++] = copy;
    }
    return k;
fail:
    free_kept(k);
    return NULL;
}

struct dirent64 *readdir64(DIR *dir) {
    resolve();
    lock();
    struct kept *k = take(dir);
    unlock();
    if (!k) {
        k = read_all(dir);
        if (!k) return real_readdir64(dir);
    }
    /* The previous entry stays valid until this stream's next call (POSIX). */
    free(k->handed_out);
    k->handed_out = NULL;
    struct dirent64 *next = NULL;
    if (k->count > 0) {
        next = k->entries[--k->count];
        k->handed_out = next;
    }
    lock();
    k->next = all_kept;
    all_kept = k;
    unlock();
    return next;
}

struct dirent *readdir(DIR *dir) { return (struct dirent *)readdir64(dir); }

int closedir(DIR *dir) {
    resolve();
    forget(dir);
    return real_closedir(dir);
}

void rewinddir(DIR *dir) {
    resolve();
    forget(dir);
    real_rewinddir(dir);
}

void seekdir(DIR *dir, long position) {
    resolve();
    forget(dir);
    real_seekdir(dir, position);
}

static void reverse(void **items, size_t count) {
    for (size_t i = 0; i + 1 < count - i; i++) {
        void *swap = items[i];
        items[i] = items[count - 1 - i];
        items[count - 1 - i] = swap;
    }
}

typedef int (*selector)(const struct dirent *);
typedef int (*comparer)(const struct dirent **, const struct dirent **);

int scandir(const char *path, struct dirent ***list, selector select, comparer compare) {
    static int (*real)(const char *, struct dirent ***, selector, comparer);
    if (!real) real = (int (*)(const char *, struct dirent ***, selector, comparer))dlsym(RTLD_NEXT, "scandir");
    int count = real(path, list, select, compare);
    if (count > 1 && !compare) reverse((void **)*list, (size_t)count);
    return count;
}

typedef int (*selector64)(const struct dirent64 *);
typedef int (*comparer64)(const struct dirent64 **, const struct dirent64 **);

int scandir64(const char *path, struct dirent64 ***list, selector64 select, comparer64 compare) {
    static int (*real)(const char *, struct dirent64 ***, selector64, comparer64);
    if (!real) real = (int (*)(const char *, struct dirent64 ***, selector64, comparer64))dlsym(RTLD_NEXT, "scandir64");
    int count = real(path, list, select, compare);
    if (count > 1 && !compare) reverse((void **)*list, (size_t)count);
    return count;
}

typedef int (*glob_error)(const char *, int);

/* Reverses what this call appended (after any GLOB_APPEND'ed earlier results). */
static int reversed_glob(const char *name, const char *pattern, int flags, glob_error on_error, glob_t *found) {
    int (*real)(const char *, int, glob_error, glob_t *) =
        (int (*)(const char *, int, glob_error, glob_t *))dlsym(RTLD_NEXT, name);
    size_t before = (flags & GLOB_APPEND) ? found->gl_pathc : 0;
    int result = real(pattern, flags, on_error, found);
    if (result == 0 && (flags & GLOB_NOSORT) && found->gl_pathc > before) {
        size_t offset = (flags & GLOB_DOOFFS) ? found->gl_offs : 0;
        reverse((void **)found->gl_pathv + offset + before, found->gl_pathc - before);
    }
    return result;
}

int glob(const char *pattern, int flags, glob_error on_error, glob_t *found) {
    return reversed_glob("glob", pattern, flags, on_error, found);
}

/* On LP64 glibc, glob64_t has glob_t's layout. */
_Static_assert(sizeof(glob64_t) == sizeof(glob_t), "64-bit targets only");

int glob64(const char *pattern, int flags, glob_error on_error, glob64_t *found) {
    return reversed_glob("glob64", pattern, flags, on_error, (glob_t *)found);
}
