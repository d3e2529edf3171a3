#include "fc_manifest.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fl_json.h"
#include "fl_mem.h"

#define MANIFEST_CONTEXT "fedlora-manifest"
#define MANIFEST_MAX_BYTES (16u << 20)
#define MANIFEST_MAX_PARTIES 10000

static const char *const s_role_names[] = {"coordinator", "site", "researcher"};

int fc_name_validate(const char *name, const char *what, fl_error *err)
{
    size_t length = strlen(name);
    if (length == 0 || length > FC_NAME_MAX || name[0] == '.')
        return fl_error_set(err, FL_EINVAL,
                            "%s name '%s' must have 1 to %d characters and not start with '.'",
                            what, name, FC_NAME_MAX);
    for (const char *p = name; *p != '\0'; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.';
        if (!ok)
            return fl_error_set(err, FL_EINVAL,
                                "%s name '%s' contains '%c'; use letters, digits, '-', '_', '.'",
                                what, name, *p);
    }
    return FL_OK;
}

int fc_key_from_z85(uint8_t key[32], const char *text, const char *what, fl_error *err)
{
    if (strlen(text) != FC_Z85_KEY_CHARS || fc_z85_decode(key, text, FC_Z85_KEY_CHARS) != FL_OK)
        return fl_error_set(err, FL_EFORMAT,
                            "%s: '%.48s' is not a public key (expected 40 Z85 characters)",
                            what, text);
    return FL_OK;
}

void fc_key_to_z85(char text[FC_Z85_KEY_CHARS + 1], const uint8_t key[32])
{
    int rc = fc_z85_encode(text, key, 32);
    (void)rc; /* 32 is a multiple of 4, so encoding cannot fail */
}

static json_t *party_to_json(const fc_party *party)
{
    char sign[FC_Z85_KEY_CHARS + 1], curve[FC_Z85_KEY_CHARS + 1];
    fc_key_to_z85(sign, party->keys.sign_public);
    fc_key_to_z85(curve, party->keys.curve_public);
    return json_pack("{s:s, s:s, s:s}", "name", party->name, "sign_public", sign,
                     "curve_public", curve);
}

static json_t *parties_to_json(const fc_party *parties, size_t count)
{
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(list, party_to_json(&parties[i]));
    return list;
}

/* Returns the bytes the signature covers: compact JSON with sorted keys, without "signature". */
static char *signed_text(const json_t *root)
{
    json_t *copy = json_deep_copy(root);
    json_object_del(copy, "signature");
    char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(copy);
    return text;
}

static int check_unique(const fc_manifest *manifest, fl_error *err)
{
    const fc_party *groups[] = {manifest->sites, manifest->researchers};
    const size_t counts[] = {manifest->site_count, manifest->researcher_count};
    for (int g = 0; g < 2; g++) {
        for (size_t i = 0; i < counts[g]; i++) {
            int rc = fc_name_validate(groups[g][i].name, s_role_names[g + 1], err);
            if (rc != FL_OK)
                return rc;
            for (size_t j = 0; j < i; j++) {
                if (strcmp(groups[g][i].name, groups[g][j].name) == 0)
                    return fl_error_set(err, FL_EINVAL, "%s '%s' is listed twice",
                                        s_role_names[g + 1], groups[g][i].name);
            }
        }
    }
    return FL_OK;
}

int fc_manifest_save(const fc_manifest *manifest, const fc_identity *project_key,
                     const char *path, fl_error *err)
{
    int rc = fc_name_validate(manifest->project, "project", err);
    if (rc == FL_OK)
        rc = check_unique(manifest, err);
    if (rc != FL_OK)
        return rc;

    json_t *root = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "project", manifest->project,
                             "endpoint", manifest->endpoint, "admin_endpoint",
                             manifest->admin_endpoint, "coordinator",
                             party_to_json(&manifest->coordinator), "sites",
                             parties_to_json(manifest->sites, manifest->site_count),
                             "researchers",
                             parties_to_json(manifest->researchers, manifest->researcher_count));
    char *text = signed_text(root);
    uint8_t signature[FC_SIGNATURE_BYTES];
    fc_sign_blob(signature, project_key, MANIFEST_CONTEXT, text, strlen(text));
    free(text);

    char signature_text[FC_SIGNATURE_BYTES / 4 * 5 + 1];
    rc = fc_z85_encode(signature_text, signature, sizeof(signature));
    if (rc == FL_OK) {
        json_object_set_new(root, "signature", json_string(signature_text));
        rc = fl_json_save_file(path, root, 0644, err);
    }
    json_decref(root);
    return rc;
}

static int party_from_json(const json_t *value, fc_role role, const char *where,
                           fc_party *party, fl_error *err)
{
    const char *name = NULL, *sign = NULL, *curve = NULL;
    if (fl_json_get_string(value, "name", where, &name, err) != FL_OK ||
        fl_json_get_string(value, "sign_public", where, &sign, err) != FL_OK ||
        fl_json_get_string(value, "curve_public", where, &curve, err) != FL_OK)
        return FL_EFORMAT;
    int rc = fc_name_validate(name, s_role_names[role], err);
    if (rc != FL_OK)
        return rc;
    snprintf(party->name, sizeof(party->name), "%s", name);
    party->role = role;
    rc = fc_key_from_z85(party->keys.sign_public, sign, where, err);
    if (rc == FL_OK)
        rc = fc_key_from_z85(party->keys.curve_public, curve, where, err);
    return rc;
}

