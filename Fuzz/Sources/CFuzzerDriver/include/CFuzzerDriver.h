#ifndef SWITCHYARD_CFUZZERDRIVER_H
#define SWITCHYARD_CFUZZERDRIVER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry for programs that bring their own main (exported by libclang_rt.fuzzer).
// SwiftPM links executables with `main` aliased to `<Target>_main`, so the harness defines that
// symbol and hands control to libFuzzer here.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
