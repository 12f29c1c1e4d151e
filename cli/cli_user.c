/* `cairn user add|passwd|roles|del|list`: edits the users file (cairn_auth.h) of the node the
 * options name. A password is read from the terminal (twice, without echo) or, when stdin is not
 * a terminal, as one line of stdin. Edits take an exclusive lock (<users file>.lock) so that two
 * at once do not lose one another; the file is replaced atomically with mode 0600, and a running
 * gateway picks the change up within a second. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <termios.h>
#include <unistd.h>

#include "cairn_auth.h"
#include "cairn_files.h"
#include "cli.h"
#include "cli_options.h"

#define MAX_ROLES_TEXT 4096

typedef struct user_cmd {
    const char *action;
    const char *name; /* NULL for list */
    char roles[MAX_ROLES_TEXT];
    bool roles_given;
    char path[PATH_MAX];
} user_cmd;

/* One line of stdin, or of the terminal without echo after prompt. */
static bool read_line(const char *prompt, char *buf, size_t len)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    bool ok = fgets(buf, (int)len, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!ok)
        return false;
    size_t n = strlen(buf);
    if (n == len - 1 && buf[n - 1] != '\n')
        return false; /* too long */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return true;
}

static int read_password(const char *name, char hash[CAIRN_AUTH_HASH_MAX])
{
    char pw[CAIRN_AUTH_PASSWORD_MAX + 2], again[CAIRN_AUTH_PASSWORD_MAX + 2];
    char prompt[128];
    snprintf(prompt, sizeof prompt, "Password for %s: ", name);
    if (!read_line(prompt, pw, sizeof pw) || !pw[0]) {
        fprintf(stderr, "cairn user: no password given (one line of at most %d bytes)\n",
                CAIRN_AUTH_PASSWORD_MAX);
        return CLI_EXIT_USAGE;
    }
    /* The gateway trims parameter values (as Nacos' parameter handling does): a password that
     * begins or ends with white space could never be sent. */
    if ((unsigned char)pw[0] <= ' ' || (unsigned char)pw[strlen(pw) - 1] <= ' ') {
        fprintf(stderr, "cairn user: a password may not begin or end with white space\n");
        explicit_bzero(pw, sizeof pw);
        return CLI_EXIT_USAGE;
    }
    if (isatty(STDIN_FILENO) &&
        (!read_line("Again: ", again, sizeof again) || strcmp(pw, again) != 0)) {
        fprintf(stderr, "cairn user: the passwords differ\n");
        return CLI_EXIT_USAGE;
    }
    cairn_status st;
    cairn_err rc = cairn_auth_hash_password(pw, hash, &st);
    explicit_bzero(pw, sizeof pw);
    explicit_bzero(again, sizeof again);
    if (rc != CAIRN_OK) {
        fprintf(stderr, "cairn user: %s\n", st.message);
        return 1;
    }
    return 0;
}

