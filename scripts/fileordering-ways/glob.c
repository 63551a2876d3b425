/* Prints the paths glob(3) matches with GLOB_NOSORT, in its order. */
#include <glob.h>
#include <stdio.h>
int main(int argc, char **argv) {
    glob_t found;
    if (argc < 2 || glob(argv[1], GLOB_NOSORT, NULL, &found)) return 1;
    for (size_t i = 0; i < found.gl_pathc; i++) puts(found.gl_pathv[i]);
    globfree(&found);
    return 0;
}
