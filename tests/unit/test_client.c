/* User-agent classification (§1.9) and push eligibility (§12.1). */
#include <criterion/criterion.h>

#include "cairn_client.h"

Test(client, classification_and_strict_update)
{
    cairn_client_info i = cairn_client_classify("Nacos-Java-Client:v1.0.0");
    cr_assert_eq(i.type, CAIRN_CLIENT_JAVA);
    cr_assert_eq(i.major, 1);
    cr_assert_eq(i.minor, 0);
    i = cairn_client_classify("Nacos-Java-Client:v1.4.8-SNAPSHOT");
    cr_assert_eq(i.major * 10000 + i.minor * 100 + i.patch, 10408);
    cr_assert_eq(cairn_client_classify("Nacos-Go-Client:v2.1.0").type, CAIRN_CLIENT_GO);
    cr_assert_eq(cairn_client_classify("Nacos-Server:1.4.8").type, CAIRN_CLIENT_NACOS_SERVER);
    cr_assert_eq(cairn_client_classify("vip-client4cpp").type, CAIRN_CLIENT_C);
    cr_assert_eq(cairn_client_classify("curl/8.0.1").type, CAIRN_CLIENT_UNKNOWN);

    /* Strict PUT /instance: JAVA >= 1.0.0 only (the Node client sends v1.0.0). */
    cr_assert(cairn_client_is_java_v1("Nacos-Java-Client:v1.0.0"));
    cr_assert(cairn_client_is_java_v1("Nacos-Java-Client:v2.2.3"));
    cr_assert_not(cairn_client_is_java_v1("Nacos-Java-Client:v0.9.0"));
    cr_assert_not(cairn_client_is_java_v1("Nacos-Java-Client"));
    cr_assert_not(cairn_client_is_java_v1("Nacos-Server:v1.4.8"));
    cr_assert_not(cairn_client_is_java_v1("Nacos-SDK-Java:v1.0.0"));
    cr_assert_not(cairn_client_is_java_v1("curl/8.0.1"));
    cr_assert_not(cairn_client_is_java_v1(""));
    cr_assert_not(cairn_client_is_java_v1(NULL));
}

Test(client, can_enable_push_table)
{
    /* §12.1 canEnablePush minimum versions. */
    cr_assert(cairn_client_can_push("Nacos-Java-Client:v1.0.0")); /* the Node client */
    cr_assert(cairn_client_can_push("Nacos-Java-Client:v0.1.0"));
    cr_assert_not(cairn_client_can_push("Nacos-Java-Client:v0.0.9"));
    cr_assert_not(cairn_client_can_push("Nacos-Java-Client")); /* no version: 0.0.0 */
    cr_assert(cairn_client_can_push("Nacos-DNS:v0.4.3"));
    cr_assert_not(cairn_client_can_push("Nacos-DNS:v0.4.2"));
    cr_assert(cairn_client_can_push("Nacos-DNS:v1.0.0"));
    cr_assert(cairn_client_can_push("Nacos-C-Client:v1.0.12"));
    cr_assert_not(cairn_client_can_push("Nacos-C-Client:v1.0.11"));
    cr_assert(cairn_client_can_push("vip-client4cpp:v2.0.0"));
    cr_assert(cairn_client_can_push("Nacos-Go-Client:v0.1.0"));
    cr_assert_not(cairn_client_can_push("Nacos-Go-Client:v0.0.1"));
    cr_assert(cairn_client_can_push("Nacos-CSharp-Client:v0.9.0"));
    cr_assert_not(cairn_client_can_push("Nacos-CSharp-Client:v0.8.9"));
    /* Never pushed, whatever the version. */
    cr_assert_not(cairn_client_can_push("Nacos-SDK-Java:v9.0.0"));
    cr_assert_not(cairn_client_can_push("Nacos-Server:v2.0.0"));
    cr_assert_not(cairn_client_can_push("unit-nginx:v9.0.0"));
    cr_assert_not(cairn_client_can_push("curl/8.0.1"));
    cr_assert_not(cairn_client_can_push(""));
    cr_assert_not(cairn_client_can_push(NULL));
}
