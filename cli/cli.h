/* The `cairn` command's subcommands; main.c only dispatches to these. */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

#define CLI_EXIT_USAGE 64 /* EX_USAGE */

/* Each takes the subcommand's own argv (argv[0] is the subcommand name) and returns the exit
 * code of the process. */
int cli_run_main(int argc, char **argv);
int cli_status_main(int argc, char **argv);
int cli_reference_main(int argc, char **argv);

void cli_usage(FILE *out);

#endif
