/*
 * cli.h - subcommand table and option parsing of the `fedlora` tool.
 *
 * Each subcommand lives in its own cmd_*.c file, declares its options in a
 * cli_option table (whose help text states the unit of every value) and
 * registers itself in cli_commands.c.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cli_command {
    const char *name;    /* as typed: "train", "job submit" */
    const char *summary; /* one line for `fedlora --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the command name; returns exit status */
} cli_command;

extern const cli_command cli_commands[];
extern const size_t cli_command_count;

typedef struct cli_option {
    const char *name;  /* long option without dashes */
    const char *arg;   /* placeholder such as "N" or "DIR"; NULL for a flag */
    const char *help;  /* what it sets, its unit and default */
} cli_option;

/* Result of cli_parse: the value of each option (NULL when absent, "1" for a set flag). */
typedef struct cli_args {
    const char *values[64];
    char **positional;
    int positional_count;
} cli_args;

enum { CLI_PARSE_OK = 0, CLI_PARSE_HELP = 1, CLI_PARSE_USAGE = 2 };

/*
 * Parses argv against options. --help prints usage and description with the
 * option table and returns CLI_PARSE_HELP; an unknown option or a missing
 * value prints the problem and returns CLI_PARSE_USAGE.
 */
int cli_parse(const char *command, const char *usage, const char *description,
              const cli_option *options, size_t count, int argc, char **argv, cli_args *out);

/* Maps a cli_parse result to the exit status a command returns. */
int cli_parse_exit(int parse_result);

/* Returns the value of option name, or NULL when it was not given. */
const char *cli_get(const cli_args *args, const cli_option *options, size_t count,
                    const char *name);

/*
 * Converts text to a number within [min, max]. On failure prints
 * "fedlora COMMAND: --OPTION: ..." and returns false.
 */
bool cli_to_int(const char *command, const char *option, const char *text, int64_t min,
                int64_t max, int64_t *out);
bool cli_to_double(const char *command, const char *option, const char *text, double min,
                   double max, double *out);

/*
 * Checks that dir, the value of --option, is a Hugging Face model folder (it has a
 * config.json). On failure prints "fedlora COMMAND: --OPTION DIR: ..." and returns false.
 */
bool cli_check_model_dir(const char *command, const char *option, const char *dir);

/*
 * Sets and returns the configuration file given as `fedlora --config FILE
 * COMMAND`, before the command name. NULL when none was given.
 */
void cli_set_global_config(const char *path);
const char *cli_global_config(void);

#endif
