/* Prints the paths nftw(3) visits under a directory, in its order. */
#define _XOPEN_SOURCE 500
#include <ftw.h>
#include <stdio.h>
static int print(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return puts(path) < 0;
}
int main(int argc, char **argv) { return nftw(argc > 1 ? argv[1] : ".", print, 16, FTW_PHYS); }
