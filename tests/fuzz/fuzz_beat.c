/* The beat parameter of PUT /instance/beat (gateway_parse_beat), then the validation a beat that
 * may re-register an instance goes through. */
#include "cairn_model.h"
#include "fuzz_util.h"
#include "gateway_beat.h"

#define MAX_METADATA_BYTES 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    if (!text)
        return 0;
    cairn_instance in;
    cairn_instance_init(&in);
    cairn_status st;
    if (gateway_parse_beat(text, MAX_METADATA_BYTES, &in, &st) == CAIRN_OK) {
        (void)cairn_instance_validate(&in, &st);
        cairn_instance copy;
        if (cairn_instance_copy(&copy, &in) == CAIRN_OK)
            cairn_instance_free(&copy);
    } else {
        FUZZ_CHECK(st.message[0] != '\0');
    }
    cairn_instance_free(&in);
    free(text);
    return 0;
}
