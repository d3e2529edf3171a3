/* Tests of Z85, identity key files, fingerprints and blob signatures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fc_keys.h"
#include "fc_z85.h"
#include "fl_file.h"

static char s_dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof(s_dir), "/tmp/fc_test_keys.XXXXXX");
    return mkdtemp(s_dir) && fc_init() == FL_OK ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char command[300];
    snprintf(command, sizeof(command), "rm -rf '%s'", s_dir);
    return system(command) == 0 ? 0 : -1;
}

static void hex_to_bytes(uint8_t *out, const char *hex)
{
    for (size_t i = 0; hex[2 * i] != '\0'; i++) {
        unsigned value = 0;
        sscanf(hex + 2 * i, "%2x", &value);
        out[i] = (uint8_t)value;
    }
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    fl_error err = {0};
    assert_int_equal(fl_file_write_atomic(path, text, strlen(text), mode, &err), FL_OK);
    assert_int_equal(chmod(path, mode), 0);
}

/* The example from the Z85 specification (ZeroMQ RFC 32). */
static void test_z85_known_answer(void **state)
{
    (void)state;
    const uint8_t data[8] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
    char text[11];
    assert_int_equal(fc_z85_encode(text, data, sizeof(data)), FL_OK);
    assert_string_equal(text, "HelloWorld");

    uint8_t decoded[8];
    assert_int_equal(fc_z85_decode(decoded, "HelloWorld", 10), FL_OK);
    assert_memory_equal(decoded, data, sizeof(data));
}

static void test_z85_rejects_bad_text(void **state)
{
    (void)state;
    uint8_t decoded[8];
    assert_int_equal(fc_z85_decode(decoded, "Hello", 4), FL_EFORMAT);
    assert_int_equal(fc_z85_decode(decoded, "Hel\"o", 5), FL_EFORMAT);
    assert_int_equal(fc_z85_decode(decoded, "#####", 5), FL_EFORMAT);
    char text[8];
    assert_int_equal(fc_z85_encode(text, decoded, 3), FL_EINVAL);
}

static void test_identity_save_and_load(void **state)
{
    (void)state;
    char secret_path[300];
    char public_path[300];
    snprintf(secret_path, sizeof(secret_path), "%s/site.key", s_dir);
    snprintf(public_path, sizeof(public_path), "%s/site.pub", s_dir);

    fc_identity *identity = NULL;
    assert_int_equal(fc_identity_generate(&identity), FL_OK);
    fl_error err = {0};
    assert_int_equal(fc_identity_save(identity, secret_path, public_path, &err), FL_OK);

    struct stat info;
    assert_int_equal(stat(secret_path, &info), 0);
    assert_int_equal(info.st_mode & 0777, 0600);

    fc_identity *loaded = NULL;
    assert_int_equal(fc_identity_load(secret_path, &loaded, &err), FL_OK);
    fc_public_identity original;
    fc_public_identity reloaded;
    fc_public_identity from_file;
    fc_identity_public(identity, &original);
    fc_identity_public(loaded, &reloaded);
    assert_int_equal(fc_public_identity_load(public_path, &from_file, &err), FL_OK);
    assert_memory_equal(&original, &reloaded, sizeof(original));
    assert_memory_equal(&original, &from_file, sizeof(original));
    assert_memory_equal(fc_identity_curve_secret(identity), fc_identity_curve_secret(loaded),
                        FC_CURVE_SECRET_BYTES);

    fc_identity_destroy(&identity);
    fc_identity_destroy(&loaded);
    assert_null(identity);
    fc_identity_destroy(&loaded);
}

/* Public keys derived from fixed secrets, checked with Python's cryptography 38 package. */
static void test_identity_key_derivation_known_answer(void **state)
{
    (void)state;
    uint8_t seed[32];
    uint8_t curve_secret[32];
    memset(seed, 9, sizeof(seed));
    memset(curve_secret, 7, sizeof(curve_secret));
    char seed_text[41];
    char curve_text[41];
    assert_int_equal(fc_z85_encode(seed_text, seed, 32), FL_OK);
    assert_int_equal(fc_z85_encode(curve_text, curve_secret, 32), FL_OK);

    char text[300];
    snprintf(text, sizeof(text), "# fixed keys\nsign-secret = %s\n  curve-secret=%s  \n",
             seed_text, curve_text);
    char path[300];
    snprintf(path, sizeof(path), "%s/fixed.key", s_dir);
    write_text(path, text, 0600);

    fc_identity *identity = NULL;
    fl_error err = {0};
    assert_int_equal(fc_identity_load(path, &identity, &err), FL_OK);
    fc_public_identity public_keys;
    fc_identity_public(identity, &public_keys);
    uint8_t expected_sign[32];
    uint8_t expected_curve[32];
    hex_to_bytes(expected_sign, "fd1724385aa0c75b64fb78cd602fa1d991fdebf76b13c58ed702eac835e9f618");
    hex_to_bytes(expected_curve, "13be4feaeaf204c7fd3358fc9c00721881d174278128227ec674f37f7fe97b6d");
    assert_memory_equal(public_keys.sign_public, expected_sign, 32);
    assert_memory_equal(public_keys.curve_public, expected_curve, 32);
    fc_identity_destroy(&identity);
}

