/* Fuzz target: the configuration reader with the coordinator's and agent's key tables. */
#include <stddef.h>
#include <stdint.h>

#include "agent_config.h"
#include "coord_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fl_error err = {0};
    coord_config coordinator = {0};
    int rc = fl_config_parse(coord_config_keys, coord_config_key_count, "/fuzz/coordinator.conf",
                             (const char *)data, size, &coordinator, &err);
    (void)rc;
    coord_config_release(&coordinator);

    agent_config agent = {0};
    rc = fl_config_parse(agent_config_keys, agent_config_key_count, "/fuzz/agent.conf",
                         (const char *)data, size, &agent, &err);
    (void)rc;
    agent_config_release(&agent);
    return 0;
}
