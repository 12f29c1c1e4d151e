/* Label expressions of service list selectors (cairn_label.h), read as Nacos 1.4.8 reads them,
 * and the selector parameter around them (gateway_list_selector). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_label.h"
#include "gateway_service.h"

static void expect(const char *expr, cairn_label_scope scope, const char *label)
{
    cairn_label_scope got;
    char *out = NULL;
    cairn_status st;
    cr_assert_eq(cairn_label_parse(expr, &got, &out, &st), CAIRN_OK, "%s: %s", expr, st.message);
    cr_assert_eq(got, scope, "%s", expr);
    if (label)
        cr_assert_str_eq(out, label, "%s", expr);
    else
        cr_assert_null(out, "%s", expr);
    free(out);
}

Test(label, nacos_forms)
{
    expect("INSTANCE.metadata.zone = 'a'", CAIRN_LABEL_INSTANCE, "zone=a");
    expect("SERVICE.metadata.tier='gold'", CAIRN_LABEL_SERVICE, "tier=gold");
    expect(" SERVICE . metadata . tier = gold ", CAIRN_LABEL_SERVICE, "tier=gold");
    /* every quote goes, and the value ends at a second '=' */
    expect("INSTANCE.metadata.k='it''s'", CAIRN_LABEL_INSTANCE, "k=its");
    expect("INSTANCE.metadata.k=v=w", CAIRN_LABEL_INSTANCE, "k=v");
    expect("INSTANCE.metadata.k==w", CAIRN_LABEL_INSTANCE, "k="); /* split: [.., "", "w"] */
    /* the key is the last part of the left side, whatever is in between */
    expect("INSTANCE.labels.k=v", CAIRN_LABEL_INSTANCE, "k=v");
    expect("INSTANCE.metadata.k.=v", CAIRN_LABEL_INSTANCE, "k=v");
    expect("SERVICE.=v", CAIRN_LABEL_SERVICE, "SERVICE=v"); /* Java's split: ["SERVICE"] */
}

Test(label, no_filter)
{
    expect(NULL, CAIRN_LABEL_NONE, NULL);
    expect("", CAIRN_LABEL_NONE, NULL);
    expect(" \t ", CAIRN_LABEL_NONE, NULL);
    /* another scope is not filtered, as in Nacos (its switch has no case for it) */
    expect("CONSUMER.label.zone=a", CAIRN_LABEL_NONE, NULL);
    expect("instance.metadata.zone=a", CAIRN_LABEL_NONE, NULL);
    expect("=a", CAIRN_LABEL_NONE, NULL);
    expect("CONSUMER.x", CAIRN_LABEL_NONE, NULL); /* no value needed where nothing is filtered */
}

Test(label, malformed_is_a_400)
{
    const char *bad[] = {"INSTANCE.metadata.zone", "INSTANCE.metadata.zone=",
                         "INSTANCE.metadata.zone==", "SERVICE"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cairn_label_scope scope;
        char *label = NULL;
        cairn_status st;
        cr_assert_eq(cairn_label_parse(bad[i], &scope, &label, &st), CAIRN_E_INVALID, "%s",
                     bad[i]);
        cr_assert_null(label);
        cr_assert(strstr(st.message, "INSTANCE.metadata.<key>"), "%s", st.message);
    }
}

Test(label, selector_parameter)
{
    cairn_label_scope scope;
    char *label = NULL;
    cairn_status st;
    cr_assert_eq(gateway_list_selector(NULL, &scope, &label, &st), CAIRN_OK);
    cr_assert(scope == CAIRN_LABEL_NONE && !label);
    cr_assert_eq(gateway_list_selector("{\"type\":\"none\"}", &scope, &label, &st), CAIRN_OK);
    cr_assert(scope == CAIRN_LABEL_NONE && !label);
    cr_assert_eq(gateway_list_selector(
                     "{\"type\":\"label\",\"expression\":\"SERVICE.metadata.tier = 'gold'\"}",
                     &scope, &label, &st),
                 CAIRN_OK, "%s", st.message);
    cr_assert_eq(scope, CAIRN_LABEL_SERVICE);
    cr_assert_str_eq(label, "tier=gold");
    free(label);
    /* as 1.4.8's list reads it: unknown, and a label with a blank expression, filter nothing */
    cr_assert_eq(gateway_list_selector("{\"type\":\"unknown\"}", &scope, &label, &st), CAIRN_OK);
    cr_assert(scope == CAIRN_LABEL_NONE && !label);
    cr_assert_eq(gateway_list_selector("{\"type\":\"label\",\"expression\":\" \"}", &scope,
                                       &label, &st),
                 CAIRN_OK);
    cr_assert(scope == CAIRN_LABEL_NONE && !label);
    /* the selector's own 400s, then the expression's */
    cr_assert_eq(gateway_list_selector("{bad", &scope, &label, &st), CAIRN_E_INVALID);
    cr_assert_eq(gateway_list_selector("{\"type\":\"bogus\"}", &scope, &label, &st),
                 CAIRN_E_INVALID);
    cr_assert_eq(gateway_list_selector("{\"type\":\"label\",\"expression\":\"SERVICE\"}", &scope,
                                       &label, &st),
                 CAIRN_E_INVALID);
    cr_assert_null(label);
}
