/* The metadata parameter (cairn_parse_metadata): a JSON object of scalars, else Nacos' k=v,k=v
 * text, up to limits.max_metadata_bytes. */
#include <string.h>

#include "cairn_model.h"
#include "fuzz_util.h"

#define MAX_METADATA_BYTES 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *raw = fuzz_cstr(data, size);
    if (!raw)
        return 0;
    cairn_metadata md = {0};
    cairn_status st;
    if (cairn_parse_metadata(raw, MAX_METADATA_BYTES, &md, &st) == CAIRN_OK) {
        /* A map: keys strictly ascending, every key and value present. */
        for (uint32_t i = 0; i < md.len; i++) {
            FUZZ_CHECK(md.items[i].key && md.items[i].value);
            FUZZ_CHECK(i == 0 || strcmp(md.items[i - 1].key, md.items[i].key) < 0);
            FUZZ_CHECK(cairn_metadata_get(&md, md.items[i].key) == md.items[i].value);
        }
        cairn_metadata copy = {0};
        if (cairn_metadata_copy(&copy, &md) == CAIRN_OK)
            FUZZ_CHECK(copy.len == md.len);
        cairn_metadata_free(&copy);
    } else {
        FUZZ_CHECK(md.len == 0 && md.items == NULL);
    }
    cairn_metadata_free(&md);
    free(raw);
    return 0;
}
