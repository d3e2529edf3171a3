#include "provision.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fc_keys.h"
#include "fc_manifest.h"
#include "fl_config.h"
#include "fl_file.h"
#include "fl_json.h"
#include "fl_mem.h"

#define PATH_SIZE 4096

/* What a kit needs to know about one site or researcher beyond its manifest entry. */
typedef struct member {
    const json_t *entry;     /* the project file's object for this member */
    fc_identity *identity;   /* NULL when the member brought its own public key */
} member;

typedef struct project {
    const char *file;        /* project file path, for messages and relative paths */
    json_t *root;
    fc_manifest manifest;
    member *sites;
    member *researchers;
    fc_identity *project_key;
    fc_identity *coordinator_key;
} project;

static int check_fields(const json_t *object, const char *where, const char *const *allowed,
                        fl_error *err)
{
    if (!json_is_object(object))
        return fl_error_set(err, FL_EFORMAT, "%s must be a JSON object", where);
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)object, key, value) {
        int known = 0;
        for (int i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(allowed[i], key) == 0;
        if (!known)
            return fl_error_set(err, FL_EINVAL, "%s: unknown field '%s'", where, key);
    }
    return FL_OK;
}

/* Returns the string field of object, or fallback when absent. */
static const char *text_or(const json_t *object, const char *field, const char *fallback)
{
    const char *text = json_string_value(json_object_get(object, field));
    return text ? text : fallback;
}

/* Returns path as an absolute path, taking a relative one from the project file's folder. */
static char *project_path(const project *p, const char *path)
{
    char *joined = fl_config_resolve_path(p->file, path);
    if (joined[0] == '/')
        return joined;
    char cwd[PATH_SIZE];
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return joined;
    size_t size = strlen(cwd) + strlen(joined) + 2;
    char *absolute = fl_xmalloc(size);
    snprintf(absolute, size, "%s/%s", cwd, joined);
    free(joined);
    return absolute;
}

static int load_member(project *p, const json_t *entry, fc_role role, size_t index,
                       member *out, fc_party *party, fl_error *err)
{
    static const char *const site_fields[] = {"name", "public_key_file", "train_files",
                                              "validation_file", "base_model_dir", "state_dir",
                                              "audit_log", "accepted_researchers", NULL};
    static const char *const researcher_fields[] = {"name", "public_key_file", NULL};
    char where[512];
    snprintf(where, sizeof(where), "%s: %s[%zu]", p->file,
             role == FC_ROLE_SITE ? "sites" : "researchers", index);
    int rc = check_fields(entry, where, role == FC_ROLE_SITE ? site_fields : researcher_fields,
                          err);
    const char *name = NULL;
    if (rc == FL_OK)
        rc = fl_json_get_string(entry, "name", where, &name, err);
    if (rc == FL_OK)
        rc = fc_name_validate(name, role == FC_ROLE_SITE ? "site" : "researcher", err);
    if (rc != FL_OK)
        return rc;

    out->entry = entry;
    snprintf(party->name, sizeof(party->name), "%s", name);
    party->role = role;
    const char *public_file = json_string_value(json_object_get(entry, "public_key_file"));
    if (public_file != NULL) {
        char *path = project_path(p, public_file);
        rc = fc_public_identity_load(path, &party->keys, err);
        free(path);
        return rc;
    }
    rc = fc_identity_generate(&out->identity);
    if (rc == FL_OK)
        fc_identity_public(out->identity, &party->keys);
    return rc;
}

static int load_members(project *p, const char *field, fc_role role, fl_error *err)
{
    const json_t *list = json_object_get(p->root, field);
    size_t count = json_array_size(list);
    if (!json_is_array(list) || count == 0)
        return fl_error_set(err, FL_EINVAL, "%s: field '%s' must be a non-empty list", p->file,
                            field);
    if (role == FC_ROLE_SITE && count < 3)
        return fl_error_set(err, FL_EINVAL,
                            "%s: %zu sites listed; secure aggregation needs at least 3, because "
                            "with 2 the sum reveals each site's update to the other",
                            p->file, count);

    member *members = fl_xcalloc(count, sizeof(member));
    fc_party *parties = fl_xcalloc(count, sizeof(fc_party));
    if (role == FC_ROLE_SITE) {
        p->sites = members;
        p->manifest.sites = parties;
        p->manifest.site_count = count;
    } else {
        p->researchers = members;
        p->manifest.researchers = parties;
        p->manifest.researcher_count = count;
    }
    for (size_t i = 0; i < count; i++) {
        int rc = load_member(p, json_array_get(list, i), role, i, &members[i], &parties[i], err);
        if (rc != FL_OK)
            return rc;
    }
    return FL_OK;
}

