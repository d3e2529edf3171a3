/*
 * Golden-bytes and tamper tests of the secure-aggregation message encodings.
 * The golden encodings were written by an independent Python script from
 * the layout documented in fc_msg.h (little-endian integers after a version
 * and a type byte).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fc_keys.h"
#include "fc_mask.h"
#include "fc_msg.h"
#include "fl_mem.h"

static const char s_golden_advertise[] =
    "010108070605040302010700101112131415161718191a1b1c1d1e1f20212223"
    "2425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40414243"
    "4445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263"
    "6465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283"
    "8485868788898a8b8c8d8e8f";
static const char s_golden_key_list[] =
    "01020900000000000000020001000102030405060708090a0b0c0d0e0f101112"
    "131415161718191a1b1c1d1e1f204142434445464748494a4b4c4d4e4f505152"
    "535455565758595a5b5c5d5e5f608182838485868788898a8b8c8d8e8f909192"
    "939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2"
    "b3b4b5b6b7b8b9babbbcbdbebfc004002122232425262728292a2b2c2d2e2f30"
    "3132333435363738393a3b3c3d3e3f406162636465666768696a6b6c6d6e6f70"
    "7172737475767778797a7b7c7d7e7f80a1a2a3a4a5a6a7a8a9aaabacadaeafb0"
    "b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0"
    "d1d2d3d4d5d6d7d8d9dadbdcdddedfe0";
static const char s_golden_share_keys[] =
    "01030500000000000000020001000300000102030405060708090a0b0c0d0e0f"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
    "303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f"
    "505152535455565758595a5b5c5d5e5f6061626364656667";
static const char s_golden_share_relay[] =
    "01040500000000000000030001000200000102030405060708090a0b0c0d0e0f"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
    "303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f"
    "505152535455565758595a5b5c5d5e5f6061626364656667";
static const char s_golden_chunk[] =
    "01050500000000000000020000000100000000000300000001000000efbeadde"
    "ffffff7f";
static const char s_golden_request[] =
    "01060500000000000000030000000100030001000200";
static const char s_golden_response[] =
    "0107050000000000000001000200000001606162636465666768696a6b6c6d6e"
    "6f707172737475767778797a7b7c7d7e7f020002808182838485868788898a8b"
    "8c8d8e8f909192939495969798999a9b9c9d9e9f";

static int init_sodium(void **state)
{
    (void)state;
    return fc_init() == FL_OK ? 0 : -1;
}

static void fill(uint8_t *bytes, size_t size, uint8_t first)
{
    for (size_t i = 0; i < size; i++)
        bytes[i] = (uint8_t)(first + i);
}

/* Compares an encoding with a golden hex text, printing both on mismatch. */
static void assert_golden(const uint8_t *bytes, size_t size, const char *golden)
{
    char *hex = fl_xmalloc(2 * size + 1);
    for (size_t i = 0; i < size; i++)
        snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
    if (strcmp(hex, golden) != 0)
        fail_msg("encoding differs from the golden bytes:\n got  %s\n want %s", hex, golden);
    free(hex);
}

static uint8_t *golden_bytes(const char *golden, size_t *size)
{
    *size = strlen(golden) / 2;
    uint8_t *bytes = fl_xmalloc(*size + 1);
    for (size_t i = 0; i < *size; i++) {
        unsigned value = 0;
        sscanf(golden + 2 * i, "%2x", &value);
        bytes[i] = (uint8_t)value;
    }
    return bytes;
}

/* Decoder of one message type, with its output in static storage. */
typedef int (*decode_fn)(const uint8_t *bytes, size_t size, fl_error *err);

static fc_msg_advertise s_advertise;
static fc_msg_key_list s_key_list;
static fc_msg_shares s_shares;
static fc_msg_masked_chunk s_chunk;
static uint32_t s_chunk_words[16];
static fc_msg_unmask_request s_request;
static fc_msg_unmask_response s_response;

static int decode_advertise(const uint8_t *bytes, size_t size, fl_error *err)
{
    return fc_msg_advertise_decode(&s_advertise, bytes, size, err);
}

static int decode_key_list(const uint8_t *bytes, size_t size, fl_error *err)
{
    return fc_msg_key_list_decode(&s_key_list, bytes, size, err);
}

