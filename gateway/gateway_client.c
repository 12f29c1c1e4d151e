/* User-Agent classification, as Nacos' ClientInfo does it (§1.9). */
#include "gateway_client.h"

#include <ctype.h>
#include <string.h>

static const struct {
    const char *prefix;
    gateway_client_type type;
} prefixes[] = {
    {"Nacos-Java-Client", GATEWAY_CLIENT_JAVA},
    {"Nacos-DNS", GATEWAY_CLIENT_DNS},
    {"Nacos-C-Client", GATEWAY_CLIENT_C},
    {"vip-client4cpp", GATEWAY_CLIENT_C},
    {"Nacos-SDK-Java", GATEWAY_CLIENT_JAVA_SDK},
    {"Nacos-Server", GATEWAY_CLIENT_NACOS_SERVER},
    {"unit-nginx", GATEWAY_CLIENT_TENGINE},
    {"Nacos-Go-Client", GATEWAY_CLIENT_GO},
    {"Nacos-CSharp-Client", GATEWAY_CLIENT_CSHARP},
};

/* codehaus VersionUtil.parseVersionPart: the leading decimal digits of a part, else 0. */
static int version_part(const char **p)
{
    long n = 0;
    while (isdigit((unsigned char)**p)) {
        if (n < 100000000)
            n = n * 10 + (**p - '0');
        (*p)++;
    }
    while (**p && **p != '.')
        (*p)++;
    if (**p == '.')
        (*p)++;
    return (int)n;
}

gateway_client_info gateway_client_classify(const char *ua)
{
    gateway_client_info info = {GATEWAY_CLIENT_UNKNOWN, 0, 0, 0};
    if (!ua)
        return info;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (strncmp(ua, prefixes[i].prefix, strlen(prefixes[i].prefix)) == 0) {
            info.type = prefixes[i].type;
            break;
        }
    }
    if (info.type == GATEWAY_CLIENT_UNKNOWN)
        return info;
    /* Java takes substring(indexOf(":v") + 2); without ":v" that is substring(1), which never
     * starts with a digit, so the version is 0.0.0 either way. */
    const char *v = strstr(ua, ":v");
    if (!v)
        return info;
    v += 2;
    info.major = version_part(&v);
    info.minor = version_part(&v);
    info.patch = version_part(&v);
    return info;
}

bool gateway_client_is_java_v1(const char *ua)
{
    gateway_client_info info = gateway_client_classify(ua);
    return info.type == GATEWAY_CLIENT_JAVA && info.major >= 1;
}
