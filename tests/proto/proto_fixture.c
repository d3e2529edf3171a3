#include "proto_fixture.h"

#include <string.h>

const Fedlora__Envelope__BodyCase proto_fixture_cases[] = {
    FEDLORA__ENVELOPE__BODY_HELLO,           FEDLORA__ENVELOPE__BODY_HEARTBEAT,
    FEDLORA__ENVELOPE__BODY_JOB,             FEDLORA__ENVELOPE__BODY_ROUND_START,
    FEDLORA__ENVELOPE__BODY_MODEL_CHUNK,     FEDLORA__ENVELOPE__BODY_TRANSFER_QUERY,
    FEDLORA__ENVELOPE__BODY_TRANSFER_STATUS, FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS,
    FEDLORA__ENVELOPE__BODY_SHARE_KEYS,      FEDLORA__ENVELOPE__BODY_MASKED_INPUT_CHUNK,
    FEDLORA__ENVELOPE__BODY_UNMASK_REQUEST,  FEDLORA__ENVELOPE__BODY_UNMASK_SHARES,
    FEDLORA__ENVELOPE__BODY_METRICS,         FEDLORA__ENVELOPE__BODY_REFUSAL,
    FEDLORA__ENVELOPE__BODY_ABORT,           FEDLORA__ENVELOPE__BODY_ERROR,
    FEDLORA__ENVELOPE__BODY_JOB_ACCEPT,
};
const size_t proto_fixture_case_count =
    sizeof(proto_fixture_cases) / sizeof(proto_fixture_cases[0]);

static void init_job(proto_fixture *f)
{
    fedlora__lora_settings__init(&f->lora);
    f->modules[0] = "q_proj";
    f->modules[1] = "v_proj";
    f->lora.rank = 8;
    f->lora.alpha = 16.0f;
    f->lora.dropout = 0.05f;
    f->lora.n_target_modules = 2;
    f->lora.target_modules = f->modules;
    f->lora.mode = FEDLORA__LORA_MODE__LORA_MODE_STANDARD;

    fedlora__server_optimizer__init(&f->optimizer);
    f->optimizer.kind = FEDLORA__SERVER_OPTIMIZER_KIND__SERVER_OPTIMIZER_FEDADAM;
    f->optimizer.learning_rate = 0.01;
    f->optimizer.beta1 = 0.9;
    f->optimizer.beta2 = 0.99;
    f->optimizer.tau = 1e-3;

    fedlora__sec_agg_params__init(&f->secagg);
    f->secagg.enabled = 1;
    f->secagg.threshold = 2;
    f->secagg.modulus_bits = 32;
    f->secagg.clip_bound = 1.0;
    f->secagg.quant_bits = 16;
    f->secagg.max_weight = 100000;

    fedlora__job_description__init(&f->job);
    f->job.base_model_name = "Qwen/Qwen2.5-0.5B";
    f->job.base_model_hash.data = f->hash;
    f->job.base_model_hash.len = sizeof(f->hash);
    f->job.lora = &f->lora;
    f->job.rounds = 3;
    f->job.local_steps = 50;
    f->job.learning_rate = 2e-4;
    f->job.server_optimizer = &f->optimizer;
    f->job.min_sites_per_round = 3;
    f->job.round_deadline_s = 3600;
    f->job.secagg = &f->secagg;
    f->job.researcher = "alice";
    f->job.batch_size = 4;
    f->job.seq_len = 256;
    f->job.model_config_json = "{\"architectures\":[\"Qwen2ForCausalLM\"]}";
}

