#include "agent_job.h"

#include <stdio.h>
#include <string.h>

#include "proto_codec.h"
#include "tr_config.h"

int agent_job_init(agent_job *job, Fedlora__Envelope *envelope, const char *model_dir,
                   fl_error *err)
{
    memset(job, 0, sizeof(*job));
    job->envelope = envelope;
    job->desc = envelope->job;
    snprintf(job->id, sizeof(job->id), "%s", envelope->job_id);

    const Fedlora__LoraSettings *settings = job->desc->lora;
    job->lora.rank = (int)settings->rank;
    job->lora.alpha = settings->alpha;
    job->lora.dropout = settings->dropout;
    job->lora.use_rslora = settings->use_rslora;
    job->frozen_a = settings->mode == FEDLORA__LORA_MODE__LORA_MODE_FROZEN_A;
    for (size_t i = 0; i < settings->n_target_modules; i++) {
        unsigned target = 0;
        int rc = lora_targets_parse(settings->target_modules[i], &target, err);
        if (rc != FL_OK)
            return rc;
        job->lora.targets |= target;
    }
    int rc = lora_options_check(&job->lora, err);
    if (rc != FL_OK)
        return rc;

    char config_path[4096];
    snprintf(config_path, sizeof(config_path), "%s/config.json", model_dir);
    tr_config config;
    rc = tr_config_load(&config, config_path, err);
    if (rc != FL_OK)
        return rc;
    lora_adapter layout;
    lora_adapter_init(&layout, &config, &job->lora);
    job->num_params = layout.num_params;
    job->trained_offset = job->frozen_a ? layout.a_count : 0;
    job->trained_count = layout.num_params - job->trained_offset;
    lora_adapter_release(&layout);
    return FL_OK;
}

void agent_job_release(agent_job *job)
{
    proto_envelope_free(&job->envelope);
    memset(job, 0, sizeof(*job));
}

uint64_t agent_job_count_examples(const char *const *files, size_t count)
{
    uint64_t examples = 0;
    for (size_t i = 0; i < count; i++) {
        FILE *file = fopen(files[i], "r");
        if (file == NULL)
            continue;
        int c, blank = 1;
        while ((c = fgetc(file)) != EOF) {
            if (c == '\n') {
                examples += blank ? 0 : 1;
                blank = 1;
            } else if (c != ' ' && c != '\t' && c != '\r') {
                blank = 0;
            }
        }
        examples += blank ? 0 : 1;
        fclose(file);
    }
    return examples;
}
