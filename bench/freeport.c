/* Prints a TCP port on 127.0.0.1 that was free a moment ago, for programs that cannot be told to
 * bind port 0 and report it (etcd's client and peer URLs). The kernel does not hand the same
 * ephemeral port out again soon, so the race with other programs is narrow.
 *   cairn-bench-freeport [COUNT]   prints COUNT distinct ports, one per line */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long count = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
    if (count < 1 || count > 64) {
        fprintf(stderr, "usage: cairn-bench-freeport [COUNT (1..64)]\n");
        return 2;
    }
    int fds[64];
    for (long i = 0; i < count; i++) {
        /* All sockets stay open until every port is printed, so the ports are distinct. */
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sa;
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sa, sizeof sa) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&sa, &len) != 0) {
            perror("cairn-bench-freeport");
            return 1;
        }
        printf("%u\n", ntohs(sa.sin_port));
    }
    for (long i = 0; i < count; i++)
        close(fds[i]);
    return fflush(stdout) == 0 ? 0 : 1;
}
