#include "agent_setup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent_policy.h"
#include "fl_file.h"
#include "st_file.h"
#include "tr_config.h"

static int check_membership(agent_setup *setup, fl_error *err)
{
    const agent_config *config = &setup->config;
    setup->self = fc_manifest_find(setup->manifest, FC_ROLE_SITE, config->site_id);
    if (setup->self == NULL)
        return fl_error_set(err, FL_ENOTFOUND,
                            "[agent] site_id '%s' is not a site of project '%s' in %s; check "
                            "the spelling against the manifest",
                            config->site_id, setup->manifest->project, config->manifest_file);

    fc_public_identity own;
    fc_identity_public(setup->identity, &own);
    if (memcmp(&own, &setup->self->keys, sizeof(own)) != 0)
        return fl_error_set(err, FL_EPERM,
                            "%s: the manifest lists other public keys for site '%s' than those "
                            "of %s; send the research lead this site's .pub file again",
                            config->manifest_file, config->site_id, config->key_file);

    for (size_t i = 0; i < config->accepted_researchers.count; i++) {
        const char *name = config->accepted_researchers.items[i];
        if (fc_manifest_find(setup->manifest, FC_ROLE_RESEARCHER, name) == NULL)
            return fl_error_set(err, FL_ENOTFOUND,
                                "[policy] accepted_researchers: '%s' is not a researcher of "
                                "project '%s'",
                                name, setup->manifest->project);
    }
    return FL_OK;
}

/* Checks that the agent can read a data file named by key. */
static int check_readable(const char *key, const char *path, fl_error *err)
{
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return fl_error_set(err, FL_EIO,
                            "[data] %s: %s: cannot open: %s; check the path, and that the "
                            "agent's user may read the file",
                            key, path, strerror(errno));
    fclose(file);
    return FL_OK;
}

/* Checks what start-up can check cheaply about the data and the model. */
static int check_inputs(const agent_config *config, fl_error *err)
{
    if (config->train_files.count != 1)
        return fl_error_set(err, FL_EINVAL,
                            "[data] train_files lists %zu files; the agent trains on one file "
                            "per site, so join them first (for example cat a.jsonl b.jsonl > "
                            "train.jsonl) and name that file",
                            config->train_files.count);
    int rc = check_readable("train_files", config->train_files.items[0], err);
    if (rc == FL_OK && config->validation_file != NULL)
        rc = check_readable("validation_file", config->validation_file, err);
    if (rc != FL_OK)
        return rc;

    char path[4096];
    tr_config model;
    if (fl_path_format(path, sizeof(path), "%s/config.json", config->base_model_dir) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "[data] base_model_dir is too long");
    rc = tr_config_load(&model, path, err);
    if (rc != FL_OK)
        return fl_error_prefix(err, "[data] base_model_dir: ");

    /* Opening the set checks every safetensors header against its file's size. */
    st_set *weights = NULL;
    rc = st_set_open(&weights, config->base_model_dir, "model", err);
    st_set_destroy(&weights);
    if (rc != FL_OK)
        return fl_error_prefix(err, "[data] base_model_dir: ");
    return FL_OK;
}

int agent_setup_load(agent_setup *setup, const char *config_path, fl_error *err)
{
    memset(setup, 0, sizeof(*setup));
    int rc = agent_config_load(&setup->config, config_path, err);
    if (rc != FL_OK)
        return rc;
    rc = fc_init();
    if (rc != FL_OK)
        return fl_error_set(err, rc, "libsodium failed to initialise");

    const agent_config *config = &setup->config;
    uint8_t project_key[FC_SIGN_PUBLIC_BYTES];
    rc = fc_key_from_z85(project_key, config->project_public_key,
                         "[project] project_public_key", err);
    if (rc == FL_OK)
        rc = fc_identity_load(config->key_file, &setup->identity, err);
    if (rc == FL_OK)
        rc = fc_manifest_load(config->manifest_file, project_key, &setup->manifest, err);
    if (rc == FL_OK)
        rc = check_membership(setup, err);
    if (rc == FL_OK)
        rc = agent_policy_check_data_paths(config, err);
    if (rc == FL_OK)
        rc = check_inputs(config, err);
    return rc;
}

void agent_setup_release(agent_setup *setup)
{
    agent_config_release(&setup->config);
    fc_identity_destroy(&setup->identity);
    fc_manifest_destroy(&setup->manifest);
    setup->self = NULL;
}
