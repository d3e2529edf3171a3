/*
 * cmd.h - entry points of the fedlora subcommands, one per cmd_*.c file.
 * Each takes argv with argv[0] set to the command name and returns the
 * process exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef CMD_H
#define CMD_H

int cmd_config_check(int argc, char **argv);
int cmd_config_sample(int argc, char **argv);
int cmd_audit_verify(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_provision(int argc, char **argv);
int cmd_model_hash(int argc, char **argv);
int cmd_init_model(int argc, char **argv);
int cmd_tokenizer_train(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_data_stats(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_job_submit(int argc, char **argv);
int cmd_job_list(int argc, char **argv);
int cmd_job_abort(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_round_start(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_logs(int argc, char **argv);

#endif
