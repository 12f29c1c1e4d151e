/* User-Agent classification, as Nacos' ClientInfo and PushService.canEnablePush do it (§1.9,
 * §12.1). */
#include "cairn_client.h"

#include <ctype.h>
#include <string.h>

static const struct {
    const char *prefix;
    cairn_client_type type;
} prefixes[] = {
    {"Nacos-Java-Client", CAIRN_CLIENT_JAVA},
    {"Nacos-DNS", CAIRN_CLIENT_DNS},
    {"Nacos-C-Client", CAIRN_CLIENT_C},
    {"vip-client4cpp", CAIRN_CLIENT_C},
    {"Nacos-SDK-Java", CAIRN_CLIENT_JAVA_SDK},
    {"Nacos-Server", CAIRN_CLIENT_NACOS_SERVER},
    {"unit-nginx", CAIRN_CLIENT_TENGINE},
    {"Nacos-Go-Client", CAIRN_CLIENT_GO},
    {"Nacos-CSharp-Client", CAIRN_CLIENT_CSHARP},
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

cairn_client_info cairn_client_classify(const char *ua)
{
    cairn_client_info info = {CAIRN_CLIENT_UNKNOWN, 0, 0, 0};
    if (!ua)
        return info;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (strncmp(ua, prefixes[i].prefix, strlen(prefixes[i].prefix)) == 0) {
            info.type = prefixes[i].type;
            break;
        }
    }
    if (info.type == CAIRN_CLIENT_UNKNOWN)
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

bool cairn_client_is_java_v1(const char *ua)
{
    cairn_client_info info = cairn_client_classify(ua);
    return info.type == CAIRN_CLIENT_JAVA && info.major >= 1;
}

static bool at_least(const cairn_client_info *i, int major, int minor, int patch)
{
    if (i->major != major)
        return i->major > major;
    if (i->minor != minor)
        return i->minor > minor;
    return i->patch >= patch;
}

bool cairn_client_can_push(const char *ua)
{
    cairn_client_info i = cairn_client_classify(ua);
    switch (i.type) {
    case CAIRN_CLIENT_JAVA:
        return at_least(&i, 0, 1, 0);
    case CAIRN_CLIENT_DNS:
        return at_least(&i, 0, 4, 3);
    case CAIRN_CLIENT_C:
        return at_least(&i, 1, 0, 12);
    case CAIRN_CLIENT_GO:
        return at_least(&i, 0, 1, 0);
    case CAIRN_CLIENT_CSHARP:
        return at_least(&i, 0, 9, 0);
    default:
        return false;
    }
}
