/*
 * fc_manifest.h - the project manifest: who belongs to a project and with
 * which public keys, signed by the project key.
 *
 * A manifest is a JSON file:
 *   {"project": "cardio-2027",
 *    "endpoint": "tcp://coord.example.org:7700",
 *    "admin_endpoint": "tcp://coord.example.org:7701",
 *    "coordinator": {"name": "coordinator", "sign_public": Z85, "curve_public": Z85},
 *    "sites": [{"name": ..., "sign_public": ..., "curve_public": ...}, ...],
 *    "researchers": [...],
 *    "signature": Z85 of the Ed25519 signature}
 * The signature covers the compact, key-sorted JSON of every field except
 * "signature", under the context label "fedlora-manifest". Loading checks
 * the signature against a project key the caller pinned before it trusts
 * any entry.
 */
#ifndef FC_MANIFEST_H
#define FC_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "fc_keys.h"
#include "fc_z85.h"
#include "fl_error.h"

#define FC_NAME_MAX 64

typedef enum fc_role {
    FC_ROLE_COORDINATOR = 0,
    FC_ROLE_SITE = 1,
    FC_ROLE_RESEARCHER = 2
} fc_role;

/* A member of the project. */
typedef struct fc_party {
    char name[FC_NAME_MAX + 1];
    fc_role role;
    fc_public_identity keys;
} fc_party;

typedef struct fc_manifest {
    char project[FC_NAME_MAX + 1];
    char endpoint[256];
    char admin_endpoint[256];
    fc_party coordinator;
    fc_party *sites;       /* [site_count] */
    size_t site_count;
    fc_party *researchers; /* [researcher_count] */
    size_t researcher_count;
} fc_manifest;

/* Checks that name has 1 to 64 characters from [A-Za-z0-9._-] and does not start with '.'. */
int fc_name_validate(const char *name, const char *what, fl_error *err) FL_WARN_UNUSED;

/*
 * Signs manifest with project_key and writes it to path atomically (mode
 * 0644). Fails on duplicate or invalid names.
 */
int fc_manifest_save(const fc_manifest *manifest, const fc_identity *project_key,
                     const char *path, fl_error *err) FL_WARN_UNUSED;

/*
 * Loads path and verifies its signature with project_sign_public. Caller
 * owns *out; free it with fc_manifest_destroy.
 */
int fc_manifest_load(const char *path, const uint8_t project_sign_public[FC_SIGN_PUBLIC_BYTES],
                     fc_manifest **out, fl_error *err) FL_WARN_UNUSED;

void fc_manifest_destroy(fc_manifest **manifest);

/* Releases the site and researcher arrays of a manifest built in place. */
void fc_manifest_release(fc_manifest *manifest);

/* Returns the party whose CURVE public key is curve_public, or NULL. */
const fc_party *fc_manifest_find_curve(const fc_manifest *manifest,
                                       const uint8_t curve_public[FC_CURVE_PUBLIC_BYTES]);

/* Returns the party with role and name, or NULL. */
const fc_party *fc_manifest_find(const fc_manifest *manifest, fc_role role, const char *name);

/* Parses the 40-character Z85 text of a 32-byte key. err names what. */
int fc_key_from_z85(uint8_t key[32], const char *text, const char *what,
                    fl_error *err) FL_WARN_UNUSED;

/* Writes the 40-character Z85 text of a 32-byte key plus NUL. */
void fc_key_to_z85(char text[FC_Z85_KEY_CHARS + 1], const uint8_t key[32]);

#endif
