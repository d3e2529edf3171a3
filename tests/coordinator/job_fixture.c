#include "job_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fl_json.h"

void fixture_job(coord_job_spec *job, const char *id, const char *extra_fields)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "{\"id\":\"%s\",\"researcher\":\"alice\",%s%s"
             "\"base_model\":{\"name\":\"tiny\",\"hash\":\"" FIXTURE_HASH "\","
             "\"config\":{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64,"
             "\"intermediate_size\":128,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
             "\"num_key_value_heads\":2,\"vocab_size\":256,\"rms_norm_eps\":1e-5,"
             "\"rope_theta\":10000.0,\"max_position_embeddings\":512,"
             "\"tie_word_embeddings\":false}}}",
             id, extra_fields, extra_fields[0] ? "," : "");
    fl_error err = {0};
    json_t *root = fl_json_load_text("job", text, strlen(text), &err);
    if (root == NULL)
        fail_msg("fixture job is not JSON: %s", err.msg);
    if (coord_job_from_json(job, root, "job", &err) != FL_OK)
        fail_msg("fixture job rejected: %s", err.msg);
    json_decref(root);
}
