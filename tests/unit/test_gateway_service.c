/* The gateway's service detail body (§3.3) and selector parameter, on hand-built snapshots. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_service.h"

#include "test_snapshot_fixture.h"

Test(gateway_service, service_detail_body)
{
    cairn_service_snapshot s;
    snap_init(&s, 0.7f);
    s.service.clusters = calloc(1, sizeof *s.service.clusters);
    cairn_cluster_init_default(&s.service.clusters[0]);
    s.service.clusters[0].name = strdup("DEFAULT");
    s.service.cluster_count = 1;
    add(&s, "127.0.0.1", 1, "DEFAULT", true, true);
    add(&s, "127.0.0.2", 1, "c9", true, true);
    json_t *j = gateway_service_detail_json(&s, "public", SVC);
    cr_assert_not_null(j);
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(16));
    cr_assert_str_eq(text, "{\"name\":\"demo\",\"namespaceId\":\"public\",\"protectThreshold\":0.7,"
                           "\"metadata\":{},\"selector\":{\"type\":\"none\"},"
                           "\"groupName\":\"DEFAULT_GROUP\",\"clusters\":["
                           "{\"name\":\"DEFAULT\",\"healthChecker\":{\"type\":\"TCP\"},"
                           "\"metadata\":{}},"
                           "{\"name\":\"c9\",\"healthChecker\":{\"type\":\"TCP\"},"
                           "\"metadata\":{}}]}");
    free(text);
    json_decref(j);
    cairn_service_snapshot_free(&s);
}

Test(gateway_service, selector_parameter)
{
    char *out;
    cairn_status st;
    cr_assert_eq(gateway_parse_selector(NULL, &out, &st), CAIRN_OK);
    cr_assert_str_eq(out, "{\"type\":\"none\"}");
    free(out);
    /* Decoded once more, '+' included. */
    cr_assert_eq(gateway_parse_selector("%7B%22type%22%3A%22label%22%2C%22expression%22%3A%22a+"
                                        "%3D+b%22%7D",
                                        &out, &st),
                 CAIRN_OK, "%s", st.message);
    cr_assert_str_eq(out, "{\"type\":\"label\",\"expression\":\"a = b\"}");
    free(out);
    cr_assert_eq(gateway_parse_selector("{\"type\":\"bogus\"}", &out, &st), CAIRN_E_INVALID);
    cr_assert_str_eq(st.message, "No enum constant com.alibaba.nacos.api.selector.SelectorType.bogus");
    cr_assert_eq(gateway_parse_selector("not json", &out, &st), CAIRN_E_INVALID);
    cr_assert_eq(gateway_parse_selector("{\"type\":\"label\"}", &out, &st), CAIRN_E_INVALID);
}
