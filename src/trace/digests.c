/*
 * The written files of a traced build and their SHA-256 at its end
 * (digests.h). Everything here is bounded: the set holds at most
 * MAX_WRITTEN paths, one file is hashed up to MAX_FILE_BYTES and all of
 * them up to MAX_TOTAL_BYTES; a file past a limit gets "-" for a digest.
 * The build is over when this runs, yet a process it left behind could
 * still swap a file for a FIFO or a link: files are opened with
 * O_NOFOLLOW | O_NONBLOCK and hashed only when fstat says regular.
 */
#define _GNU_SOURCE
#include "digests.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_WRITTEN (1u << 20)
#define MAX_FILE_BYTES (256LL << 20)
#define MAX_TOTAL_BYTES (2LL << 30)

/* ---- the set of written paths: open addressing, FNV-1a ---- */

static char **slots;
static size_t n_slots, n_used;

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int insert(char **table, size_t size, char *path) {
    for (size_t i = fnv1a(path) & (size - 1);; i = (i + 1) & (size - 1)) {
        if (!table[i]) {
            table[i] = path;
            return 1;
        }
        if (!strcmp(table[i], path))
            return 0;
    }
}

void remember_written(const char *path) {
    if (path[0] != '/' || n_used >= MAX_WRITTEN)
        return;
    if ((n_used + 1) * 2 > n_slots) {
        size_t size = n_slots ? n_slots * 2 : 1024;
        char **grown = calloc(size, sizeof *grown);
        if (!grown)
            return;
        for (size_t i = 0; i < n_slots; i++)
            if (slots[i])
                insert(grown, size, slots[i]);
        free(slots);
        slots = grown;
        n_slots = size;
    }
    /* Looked up before copied: most writes are to a path seen already. */
    for (size_t i = fnv1a(path) & (n_slots - 1); slots[i]; i = (i + 1) & (n_slots - 1))
        if (!strcmp(slots[i], path))
            return;
    char *copy = strdup(path);
    if (copy && insert(slots, n_slots, copy))
        n_used++;
}

/* ---- SHA-256 (FIPS 180-4) ---- */

struct sha256 {
    uint32_t h[8];
    uint64_t length;
    unsigned char block[64];
    size_t used;
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(struct sha256 *s, const unsigned char *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6],
             h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
    s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_init(struct sha256 *s) {
    static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, initial, sizeof initial);
    s->length = 0;
    s->used = 0;
}

static void sha256_update(struct sha256 *s, const unsigned char *p, size_t n) {
    s->length += n;
    while (n) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->block + s->used, p, take);
        s->used += take, p += take, n -= take;
        if (s->used == 64) {
            sha256_block(s, s->block);
            s->used = 0;
        }
    }
}

static void sha256_hex(struct sha256 *s, char hex[65]) {
    uint64_t bits = s->length * 8;
    unsigned char pad[72] = {0x80};
    size_t pad_len = (s->used < 56 ? 56 : 120) - s->used;
    for (int i = 0; i < 8; i++)
        pad[pad_len + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_update(s, pad, pad_len + 8);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 8 * i, 9, "%08x", s->h[i]);
}

/* ---- the digests at the build's end ---- */

static long long hashed_total;

/* Hashes the regular file at path into hex ("-" past a limit); returns its
 * size, or -1 when it is not a regular file (gone, a FIFO, a link). */
static long long digest_file(const char *path, char hex[65]) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    strcpy(hex, "-");
    if (st.st_size > MAX_FILE_BYTES || hashed_total + st.st_size > MAX_TOTAL_BYTES) {
        close(fd);
        return st.st_size;
    }
    struct sha256 s;
    sha256_init(&s);
    static unsigned char buf[1 << 16];
    long long size = 0;
    ssize_t n = 0;
    while (size <= MAX_FILE_BYTES && (n = read(fd, buf, sizeof buf)) > 0) {
        sha256_update(&s, buf, (size_t)n);
        size += n;
    }
    close(fd);
    hashed_total += size;
    /* Grown past the limit while read (something still writes it): no digest. */
    if (size > MAX_FILE_BYTES || n < 0)
        return size;
    sha256_hex(&s, hex);
    return size;
}

void put_digests(FILE *out, long long ns, void (*put_field)(FILE *, const char *)) {
    for (size_t i = 0; i < n_slots; i++) {
        if (!slots[i])
            continue;
        char hex[65];
        long long size = digest_file(slots[i], hex);
        if (size < 0)
            continue;
        fprintf(out, "digest\t%lld\t%lld\t%s", ns, size, hex);
        put_field(out, slots[i]);
        fputc('\n', out);
    }
}