static int decode_share_keys(const uint8_t *bytes, size_t size, fl_error *err)
{
    return fc_msg_shares_decode(&s_shares, FC_MSG_SHARE_KEYS, bytes, size, err);
}

static int decode_share_relay(const uint8_t *bytes, size_t size, fl_error *err)
{
    return fc_msg_shares_decode(&s_shares, FC_MSG_SHARE_RELAY, bytes, size, err);
}

static int decode_chunk(const uint8_t *bytes, size_t size, fl_error *err)
{
    return fc_msg_masked_chunk_decode(&s_chunk, s_chunk_words, 16, bytes, size, err);
}

static int decode_request(const uint8_t *bytes, size_t size, fl_error *err)
{
    return fc_msg_unmask_request_decode(&s_request, bytes, size, err);
}

static int decode_response(const uint8_t *bytes, size_t size, fl_error *err)
{
    return fc_msg_unmask_response_decode(&s_response, bytes, size, err);
}

static void test_advertise_golden(void **state)
{
    (void)state;
    fc_msg_advertise msg = {.round = 0x0102030405060708, .site = 7};
    fill(msg.share_public, 32, 0x10);
    fill(msg.mask_public, 32, 0x30);
    fill(msg.signature, 64, 0x50);
    uint8_t *bytes = NULL;
    size_t size = 0;
    assert_int_equal(fc_msg_advertise_encode(&msg, &bytes, &size), FL_OK);
    assert_golden(bytes, size, s_golden_advertise);
    fl_error err = {0};
    assert_int_equal(decode_advertise(bytes, size, &err), FL_OK);
    assert_memory_equal(&s_advertise, &msg, sizeof(msg));
    free(bytes);
}

static void test_key_list_golden(void **state)
{
    (void)state;
    static fc_msg_key_list msg;
    memset(&msg, 0, sizeof(msg));
    msg.round = 9;
    msg.count = 2;
    for (int i = 0; i < 2; i++) {
        msg.entries[i].round = 9;
        msg.entries[i].site = (uint16_t)(1 + 3 * i);
        fill(msg.entries[i].share_public, 32, (uint8_t)(0x20 * i + 1));
        fill(msg.entries[i].mask_public, 32, (uint8_t)(0x20 * i + 0x41));
        fill(msg.entries[i].signature, 64, (uint8_t)(0x20 * i + 0x81));
    }
    uint8_t *bytes = NULL;
    size_t size = 0;
    assert_int_equal(fc_msg_key_list_encode(&msg, &bytes, &size), FL_OK);
    assert_golden(bytes, size, s_golden_key_list);
    fl_error err = {0};
    assert_int_equal(decode_key_list(bytes, size, &err), FL_OK);
    assert_int_equal(s_key_list.count, 2);
    assert_memory_equal(s_key_list.entries, msg.entries, 2 * sizeof(msg.entries[0]));
    free(bytes);
}

static void test_shares_golden(void **state)
{
    (void)state;
    static fc_msg_shares msg;
    memset(&msg, 0, sizeof(msg));
    msg.round = 5;
    msg.site = 2;
    msg.count = 1;
    msg.entries[0].peer = 3;
    fill(msg.entries[0].ciphertext, FC_SHARE_CIPHERTEXT_BYTES, 0);
    uint8_t *bytes = NULL;
    size_t size = 0;
    assert_int_equal(fc_msg_shares_encode(&msg, FC_MSG_SHARE_KEYS, &bytes, &size), FL_OK);
    assert_golden(bytes, size, s_golden_share_keys);
    fl_error err = {0};
    assert_int_equal(decode_share_keys(bytes, size, &err), FL_OK);
    assert_memory_equal(&s_shares.entries[0], &msg.entries[0], sizeof(msg.entries[0]));
    assert_int_equal(decode_share_relay(bytes, size, &err), FL_EFORMAT);
    free(bytes);

    msg.site = 3;
    msg.entries[0].peer = 2;
    assert_int_equal(fc_msg_shares_encode(&msg, FC_MSG_SHARE_RELAY, &bytes, &size), FL_OK);
    assert_golden(bytes, size, s_golden_share_relay);
    free(bytes);
}

