#include "coord_jobdesc.h"

#include <sodium.h>
#include <string.h>

static Fedlora__ServerOptimizerKind optimizer_kind(coord_optim_kind kind)
{
    switch (kind) {
    case COORD_OPTIM_FEDAVG: return FEDLORA__SERVER_OPTIMIZER_KIND__SERVER_OPTIMIZER_FEDAVG;
    case COORD_OPTIM_FEDAVGM: return FEDLORA__SERVER_OPTIMIZER_KIND__SERVER_OPTIMIZER_FEDAVGM;
    case COORD_OPTIM_FEDADAM: return FEDLORA__SERVER_OPTIMIZER_KIND__SERVER_OPTIMIZER_FEDADAM;
    case COORD_OPTIM_FEDYOGI: return FEDLORA__SERVER_OPTIMIZER_KIND__SERVER_OPTIMIZER_FEDYOGI;
    }
    return FEDLORA__SERVER_OPTIMIZER_KIND__SERVER_OPTIMIZER_UNSPECIFIED;
}

void coord_jobdesc_init(coord_jobdesc *desc, const coord_job_spec *job)
{
    memset(desc, 0, sizeof(*desc));
    fedlora__lora_settings__init(&desc->lora);
    desc->lora.rank = (uint32_t)job->lora_r;
    desc->lora.alpha = (float)job->lora_alpha;
    desc->lora.dropout = (float)job->lora_dropout;
    for (int i = 0; i < job->lora_target_count; i++)
        desc->targets[i] = (char *)job->lora_targets[i];
    desc->lora.n_target_modules = (size_t)job->lora_target_count;
    desc->lora.target_modules = desc->targets;
    desc->lora.mode = job->lora_mode == COORD_LORA_FROZEN_A
                          ? FEDLORA__LORA_MODE__LORA_MODE_FROZEN_A
                          : FEDLORA__LORA_MODE__LORA_MODE_STANDARD;
    desc->lora.use_rslora = job->use_rslora;
    desc->lora.seed = job->lora_seed;

    fedlora__server_optimizer__init(&desc->optimizer);
    desc->optimizer.kind = optimizer_kind(job->server_optimizer.kind);
    desc->optimizer.learning_rate = job->server_optimizer.server_lr;
    desc->optimizer.beta1 = job->server_optimizer.kind == COORD_OPTIM_FEDAVGM
                                ? job->server_optimizer.momentum
                                : job->server_optimizer.beta1;
    desc->optimizer.beta2 = job->server_optimizer.beta2;
    desc->optimizer.tau = job->server_optimizer.tau;

    fedlora__sec_agg_params__init(&desc->secagg);
    desc->secagg.enabled = job->secure_aggregation;
    desc->secagg.threshold = job->secagg_threshold ? (uint32_t)job->secagg_threshold
                                                   : (uint32_t)job->min_sites / 2 + 1;
    desc->secagg.modulus_bits = 32;
    desc->secagg.clip_bound = job->clip_bound;
    desc->secagg.quant_bits = (uint32_t)job->quant_bits;
    desc->secagg.max_weight = (uint64_t)job->max_weight;

    Fedlora__JobDescription *m = &desc->message;
    fedlora__job_description__init(m);
    m->base_model_name = (char *)job->base_model_name;
    sodium_hex2bin(desc->hash, sizeof(desc->hash), job->base_model_hash, 64, NULL, NULL, NULL);
    m->base_model_hash.data = desc->hash;
    m->base_model_hash.len = sizeof(desc->hash);
    m->lora = &desc->lora;
    m->rounds = (uint32_t)job->rounds;
    m->local_steps = (uint32_t)job->local_steps;
    m->learning_rate = job->learning_rate;
    m->server_optimizer = &desc->optimizer;
    m->min_sites_per_round = (uint32_t)job->min_sites;
    m->round_deadline_s = (uint32_t)job->round_deadline_s;
    m->secagg = &desc->secagg;
    m->researcher = (char *)job->researcher;
    m->batch_size = (uint32_t)job->batch_size;
    m->seq_len = (uint32_t)job->seq_len;
    m->model_config_json = (char *)job->base_model_config;
}