static void init_round(proto_fixture *f)
{
    fedlora__object_ref__init(&f->adapter);
    f->adapter.object_id = "adapter-r1";
    f->adapter.total_size = 1u << 20;
    f->adapter.hash.data = f->hash;
    f->adapter.hash.len = sizeof(f->hash);

    fedlora__round_start__init(&f->round_start);
    f->sites[0] = "hospital-a";
    f->sites[1] = "hospital-b";
    f->sites[2] = "hôpital-c";
    f->round_start.n_selected_sites = 3;
    f->round_start.selected_sites = f->sites;
    f->round_start.global_adapter = &f->adapter;
    f->round_start.adapter_signature.data = f->signature;
    f->round_start.adapter_signature.len = sizeof(f->signature);
    f->round_start.deadline_unix_ms = 1800000000000ull;
    f->round_start.secagg_threshold = 2;
    f->round_start.chunk_elements = 65536;
}

static void init_transfer(proto_fixture *f)
{
    fedlora__object_chunk__init(&f->chunk);
    f->chunk.object_id = "masked-hospital-a-r1";
    f->chunk.offset = 5000000000ull;
    f->chunk.data.data = f->data;
    f->chunk.data.len = sizeof(f->data);
    f->chunk.total_size = 6000000000ull;

    fedlora__transfer_query__init(&f->query);
    f->query.object_id = "masked-hospital-a-r1";
    f->query.total_size = 6000000000ull;
    f->query.window_chunks = 8;

    fedlora__transfer_status__init(&f->status);
    f->status.object_id = "masked-hospital-a-r1";
    f->status.received = 4000000000ull;
    f->status.total_size = 6000000000ull;
    f->status.resync = 1;
}

static void init_secagg(proto_fixture *f)
{
    fedlora__advertise_keys__init(&f->advertise);
    for (int i = 0; i < 2; i++) {
        fedlora__site_blob__init(&f->site_keys[i]);
        f->site_keys[i].site_id = f->sites[i];
        f->site_keys[i].body.data = f->blob;
        f->site_keys[i].body.len = sizeof(f->blob);
        f->site_key_list[i] = &f->site_keys[i];

        fedlora__routed_blob__init(&f->shares[i]);
        f->shares[i].from_site = f->sites[0];
        f->shares[i].to_site = f->sites[i + 1];
        f->shares[i].body.data = f->blob;
        f->shares[i].body.len = sizeof(f->blob);
        f->share_list[i] = &f->shares[i];
    }
    f->advertise.n_keys = 2;
    f->advertise.keys = f->site_key_list;

    fedlora__share_keys__init(&f->share);
    f->share.n_shares = 2;
    f->share.shares = f->share_list;

    fedlora__unmask_request__init(&f->unmask_request);
    f->survivors[0] = f->sites[0];
    f->survivors[1] = f->sites[1];
    f->dropped[0] = f->sites[2];
    f->unmask_request.n_surviving_sites = 2;
    f->unmask_request.surviving_sites = f->survivors;
    f->unmask_request.n_dropped_sites = 1;
    f->unmask_request.dropped_sites = f->dropped;

    fedlora__unmask_shares__init(&f->unmask_shares);
    f->unmask_shares.body.data = f->blob;
    f->unmask_shares.body.len = sizeof(f->blob);
}

static void init_reports(proto_fixture *f)
{
    fedlora__hello__init(&f->hello);
    f->hello.role = FEDLORA__ROLE__ROLE_AGENT;
    f->hello.min_version = PROTO_VERSION;
    f->hello.max_version = PROTO_VERSION;
    f->hello.software = "fedlora-agent 0.1.0";

    fedlora__heartbeat__init(&f->heartbeat);
    f->heartbeat.sent_unix_ms = 1800000000000ull;
    f->heartbeat.state = FEDLORA__AGENT_STATE__AGENT_STATE_TRAINING;
    fedlora__round_progress__init(&f->progress);
    f->progress.attempt = 1;
    f->progress.control_received = 1;
    f->progress.control_replied = 0;
    f->heartbeat.progress = &f->progress;

    fedlora__metrics__init(&f->metrics);
    f->metrics.validation_loss_before = 2.5;
    f->metrics.training_loss = 2.1;
    f->metrics.example_count = 1234;
    f->metrics.local_steps_done = 50;
    f->metrics.train_ms = 60000;

    fedlora__refusal__init(&f->refusal);
    f->refusal.reason = FEDLORA__REFUSAL_REASON__REFUSAL_BASE_MODEL_MISMATCH;
    f->refusal.detail = "base model hash differs";

    fedlora__abort__init(&f->abort_body);
    f->abort_body.reason = FEDLORA__ABORT_REASON__ABORT_DEADLINE_PASSED;
    f->abort_body.detail = "2 of 3 sites before the deadline";

    fedlora__error__init(&f->error_body);
    fedlora__job_accept__init(&f->job_accept);
    f->job_accept.example_count = 120;
    f->error_body.code = FEDLORA__ERROR_CODE__ERROR_REPLAYED;
    f->error_body.in_reply_to = 17;
    f->error_body.detail = "sequence 17 not above 20";
}

