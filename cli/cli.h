/* The `cairn` command's subcommands; main.c only dispatches to these. */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdio.h>

#define CLI_EXIT_USAGE 64 /* EX_USAGE */

/* Each takes the subcommand's own argv (argv[0] is the subcommand name) and returns the exit
 * code of the process. */
int cli_run_main(int argc, char **argv);
int cli_status_main(int argc, char **argv);
/* The members table of `cairn status` in a cluster (cli_members.c); false when the replicator
 * does not answer or a member is not UP. */
bool cli_print_members(const char *run_dir, int timeout_ms);
int cli_reference_main(int argc, char **argv);
int cli_user_main(int argc, char **argv);

void cli_usage(FILE *out);

#endif
