/*
 * cmd.h - entry points of the fedlora subcommands, one per cmd_*.c file.
 * Each takes argv with argv[0] set to the command name and returns the
 * process exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef CMD_H
#define CMD_H

int cmd_config_check(int argc, char **argv);
int cmd_config_sample(int argc, char **argv);
int cmd_init_model(int argc, char **argv);
int cmd_merge(int argc, char **argv);

#endif
