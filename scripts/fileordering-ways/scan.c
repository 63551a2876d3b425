/* Prints a directory's entries in the order scandir(3) returns them, unsorted. */
#include <dirent.h>
#include <stdio.h>
int main(int argc, char **argv) {
    struct dirent **entries;
    int n = scandir(argc > 1 ? argv[1] : ".", &entries, NULL, NULL);
    for (int i = 0; i < n; i++) puts(entries[i]->d_name);
    return n < 0;
}
