#include "object_generator.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* splitmix64: a fixed, fast mapping from a word index to 8 pseudo-random bytes. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void generate(uint64_t seed, uint64_t offset, uint8_t *buffer, size_t length)
{
    size_t i = 0;
    while (i < length) {
        uint64_t position = offset + i;
        uint64_t word = mix(seed ^ (position / 8));
        size_t within = (size_t)(position % 8);
        size_t take = 8 - within < length - i ? 8 - within : length - i;
        uint8_t bytes[8];
        memcpy(bytes, &word, sizeof(bytes));
        memcpy(buffer + i, bytes + within, take);
        i += take;
    }
}

int object_generator_read(void *context, uint64_t offset, uint8_t *buffer, size_t length,
                          fl_error *err)
{
    object_generator *generator = context;
    if (generator->hook != NULL && generator->hook_at > 0 && offset + length > generator->hook_at) {
        generator->hook_at = 0;
        generator->hook(generator->hook_context);
    }
    if (offset + length > generator->cancel_at) {
        generator->cancel_at = UINT64_MAX;
        return fl_error_set(err, FL_ECANCELED, "test reader: canceled at offset %llu",
                            (unsigned long long)offset);
    }
    generate(generator->seed, offset, buffer, length);
    generator->bytes_read += length;
    return FL_OK;
}

void object_generator_hash(const object_generator *generator, uint64_t total_size,
                           uint8_t hash[PROTO_HASH_BYTES])
{
    size_t block = 1 << 20;
    uint8_t *buffer = malloc(block);
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, PROTO_HASH_BYTES);
    for (uint64_t offset = 0; offset < total_size; offset += block) {
        size_t length = total_size - offset < block ? (size_t)(total_size - offset) : block;
        generate(generator->seed, offset, buffer, length);
        crypto_generichash_update(&state, buffer, length);
    }
    crypto_generichash_final(&state, hash, PROTO_HASH_BYTES);
    free(buffer);
}

int object_check_sink_write(void *context, uint64_t offset, const uint8_t *data, size_t length,
                            fl_error *err)
{
    object_check_sink *sink = context;
    if (offset != sink->next_offset)
        return fl_error_set(err, FL_EPROTO, "test sink: got offset %llu, expected %llu",
                            (unsigned long long)offset, (unsigned long long)sink->next_offset);

    uint8_t expected[4096];
    for (size_t done = 0; done < length; done += sizeof(expected)) {
        size_t part = length - done < sizeof(expected) ? length - done : sizeof(expected);
        generate(sink->generator.seed, offset + done, expected, part);
        if (memcmp(expected, data + done, part) != 0)
            sink->mismatch = true;
    }
    sink->next_offset += length;
    sink->bytes += length;
    sink->calls++;
    return FL_OK;
}
