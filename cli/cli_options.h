/* The options `cairn run` and `cairn status` share: [--data-dir DIR] [--config FILE]
 * [--set key=value]... */
#ifndef CLI_OPTIONS_H
#define CLI_OPTIONS_H

#include <stddef.h>

#include "cairn_config.h"

typedef struct cli_options {
    const char *config_file; /* NULL: defaults and --set only */
    const char **sets;       /* "key=value" in command-line order, then the --data-dir one */
    size_t set_count;
    char *data_dir_set;      /* "node.data_dir=<absolute DIR>" when --data-dir was given */
} cli_options;

#define CLI_OPTIONS_HELP (-1)

/* Parses argv[1..] of subcommand cmd. Returns 0, CLI_OPTIONS_HELP after printing the usage to
 * stdout, or CLI_EXIT_USAGE after printing what was wrong to stderr. */
int cli_options_parse(cli_options *o, const char *cmd, int argc, char **argv);
void cli_options_free(cli_options *o);

/* Loads and validates the config the options name; prints the error and returns NULL. */
cairn_config *cli_options_load(const cli_options *o);

/* Both steps for a subcommand that needs only the configuration: 0 with *cfg set (the caller
 * frees it), or the exit code (0 after --help) with *cfg NULL. */
int cli_options_config(const char *cmd, int argc, char **argv, cairn_config **cfg);

#endif
