/* Integer.parseInt, Double.parseDouble and the two Boolean parsers (cairn_model.h), which read
 * ports, weights, thresholds and flags from request parameters. */
#include <math.h>
#include <stdio.h>

#include "cairn_model.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    cairn_status st;
    int32_t i;
    if (cairn_parse_java_int(s, &i, &st) == CAIRN_OK) {
        /* The canonical text of what was read reads back as the same number. */
        char buf[16];
        int32_t again;
        snprintf(buf, sizeof buf, "%d", (int)i);
        FUZZ_CHECK(cairn_parse_java_int(buf, &again, NULL) == CAIRN_OK && again == i);
    }
    double d;
    if (cairn_parse_java_double(s, &d, &st) == CAIRN_OK)
        FUZZ_CHECK(isfinite(d));
    (void)cairn_parse_java_double(s, &d, NULL);
    if (cairn_parse_bool_strict(s))
        FUZZ_CHECK(cairn_parse_bool_lenient(s));
    free(s);
    return 0;
}
