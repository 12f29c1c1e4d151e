#include "cli_options.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_files.h"
#include "cli.h"

/* Accepts "--name VALUE" and "--name=VALUE"; advances *i past what it used. */
static const char *option_value(const char *name, int argc, char **argv, int *i, bool *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    *missing = false;
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

int cli_options_parse(cli_options *o, const char *cmd, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->sets = calloc((size_t)argc + 1, sizeof *o->sets);
    if (!o->sets) {
        fprintf(stderr, "cairn %s: out of memory\n", cmd);
        return CLI_EXIT_USAGE;
    }
    const char *data_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        bool missing;
        if ((v = option_value("--config", argc, argv, &i, &missing))) {
            o->config_file = v;
        } else if (!missing && (v = option_value("--set", argc, argv, &i, &missing))) {
            o->sets[o->set_count++] = v;
        } else if (!missing && (v = option_value("--data-dir", argc, argv, &i, &missing))) {
            data_dir = v;
        } else if (!missing && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
            cli_usage(stdout);
            return CLI_OPTIONS_HELP;
        } else {
            fprintf(stderr, "cairn %s: %s \"%s\"\n", cmd,
                    missing ? "missing value after" : "unknown argument", argv[i]);
            cli_usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (data_dir) {
        if (!data_dir[0]) {
            fprintf(stderr, "cairn %s: --data-dir must not be empty\n", cmd);
            return CLI_EXIT_USAGE;
        }
        /* Absolute, so that every role (whatever its working directory) finds the same one. */
        char abs[PATH_MAX];
        if (cairn_absolute_path(data_dir, abs, sizeof abs) != 0) {
            fprintf(stderr, "cairn %s: --data-dir \"%s\": %s\n", cmd, data_dir, strerror(errno));
            return CLI_EXIT_USAGE;
        }
        size_t n = strlen(abs) + sizeof "node.data_dir=";
        if (!(o->data_dir_set = malloc(n))) {
            fprintf(stderr, "cairn %s: out of memory\n", cmd);
            return CLI_EXIT_USAGE;
        }
        snprintf(o->data_dir_set, n, "node.data_dir=%s", abs);
        o->sets[o->set_count++] = o->data_dir_set;
    }
    return 0;
}

void cli_options_free(cli_options *o)
{
    free(o->sets);
    free(o->data_dir_set);
    memset(o, 0, sizeof *o);
}

cairn_config *cli_options_load(const cli_options *o)
{
    cairn_status st;
    cairn_config *cfg = cairn_config_load(o->config_file, o->sets, o->set_count, &st);
    if (!cfg)
        fprintf(stderr, "cairn: %s\n", st.message);
    return cfg;
}

int cli_options_config(const char *cmd, int argc, char **argv, cairn_config **cfg)
{
    *cfg = NULL;
    cli_options opts;
    int rc = cli_options_parse(&opts, cmd, argc, argv);
    if (rc == 0 && !(*cfg = cli_options_load(&opts)))
        rc = CAIRN_EXIT_CONFIG;
    cli_options_free(&opts);
    return rc == CLI_OPTIONS_HELP ? 0 : rc;
}
