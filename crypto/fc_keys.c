/* Identity key pairs, key files, fingerprints and blob signatures. */
#include "fc_keys.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_z85.h"
#include "fl_file.h"
#include "fl_fingerprint.h"

struct fc_identity {
    uint8_t sign_public[crypto_sign_PUBLICKEYBYTES];
    uint8_t sign_secret[crypto_sign_SECRETKEYBYTES];
    uint8_t sign_seed[crypto_sign_SEEDBYTES];
    uint8_t curve_public[crypto_scalarmult_BYTES];
    uint8_t curve_secret[crypto_scalarmult_SCALARBYTES];
};

/* One "name = value" entry that a key file must contain. */
typedef struct key_field {
    const char *name;
    uint8_t *value;
    bool seen;
} key_field;

static const char s_blob_label[] = "fedlora signed blob v1";

int fc_init(void)
{
    return sodium_init() < 0 ? FL_ECRYPTO : FL_OK;
}

static fc_identity *identity_alloc(void)
{
    fc_identity *identity = sodium_malloc(sizeof(*identity));
    if (identity == NULL) {
        fprintf(stderr, "fatal: sodium_malloc(%zu) failed\n", sizeof(*identity));
        abort();
    }
    sodium_memzero(identity, sizeof(*identity));
    return identity;
}

void fc_identity_destroy(fc_identity **identity)
{
    if (identity == NULL || *identity == NULL)
        return;
    sodium_free(*identity);
    *identity = NULL;
}

/* Derives both key pairs' public halves and the Ed25519 secret from the two secrets. */
static int identity_complete(fc_identity *identity)
{
    if (crypto_sign_seed_keypair(identity->sign_public, identity->sign_secret,
                                 identity->sign_seed) != 0)
        return FL_ECRYPTO;
    if (crypto_scalarmult_base(identity->curve_public, identity->curve_secret) != 0)
        return FL_ECRYPTO;
    return FL_OK;
}

int fc_identity_generate(fc_identity **out)
{
    fc_identity *identity = identity_alloc();
    randombytes_buf(identity->sign_seed, sizeof(identity->sign_seed));
    randombytes_buf(identity->curve_secret, sizeof(identity->curve_secret));
    int status = identity_complete(identity);
    if (status != FL_OK) {
        fc_identity_destroy(&identity);
        return status;
    }
    *out = identity;
    return FL_OK;
}

void fc_identity_public(const fc_identity *identity, fc_public_identity *out)
{
    memcpy(out->sign_public, identity->sign_public, sizeof(out->sign_public));
    memcpy(out->curve_public, identity->curve_public, sizeof(out->curve_public));
}

const uint8_t *fc_identity_curve_secret(const fc_identity *identity)
{
    return identity->curve_secret;
}

/* Writes "name = <Z85 of 32 bytes>\n" at text + *used. */
static void append_key_line(char *text, size_t capacity, size_t *used, const char *name,
                            const uint8_t key[32])
{
    char z85[FC_Z85_KEY_CHARS + 1];
    int status = fc_z85_encode(z85, key, 32);
    (void)status; /* 32 is a multiple of 4, so encoding cannot fail */
    int written = snprintf(text + *used, capacity - *used, "%s = %s\n", name, z85);
    sodium_memzero(z85, sizeof(z85));
    *used += (size_t)written;
}

int fc_identity_save(const fc_identity *identity, const char *secret_path,
                     const char *public_path, fl_error *err)
{
    size_t capacity = 512;
    char *text = sodium_malloc(capacity);
    if (text == NULL) {
        fprintf(stderr, "fatal: sodium_malloc(%zu) failed\n", capacity);
        abort();
    }

    size_t used = (size_t)snprintf(text, capacity,
                                   "# fedlora identity: secret keys. Keep this file private "
                                   "(mode 0600).\n");
    append_key_line(text, capacity, &used, "sign-secret", identity->sign_seed);
    append_key_line(text, capacity, &used, "curve-secret", identity->curve_secret);
    int status = fl_file_write_atomic(secret_path, text, used, 0600, err);
    if (status != FL_OK)
        goto wipe_text;

    used = (size_t)snprintf(text, capacity, "# fedlora identity: public keys.\n");
    append_key_line(text, capacity, &used, "sign-public", identity->sign_public);
    append_key_line(text, capacity, &used, "curve-public", identity->curve_public);
    status = fl_file_write_atomic(public_path, text, used, 0644, err);

wipe_text:
    sodium_free(text);
    return status;
}

/* Returns text with leading and trailing blanks removed, writing the new length. */
static const char *trim(const char *text, size_t *length)
{
    while (*length > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        (*length)--;
    }
    while (*length > 0 && (text[*length - 1] == ' ' || text[*length - 1] == '\t' ||
                           text[*length - 1] == '\r'))
        (*length)--;
    return text;
}

