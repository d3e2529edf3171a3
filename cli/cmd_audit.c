/*
 * fedlora audit verify: check the hash chain of a site's audit log.
 */
#include <stdio.h>

#include "agent_audit.h"
#include "cli.h"
#include "cmd.h"

int cmd_audit_verify(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("audit verify", "FILE",
                           "Checks that no entry of a site's audit log was altered, removed or\n"
                           "reordered, and reports the first broken entry by line.",
                           NULL, 0, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    if (args.positional_count != 1) {
        fprintf(stderr, "fedlora audit verify: give exactly one FILE\n");
        return 2;
    }

    const char *path = args.positional[0];
    agent_audit_report report;
    fl_error err = {0};
    if (agent_audit_verify(path, &report, &err) != FL_OK) {
        fprintf(stderr, "fedlora audit verify: %s\n", err.msg);
        if (report.broken_line > 0)
            fprintf(stderr, "The %llu entries before line %llu are intact.\n",
                    (unsigned long long)report.entries,
                    (unsigned long long)report.broken_line);
        return 1;
    }
    printf("%s: chain intact, %llu entries, %llu payload bytes sent\n", path,
           (unsigned long long)report.entries, (unsigned long long)report.bytes_sent);
    return 0;
}
