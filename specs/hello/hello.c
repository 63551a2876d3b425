#include <stdio.h>

/* The unreproducible variant defines BUILD_STAMP as the build time. */
#ifndef BUILD_STAMP
#define BUILD_STAMP "from source, reproducibly"
#endif

int main(void)
{
    printf("hello, world (built %s)\n", BUILD_STAMP);
    return 0;
}
