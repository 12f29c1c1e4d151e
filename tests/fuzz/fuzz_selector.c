/* The selector parameter of the service API (gateway_parse_selector): URL-decoded once more,
 * then {"type":"none"} or {"type":"label","expression":...}. What it accepts it stores as
 * canonical JSON, which must read back as a selector of the same type. */
#include <jansson.h>
#include <string.h>

#include "fuzz_util.h"
#include "gateway_service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *raw = fuzz_cstr(data, size);
    if (!raw)
        return 0;
    char *out = NULL;
    cairn_status st;
    if (gateway_parse_selector(raw, &out, &st) == CAIRN_OK) {
        FUZZ_CHECK(out != NULL);
        json_t *j = json_loads(out, 0, NULL);
        FUZZ_CHECK(json_is_object(j));
        const char *type = json_string_value(json_object_get(j, "type"));
        FUZZ_CHECK(type && (strcmp(type, "none") == 0 || strcmp(type, "label") == 0));
        json_decref(j);
    } else {
        FUZZ_CHECK(out == NULL);
    }
    free(out);
    free(raw);
    return 0;
}