static void set_body(proto_fixture *f, Fedlora__Envelope__BodyCase body_case)
{
    Fedlora__Envelope *e = &f->envelope;
    e->body_case = body_case;
    switch (body_case) {
    case FEDLORA__ENVELOPE__BODY_HELLO: e->hello = &f->hello; break;
    case FEDLORA__ENVELOPE__BODY_HEARTBEAT: e->heartbeat = &f->heartbeat; break;
    case FEDLORA__ENVELOPE__BODY_JOB: e->job = &f->job; break;
    case FEDLORA__ENVELOPE__BODY_ROUND_START: e->round_start = &f->round_start; break;
    case FEDLORA__ENVELOPE__BODY_MODEL_CHUNK: e->model_chunk = &f->chunk; break;
    case FEDLORA__ENVELOPE__BODY_TRANSFER_QUERY: e->transfer_query = &f->query; break;
    case FEDLORA__ENVELOPE__BODY_TRANSFER_STATUS: e->transfer_status = &f->status; break;
    case FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS: e->advertise_keys = &f->advertise; break;
    case FEDLORA__ENVELOPE__BODY_SHARE_KEYS: e->share_keys = &f->share; break;
    case FEDLORA__ENVELOPE__BODY_MASKED_INPUT_CHUNK: e->masked_input_chunk = &f->chunk; break;
    case FEDLORA__ENVELOPE__BODY_UNMASK_REQUEST: e->unmask_request = &f->unmask_request; break;
    case FEDLORA__ENVELOPE__BODY_UNMASK_SHARES: e->unmask_shares = &f->unmask_shares; break;
    case FEDLORA__ENVELOPE__BODY_METRICS: e->metrics = &f->metrics; break;
    case FEDLORA__ENVELOPE__BODY_REFUSAL: e->refusal = &f->refusal; break;
    case FEDLORA__ENVELOPE__BODY_ABORT: e->abort = &f->abort_body; break;
    case FEDLORA__ENVELOPE__BODY_ERROR: e->error = &f->error_body; break;
    case FEDLORA__ENVELOPE__BODY_JOB_ACCEPT: e->job_accept = &f->job_accept; break;
    default: e->body_case = FEDLORA__ENVELOPE__BODY__NOT_SET; break;
    }
}

void proto_fixture_init(proto_fixture *f, Fedlora__Envelope__BodyCase body_case)
{
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < sizeof(f->hash); i++)
        f->hash[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof(f->signature); i++)
        f->signature[i] = (uint8_t)(i * 3 + 5);
    for (size_t i = 0; i < sizeof(f->data); i++)
        f->data[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(f->blob); i++)
        f->blob[i] = (uint8_t)(255 - i);

    init_job(f);
    init_round(f);
    init_transfer(f);
    init_secagg(f);
    init_reports(f);

    fedlora__envelope__init(&f->envelope);
    f->envelope.protocol_version = PROTO_VERSION;
    f->envelope.job_id = "job-2026-12";
    f->envelope.round = 1;
    f->envelope.sender = "hospital-a";
    f->envelope.session = 0x1234567890abcdefull;
    f->envelope.sequence = 7;
    set_body(f, body_case);
}
