#include "coord_setup.h"

#include <string.h>

int coord_setup_load(coord_setup *setup, const char *config_path, fl_error *err)
{
    memset(setup, 0, sizeof(*setup));
    int rc = coord_config_load(&setup->config, config_path, err);
    if (rc != FL_OK)
        return rc;
    rc = fc_init();
    if (rc != FL_OK)
        return fl_error_set(err, rc, "libsodium failed to initialise");

    const coord_config *config = &setup->config;
    uint8_t project_key[FC_SIGN_PUBLIC_BYTES];
    rc = fc_key_from_z85(project_key, config->project_public_key,
                         "[keys] project_public_key", err);
    if (rc == FL_OK)
        rc = fc_identity_load(config->key_file, &setup->identity, err);
    if (rc == FL_OK)
        rc = fc_manifest_load(config->manifest_file, project_key, &setup->manifest, err);
    if (rc != FL_OK)
        return rc;

    fc_public_identity own;
    fc_identity_public(setup->identity, &own);
    if (memcmp(&own, &setup->manifest->coordinator.keys, sizeof(own)) != 0)
        return fl_error_set(err, FL_EPERM,
                            "%s: the coordinator's public keys in the manifest do not match "
                            "%s; the key file belongs to another project or was replaced",
                            config->manifest_file, config->key_file);
    return FL_OK;
}

void coord_setup_release(coord_setup *setup)
{
    coord_config_release(&setup->config);
    fc_identity_destroy(&setup->identity);
    fc_manifest_destroy(&setup->manifest);
}
