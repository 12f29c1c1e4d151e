/* cairn-grpc: the Nacos 2.x gRPC naming port (grpc.h). */
#include <pthread.h>
#include <stdlib.h>

#include "cairn_role.h"
#include "grpc.h"

static void *loop_main(void *arg)
{
    grpc_server *s = arg;
    s->exit_code = grpc_loop_run(s);
    if (s->exit_code != 0)
        cairn_role_request_stop();
    return NULL;
}

int main(int argc, char **argv)
{
    cairn_role role;
    int rc = cairn_role_init(&role, "grpc", argc, argv);
    if (rc != 0)
        return rc;
    static grpc_server server;
    rc = grpc_server_open(&server, &role);
    pthread_t loop;
    if (rc == 0 && pthread_create(&loop, NULL, loop_main, &server) != 0)
        rc = EXIT_FAILURE;
    if (rc != 0) {
        grpc_server_close(&server);
        cairn_role_finish(&role);
        return rc;
    }
    /* The loop declares the role ready once it listens and the registry answers (grpc.h). */
    cairn_role_wait_for_stop(&role);
    pthread_join(loop, NULL);
    grpc_server_close(&server);
    int finish = cairn_role_finish(&role);
    return server.exit_code ? server.exit_code : finish;
}