static void test_chunk_golden(void **state)
{
    (void)state;
    uint32_t words[3] = {1, 0xdeadbeef, 0x7fffffff};
    fc_msg_masked_chunk msg = {.round = 5, .site = 2, .offset = 0x10000, .count = 3,
                               .words = words};
    uint8_t *bytes = NULL;
    size_t size = 0;
    assert_int_equal(fc_msg_masked_chunk_encode(&msg, &bytes, &size), FL_OK);
    assert_int_equal(size, FC_MSG_CHUNK_HEADER_BYTES + 12);
    assert_golden(bytes, size, s_golden_chunk);
    fl_error err = {0};
    assert_int_equal(decode_chunk(bytes, size, &err), FL_OK);
    assert_int_equal(s_chunk.offset, 0x10000);
    assert_memory_equal(s_chunk.words, words, sizeof(words));

    // A count above the receiver's chunk size is rejected before the words are read.
    assert_int_equal(fc_msg_masked_chunk_decode(&s_chunk, s_chunk_words, 2, bytes, size, &err),
                     FL_EFORMAT);
    assert_non_null(strstr(err.msg, "above the chunk size 2"));
    free(bytes);
}

static void test_unmask_golden(void **state)
{
    (void)state;
    fc_msg_unmask_request request = {.round = 5, .live_count = 3, .live = {0, 1, 3},
                                     .dropped_count = 1, .dropped = {2}};
    uint8_t *bytes = NULL;
    size_t size = 0;
    assert_int_equal(fc_msg_unmask_request_encode(&request, &bytes, &size), FL_OK);
    assert_golden(bytes, size, s_golden_request);
    fl_error err = {0};
    assert_int_equal(decode_request(bytes, size, &err), FL_OK);
    assert_int_equal(s_request.live_count, 3);
    assert_int_equal(s_request.live[2], 3);
    assert_int_equal(s_request.dropped[0], 2);
    free(bytes);

    static fc_msg_unmask_response response;
    memset(&response, 0, sizeof(response));
    response.round = 5;
    response.site = 1;
    response.count = 2;
    response.entries[0].peer = 0;
    response.entries[0].kind = FC_SHARE_SELF_MASK;
    fill(response.entries[0].share, 32, 0x60);
    response.entries[1].peer = 2;
    response.entries[1].kind = FC_SHARE_MASK_KEY;
    fill(response.entries[1].share, 32, 0x80);
    assert_int_equal(fc_msg_unmask_response_encode(&response, &bytes, &size), FL_OK);
    assert_golden(bytes, size, s_golden_response);
    assert_int_equal(decode_response(bytes, size, &err), FL_OK);
    assert_memory_equal(s_response.entries, response.entries, 2 * sizeof(response.entries[0]));
    free(bytes);
}

/* Truncation, a trailing byte, another version or type: every decoder rejects them. */
static void test_framing_tampering_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *golden;
        decode_fn decode;
        int type;
    } cases[] = {
        {s_golden_advertise, decode_advertise, FC_MSG_ADVERTISE},
        {s_golden_key_list, decode_key_list, FC_MSG_KEY_LIST},
        {s_golden_share_keys, decode_share_keys, FC_MSG_SHARE_KEYS},
        {s_golden_share_relay, decode_share_relay, FC_MSG_SHARE_RELAY},
        {s_golden_chunk, decode_chunk, FC_MSG_MASKED_CHUNK},
        {s_golden_request, decode_request, FC_MSG_UNMASK_REQUEST},
        {s_golden_response, decode_response, FC_MSG_UNMASK_RESPONSE},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        size_t size = 0;
        uint8_t *bytes = golden_bytes(cases[k].golden, &size);
        fl_error err = {0};
        assert_int_equal(fc_msg_peek_type(bytes, size), cases[k].type);
        assert_int_equal(cases[k].decode(bytes, size, &err), FL_OK);

        for (size_t cut = 0; cut < size; cut++) {
            if (cases[k].decode(bytes, cut, &err) != FL_EFORMAT)
                fail_msg("case %zu: truncation to %zu of %zu bytes was accepted", k, cut, size);
        }
        bytes[size] = 0;
        assert_int_equal(cases[k].decode(bytes, size + 1, &err), FL_EFORMAT);
        // A chunk's word count fixes its length, so the extra byte shows as a length mismatch.
        const char *expected = cases[k].type == FC_MSG_MASKED_CHUNK ? "found 13" : "1 trailing";
        if (strstr(err.msg, expected) == NULL)
            fail_msg("case %zu: message '%s' lacks '%s'", k, err.msg, expected);

        bytes[0] = FC_MSG_VERSION + 1;
        assert_int_equal(cases[k].decode(bytes, size, &err), FL_EFORMAT);
        assert_non_null(strstr(err.msg, "version 2"));
        assert_int_equal(fc_msg_peek_type(bytes, size), FL_EFORMAT);
        bytes[0] = FC_MSG_VERSION;

        bytes[1] = (uint8_t)(cases[k].type % 7 + 1);
        assert_int_equal(cases[k].decode(bytes, size, &err), FL_EFORMAT);
        assert_non_null(strstr(err.msg, "type byte"));
        bytes[1] = 99;
        assert_int_equal(fc_msg_peek_type(bytes, size), FL_EFORMAT);
        free(bytes);
    }
}

