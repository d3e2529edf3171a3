/*
 * Writes one valid encoded envelope per body type into DIR, as the seed
 * corpus of fuzz_proto_decode: fuzz_write_seeds DIR
 */
#include <stdio.h>
#include <stdlib.h>

#include "proto_fixture.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_write_seeds DIR  (an existing folder)\n");
        return 2;
    }
    for (size_t i = 0; i < proto_fixture_case_count; i++) {
        proto_fixture f;
        proto_fixture_init(&f, proto_fixture_cases[i]);
        uint8_t *bytes = NULL;
        size_t length = 0;
        fl_error err = {0};
        if (proto_encode_envelope(&f.envelope, &bytes, &length, &err) != FL_OK) {
            fprintf(stderr, "fuzz_write_seeds: %s\n", err.msg);
            return 1;
        }

        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[1], proto_body_name(proto_fixture_cases[i]));
        FILE *out = fopen(path, "wb");
        if (out == NULL || fwrite(bytes, 1, length, out) != length || fclose(out) != 0) {
            fprintf(stderr, "fuzz_write_seeds: cannot write %s\n", path);
            return 1;
        }
        free(bytes);
    }
    return 0;
}
