/* Prints a directory's entries in the order readdir(3) returns them. */
#include <dirent.h>
#include <stdio.h>
int main(int argc, char **argv) {
    DIR *dir = opendir(argc > 1 ? argv[1] : ".");
    if (!dir) return 1;
    for (struct dirent *e; (e = readdir(dir));) puts(e->d_name);
    return closedir(dir);
}
