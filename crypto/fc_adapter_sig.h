/*
 * fc_adapter_sig.h - the coordinator's signature on a global adapter.
 *
 * The signature covers the job id, the round the adapter starts and the
 * BLAKE2b-256 of the adapter's bytes, under the context label
 * "fedlora-global-adapter", so a site cannot be handed another job's
 * adapter, an older round's adapter, or altered bytes.
 */
#ifndef FC_ADAPTER_SIG_H
#define FC_ADAPTER_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "fc_keys.h"
#include "fl_error.h"

#define FC_ADAPTER_HASH_BYTES 32

/* Signs hash for job_id and round with identity's Ed25519 key. */
void fc_adapter_sign(uint8_t signature[FC_SIGNATURE_BYTES], const fc_identity *identity,
                     const char *job_id, uint64_t round,
                     const uint8_t hash[FC_ADAPTER_HASH_BYTES]);

/* Returns FL_OK when signature is the signer's for job_id, round and hash; else FL_ECRYPTO. */
int fc_adapter_verify(const uint8_t signature[FC_SIGNATURE_BYTES],
                      const uint8_t signer[FC_SIGN_PUBLIC_BYTES], const char *job_id,
                      uint64_t round, const uint8_t hash[FC_ADAPTER_HASH_BYTES]) FL_WARN_UNUSED;

#endif
