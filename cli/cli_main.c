/*
 * fedlora: the command-line tool for researchers and site administrators.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fl_log.h"

#ifndef FEDLORA_VERSION
#define FEDLORA_VERSION "unknown"
#endif

static void print_usage(FILE *out)
{
    fprintf(out,
            "Usage: fedlora COMMAND [OPTIONS]\n"
            "\n"
            "fedlora trains LoRA adapters of an open language model across hospitals;\n"
            "no patient record leaves its hospital. Commands:\n\n");
    for (size_t i = 0; i < cli_command_count; i++)
        fprintf(out, "  %-16s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(out,
            "\n"
            "Run 'fedlora COMMAND --help' for the options of one command.\n"
            "  --config FILE    researcher configuration for the commands that talk to the\n"
            "                   coordinator (same as their own --config option)\n"
            "  --help           show this help and exit\n"
            "  --version        show the version and exit\n");
}

/* Matches "job submit" against argv[1] argv[2] and "train" against argv[1]. */
static const cli_command *find_command(int argc, char **argv, int *words)
{
    const cli_command *found = NULL;
    for (size_t i = 0; i < cli_command_count; i++) {
        const char *name = cli_commands[i].name;
        const char *space = strchr(name, ' ');
        if (space == NULL) {
            if (strcmp(name, argv[1]) == 0 && found == NULL) {
                found = &cli_commands[i];
                *words = 1;
            }
            continue;
        }
        size_t first = (size_t)(space - name);
        if (argc > 2 && strlen(argv[1]) == first && strncmp(name, argv[1], first) == 0 &&
            strcmp(space + 1, argv[2]) == 0) {
            *words = 2;
            return &cli_commands[i];
        }
    }
    return found;
}

static void print_group(const char *group, const char *given)
{
    if (given != NULL)
        fprintf(stderr, "fedlora %s: unknown subcommand '%s'; choose one of:\n", group, given);
    else
        fprintf(stderr, "fedlora %s: a subcommand is required:\n", group);
    size_t length = strlen(group);
    for (size_t i = 0; i < cli_command_count; i++) {
        const char *name = cli_commands[i].name;
        if (strncmp(name, group, length) == 0 && name[length] == ' ')
            fprintf(stderr, "  fedlora %-14s %s\n", name, cli_commands[i].summary);
    }
}

static int is_group(const char *word)
{
    size_t length = strlen(word);
    for (size_t i = 0; i < cli_command_count; i++) {
        const char *name = cli_commands[i].name;
        if (strncmp(name, word, length) == 0 && name[length] == ' ')
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    fl_log_set_role("fedlora");
    if (argc >= 2 && strcmp(argv[1], "--config") == 0) {
        if (argc < 4) {
            fprintf(stderr, "fedlora: --config FILE must be followed by a command\n");
            return 2;
        }
        cli_set_global_config(argv[2]);
        argv[2] = argv[0];
        argc -= 2;
        argv += 2;
    }
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("fedlora %s\n", FEDLORA_VERSION);
        return 0;
    }

    int words = 0;
    const cli_command *command = find_command(argc, argv, &words);
    if (command == NULL && is_group(argv[1])) {
        print_group(argv[1], argc > 2 && argv[2][0] != '-' ? argv[2] : NULL);
        return 2;
    }
    if (command == NULL) {
        fprintf(stderr, "fedlora: unknown command '%s'; run 'fedlora --help' for the list\n",
                argv[1]);
        return 2;
    }
    return command->run(argc - words, argv + words);
}