static int load_project(project *p, fl_error *err)
{
    static const char *const top_fields[] = {"project", "coordinator", "sites", "researchers",
                                             NULL};
    static const char *const coordinator_fields[] = {"endpoint", "bind", "admin_endpoint",
                                                     "admin_bind", "state_dir", NULL};
    p->root = fl_json_load_file(p->file, 1 << 20, err);
    if (p->root == NULL)
        return FL_EFORMAT;

    const char *name = NULL, *endpoint = NULL;
    const json_t *coordinator = json_object_get(p->root, "coordinator");
    char where[512];
    snprintf(where, sizeof(where), "%s: coordinator", p->file);
    int rc = check_fields(p->root, p->file, top_fields, err);
    if (rc == FL_OK)
        rc = fl_json_get_string(p->root, "project", p->file, &name, err);
    if (rc == FL_OK)
        rc = fc_name_validate(name, "project", err);
    if (rc == FL_OK)
        rc = check_fields(coordinator, where, coordinator_fields, err);
    if (rc == FL_OK)
        rc = fl_json_get_string(coordinator, "endpoint", where, &endpoint, err);
    if (rc != FL_OK)
        return rc;

    fc_manifest *m = &p->manifest;
    snprintf(m->project, sizeof(m->project), "%s", name);
    snprintf(m->endpoint, sizeof(m->endpoint), "%s", endpoint);
    snprintf(m->admin_endpoint, sizeof(m->admin_endpoint), "%s",
             text_or(coordinator, "admin_endpoint", "tcp://127.0.0.1:7701"));
    snprintf(m->coordinator.name, sizeof(m->coordinator.name), "coordinator");
    m->coordinator.role = FC_ROLE_COORDINATOR;

    rc = fc_identity_generate(&p->project_key);
    if (rc == FL_OK)
        rc = fc_identity_generate(&p->coordinator_key);
    if (rc != FL_OK)
        return fl_error_set(err, rc, "cannot generate keys: %s", fl_strerror(rc));
    fc_identity_public(p->coordinator_key, &m->coordinator.keys);

    rc = load_members(p, "sites", FC_ROLE_SITE, err);
    if (rc == FL_OK)
        rc = load_members(p, "researchers", FC_ROLE_RESEARCHER, err);
    return rc;
}

static void release_project(project *p)
{
    for (size_t i = 0; p->sites && i < p->manifest.site_count; i++)
        fc_identity_destroy(&p->sites[i].identity);
    for (size_t i = 0; p->researchers && i < p->manifest.researcher_count; i++)
        fc_identity_destroy(&p->researchers[i].identity);
    free(p->sites);
    free(p->researchers);
    fc_manifest_release(&p->manifest);
    fc_identity_destroy(&p->project_key);
    fc_identity_destroy(&p->coordinator_key);
    json_decref(p->root);
}

