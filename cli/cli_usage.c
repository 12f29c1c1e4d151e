#include "cli.h"

void cli_usage(FILE *out)
{
    fputs("usage: cairn <command> [options]\n"
          "\n"
          "commands:\n"
          "  run [--data-dir DIR] [--config FILE] [--set key=value]...\n"
          "        start every role of a node, supervise them, stop them on ^C / SIGTERM\n"
          "  status [--data-dir DIR] [--config FILE] [--set key=value]...\n"
          "        show each role's state, admin address and key metrics\n"
          "        (exit 0 when all roles are healthy, 1 otherwise)\n"
          "  user add|passwd|roles|del <name> [--role ROLE]... [--data-dir DIR] [--config FILE]\n"
          "        edit the users file (auth.users_file); the password is read from the\n"
          "        terminal or one line of stdin; ROLE: admin, read:<ns>, write:<ns> (* for all)\n"
          "  user list [--data-dir DIR] [--config FILE]\n"
          "        the users and their roles\n"
          "  config-reference\n"
          "        print every configuration key, its default and meaning (Markdown)\n"
          "\n"
          "  --version    print the version\n"
          "  --help       print this help\n"
          "\n"
          "--data-dir DIR is short for --set node.data_dir=DIR; --set overrides the --config\n"
          "file, later --set options override earlier ones.\n",
          out);
}
