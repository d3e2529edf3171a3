/*
 * Known-answer tests of mask expansion, key derivation and the session id,
 * and checks of share encryption. Expected values were computed with
 * Python's hashlib (BLAKE2b) and the cryptography 38 package (ChaCha20,
 * X25519), independently of libsodium.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "fc_keys.h"
#include "fc_mask.h"
#include "fc_quant.h"

static int init_sodium(void **state)
{
    (void)state;
    return fc_init() == FL_OK ? 0 : -1;
}

static void hex_to_bytes(uint8_t *out, const char *hex)
{
    for (size_t i = 0; hex[2 * i] != '\0'; i++) {
        unsigned value = 0;
        sscanf(hex + 2 * i, "%2x", &value);
        out[i] = (uint8_t)value;
    }
}

static void fill(uint8_t *bytes, size_t size, uint8_t first)
{
    for (size_t i = 0; i < size; i++)
        bytes[i] = (uint8_t)(first + i);
}

/* Mask words at the start and at word 1000 (inside block 62) for key 00 01 .. 1f. */
static void test_mask_expansion_known_answer(void **state)
{
    (void)state;
    uint8_t key[32];
    fill(key, sizeof(key), 0);
    uint32_t scratch[FC_MASK_SCRATCH_WORDS];

    uint32_t words[4] = {0};
    fc_mask_apply(words, 4, 0, key, +1, scratch);
    const uint32_t expected_start[4] = {0xa2410ecf, 0xc51a71c4, 0x475b0bbb, 0xe12fd95f};
    assert_memory_equal(words, expected_start, sizeof(words));

    memset(words, 0, sizeof(words));
    fc_mask_apply(words, 4, 1000, key, +1, scratch);
    const uint32_t expected_later[4] = {0x3eac6d80, 0x3c474fed, 0xcc371965, 0xc68edeb1};
    assert_memory_equal(words, expected_later, sizeof(words));

    // Subtracting the same mask restores the input, modulo 2^32.
    fc_mask_apply(words, 4, 1000, key, -1, scratch);
    const uint32_t zeros[4] = {0};
    assert_memory_equal(words, zeros, sizeof(words));
}

/* A chunked expansion equals one expansion of the whole range. */
static void test_mask_chunks_match_whole(void **state)
{
    (void)state;
    uint8_t key[32];
    fill(key, sizeof(key), 7);
    uint32_t scratch[FC_MASK_SCRATCH_WORDS];
    static uint32_t whole[5000];
    static uint32_t pieces[5000];
    fc_mask_apply(whole, 5000, 0, key, +1, scratch);
    for (size_t start = 0; start < 5000; start += 48) {
        size_t count = 5000 - start < 48 ? 5000 - start : 48;
        fc_mask_apply(pieces + start, count, start, key, +1, scratch);
    }
    assert_memory_equal(whole, pieces, sizeof(whole));
}

/* The rounding stream of seed 00..1f starts 0xd5ece1bf, 0x97aa3b45: u = 0.836, 0.592. */
static void test_rounding_stream_known_answer(void **state)
{
    (void)state;
    fc_quant_params params = {.n_sites = 3, .bits = 8, .clip_bound = 1.0, .weight_max = 1};
    fc_quant q;
    fl_error err = {0};
    assert_int_equal(fc_quant_init(&q, &params, &err), FL_OK);
    uint8_t seed[32];
    fill(seed, sizeof(seed), 0);
    const float values[2] = {(float)(0.3 / 127), (float)(0.3 / 127)};
    uint32_t encoded[2];
    uint64_t clipped = 0;
    assert_int_equal(fc_quant_encode(encoded, &clipped, values, 2, 0, 1, seed, &q, &err), FL_OK);
    // floor(0.3 + 0.836) = 1 and floor(0.3 + 0.592) = 0, offset by Q = 127.
    assert_int_equal(encoded[0], 128);
    assert_int_equal(encoded[1], 127);
}

static void test_key_derivation_known_answer(void **state)
{
    (void)state;
    uint8_t secret_one[32];
    uint8_t secret_two[32];
    uint8_t public_two[32];
    uint8_t public_one[32];
    uint8_t session_id[32];
    memset(secret_one, 1, sizeof(secret_one));
    memset(secret_two, 2, sizeof(secret_two));
    fill(session_id, sizeof(session_id), 100);
    assert_int_equal(crypto_scalarmult_base(public_two, secret_two), 0);
    assert_int_equal(crypto_scalarmult_base(public_one, secret_one), 0);
    uint8_t expected[32];
    hex_to_bytes(expected, "ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d59");
    assert_memory_equal(public_two, expected, 32);

    uint8_t key[32];
    uint8_t key_other_side[32];
    assert_int_equal(fc_mask_pair_key(key, secret_one, public_two, session_id, 3, 1), FL_OK);
    hex_to_bytes(expected, "266093b852114abc8f790054337be120d88e5475ad8f461fbdfbd00fa2fc3369");
    assert_memory_equal(key, expected, 32);
    assert_int_equal(fc_mask_pair_key(key_other_side, secret_two, public_one, session_id, 1, 3),
                     FL_OK);
    assert_memory_equal(key_other_side, expected, 32);

    assert_int_equal(fc_share_key(key, secret_one, public_two, session_id, 1, 3), FL_OK);
    hex_to_bytes(expected, "765844b40c47b62b728412b75e67f6c97bdba2107aebf2bdbbc8e80e8bf12068");
    assert_memory_equal(key, expected, 32);

    uint8_t seed[32];
    memset(seed, 5, sizeof(seed));
    fc_mask_self_key(key, seed, session_id, 2);
    hex_to_bytes(expected, "00ca8063257176a283fe14292dabdb8827f3feae62fa60e0d1559fbb43a9090d");
    assert_memory_equal(key, expected, 32);

    // A low-order point (all zeros) gives an all-zero shared secret and is rejected.
    uint8_t zero_point[32] = {0};
    assert_int_equal(fc_mask_pair_key(key, secret_one, zero_point, session_id, 1, 3),
                     FL_ECRYPTO);
}

