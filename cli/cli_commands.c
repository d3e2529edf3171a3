#include "cli.h"
#include "cmd.h"

/* Keep the table in the order `fedlora --help` shows it. */
const cli_command cli_commands[] = {
    {"audit verify", "check the hash chain of a site's audit log", cmd_audit_verify},
    {"config check", "validate a coordinator or agent configuration file", cmd_config_check},
    {"config sample", "print a commented sample configuration", cmd_config_sample},
    {"data stats", "count records, tokens and trained tokens of a JSONL training file",
     cmd_data_stats},
    {"doctor", "check a site's setup and print what to fix", cmd_doctor},
    {"eval", "mean loss and perplexity of a model or adapter on JSONL records", cmd_eval},
    {"export", "download a job's adapter of a completed round as a PEFT folder", cmd_export},
    {"init-model", "write a randomly initialised model in Hugging Face format", cmd_init_model},
    {"job abort", "stop a queued or running job for good", cmd_job_abort},
    {"job list", "list the coordinator's jobs and their status", cmd_job_list},
    {"job submit", "send a job file to the coordinator", cmd_job_submit},
    {"keygen", "make a key pair on this machine (distributed provisioning)", cmd_keygen},
    {"logs", "print a job's history: settings, status and per-round metrics", cmd_logs},
    {"merge", "fold a LoRA adapter into its base model", cmd_merge},
    {"model hash", "print the content hash that names a base model in jobs", cmd_model_hash},
    {"provision", "write key and configuration kits for a project", cmd_provision},
    {"report", "write an HTML report of a job's rounds", cmd_report},
    {"round start", "start the active job's next round now with the ready sites",
     cmd_round_start},
    {"status", "show sites, the active job, its round, phase and metrics", cmd_status},
    {"synth", "write synthetic multi-site clinical consultations for the demo", cmd_synth},
    {"tokenize", "turn text into token ids with a tokenizer.json, or back", cmd_tokenize},
    {"tokenizer train", "learn a small byte-level BPE tokenizer from JSONL text", cmd_tokenizer_train},
    {"train", "fine-tune locally: a PEFT adapter, or a whole model with --mode full", cmd_train},
};

const size_t cli_command_count = sizeof(cli_commands) / sizeof(cli_commands[0]);
