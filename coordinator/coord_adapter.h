/*
 * coord_adapter.h - a job's global LoRA adapter and server optimizer state.
 *
 * The adapter is one float32 arena in the trainer's layout (every A, then
 * every B). Sites upload deltas of the trained range only: the whole arena
 * in standard mode, the B block in frozen-A mode, where A stays at the
 * value every site derives from the job's seed. On the wire the adapter
 * travels as the arena's bytes in little-endian order.
 */
#ifndef COORD_ADAPTER_H
#define COORD_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "coord_job.h"
#include "coord_optim.h"
#include "fc_keys.h"
#include "fl_error.h"
#include "lora.h"
#include "tr_config.h"

#define COORD_ADAPTER_HASH_BYTES 32

typedef struct coord_adapter {
    tr_config model;        /* base model architecture, from the job */
    lora_adapter lora;      /* the global adapter */
    size_t trained_offset;  /* first trained float of the arena */
    size_t trained_count;   /* floats that sites train and upload */
    coord_optim optim;      /* server optimizer over the trained range */
} coord_adapter;

/* Builds the round-0 adapter of job: PEFT initialisation from the job's seed. */
int coord_adapter_init(coord_adapter *adapter, const coord_job_spec *job,
                       fl_error *err) FL_WARN_UNUSED;

void coord_adapter_release(coord_adapter *adapter);

/* Applies the server optimizer to the trained range with the round's weighted mean delta. */
void coord_adapter_apply(coord_adapter *adapter, const float *mean_delta);

/* Returns the arena as bytes and their count, for sending. */
const uint8_t *coord_adapter_bytes(const coord_adapter *adapter, size_t *size);

/* BLAKE2b-256 of the arena's bytes. */
void coord_adapter_hash(const coord_adapter *adapter, uint8_t hash[COORD_ADAPTER_HASH_BYTES]);

/* Signs the adapter that round of job_id starts from (see fc_adapter_sig.h). */
void coord_adapter_sign(const coord_adapter *adapter, const char *job_id, uint64_t round,
                        const fc_identity *identity, uint8_t signature[FC_SIGNATURE_BYTES]);

/*
 * Writes the checkpoint into folder: the adapter as a PEFT folder
 * (folder/adapter) and the optimizer state (folder/optimizer.safetensors).
 */
int coord_adapter_save(const coord_adapter *adapter, const char *folder, const char *base_model,
                       fl_error *err) FL_WARN_UNUSED;

/* Restores adapter (already initialised for the job) from a checkpoint folder. */
int coord_adapter_load(coord_adapter *adapter, const char *folder,
                       fl_error *err) FL_WARN_UNUSED;

#endif