static void test_session_id_known_answer(void **state)
{
    (void)state;
    fc_secagg_params params = {
        .round = 42, .n_sites = 5, .threshold = 3, .expected_survivors = 3, .dim = 1000,
        .chunk_elements = 512, .bits = 16, .clip_bound = 0.5, .weight_max = 64,
    };
    uint8_t digest[32];
    uint8_t expected[32];
    fc_secagg_params_digest(digest, &params);
    hex_to_bytes(expected, "3341ee422a6ec5b5662d59ea1d1981ae9ea08d94ab48cc3d1b6fb30479f3d820");
    assert_memory_equal(digest, expected, 32);

    static fc_msg_key_list keys;
    memset(&keys, 0, sizeof(keys));
    keys.round = 42;
    keys.count = 2;
    for (int i = 0; i < 2; i++) {
        uint16_t site = (uint16_t)(2 * i);
        keys.entries[i].site = site;
        memset(keys.entries[i].share_public, site + 1, 32);
        memset(keys.entries[i].mask_public, site + 101, 32);
    }
    uint8_t session_id[32];
    fc_session_id(session_id, &params, &keys);
    hex_to_bytes(expected, "3319e1d7318b435921fc0c57e25ad35943310c395578a8852ed0a17907594618");
    assert_memory_equal(session_id, expected, 32);

    // Any change of settings or keys gives another session id.
    uint8_t other[32];
    params.round = 43;
    fc_session_id(other, &params, &keys);
    assert_memory_not_equal(other, session_id, 32);
    params.round = 42;
    keys.entries[1].mask_public[31] ^= 1;
    fc_session_id(other, &params, &keys);
    assert_memory_not_equal(other, session_id, 32);
}

static void test_share_encryption_binds_context(void **state)
{
    (void)state;
    uint8_t key[32];
    uint8_t session_id[32];
    uint8_t mask_key_share[32];
    uint8_t self_mask_share[32];
    fill(key, 32, 1);
    fill(session_id, 32, 2);
    fill(mask_key_share, 32, 3);
    fill(self_mask_share, 32, 4);
    uint8_t ciphertext[FC_SHARE_CIPHERTEXT_BYTES];
    fc_share_encrypt(ciphertext, mask_key_share, self_mask_share, key, session_id, 1, 2);

    uint8_t out_mask[32];
    uint8_t out_self[32];
    assert_int_equal(fc_share_decrypt(out_mask, out_self, ciphertext, key, session_id, 1, 2),
                     FL_OK);
    assert_memory_equal(out_mask, mask_key_share, 32);
    assert_memory_equal(out_self, self_mask_share, 32);

    // Wrong sender, recipient, session or key, and every altered byte, fail.
    assert_int_equal(fc_share_decrypt(out_mask, out_self, ciphertext, key, session_id, 2, 1),
                     FL_ECRYPTO);
    uint8_t zeros[32] = {0};
    assert_memory_equal(out_mask, zeros, 32);
    assert_int_equal(fc_share_decrypt(out_mask, out_self, ciphertext, key, session_id, 1, 3),
                     FL_ECRYPTO);
    session_id[0] ^= 1;
    assert_int_equal(fc_share_decrypt(out_mask, out_self, ciphertext, key, session_id, 1, 2),
                     FL_ECRYPTO);
    session_id[0] ^= 1;
    key[5] ^= 1;
    assert_int_equal(fc_share_decrypt(out_mask, out_self, ciphertext, key, session_id, 1, 2),
                     FL_ECRYPTO);
    key[5] ^= 1;
    for (size_t i = 0; i < FC_SHARE_CIPHERTEXT_BYTES; i++) {
        ciphertext[i] ^= 0x80;
        assert_int_equal(fc_share_decrypt(out_mask, out_self, ciphertext, key, session_id, 1, 2),
                         FL_ECRYPTO);
        ciphertext[i] ^= 0x80;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_expansion_known_answer),
        cmocka_unit_test(test_mask_chunks_match_whole),
        cmocka_unit_test(test_rounding_stream_known_answer),
        cmocka_unit_test(test_key_derivation_known_answer),
        cmocka_unit_test(test_session_id_known_answer),
        cmocka_unit_test(test_share_encryption_binds_context),
    };
    return cmocka_run_group_tests(tests, init_sodium, NULL);
}
