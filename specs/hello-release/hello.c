#include <stdio.h>

int main(void) {
    puts("Hello from a verifiable release.");
    return 0;
}
