/*
 * fedlora keygen: make a party's key pair on its own machine, so that in the
 * distributed mode only the public key and its fingerprint travel.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "fc_keys.h"
#include "fc_manifest.h"
#include "fl_file.h"

static const cli_option s_options[] = {
    {"name", "NAME", "name of the site, researcher or project the keys belong to (required)"},
    {"out", "DIR", "folder for NAME.key (mode 0600) and NAME.pub; created when missing "
                   "(default: current folder)"},
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

int cmd_keygen(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("keygen", "--name NAME [--out DIR]",
                           "Generates an Ed25519 signing key pair and a CURVE (X25519) key pair.\n"
                           "Keep NAME.key on this machine; send NAME.pub to the research lead\n"
                           "and read out the printed fingerprints to them by phone or letter.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    const char *name = cli_get(&args, s_options, OPTION_COUNT, "name");
    const char *out = cli_get(&args, s_options, OPTION_COUNT, "out");
    fl_error err = {0};
    if (name == NULL || args.positional_count != 0) {
        fprintf(stderr, "fedlora keygen: --name NAME is required\n");
        return 2;
    }
    if (fc_name_validate(name, "key", &err) != FL_OK) {
        fprintf(stderr, "fedlora keygen: %s\n", err.msg);
        return 2;
    }
    if (out == NULL)
        out = ".";

    char secret_path[4096], public_path[4096];
    if (fl_path_format(secret_path, sizeof(secret_path), "%s/%s.key", out, name) != FL_OK ||
        fl_path_format(public_path, sizeof(public_path), "%s/%s.pub", out, name) != FL_OK) {
        fprintf(stderr, "fedlora keygen: --out path too long\n");
        return 2;
    }
    if (access(secret_path, F_OK) == 0) {
        fprintf(stderr, "fedlora keygen: %s already exists; move it aside first, because "
                        "replacing a key locks its owner out of the project\n",
                secret_path);
        return 1;
    }

    fc_identity *identity = NULL;
    int rc = fc_init();
    if (rc == FL_OK)
        rc = fl_file_mkdirs(out, 0700, &err);
    if (rc == FL_OK)
        rc = fc_identity_generate(&identity);
    if (rc == FL_OK)
        rc = fc_identity_save(identity, secret_path, public_path, &err);
    if (rc != FL_OK) {
        fprintf(stderr, "fedlora keygen: %s\n", err.msg[0] ? err.msg : fl_strerror(rc));
        fc_identity_destroy(&identity);
        return 1;
    }

    fc_public_identity keys;
    fc_identity_public(identity, &keys);
    fc_identity_destroy(&identity);
    char sign[FC_FINGERPRINT_TEXT_BYTES], curve[FC_FINGERPRINT_TEXT_BYTES];
    fc_fingerprint(sign, keys.sign_public);
    fc_fingerprint(curve, keys.curve_public);
    printf("Secret keys: %s (mode 0600; never copy it off this machine)\n", secret_path);
    printf("Public keys: %s (send this file to the research lead)\n", public_path);
    printf("Fingerprints of %s:\n  signing key  %s\n  CURVE key    %s\n", name, sign, curve);
    return 0;
}
