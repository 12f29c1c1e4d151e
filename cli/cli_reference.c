/* `cairn config-reference`: the README's configuration table, printed from the key table. */
#include "cairn_config.h"
#include "cli.h"

int cli_reference_main(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "cairn config-reference: unexpected argument \"%s\"\n", argv[1]);
        cli_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    cairn_config_print_reference(stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}