/* Parses one non-comment line into the matching field. Never prints the value. */
static int parse_key_line(const char *line, size_t length, key_field *fields, size_t count,
                          const char *path, int line_number, fl_error *err)
{
    const char *equals = memchr(line, '=', length);
    if (equals == NULL)
        return fl_error_set(err, FL_EFORMAT,
                            "%s:%d: expected 'name = value', found no '='; regenerate the "
                            "key files",
                            path, line_number);

    size_t name_length = (size_t)(equals - line);
    const char *name = trim(line, &name_length);
    size_t value_length = length - (size_t)(equals - line) - 1;
    const char *value = trim(equals + 1, &value_length);

    for (size_t i = 0; i < count; i++) {
        if (strlen(fields[i].name) != name_length ||
            memcmp(fields[i].name, name, name_length) != 0)
            continue;
        if (fields[i].seen)
            return fl_error_set(err, FL_EFORMAT, "%s:%d: key '%s' appears twice", path,
                                line_number, fields[i].name);
        if (value_length != FC_Z85_KEY_CHARS ||
            fc_z85_decode(fields[i].value, value, value_length) != FL_OK) {
            sodium_memzero(fields[i].value, 32);
            return fl_error_set(err, FL_EFORMAT,
                                "%s:%d: key '%s' is not %d characters of Z85 text; "
                                "regenerate the key files",
                                path, line_number, fields[i].name, FC_Z85_KEY_CHARS);
        }
        fields[i].seen = true;
        return FL_OK;
    }
    return fl_error_set(err, FL_EFORMAT, "%s:%d: unknown key name '%.*s'", path, line_number,
                        (int)(name_length > 40 ? 40 : name_length), name);
}

/* Parses a key file's text into fields; every field must appear exactly once. */
static int parse_key_text(const char *text, size_t size, key_field *fields, size_t count,
                          const char *path, fl_error *err)
{
    int line_number = 0;
    size_t position = 0;
    while (position < size) {
        const char *line = text + position;
        const char *newline = memchr(line, '\n', size - position);
        size_t length = newline ? (size_t)(newline - line) : size - position;
        position += length + 1;
        line_number++;

        size_t trimmed_length = length;
        const char *trimmed = trim(line, &trimmed_length);
        if (trimmed_length == 0 || trimmed[0] == '#')
            continue;
        int status = parse_key_line(trimmed, trimmed_length, fields, count, path, line_number,
                                    err);
        if (status != FL_OK)
            return status;
    }

    for (size_t i = 0; i < count; i++) {
        if (!fields[i].seen)
            return fl_error_set(err, FL_EFORMAT, "%s: key '%s' is missing; regenerate the "
                                "key files", path, fields[i].name);
    }
    return FL_OK;
}

int fc_identity_load(const char *secret_path, fc_identity **out, fl_error *err)
{
    int status = fl_file_check_private(secret_path, err);
    if (status != FL_OK)
        return status;

    char *text = NULL;
    size_t size = 0;
    status = fl_file_read_all(secret_path, FC_KEY_FILE_MAX_BYTES, &text, &size, err);
    if (status != FL_OK)
        return status;

    fc_identity *identity = identity_alloc();
    key_field fields[] = {
        {"sign-secret", identity->sign_seed, false},
        {"curve-secret", identity->curve_secret, false},
    };
    status = parse_key_text(text, size, fields, 2, secret_path, err);
    if (status != FL_OK)
        goto destroy_identity;

    status = identity_complete(identity);
    if (status != FL_OK) {
        fl_error_set(err, status, "%s: keys failed to derive their public halves", secret_path);
        goto destroy_identity;
    }
    *out = identity;
    identity = NULL;

destroy_identity:
    fc_identity_destroy(&identity);
    sodium_memzero(text, size);
    free(text);
    return status;
}

int fc_public_identity_load(const char *public_path, fc_public_identity *out, fl_error *err)
{
    char *text = NULL;
    size_t size = 0;
    int status = fl_file_read_all(public_path, FC_KEY_FILE_MAX_BYTES, &text, &size, err);
    if (status != FL_OK)
        return status;

    key_field fields[] = {
        {"sign-public", out->sign_public, false},
        {"curve-public", out->curve_public, false},
    };
    status = parse_key_text(text, size, fields, 2, public_path, err);
    free(text);
    return status;
}

void fc_fingerprint(char text[FC_FINGERPRINT_TEXT_BYTES], const uint8_t public_key[32])
{
    fl_key_fingerprint(text, public_key);
}

/* Feeds the label, the context and its length into an Ed25519ph state. */
static void blob_prefix(crypto_sign_state *state, const char *context)
{
    size_t context_length = strlen(context);
    uint8_t length_bytes[2] = {(uint8_t)(context_length & 0xff),
                               (uint8_t)(context_length >> 8)};
    crypto_sign_init(state);
    crypto_sign_update(state, (const uint8_t *)s_blob_label, sizeof(s_blob_label));
    crypto_sign_update(state, length_bytes, sizeof(length_bytes));
    crypto_sign_update(state, (const uint8_t *)context, context_length);
}

void fc_sign_blob(uint8_t signature[FC_SIGNATURE_BYTES], const fc_identity *identity,
                  const char *context, const void *blob, size_t size)
{
    crypto_sign_state state;
    blob_prefix(&state, context);
    crypto_sign_update(&state, blob, size);
    crypto_sign_final_create(&state, signature, NULL, identity->sign_secret);
    sodium_memzero(&state, sizeof(state));
}

int fc_verify_blob(const uint8_t signature[FC_SIGNATURE_BYTES],
                   const uint8_t sign_public[FC_SIGN_PUBLIC_BYTES], const char *context,
                   const void *blob, size_t size)
{
    crypto_sign_state state;
    blob_prefix(&state, context);
    crypto_sign_update(&state, blob, size);
    uint8_t copy[FC_SIGNATURE_BYTES];
    memcpy(copy, signature, sizeof(copy));
    int result = crypto_sign_final_verify(&state, copy, sign_public);
    return result == 0 ? FL_OK : FL_ECRYPTO;
}

void fc_sign_detached(uint8_t signature[FC_SIGNATURE_BYTES], const fc_identity *identity,
                      const uint8_t *message, size_t size)
{
    crypto_sign_detached(signature, NULL, message, size, identity->sign_secret);
}