static void test_identity_load_rejects_loose_mode(void **state)
{
    (void)state;
    char secret_path[300];
    char public_path[300];
    snprintf(secret_path, sizeof(secret_path), "%s/loose.key", s_dir);
    snprintf(public_path, sizeof(public_path), "%s/loose.pub", s_dir);
    fc_identity *identity = NULL;
    assert_int_equal(fc_identity_generate(&identity), FL_OK);
    fl_error err = {0};
    assert_int_equal(fc_identity_save(identity, secret_path, public_path, &err), FL_OK);
    fc_identity_destroy(&identity);

    assert_int_equal(chmod(secret_path, 0640), 0);
    assert_int_equal(fc_identity_load(secret_path, &identity, &err), FL_EPERM);
    assert_null(identity);
    assert_non_null(strstr(err.msg, "chmod 600"));
}

static void test_identity_load_rejects_bad_contents(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *expected_in_message;
    } cases[] = {
        {"sign-secret = HelloWorld\ncurve-secret = HelloWorld\n", ":1: key 'sign-secret'"},
        {"sign-secret = 0000000000000000000000000000000000000000\n", "'curve-secret' is missing"},
        {"colour = blue\n", ":1: unknown key name 'colour'"},
        {"just text\n", ":1: expected 'name = value'"},
        {"sign-secret = 0000000000000000000000000000000000000000\n"
         "sign-secret = 0000000000000000000000000000000000000000\n",
         ":2: key 'sign-secret' appears twice"},
        {"sign-secret = 000000000000000000000000000000000000000\"\n", "not 40 characters"},
    };
    char path[300];
    snprintf(path, sizeof(path), "%s/bad.key", s_dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_text(path, cases[i].text, 0600);
        fc_identity *identity = NULL;
        fl_error err = {0};
        assert_int_equal(fc_identity_load(path, &identity, &err), FL_EFORMAT);
        assert_null(identity);
        if (strstr(err.msg, cases[i].expected_in_message) == NULL)
            fail_msg("case %zu: message '%s' lacks '%s'", i, err.msg,
                     cases[i].expected_in_message);
        assert_null(strstr(err.msg, "0000000000"));
    }

    fc_identity *identity = NULL;
    fl_error err = {0};
    snprintf(path, sizeof(path), "%s/missing.key", s_dir);
    assert_int_equal(fc_identity_load(path, &identity, &err), FL_ENOTFOUND);
}

/* Expected value computed with Python's hashlib.blake2b(digest_size=16). */
static void test_fingerprint_known_answer(void **state)
{
    (void)state;
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    char text[FC_FINGERPRINT_TEXT_BYTES];
    fc_fingerprint(text, key);
    assert_string_equal(text, "c5e1-fff9-106f-9b7b-6ee6-64fe-2425-b6a6");
}

static void test_blob_signature(void **state)
{
    (void)state;
    fc_identity *identity = NULL;
    assert_int_equal(fc_identity_generate(&identity), FL_OK);
    fc_public_identity public_keys;
    fc_identity_public(identity, &public_keys);

    uint8_t blob[1000];
    for (size_t i = 0; i < sizeof(blob); i++)
        blob[i] = (uint8_t)(i * 7);
    uint8_t signature[FC_SIGNATURE_BYTES];
    fc_sign_blob(signature, identity, "global-adapter", blob, sizeof(blob));

    assert_int_equal(fc_verify_blob(signature, public_keys.sign_public, "global-adapter", blob,
                                    sizeof(blob)),
                     FL_OK);
    assert_int_equal(fc_verify_blob(signature, public_keys.sign_public, "other", blob,
                                    sizeof(blob)),
                     FL_ECRYPTO);
    blob[500] ^= 1;
    assert_int_equal(fc_verify_blob(signature, public_keys.sign_public, "global-adapter", blob,
                                    sizeof(blob)),
                     FL_ECRYPTO);
    blob[500] ^= 1;
    signature[3] ^= 0x10;
    assert_int_equal(fc_verify_blob(signature, public_keys.sign_public, "global-adapter", blob,
                                    sizeof(blob)),
                     FL_ECRYPTO);
    fc_identity_destroy(&identity);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_z85_known_answer),
        cmocka_unit_test(test_z85_rejects_bad_text),
        cmocka_unit_test(test_identity_save_and_load),
        cmocka_unit_test(test_identity_key_derivation_known_answer),
        cmocka_unit_test(test_identity_load_rejects_loose_mode),
        cmocka_unit_test(test_identity_load_rejects_bad_contents),
        cmocka_unit_test(test_fingerprint_known_answer),
        cmocka_unit_test(test_blob_signature),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
