/* The node part of gRPC owners in a cluster (cairn_grpc_owner.h): a member's identity as it is
 * when short, a hash otherwise, and the prefix its peers drop by. */
#include <criterion/criterion.h>
#include <string.h>

#include "cairn_grpc_owner.h"

Test(grpc_owner, a_short_identity_is_the_node)
{
    char node[CAIRN_GRPC_NODE_MAX];
    cairn_grpc_member_node("127.0.0.2:8848", node);
    cr_assert_str_eq(node, "127.0.0.2:8848");
    char prefix[CAIRN_GRPC_NODE_MAX + 8];
    cairn_grpc_member_prefix("127.0.0.2:8848", prefix, sizeof prefix);
    cr_assert_str_eq(prefix, "grpc/127.0.0.2:8848/");
}

Test(grpc_owner, prefixes_of_members_never_contain_each_other)
{
    /* 127.0.0.1:88 must not select 127.0.0.1:8848's owners: the prefix ends with '/' */
    char a[CAIRN_GRPC_NODE_MAX + 8], b[CAIRN_GRPC_NODE_MAX + 8];
    cairn_grpc_member_prefix("127.0.0.1:88", a, sizeof a);
    cairn_grpc_member_prefix("127.0.0.1:8848", b, sizeof b);
    cr_assert_neq(strncmp(b, a, strlen(a)), 0);
}

Test(grpc_owner, a_long_or_slashed_identity_is_hashed_the_same_way_everywhere)
{
    char longid[300];
    memset(longid, 'h', 250);
    strcpy(longid + 250, ".example:8848");
    char n1[CAIRN_GRPC_NODE_MAX], n2[CAIRN_GRPC_NODE_MAX], n3[CAIRN_GRPC_NODE_MAX];
    cairn_grpc_member_node(longid, n1);
    cairn_grpc_member_node(longid, n2);
    cr_assert_str_eq(n1, n2);
    cr_assert_eq(strncmp(n1, "m-", 2), 0);
    cr_assert_eq(strlen(n1), 18u);
    longid[0] = 'g';
    cairn_grpc_member_node(longid, n3);
    cr_assert_str_neq(n1, n3);
    cairn_grpc_member_node("a/b:1", n3); /* a '/' would split the owner */
    cr_assert_eq(strncmp(n3, "m-", 2), 0);
    char exact[CAIRN_GRPC_NODE_ID_MAX + 1];
    memset(exact, 'x', CAIRN_GRPC_NODE_ID_MAX);
    exact[CAIRN_GRPC_NODE_ID_MAX] = 0;
    cairn_grpc_member_node(exact, n3);
    cr_assert_str_eq(n3, exact);
}

Test(grpc_owner, an_incarnations_node_prefix)
{
    cr_expect_eq(cairn_grpc_incarnation_node_len("grpc/127.0.0.2:8848/19a2b/"),
                 strlen("grpc/127.0.0.2:8848/"));
    const char *bad[] = {"grpc/n1/2", "/", "grpc", "grpc//", "grpc//2/", "/n1/2/", "grpc/n1//", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(cairn_grpc_incarnation_node_len(bad[i]), 0, "\"%s\"", bad[i]);
}