/* Writes text to folder/name atomically with mode. */
static int write_text(const char *folder, const char *name, const char *text, mode_t mode,
                      fl_error *err)
{
    char path[PATH_SIZE];
    if (fl_path_format(path, sizeof(path), "%s/%s", folder, name) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", folder);
    return fl_file_write_atomic(path, text, strlen(text), mode, err);
}

/* Makes folder, writes the identity's key files (when any) and the signed manifest. */
static int write_kit_keys(const project *p, const char *folder, const char *key_name,
                          const fc_identity *identity, fl_error *err)
{
    int rc = fl_file_mkdirs(folder, 0700, err);
    char secret[PATH_SIZE], public_file[PATH_SIZE], manifest_path[PATH_SIZE];
    if (fl_path_format(secret, sizeof(secret), "%s/%s.key", folder, key_name) != FL_OK ||
        fl_path_format(public_file, sizeof(public_file), "%s/%s.pub", folder, key_name) != FL_OK ||
        fl_path_format(manifest_path, sizeof(manifest_path), "%s/manifest.json", folder) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", folder);

    if (rc == FL_OK && identity != NULL)
        rc = fc_identity_save(identity, secret, public_file, err);
    if (rc == FL_OK)
        rc = fc_manifest_save(&p->manifest, p->project_key, manifest_path, err);
    return rc;
}

static void project_key_text(const project *p, char text[FC_Z85_KEY_CHARS + 1])
{
    fc_public_identity keys;
    fc_identity_public(p->project_key, &keys);
    fc_key_to_z85(text, keys.sign_public);
}

static int write_coordinator_kit(const project *p, const char *out_dir, fl_error *err)
{
    char folder[PATH_SIZE];
    if (fl_path_format(folder, sizeof(folder), "%s/coordinator", out_dir) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", out_dir);
    int rc = write_kit_keys(p, folder, "coordinator", p->coordinator_key, err);
    if (rc != FL_OK)
        return rc;

    const json_t *c = json_object_get(p->root, "coordinator");
    char key[FC_Z85_KEY_CHARS + 1];
    project_key_text(p, key);
    char *state_dir = project_path(p, text_or(c, "state_dir", "/var/lib/fedlora/coordinator"));
    char text[8192];
    snprintf(text, sizeof(text),
             "# fedlora-coordinator configuration of project %s, written by fedlora provision.\n"
             "# 'fedlora config sample --role coordinator' describes every key.\n"
             "\n[coordinator]\nbind = \"%s\"\nadvertised_endpoint = \"%s\"\nadmin_bind = \"%s\"\n"
             "state_dir = \"%s\"\n"
             "\n[keys]\nkey_file = coordinator.key\nmanifest_file = manifest.json\n"
             "project_public_key = \"%s\"\n",
             p->manifest.project, text_or(c, "bind", "tcp://0.0.0.0:7700"), p->manifest.endpoint,
             text_or(c, "admin_bind", "tcp://127.0.0.1:7701"), state_dir, key);
    free(state_dir);
    return write_text(folder, "coordinator.conf", text, 0644, err);
}

/* Joins the strings of a JSON list (resolving paths when asked) with ", ". */
static void join_list(const project *p, const json_t *list, int paths, char *out, size_t size)
{
    out[0] = '\0';
    size_t index;
    const json_t *item;
    json_array_foreach(list, index, item) {
        const char *text = json_string_value(item);
        if (text == NULL)
            continue;
        char *value = paths ? project_path(p, text) : fl_xstrdup(text);
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", index ? ", " : "", value);
        free(value);
    }
}

static int write_site_kit(const project *p, size_t index, const char *out_dir, fl_error *err)
{
    const fc_party *site = &p->manifest.sites[index];
    const member *m = &p->sites[index];
    char folder[PATH_SIZE];
    if (fl_path_format(folder, sizeof(folder), "%s/sites/%s", out_dir, site->name) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", out_dir);
    int rc = write_kit_keys(p, folder, "site", m->identity, err);
    if (rc != FL_OK)
        return rc;

    char train[2048], researchers[2048], key[FC_Z85_KEY_CHARS + 1];
    const json_t *listed = json_object_get(m->entry, "train_files");
    if (json_is_array(listed))
        join_list(p, listed, 1, train, sizeof(train));
    else
        snprintf(train, sizeof(train), "/var/lib/fedlora/data/train.jsonl");
    const json_t *accepted = json_object_get(m->entry, "accepted_researchers");
    if (json_is_array(accepted)) {
        join_list(p, accepted, 0, researchers, sizeof(researchers));
    } else {
        researchers[0] = '\0';
        for (size_t r = 0; r < p->manifest.researcher_count; r++) {
            size_t used = strlen(researchers);
            snprintf(researchers + used, sizeof(researchers) - used, "%s%s", r ? ", " : "",
                     p->manifest.researchers[r].name);
        }
    }
    project_key_text(p, key);

    char *state_dir = project_path(p, text_or(m->entry, "state_dir", "/var/lib/fedlora/agent"));
    char *audit = project_path(p, text_or(m->entry, "audit_log", "/var/log/fedlora/audit.jsonl"));
    char *model = project_path(p, text_or(m->entry, "base_model_dir", "/var/lib/fedlora/model"));
    const char *validation = text_or(m->entry, "validation_file", NULL);
    char *validation_path = validation ? project_path(p, validation) : NULL;
    char text[16384];
    snprintf(text, sizeof(text),
             "# fedlora-agent configuration of site %s in project %s, written by fedlora "
             "provision.\n# 'fedlora config sample --role agent' describes every key. Check the "
             "project key's\n# fingerprint with the research lead before the first start.\n"
             "\n[agent]\nsite_id = %s\nstate_dir = \"%s\"\naudit_log = \"%s\"\n"
             "\n[project]\nendpoint = \"%s\"\nmanifest_file = manifest.json\n"
             "project_public_key = \"%s\"\n"
             "\n[keys]\n%skey_file = %s\n"
             "\n[data]\ntrain_files = %s\n%s%s%sbase_model_dir = \"%s\"\n"
             "\n[policy]\naccepted_researchers = %s\n",
             site->name, p->manifest.project, site->name, state_dir, audit, p->manifest.endpoint,
             key,
             m->identity ? "" : "# The key file 'fedlora keygen' wrote on this site's machine.\n",
             m->identity ? "site.key" : "site.key  # edit to point to your NAME.key", train,
             validation_path ? "validation_file = \"" : "",
             validation_path ? validation_path : "", validation_path ? "\"\n" : "", model,
             researchers);
    free(state_dir);
    free(audit);
    free(model);
    free(validation_path);
    return write_text(folder, "agent.conf", text, 0644, err);
}

static int write_researcher_kit(const project *p, size_t index, const char *out_dir,
                                fl_error *err)
{
    const fc_party *researcher = &p->manifest.researchers[index];
    char folder[PATH_SIZE];
    if (fl_path_format(folder, sizeof(folder), "%s/researchers/%s", out_dir, researcher->name) !=
        FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", out_dir);
    int rc = write_kit_keys(p, folder, "researcher", p->researchers[index].identity, err);
    if (rc != FL_OK)
        return rc;

    char key[FC_Z85_KEY_CHARS + 1];
    project_key_text(p, key);
    char text[4096];
    snprintf(text, sizeof(text),
             "# fedlora tool configuration of researcher %s in project %s.\n"
             "# Use it with 'fedlora --config fedlora.conf COMMAND' or copy it to\n"
             "# ~/.config/fedlora/fedlora.conf.\n"
             "\n[researcher]\nname = %s\nkey_file = researcher.key\n"
             "\n[project]\nadmin_endpoint = \"%s\"\nmanifest_file = manifest.json\n"
             "project_public_key = \"%s\"\n",
             researcher->name, p->manifest.project, researcher->name,
             p->manifest.admin_endpoint, key);
    return write_text(folder, "fedlora.conf", text, 0644, err);
}

static void append_fingerprints(char *out, size_t size, const char *label,
                                const fc_public_identity *keys)
{
    char sign[FC_FINGERPRINT_TEXT_BYTES], curve[FC_FINGERPRINT_TEXT_BYTES];
    fc_fingerprint(sign, keys->sign_public);
    fc_fingerprint(curve, keys->curve_public);
    size_t used = strlen(out);
    snprintf(out + used, size - used, "%-28s signing %s  CURVE %s\n", label, sign, curve);
}

static int write_fingerprints(const project *p, const char *out_dir, FILE *report,
                              fl_error *err)
{
    size_t size = 256 * (p->manifest.site_count + p->manifest.researcher_count + 4);
    char *text = fl_xcalloc(1, size);
    fc_public_identity keys;
    fc_identity_public(p->project_key, &keys);
    append_fingerprints(text, size, "project key", &keys);
    append_fingerprints(text, size, "coordinator", &p->manifest.coordinator.keys);
    for (size_t i = 0; i < p->manifest.site_count; i++) {
        char label[96];
        snprintf(label, sizeof(label), "site %s", p->manifest.sites[i].name);
        append_fingerprints(text, size, label, &p->manifest.sites[i].keys);
    }
    for (size_t i = 0; i < p->manifest.researcher_count; i++) {
        char label[96];
        snprintf(label, sizeof(label), "researcher %s", p->manifest.researchers[i].name);
        append_fingerprints(text, size, label, &p->manifest.researchers[i].keys);
    }
    fputs(text, report);
    int rc = write_text(out_dir, "fingerprints.txt", text, 0644, err);
    free(text);
    return rc;
}

static int write_kits(const project *p, const char *out_dir, FILE *report, fl_error *err)
{
    char folder[PATH_SIZE], project_key[PATH_SIZE];
    if (fl_path_format(folder, sizeof(folder), "%s/project", out_dir) != FL_OK ||
        fl_path_format(project_key, sizeof(project_key), "%s/project.key", folder) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", out_dir);
    if (access(project_key, F_OK) == 0)
        return fl_error_set(err, FL_EEXIST,
                            "%s already exists; provisioning again would replace every key, so "
                            "choose an empty --out folder",
                            project_key);

    int rc = write_kit_keys(p, folder, "project", p->project_key, err);
    if (rc == FL_OK)
        rc = write_coordinator_kit(p, out_dir, err);
    for (size_t i = 0; rc == FL_OK && i < p->manifest.site_count; i++)
        rc = write_site_kit(p, i, out_dir, err);
    for (size_t i = 0; rc == FL_OK && i < p->manifest.researcher_count; i++)
        rc = write_researcher_kit(p, i, out_dir, err);
    if (rc == FL_OK)
        rc = write_fingerprints(p, out_dir, report, err);
    return rc;
}

int provision_run(const char *project_path_text, const char *out_dir, FILE *report,
                  fl_error *err)
{
    int rc = fc_init();
    if (rc != FL_OK)
        return fl_error_set(err, rc, "libsodium failed to initialise");

    project p = {.file = project_path_text};
    rc = load_project(&p, err);
    if (rc == FL_OK)
        rc = write_kits(&p, out_dir, report, err);
    release_project(&p);
    return rc;
}
