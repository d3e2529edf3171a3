/*
 * fedlora config check|sample: validate a daemon's or a researcher's
 * configuration file, or print a commented sample of it.
 */
#include <stdio.h>
#include <string.h>

#include "admin_client.h"
#include "agent_config.h"
#include "cli.h"
#include "cmd.h"
#include "coord_config.h"

static const cli_option s_options[] = {
    {"role", "ROLE", "what the file configures: coordinator, agent, or researcher (the "
                     "fedlora tool's fedlora.conf) (required)"},
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

static int role_of(const char *command, const cli_args *args)
{
    const char *role = cli_get(args, s_options, OPTION_COUNT, "role");
    if (role != NULL && strcmp(role, "coordinator") == 0)
        return 0;
    if (role != NULL && strcmp(role, "agent") == 0)
        return 1;
    if (role != NULL && strcmp(role, "researcher") == 0)
        return 2;
    fprintf(stderr, "fedlora %s: --role must be 'coordinator', 'agent' or 'researcher'\n",
            command);
    return -1;
}

int cmd_config_check(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("config check", "--role ROLE FILE",
                           "Validates a configuration file and reports the first problem\n"
                           "with its file, line and key.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    int role = role_of("config check", &args);
    if (role < 0)
        return 2;
    if (args.positional_count != 1) {
        fprintf(stderr, "fedlora config check: give exactly one FILE\n");
        return 2;
    }

    const char *path = args.positional[0];
    fl_error err = {0};
    int rc;
    if (role == 0) {
        coord_config config;
        rc = coord_config_load(&config, path, &err);
        coord_config_release(&config);
    } else if (role == 1) {
        agent_config config;
        rc = agent_config_load(&config, path, &err);
        agent_config_release(&config);
    } else {
        researcher_config config = {0};
        rc = fl_config_load(admin_client_config_keys, admin_client_config_key_count, path,
                            &config, &err);
        fl_config_release(admin_client_config_keys, admin_client_config_key_count, &config);
    }
    if (rc != FL_OK) {
        fprintf(stderr, "fedlora config check: %s\n", err.msg);
        return 1;
    }
    static const char *const names[] = {"coordinator", "agent", "researcher"};
    printf("%s: valid %s configuration\n", path, names[role]);
    return 0;
}

int cmd_config_sample(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("config sample", "--role ROLE",
                           "Prints a commented sample configuration with every key,\n"
                           "its unit, range and default.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    int role = role_of("config sample", &args);
    if (role < 0)
        return 2;

    if (role == 0)
        fl_config_write_sample(coord_config_keys, coord_config_key_count, stdout);
    else if (role == 1)
        fl_config_write_sample(agent_config_keys, agent_config_key_count, stdout);
    else
        fl_config_write_sample(admin_client_config_keys, admin_client_config_key_count, stdout);
    return 0;
}
