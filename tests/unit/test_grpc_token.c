/* The access token a Payload carries in its metadata headers (grpc_payload_decode): a Bearer
 * Authorization first, then accessToken, as NacosAuthPluginService.resolveToken reads them. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_codec.h"
#include "grpc_payload.pb-c.h"

/* The token decoded from a Payload with the given headers (n pairs); NULL: none. malloc'd. */
static char *token_of(const char *const *kv, size_t n)
{
    Metadata__HeadersEntry e[4], *ep[4];
    Metadata md = METADATA__INIT;
    md.type = "ServiceQueryRequest";
    for (size_t i = 0; i < n; i++) {
        metadata__headers_entry__init(&e[i]);
        e[i].key = (char *)kv[2 * i];
        e[i].value = (char *)kv[2 * i + 1];
        ep[i] = &e[i];
    }
    md.headers = ep;
    md.n_headers = n;
    Any body = ANY__INIT;
    body.value.data = (uint8_t *)"{}";
    body.value.len = 2;
    Payload p = PAYLOAD__INIT;
    p.metadata = &md;
    p.body = &body;
    uint8_t buf[1024];
    size_t len = payload__pack(&p, buf);
    grpc_payload out;
    cr_assert_eq(grpc_payload_decode(buf, len, &out), 0);
    char *t = out.token ? strdup(out.token) : NULL;
    grpc_payload_free(&out);
    return t;
}

static void expect_token(const char *const *kv, size_t n, const char *want)
{
    char *t = token_of(kv, n);
    if (want)
        cr_expect_str_eq(t ? t : "(none)", want);
    else
        cr_expect_null(t, "got %s", t);
    free(t);
}

Test(grpc_token, from_the_metadata_headers)
{
    expect_token((const char *[]){"accessToken", "abc"}, 1, "abc");
    expect_token((const char *[]){"Authorization", "Bearer xyz"}, 1, "xyz");
    expect_token((const char *[]){"accessToken", "abc", "Authorization", "Bearer xyz"}, 2, "xyz");
    expect_token((const char *[]){"Authorization", "Basic xyz", "accessToken", "abc"}, 2, "abc");
    expect_token((const char *[]){"Authorization", "Bearer "}, 1, NULL);
    expect_token((const char *[]){"accessToken", ""}, 1, NULL);
    expect_token((const char *[]){"app", "x"}, 1, NULL);
    expect_token(NULL, 0, NULL);
}
