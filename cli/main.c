/* cairn: the command line of a Cairn node. */
#include <string.h>

#include "cairn_role.h"
#include "cli.h"

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (strcmp(cmd, "run") == 0)
        return cli_run_main(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0)
        return cli_status_main(argc - 1, argv + 1);
    if (strcmp(cmd, "user") == 0)
        return cli_user_main(argc - 1, argv + 1);
    if (strcmp(cmd, "config-reference") == 0)
        return cli_reference_main(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("cairn %s\n", CAIRN_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        cli_usage(stdout);
        return 0;
    }
    if (cmd[0])
        fprintf(stderr, "cairn: unknown command \"%s\"\n", cmd);
    cli_usage(stderr);
    return CLI_EXIT_USAGE;
}