/* Takes the lock beside the users file (creating its directory); -1 on failure. */
static int lock_users(const char *path)
{
    char dir[PATH_MAX], lock[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s", path);
    snprintf(lock, sizeof lock, "%s.lock", path);
    int fd = -1;
    if (cairn_mkdir_p(dirname(dir), 0750) != 0 ||
        (fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX) != 0) {
        fprintf(stderr, "cairn user: cannot lock %s: %s\n", lock, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int list_users(const cairn_auth_users *u)
{
    for (size_t i = 0; i < u->len; i++)
        printf("%s\t%s\n", u->items[i].name, u->items[i].roles[0] ? u->items[i].roles : "-");
    return 0;
}

/* The edit itself, on the loaded users; 0 when u is to be saved. */
static int edit(const user_cmd *c, cairn_auth_users *u)
{
    const cairn_auth_user *existing = cairn_auth_users_find(u, c->name);
    bool add = strcmp(c->action, "add") == 0;
    if (strcmp(c->action, "del") == 0) {
        if (cairn_auth_users_remove(u, c->name))
            return 0;
        fprintf(stderr, "cairn user: no user %s in %s\n", c->name, c->path);
        return 1;
    }
    if (add && existing) {
        fprintf(stderr, "cairn user: %s exists already (cairn user passwd / roles change it)\n",
                c->name);
        return 1;
    }
    if (!add && !existing) {
        fprintf(stderr, "cairn user: no user %s in %s\n", c->name, c->path);
        return 1;
    }
    char hash[CAIRN_AUTH_HASH_MAX];
    const char *roles = c->roles_given ? c->roles : existing ? existing->roles : "";
    cairn_status st;
    if (cairn_auth_roles_check(roles, &st) != CAIRN_OK) {
        fprintf(stderr, "cairn user: %s\n", st.message);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(c->action, "roles") == 0) {
        snprintf(hash, sizeof hash, "%s", existing->hash);
    } else {
        int rc = read_password(c->name, hash);
        if (rc != 0)
            return rc;
    }
    if (cairn_auth_users_put(u, c->name, hash, roles, &st) != CAIRN_OK) {
        fprintf(stderr, "cairn user: %s\n", st.message);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static int run(user_cmd *c)
{
    bool listing = strcmp(c->action, "list") == 0;
    int lock = listing ? -1 : lock_users(c->path);
    if (!listing && lock < 0)
        return 1;
    cairn_auth_users u;
    cairn_status st;
    int rc = 1;
    if (cairn_auth_users_load(c->path, true, &u, &st) != CAIRN_OK)
        fprintf(stderr, "cairn user: %s\n", st.message);
    else if (listing)
        rc = list_users(&u);
    else if ((rc = edit(c, &u)) == 0 && cairn_auth_users_save(c->path, &u, &st) != CAIRN_OK) {
        fprintf(stderr, "cairn user: %s\n", st.message);
        rc = 1;
    }
    if (rc == 0 && !listing)
        fprintf(stderr, "cairn user: %s %s in %s\n", c->action, c->name, c->path);
    cairn_auth_users_free(&u);
    if (lock >= 0)
        close(lock);
    return rc;
}

/* Moves --role values into c->roles; the other arguments stay for cli_options_parse. */
static int take_roles(user_cmd *c, int *argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--role") == 0 && i + 1 < *argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--role=", 7) == 0)
            v = argv[i] + 7;
        if (!v) {
            argv[out++] = argv[i];
            continue;
        }
        size_t used = strlen(c->roles);
        if (used + strlen(v) + 2 > sizeof c->roles) {
            fprintf(stderr, "cairn user: too many roles\n");
            return CLI_EXIT_USAGE;
        }
        snprintf(c->roles + used, sizeof c->roles - used, "%s%s", used ? "," : "", v);
        c->roles_given = true;
    }
    *argc = out;
    return 0;
}

int cli_user_main(int argc, char **argv)
{
    static const char *const actions[] = {"add", "passwd", "roles", "del", "list"};
    user_cmd c = {.action = argc > 1 ? argv[1] : ""};
    bool known = false;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        known = known || strcmp(c.action, actions[i]) == 0;
    bool listing = strcmp(c.action, "list") == 0;
    if (!known || (!listing && (argc < 3 || argv[2][0] == '-'))) {
        fprintf(stderr, "usage: cairn user add|passwd|roles|del <name> [--role ROLE]... "
                        "[--data-dir DIR] [--config FILE] [--set key=value]...\n"
                        "       cairn user list [--data-dir DIR] [--config FILE] "
                        "[--set key=value]...\n");
        return CLI_EXIT_USAGE;
    }
    c.name = listing ? NULL : argv[2];
    int skip = listing ? 1 : 2; /* argv[skip] becomes the options' argv[0] */
    int rest = argc - skip;
    char **args = argv + skip;
    int rc = take_roles(&c, &rest, args);
    if (rc != 0)
        return rc;
    if (c.roles_given && strcmp(c.action, "add") != 0 && strcmp(c.action, "roles") != 0) {
        fprintf(stderr, "cairn user: --role goes with add and roles\n");
        return CLI_EXIT_USAGE;
    }
    cairn_config *cfg;
    rc = cli_options_config("user", rest, args, &cfg);
    if (!cfg)
        return rc;
    cairn_auth_users_path(cfg, c.path, sizeof c.path);
    cairn_config_free(cfg);
    if (c.name && !cairn_auth_name_valid(c.name)) {
        fprintf(stderr, "cairn user: a name is 1..%d characters of A-Z a-z 0-9 . _ @ -\n",
                CAIRN_AUTH_NAME_MAX);
        return CLI_EXIT_USAGE;
    }
    return run(&c);
}
