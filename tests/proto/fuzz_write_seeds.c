/*
 * Writes seed corpora into DIR: one valid encoded envelope per body type
 * (for fuzz_proto_decode), and a length-prefixed query plus chunks of one
 * small object (for fuzz_chunk_receiver). Usage: fuzz_write_seeds DIR
 */
#include <stdio.h>
#include <stdlib.h>

#include "proto_fixture.h"

static int write_file(const char *dir, const char *name, const uint8_t *bytes, size_t length)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *out = fopen(path, "wb");
    if (out == NULL || fwrite(bytes, 1, length, out) != length || fclose(out) != 0) {
        fprintf(stderr, "fuzz_write_seeds: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

/* Appends envelope to sequence with its 2-byte little-endian length. */
static size_t append_framed(uint8_t *sequence, size_t used, Fedlora__Envelope *envelope)
{
    size_t length = fedlora__envelope__get_packed_size(envelope);
    sequence[used] = (uint8_t)(length & 0xFF);
    sequence[used + 1] = (uint8_t)(length >> 8);
    fedlora__envelope__pack(envelope, sequence + used + 2);
    return used + 2 + length;
}

/* Writes a query and the three chunks of a 300-byte object "o", framed. */
static int write_chunk_sequence(const char *dir)
{
    proto_fixture f;
    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_TRANSFER_QUERY);
    uint8_t sequence[4096];
    f.query.object_id = "o";
    f.query.total_size = 300;
    size_t used = append_framed(sequence, 0, &f.envelope);

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_MASKED_INPUT_CHUNK);
    f.chunk.object_id = "o";
    f.chunk.total_size = 300;
    for (int i = 0; i < 3; i++) {
        f.chunk.offset = (uint64_t)i * 100;
        f.envelope.sequence = 10 + (uint64_t)i;
        if (i == 2) {
            f.chunk.object_hash.data = f.hash;
            f.chunk.object_hash.len = sizeof(f.hash);
        }
        used = append_framed(sequence, used, &f.envelope);
    }
    return write_file(dir, "sequence-query-3-chunks", sequence, used);
}

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

        int failed = write_file(argv[1], proto_body_name(proto_fixture_cases[i]), bytes, length);
        free(bytes);
        if (failed)
            return 1;
    }
    return write_chunk_sequence(argv[1]);
}
