/*
 * The files a traced build wrote, and their contents' SHA-256 at its end:
 * what lets reprocheck tell, between two runs, which written files differ
 * (src/trace/divergence.rs).
 */
#ifndef REPROCHECK_DIGESTS_H
#define REPROCHECK_DIGESTS_H

#include <stdio.h>

/* Remembers that the build wrote (or renamed or linked to) `path`. */
void remember_written(const char *path);

/* Writes one `digest` line for each remembered path that is a regular file
 * at the build's end: `digest <ns> <size> <sha256 hex> <path>`, or
 * `digest <ns> <size> - <path>` when it is over the limits (see
 * digests.c). `put_field` escapes the path as the rest of the trace. */
void put_digests(FILE *out, long long ns, void (*put_field)(FILE *, const char *));

#endif
