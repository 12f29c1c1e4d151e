/* Listening on a node-local socket (cairn_listen.h). */
#include "cairn_listen.h"

#include <string.h>

int cairn_listen(nng_socket sock, const char *url, size_t max_msg_bytes)
{
    nng_listener l;
    int rv = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, max_msg_bytes);
    if (rv != 0 || (rv = nng_listener_create(&l, sock, url)) != 0)
        return rv;
    if ((strncmp(url, "ipc://", 6) != 0 ||
         (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, CAIRN_LISTEN_IPC_MODE)) == 0) &&
        (rv = nng_listener_start(l, 0)) == 0)
        return 0;
    nng_listener_close(l);
    return rv;
}

int cairn_listen_pub(nng_socket sock, const char *url)
{
    int rv = nng_socket_set_int(sock, NNG_OPT_SENDBUF, CAIRN_LISTEN_PUB_QUEUE);
    return rv != 0 ? rv : cairn_listen(sock, url, CAIRN_LISTEN_PUB_MAX);
}
