/*
 * proto_limits.h - the protocol version and the bounds that
 * proto_decode_envelope() enforces on every field of fedlora.proto.
 */
#ifndef PROTO_LIMITS_H
#define PROTO_LIMITS_H

/*
 * Wire protocol version carried in every envelope and Hello. Version 2 added
 * RoundProgress to Heartbeat; a receiver rejects fields it does not know, so
 * sites and coordinator must run the same version.
 */
#define PROTO_VERSION 2u

/* Version of the researchers' admin protocol (admin.proto). */
#define PROTO_ADMIN_VERSION 1u

/* Maximum length of a job, site, sender or object id, in bytes of UTF-8. */
#define PROTO_MAX_ID 128u
/* Maximum length of a free-text detail (Refusal, Abort, Error), in bytes of UTF-8. */
#define PROTO_MAX_DETAIL 512u
/* Maximum length of the base model name and the Hello software string, in bytes. */
#define PROTO_MAX_MODEL_NAME 256u
/* Largest model config.json carried in a JobDescription, in bytes. */
#define PROTO_MAX_MODEL_CONFIG 16384u
#define PROTO_MAX_SOFTWARE 64u
/* Maximum number of sites in one job or round, and so of entries in a site list. */
#define PROTO_MAX_SITES 4096u
/* Coordinator control messages per round attempt; see RoundProgress in fedlora.proto. */
#define PROTO_CONTROL_STEPS 4u
/* Largest opaque secure-aggregation body (keys, one share, unmask shares). */
#define PROTO_MAX_BLOB (4u * 1024u * 1024u)
/* Largest data field of one ObjectChunk. Objects themselves have no limit. */
#define PROTO_MAX_CHUNK (64u * 1024u * 1024u)
/* Most chunks a sender may keep in flight without an acknowledgement. */
#define PROTO_MAX_WINDOW 4096u

/*
 * Suggested chunk size and window: 8 MiB in flight per transfer. 8 chunks
 * stay below the default high-water mark of 64 messages, so chunk sends do
 * not wait for queue space while the receiver keeps up. bench/transport
 * measures the chunk size's effect on throughput.
 */
#define PROTO_DEFAULT_CHUNK (1u << 20)
#define PROTO_DEFAULT_WINDOW 8u
/* Largest encoded envelope a receiver accepts: one maximal chunk plus headers. */
#define PROTO_MAX_FRAME (PROTO_MAX_CHUNK + 64u * 1024u)

/* Byte lengths of the fixed-size binary fields. */
#define PROTO_HASH_BYTES 32u      /* BLAKE2b-256 */
#define PROTO_SIGNATURE_BYTES 64u /* Ed25519 */
#define PROTO_KEY_BYTES 32u       /* Curve25519 public or secret key */

/* LoRA and job bounds. */
#define PROTO_MAX_LORA_RANK 1024u
#define PROTO_MAX_TARGET_MODULES 32u
#define PROTO_MAX_MODULE_NAME 64u
#define PROTO_MAX_ROUNDS 100000u
#define PROTO_MAX_LOCAL_STEPS 10000000u
#define PROTO_MAX_ROUND_DEADLINE_S (30u * 24u * 3600u)

#endif
