// What a program that never touches a GPU pays for linking Parity: start, sum
// ones({4}) on the CPU, exit (scripts/startup-check measures it).
#include <parity/parity.h>

int main() { return parity::sum(parity::ones({4})).item<float>() == 4.0f ? 0 : 1; }
