/* The `beat` JSON of PUT /instance/beat (§2.7). */
#include <criterion/criterion.h>
#include <string.h>

#include "gateway_beat.h"

Test(gateway_beat, java_client_beat)
{
    cairn_instance in;
    cairn_instance_init(&in);
    cairn_status st;
    const char *beat = "{\"port\":8080,\"ip\":\"127.0.0.1\",\"weight\":2.5,"
                       "\"serviceName\":\"DEFAULT_GROUP@@demo\",\"cluster\":\"c1\","
                       "\"metadata\":{\"k\":\"v\",\"n\":3},\"scheduled\":false,\"period\":5000,"
                       "\"stopped\":false}";
    cr_assert_eq(gateway_parse_beat(beat, 1024, &in, &st), CAIRN_OK, "%s", st.message);
    cr_assert_str_eq(in.ip, "127.0.0.1");
    cr_assert_eq(in.port, 8080);
    cr_assert_str_eq(in.cluster, "c1");
    cr_assert_float_eq(in.weight, 2.5, 1e-12);
    cr_assert(in.ephemeral); /* absent: true */
    cr_assert_str_eq(cairn_metadata_get(&in.metadata, "k"), "v");
    cr_assert_str_eq(cairn_metadata_get(&in.metadata, "n"), "3");
    cairn_instance_free(&in);
}

Test(gateway_beat, blank_cluster_left_for_the_caller_and_ephemeral_false)
{
    cairn_instance in;
    cairn_instance_init(&in);
    cairn_status st;
    cr_assert_eq(gateway_parse_beat("{\"ip\":\"h\",\"port\":\"81\",\"cluster\":\" \","
                                    "\"ephemeral\":false,\"unknown\":[1,2]}",
                                    1024, &in, &st),
                 CAIRN_OK, "%s", st.message);
    cr_assert_null(in.cluster);
    cr_assert_eq(in.port, 81);
    cr_assert_not(in.ephemeral);
    cairn_instance_free(&in);
}

Test(gateway_beat, minimal_beat_without_optional_keys)
{
    cairn_instance in;
    cairn_instance_init(&in);
    cairn_status st;
    cr_assert_eq(gateway_parse_beat("{\"ip\":\"127.0.0.9\",\"port\":9999}", 1024, &in, &st),
                 CAIRN_OK, "%s", st.message);
    cr_assert_str_eq(in.ip, "127.0.0.9");
    cr_assert_null(in.cluster);
    cr_assert_float_eq(in.weight, 1.0, 1e-12);
    cr_assert_eq(in.metadata.len, 0);
    cairn_instance_free(&in);
    /* Nacos takes ip and port from the beat even when it lacks them. */
    cairn_instance_init(&in);
    cr_assert_eq(gateway_parse_beat("{}", 1024, &in, &st), CAIRN_OK, "%s", st.message);
    cr_assert_null(in.ip);
    cr_assert_eq(in.port, 0);
    cairn_instance_free(&in);
}

Test(gateway_beat, malformed_beats)
{
    const char *bad[] = {"{", "[1]", "{\"port\":\"x\"}", "{\"ip\":5}", "{\"weight\":\"heavy\"}",
                         "{\"metadata\":[1]}", "{\"metadata\":{\"a\":{\"b\":1}}}",
                         "{\"port\":99999999999}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cairn_instance in;
        cairn_instance_init(&in);
        cairn_status st;
        cairn_status_clear(&st);
        cr_assert_eq(gateway_parse_beat(bad[i], 1024, &in, &st), CAIRN_E_INVALID, "%s", bad[i]);
        cr_assert(strncmp(st.message, "beat format incorrect: ", 23) == 0, "%s", st.message);
        cairn_instance_free(&in);
    }
}
