#include "cli.h"
#include "cmd.h"

/* Keep the table in the order `fedlora --help` shows it. */
const cli_command cli_commands[] = {
    {"config check", "validate a coordinator or agent configuration file", cmd_config_check},
    {"config sample", "print a commented sample configuration", cmd_config_sample},
    {"tokenize", "turn text into token ids with a tokenizer.json, or back", cmd_tokenize},
    {"data stats", "count records, tokens and trained tokens of a JSONL training file",
     cmd_data_stats},
    {"synth", "write synthetic multi-site clinical consultations for the demo", cmd_synth},
};

const size_t cli_command_count = sizeof(cli_commands) / sizeof(cli_commands[0]);