/* Counts above 255 and share kinds other than 1 and 2 are rejected. */
static void test_field_tampering_rejected(void **state)
{
    (void)state;
    size_t size = 0;
    fl_error err = {0};
    uint8_t *bytes = golden_bytes(s_golden_key_list, &size);
    bytes[10] = 0x00;
    bytes[11] = 0x01; /* count 256 */
    assert_int_equal(decode_key_list(bytes, size, &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "count is 256"));
    bytes[10] = 3; /* count 3 with 2 entries present */
    bytes[11] = 0;
    assert_int_equal(decode_key_list(bytes, size, &err), FL_EFORMAT);
    free(bytes);

    bytes = golden_bytes(s_golden_response, &size);
    bytes[16] = 3; /* kind of the first entry */
    assert_int_equal(decode_response(bytes, size, &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "share kind 3"));
    free(bytes);

    bytes = golden_bytes(s_golden_chunk, &size);
    bytes[20] = 4; /* count 4 with 3 words present */
    assert_int_equal(decode_chunk(bytes, size, &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "count 4 needs 16 bytes of words, found 12"));
    free(bytes);

    bytes = golden_bytes(s_golden_request, &size);
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    assert_int_equal(decode_request(bytes, size, &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "live count is 65535"));
    free(bytes);
}

/* Any changed byte of a signed AdvertiseKeys, past the framing, fails its signature. */
static void test_advertise_tampering_fails_signature(void **state)
{
    (void)state;
    fc_identity *identity = NULL;
    assert_int_equal(fc_identity_generate(&identity), FL_OK);
    fc_public_identity public_keys;
    fc_identity_public(identity, &public_keys);
    uint8_t params_digest[32];
    fill(params_digest, 32, 9);

    fc_msg_advertise msg = {.round = 3, .site = 1};
    fill(msg.share_public, 32, 1);
    fill(msg.mask_public, 32, 2);
    fc_advertise_sign(&msg, params_digest, identity);
    uint8_t *bytes = NULL;
    size_t size = 0;
    assert_int_equal(fc_msg_advertise_encode(&msg, &bytes, &size), FL_OK);

    fl_error err = {0};
    fc_msg_advertise decoded;
    assert_int_equal(fc_msg_advertise_decode(&decoded, bytes, size, &err), FL_OK);
    assert_int_equal(fc_advertise_verify(&decoded, params_digest, public_keys.sign_public),
                     FL_OK);
    for (size_t i = 2; i < size; i++) {
        bytes[i] ^= 0x04;
        assert_int_equal(fc_msg_advertise_decode(&decoded, bytes, size, &err), FL_OK);
        if (fc_advertise_verify(&decoded, params_digest, public_keys.sign_public) != FL_ECRYPTO)
            fail_msg("changed byte %zu still verifies", i);
        bytes[i] ^= 0x04;
    }
    params_digest[0] ^= 1;
    assert_int_equal(fc_advertise_verify(&msg, params_digest, public_keys.sign_public),
                     FL_ECRYPTO);
    free(bytes);
    fc_identity_destroy(&identity);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advertise_golden),
        cmocka_unit_test(test_key_list_golden),
        cmocka_unit_test(test_shares_golden),
        cmocka_unit_test(test_chunk_golden),
        cmocka_unit_test(test_unmask_golden),
        cmocka_unit_test(test_framing_tampering_rejected),
        cmocka_unit_test(test_field_tampering_rejected),
        cmocka_unit_test(test_advertise_tampering_fails_signature),
    };
    return cmocka_run_group_tests(tests, init_sodium, NULL);
}