static int parties_from_json(const json_t *root, const char *field, fc_role role,
                             const char *path, fc_party **out, size_t *count, fl_error *err)
{
    const json_t *list = json_object_get(root, field);
    if (!json_is_array(list) || json_array_size(list) > MANIFEST_MAX_PARTIES)
        return fl_error_set(err, FL_EFORMAT, "%s: field '%s' must be a list", path, field);

    *count = json_array_size(list);
    *out = fl_xcalloc(*count ? *count : 1, sizeof(fc_party));
    size_t index;
    const json_t *value;
    json_array_foreach(list, index, value) {
        char where[600];
        snprintf(where, sizeof(where), "%s: %s[%zu]", path, field, index);
        int rc = party_from_json(value, role, where, &(*out)[index], err);
        if (rc != FL_OK)
            return rc;
    }
    return FL_OK;
}

static int verify_signature(const json_t *root, const char *path,
                            const uint8_t project_sign_public[FC_SIGN_PUBLIC_BYTES],
                            fl_error *err)
{
    const char *signature_text = NULL;
    if (fl_json_get_string(root, "signature", path, &signature_text, err) != FL_OK)
        return FL_EFORMAT;
    uint8_t signature[FC_SIGNATURE_BYTES];
    if (strlen(signature_text) != FC_SIGNATURE_BYTES / 4 * 5 ||
        fc_z85_decode(signature, signature_text, strlen(signature_text)) != FL_OK)
        return fl_error_set(err, FL_EFORMAT, "%s: field 'signature' is not Z85 text", path);

    char *text = signed_text(root);
    int rc = fc_verify_blob(signature, project_sign_public, MANIFEST_CONTEXT, text, strlen(text));
    free(text);
    if (rc != FL_OK)
        return fl_error_set(err, FL_ECRYPTO,
                            "%s: signature does not match the project key; the manifest was "
                            "altered or comes from another project: get a fresh copy from the "
                            "research lead and check the project key's fingerprint",
                            path);
    return FL_OK;
}

static int copy_text(char *out, size_t size, const json_t *root, const char *field,
                     const char *path, fl_error *err)
{
    const char *text = NULL;
    if (fl_json_get_string(root, field, path, &text, err) != FL_OK)
        return FL_EFORMAT;
    if (strlen(text) >= size)
        return fl_error_set(err, FL_ERANGE, "%s: field '%s' is too long", path, field);
    snprintf(out, size, "%s", text);
    return FL_OK;
}

int fc_manifest_load(const char *path, const uint8_t project_sign_public[FC_SIGN_PUBLIC_BYTES],
                     fc_manifest **out, fl_error *err)
{
    *out = NULL;
    json_t *root = fl_json_load_file(path, MANIFEST_MAX_BYTES, err);
    if (root == NULL)
        return FL_EFORMAT;

    fc_manifest *manifest = fl_xcalloc(1, sizeof(*manifest));
    int rc = verify_signature(root, path, project_sign_public, err);
    if (rc == FL_OK)
        rc = copy_text(manifest->project, sizeof(manifest->project), root, "project", path, err);
    if (rc == FL_OK)
        rc = copy_text(manifest->endpoint, sizeof(manifest->endpoint), root, "endpoint", path,
                       err);
    if (rc == FL_OK)
        rc = copy_text(manifest->admin_endpoint, sizeof(manifest->admin_endpoint), root,
                       "admin_endpoint", path, err);
    if (rc == FL_OK)
        rc = party_from_json(json_object_get(root, "coordinator"), FC_ROLE_COORDINATOR, path,
                             &manifest->coordinator, err);
    if (rc == FL_OK)
        rc = parties_from_json(root, "sites", FC_ROLE_SITE, path, &manifest->sites,
                               &manifest->site_count, err);
    if (rc == FL_OK)
        rc = parties_from_json(root, "researchers", FC_ROLE_RESEARCHER, path,
                               &manifest->researchers, &manifest->researcher_count, err);
    if (rc == FL_OK)
        rc = check_unique(manifest, err);
    json_decref(root);

    if (rc != FL_OK) {
        fc_manifest_destroy(&manifest);
        return rc;
    }
    *out = manifest;
    return FL_OK;
}

void fc_manifest_release(fc_manifest *manifest)
{
    free(manifest->sites);
    free(manifest->researchers);
    manifest->sites = NULL;
    manifest->researchers = NULL;
    manifest->site_count = 0;
    manifest->researcher_count = 0;
}

void fc_manifest_destroy(fc_manifest **manifest)
{
    if (manifest == NULL || *manifest == NULL)
        return;
    fc_manifest_release(*manifest);
    free(*manifest);
    *manifest = NULL;
}

const fc_party *fc_manifest_find_curve(const fc_manifest *manifest,
                                       const uint8_t curve_public[FC_CURVE_PUBLIC_BYTES])
{
    if (memcmp(manifest->coordinator.keys.curve_public, curve_public, FC_CURVE_PUBLIC_BYTES) == 0)
        return &manifest->coordinator;
    for (size_t i = 0; i < manifest->site_count; i++) {
        if (memcmp(manifest->sites[i].keys.curve_public, curve_public, FC_CURVE_PUBLIC_BYTES) == 0)
            return &manifest->sites[i];
    }
    for (size_t i = 0; i < manifest->researcher_count; i++) {
        if (memcmp(manifest->researchers[i].keys.curve_public, curve_public,
                   FC_CURVE_PUBLIC_BYTES) == 0)
            return &manifest->researchers[i];
    }
    return NULL;
}

const fc_party *fc_manifest_find(const fc_manifest *manifest, fc_role role, const char *name)
{
    if (role == FC_ROLE_COORDINATOR)
        return strcmp(manifest->coordinator.name, name) == 0 ? &manifest->coordinator : NULL;
    const fc_party *list = role == FC_ROLE_SITE ? manifest->sites : manifest->researchers;
    size_t count = role == FC_ROLE_SITE ? manifest->site_count : manifest->researcher_count;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    }
    return NULL;
}
