#include "fc_adapter_sig.h"

#include <string.h>

#define SIGN_CONTEXT "fedlora-global-adapter"
#define JOB_ID_MAX 128

/* The signed message: job id, NUL, round as 8 little-endian bytes, the hash. */
static size_t signed_message(uint8_t *out, const char *job_id, uint64_t round,
                             const uint8_t hash[FC_ADAPTER_HASH_BYTES])
{
    size_t id_length = strnlen(job_id, JOB_ID_MAX) + 1;
    memcpy(out, job_id, id_length - 1);
    out[id_length - 1] = 0;
    for (int i = 0; i < 8; i++)
        out[id_length + (size_t)i] = (uint8_t)(round >> (8 * i));
    memcpy(out + id_length + 8, hash, FC_ADAPTER_HASH_BYTES);
    return id_length + 8 + FC_ADAPTER_HASH_BYTES;
}

void fc_adapter_sign(uint8_t signature[FC_SIGNATURE_BYTES], const fc_identity *identity,
                     const char *job_id, uint64_t round,
                     const uint8_t hash[FC_ADAPTER_HASH_BYTES])
{
    uint8_t message[JOB_ID_MAX + 1 + 8 + FC_ADAPTER_HASH_BYTES];
    size_t size = signed_message(message, job_id, round, hash);
    fc_sign_blob(signature, identity, SIGN_CONTEXT, message, size);
}

int fc_adapter_verify(const uint8_t signature[FC_SIGNATURE_BYTES],
                      const uint8_t signer[FC_SIGN_PUBLIC_BYTES], const char *job_id,
                      uint64_t round, const uint8_t hash[FC_ADAPTER_HASH_BYTES])
{
    uint8_t message[JOB_ID_MAX + 1 + 8 + FC_ADAPTER_HASH_BYTES];
    size_t size = signed_message(message, job_id, round, hash);
    return fc_verify_blob(signature, signer, SIGN_CONTEXT, message, size);
}
