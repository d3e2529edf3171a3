#include "cli.h"
#include "cmd.h"

/* Keep the table in the order `fedlora --help` shows it. */
const cli_command cli_commands[] = {
    {"config check", "validate a coordinator or agent configuration file", cmd_config_check},
    {"config sample", "print a commented sample configuration", cmd_config_sample},
    {"init-model", "write a randomly initialised model in Hugging Face format", cmd_init_model},
    {"merge", "fold a LoRA adapter into its base model", cmd_merge},
};

const size_t cli_command_count = sizeof(cli_commands) / sizeof(cli_commands[0]);
