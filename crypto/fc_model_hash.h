/*
 * fc_model_hash.h - the content hash that identifies a base model.
 *
 * Sites must train the same weights, so a job names its base model by this
 * hash and each agent compares it with its own folder before training. The
 * hash is BLAKE2b-256 over, for each of the files config.json,
 * tokenizer.json, model.safetensors.index.json and every *.safetensors file
 * that exists in the folder, taken in byte order of their names: the name,
 * a NUL byte, the size as 8 little-endian bytes, then the contents. Other
 * files (README, generation settings, tokenizer_config.json) do not change
 * the computation and are left out.
 */
#ifndef FC_MODEL_HASH_H
#define FC_MODEL_HASH_H

#include <stdint.h>

#include "fl_error.h"

#define FC_MODEL_HASH_BYTES 32
#define FC_MODEL_HASH_HEX (2 * FC_MODEL_HASH_BYTES + 1)

/*
 * Hashes the model in folder. Fails with FL_ENOTFOUND when the folder has no
 * config.json or no .safetensors file, and FL_EIO naming a file that cannot
 * be read.
 */
int fc_model_hash(const char *folder, uint8_t hash[FC_MODEL_HASH_BYTES],
                  fl_error *err) FL_WARN_UNUSED;

/* Writes hash as 64 lowercase hex digits plus NUL. */
void fc_model_hash_hex(char text[FC_MODEL_HASH_HEX], const uint8_t hash[FC_MODEL_HASH_BYTES]);

#endif
