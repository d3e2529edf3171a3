/*
 * fedlora model hash: print the content hash that names a base model in jobs.
 */
#include <stdio.h>

#include "cli.h"
#include "cmd.h"
#include "fc_model_hash.h"

int cmd_model_hash(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("model hash", "DIR",
                           "Prints the BLAKE2b-256 content hash of a Hugging Face model folder\n"
                           "(config.json, tokenizer.json and the safetensors files). A job's\n"
                           "base_model.hash must equal it at every site.",
                           NULL, 0, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    if (args.positional_count != 1) {
        fprintf(stderr, "fedlora model hash: give exactly one model folder\n");
        return 2;
    }

    uint8_t hash[FC_MODEL_HASH_BYTES];
    fl_error err = {0};
    if (fc_model_hash(args.positional[0], hash, &err) != FL_OK) {
        fprintf(stderr, "fedlora model hash: %s\n", err.msg);
        return 1;
    }
    char text[FC_MODEL_HASH_HEX];
    fc_model_hash_hex(text, hash);
    printf("%s  %s\n", text, args.positional[0]);
    return 0;
}
