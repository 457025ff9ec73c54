/*
 * fuzz_load_scan.c: any bytes a server may send through cli_load_scan()
 * (cli/load/scan.c), which must stay within them and agree with the
 * one-memmem-per-key reference (tests/unit/load_scan_ref.h).
 */
#define _GNU_SOURCE /* memmem, in the reference */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "load/load.h"
#include "load_scan_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t s1 = 0, d1 = 0, s2 = 0, d2 = 0;
    int a = cli_load_scan((const char *)data, size, &s1, &d1);
    int b = ref_scan((const char *)data, size, &s2, &d2);

    if (a != b || (a == 0 && (s1 != s2 || d1 != d2)))
        abort();
    return 0;
}
