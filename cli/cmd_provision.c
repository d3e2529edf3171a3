/*
 * fedlora provision: write the key and configuration kits of a project.
 */
#include <stdio.h>

#include "cli.h"
#include "cmd.h"
#include "provision.h"

static const cli_option s_options[] = {
    {"project", "FILE", "project file: name, coordinator endpoint, sites, researchers (required)"},
    {"out", "DIR", "empty folder for the kits; created when missing (required)"},
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

int cmd_provision(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("provision", "--project FILE --out DIR",
                           "Generates the project key, the coordinator's keys and a key pair for\n"
                           "every site and researcher that did not bring its own public key,\n"
                           "and writes one kit per party: keys, configuration and the project\n"
                           "manifest signed by the project key. Prints every fingerprint for\n"
                           "checking by phone or letter.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    const char *project = cli_get(&args, s_options, OPTION_COUNT, "project");
    const char *out = cli_get(&args, s_options, OPTION_COUNT, "out");
    if (project == NULL || out == NULL || args.positional_count != 0) {
        fprintf(stderr, "fedlora provision: --project FILE and --out DIR are required\n");
        return 2;
    }

    fl_error err = {0};
    printf("Fingerprints (check each with its owner by phone or letter):\n");
    if (provision_run(project, out, stdout, &err) != FL_OK) {
        fprintf(stderr, "fedlora provision: %s\n", err.msg);
        return 1;
    }
    printf("Kits written to %s: coordinator/, sites/NAME/, researchers/NAME/.\n"
           "Keep %s/project/project.key offline; it signs the manifest.\n",
           out, out);
    return 0;
}
