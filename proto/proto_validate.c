/*
 * Field-by-field validation of decoded envelopes. Each check names the field
 * with its path in fedlora.proto ("job.lora.rank") and the offending value.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "proto_codec.h"

/* Copies up to 40 bytes of an untrusted string, with non-printable bytes as '?', for messages. */
static void quote_text(char *out, size_t size, const char *text)
{
    size_t n = 0;
    for (; text[n] != '\0' && n + 1 < size && n < 40; n++) {
        unsigned char c = (unsigned char)text[n];
        out[n] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    out[n] = '\0';
}

/* Checks a free-text field: UTF-8 of at most max_bytes bytes; empty allowed when min_bytes is 0. */
static int check_text(const char *field, const char *text, size_t min_bytes, size_t max_bytes,
                      fl_error *err)
{
    size_t length = strlen(text);
    if (length < min_bytes || length > max_bytes)
        return fl_error_set(err, FL_ERANGE,
                            "proto: field %s has %zu bytes, allowed %zu to %zu", field, length,
                            min_bytes, max_bytes);
    if (!proto_utf8_valid(text, length))
        return fl_error_set(err, FL_EFORMAT, "proto: field %s is not valid UTF-8", field);
    return FL_OK;
}

/* Checks an id: 1 to PROTO_MAX_ID bytes of UTF-8 without control characters. */
static int check_id(const char *field, const char *id, fl_error *err)
{
    int status = check_text(field, id, 1, PROTO_MAX_ID, err);
    if (status != FL_OK)
        return status;

    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7F) {
            char quoted[48];
            quote_text(quoted, sizeof(quoted), id);
            return fl_error_set(err, FL_EFORMAT,
                                "proto: field %s = \"%s\" contains control character 0x%02x",
                                field, quoted, *p);
        }
    }
    return FL_OK;
}

static int check_u64_range(const char *field, uint64_t value, uint64_t min, uint64_t max,
                           fl_error *err)
{
    if (value < min || value > max)
        return fl_error_set(err, FL_ERANGE,
                            "proto: field %s = %llu is out of range [%llu, %llu]", field,
                            (unsigned long long)value, (unsigned long long)min,
                            (unsigned long long)max);
    return FL_OK;
}

/* Checks min <= value (or min < value when min_open) and value < max (or <= when !max_open). */
static int check_real(const char *field, double value, double min, int min_open, double max,
                      int max_open, fl_error *err)
{
    int below = min_open ? !(value > min) : !(value >= min);
    int above = max_open ? !(value < max) : !(value <= max);
    if (!isfinite(value) || below || above)
        return fl_error_set(err, FL_ERANGE, "proto: field %s = %g is out of range %c%g, %g%c",
                            field, value, min_open ? '(' : '[', min, max, max_open ? ')' : ']');
    return FL_OK;
}

static int check_enum(const char *field, const ProtobufCEnumDescriptor *descriptor, int value,
                      fl_error *err)
{
    if (value == 0 || protobuf_c_enum_descriptor_get_value(descriptor, value) == NULL)
        return fl_error_set(err, FL_ERANGE, "proto: field %s = %d is not a valid %s value",
                            field, value, descriptor->short_name);
    return FL_OK;
}

static int check_bytes_length(const char *field, const ProtobufCBinaryData *data, size_t min,
                              size_t max, fl_error *err)
{
    if (data->len < min || data->len > max)
        return fl_error_set(err, FL_ERANGE, "proto: field %s has %zu bytes, allowed %zu to %zu",
                            field, data->len, min, max);
    return FL_OK;
}

static int check_present(const char *field, const void *message, fl_error *err)
{
    if (message == NULL)
        return fl_error_set(err, FL_EFORMAT, "proto: required field %s is missing", field);
    return FL_OK;
}

/* Checks a list of min to PROTO_MAX_SITES distinct site ids. */
static int check_site_list(const char *field, char *const *ids, size_t count, size_t min,
                           fl_error *err)
{
    char name[96];
    int status = check_u64_range(field, count, min, PROTO_MAX_SITES, err);
    for (size_t i = 0; status == FL_OK && i < count; i++) {
        snprintf(name, sizeof(name), "%s[%zu]", field, i);
        status = check_id(name, ids[i], err);
        for (size_t k = 0; status == FL_OK && k < i; k++) {
            if (strcmp(ids[i], ids[k]) == 0) {
                char quoted[48];
                quote_text(quoted, sizeof(quoted), ids[i]);
                status = fl_error_set(err, FL_EINVAL, "proto: field %s = \"%s\" repeats %s[%zu]",
                                      name, quoted, field, k);
            }
        }
    }
    return status;
}

static int check_hello(const Fedlora__Hello *hello, fl_error *err)
{
    int status = check_enum("hello.role", &fedlora__role__descriptor, (int)hello->role, err);
    if (status != FL_OK)
        return status;
    if (hello->min_version > hello->max_version)
        return fl_error_set(err, FL_ERANGE, "proto: field hello.min_version = %u exceeds "
                            "hello.max_version = %u", hello->min_version, hello->max_version);
    if (PROTO_VERSION < hello->min_version || PROTO_VERSION > hello->max_version)
        return fl_error_set(err, FL_EUNSUPPORTED,
                            "proto: peer speaks protocol versions %u to %u, this program speaks "
                            "%u; upgrade the older side", hello->min_version, hello->max_version,
                            PROTO_VERSION);
    return check_text("hello.software", hello->software, 0, PROTO_MAX_SOFTWARE, err);
}

static int check_heartbeat(const Fedlora__Heartbeat *heartbeat, fl_error *err)
{
    int state = (int)heartbeat->state;
    if (state != 0 &&
        protobuf_c_enum_descriptor_get_value(&fedlora__agent_state__descriptor, state) == NULL)
        return fl_error_set(err, FL_ERANGE,
                            "proto: field heartbeat.state = %d is not a valid AgentState value",
                            state);
    const Fedlora__RoundProgress *progress = heartbeat->progress;
    if (progress != NULL && progress->control_received > PROTO_CONTROL_STEPS)
        return fl_error_set(err, FL_ERANGE,
                            "proto: field heartbeat.progress.control_received = %u exceeds %u",
                            progress->control_received, PROTO_CONTROL_STEPS);
    if (progress != NULL && progress->control_replied > progress->control_received)
        return fl_error_set(err, FL_ERANGE,
                            "proto: field heartbeat.progress.control_replied = %u exceeds "
                            "control_received = %u", progress->control_replied,
                            progress->control_received);
    return FL_OK;
}

static int check_lora(const Fedlora__LoraSettings *lora, fl_error *err)
{
    int status = check_present("job.lora", lora, err);
    if (status == FL_OK)
        status = check_u64_range("job.lora.rank", lora->rank, 1, PROTO_MAX_LORA_RANK, err);
    if (status == FL_OK)
        status = check_real("job.lora.alpha", lora->alpha, 0.0, 1, INFINITY, 1, err);
    if (status == FL_OK)
        status = check_real("job.lora.dropout", lora->dropout, 0.0, 0, 1.0, 1, err);
    if (status == FL_OK)
        status = check_enum("job.lora.mode", &fedlora__lora_mode__descriptor, (int)lora->mode,
                            err);
    if (status == FL_OK)
        status = check_u64_range("job.lora.target_modules (count)", lora->n_target_modules, 1,
                                 PROTO_MAX_TARGET_MODULES, err);

    char name[64];
    for (size_t i = 0; status == FL_OK && i < lora->n_target_modules; i++) {
        snprintf(name, sizeof(name), "job.lora.target_modules[%zu]", i);
        status = check_text(name, lora->target_modules[i], 1, PROTO_MAX_MODULE_NAME, err);
    }
    return status;
}

static int check_server_optimizer(const Fedlora__ServerOptimizer *opt, fl_error *err)
{
    int status = check_present("job.server_optimizer", opt, err);
    if (status != FL_OK)
        return status;

    status = check_enum("job.server_optimizer.kind", &fedlora__server_optimizer_kind__descriptor,
                        (int)opt->kind, err);
    if (status == FL_OK)
        status = check_real("job.server_optimizer.learning_rate", opt->learning_rate, 0.0, 1,
                            INFINITY, 1, err);
    if (status == FL_OK)
        status = check_real("job.server_optimizer.beta1", opt->beta1, 0.0, 0, 1.0, 1, err);
    if (status == FL_OK)
        status = check_real("job.server_optimizer.beta2", opt->beta2, 0.0, 0, 1.0, 1, err);

    int adaptive = opt->kind == FEDLORA__SERVER_OPTIMIZER_KIND__SERVER_OPTIMIZER_FEDADAM ||
                   opt->kind == FEDLORA__SERVER_OPTIMIZER_KIND__SERVER_OPTIMIZER_FEDYOGI;
    if (status == FL_OK && adaptive)
        status = check_real("job.server_optimizer.tau", opt->tau, 0.0, 1, INFINITY, 1, err);
    return status;
}

static int check_secagg(const Fedlora__SecAggParams *secagg, uint32_t min_sites, fl_error *err)
{
    int status = check_present("job.secagg", secagg, err);
    if (status != FL_OK || !secagg->enabled)
        return status;

    if (min_sites < 3)
        return fl_error_set(err, FL_ERANGE,
                            "proto: field job.min_sites_per_round = %u is below 3, the minimum "
                            "for secure aggregation (with 2 sites each learns the other's input)",
                            min_sites);
    status = check_u64_range("job.secagg.threshold", secagg->threshold, 2, min_sites, err);
    if (status == FL_OK)
        status = check_u64_range("job.secagg.modulus_bits", secagg->modulus_bits, 8, 64, err);
    if (status == FL_OK)
        status = check_real("job.secagg.clip_bound", secagg->clip_bound, 0.0, 1, INFINITY, 1,
                            err);
    if (status == FL_OK)
        status = check_u64_range("job.secagg.quant_bits", secagg->quant_bits, 2,
                                 secagg->modulus_bits - 1 < 32 ? secagg->modulus_bits - 1 : 32,
                                 err);
    if (status == FL_OK)
        status = check_u64_range("job.secagg.max_weight", secagg->max_weight, 1, UINT64_MAX,
                                 err);
    return status;
}

static int check_job(const Fedlora__JobDescription *job, fl_error *err)
{
    int status = check_text("job.base_model_name", job->base_model_name, 1,
                            PROTO_MAX_MODEL_NAME, err);
    if (status == FL_OK)
        status = check_bytes_length("job.base_model_hash", &job->base_model_hash,
                                    PROTO_HASH_BYTES, PROTO_HASH_BYTES, err);
    if (status == FL_OK)
        status = check_lora(job->lora, err);
    if (status == FL_OK)
        status = check_u64_range("job.rounds", job->rounds, 1, PROTO_MAX_ROUNDS, err);
    if (status == FL_OK)
        status = check_u64_range("job.local_steps", job->local_steps, 1, PROTO_MAX_LOCAL_STEPS,
                                 err);
    if (status == FL_OK)
        status = check_real("job.learning_rate", job->learning_rate, 0.0, 1, 1.0, 0, err);
    if (status == FL_OK)
        status = check_server_optimizer(job->server_optimizer, err);
    if (status == FL_OK)
        status = check_u64_range("job.min_sites_per_round", job->min_sites_per_round, 1,
                                 PROTO_MAX_SITES, err);
    if (status == FL_OK)
        status = check_u64_range("job.round_deadline_s", job->round_deadline_s, 1,
                                 PROTO_MAX_ROUND_DEADLINE_S, err);
    if (status == FL_OK)
        status = check_secagg(job->secagg, job->min_sites_per_round, err);
    if (status == FL_OK)
        status = check_id("job.researcher", job->researcher, err);
    if (status == FL_OK)
        status = check_u64_range("job.batch_size", job->batch_size, 1, 4096, err);
    if (status == FL_OK)
        status = check_u64_range("job.seq_len", job->seq_len, 8, 131072, err);
    if (status == FL_OK)
        status = check_text("job.model_config_json", job->model_config_json, 2,
                            PROTO_MAX_MODEL_CONFIG, err);
    return status;
}

static int check_object_ref(const char *field, const Fedlora__ObjectRef *ref, fl_error *err)
{
    char name[96];
    int status = check_present(field, ref, err);
    if (status == FL_OK) {
        snprintf(name, sizeof(name), "%s.object_id", field);
        status = check_id(name, ref->object_id, err);
    }
    if (status == FL_OK) {
        snprintf(name, sizeof(name), "%s.hash", field);
        status = check_bytes_length(name, &ref->hash, PROTO_HASH_BYTES, PROTO_HASH_BYTES, err);
    }
    return status;
}

static int check_round_start(const Fedlora__RoundStart *start, fl_error *err)
{
    int status = check_site_list("round_start.selected_sites", start->selected_sites,
                                 start->n_selected_sites, 1, err);
    if (status == FL_OK)
        status = check_object_ref("round_start.global_adapter", start->global_adapter, err);
    if (status == FL_OK)
        status = check_bytes_length("round_start.adapter_signature", &start->adapter_signature,
                                    PROTO_SIGNATURE_BYTES, PROTO_SIGNATURE_BYTES, err);
    if (status == FL_OK)
        status = check_u64_range("round_start.deadline_unix_ms", start->deadline_unix_ms, 1,
                                 UINT64_MAX, err);

    /* Shamir needs t > n/2 so two disjoint groups cannot both rebuild a secret. */
    uint32_t t = start->secagg_threshold;
    if (status == FL_OK && t != 0)
        status = check_u64_range("round_start.secagg_threshold", t,
                                 start->n_selected_sites / 2 + 1, start->n_selected_sites, err);
    if (status == FL_OK)
        status = check_u64_range("round_start.attempt", start->attempt, 0, 255, err);
    if (status == FL_OK && (start->chunk_elements % 16 != 0))
        status = fl_error_set(err, FL_ERANGE,
                              "proto: field round_start.chunk_elements = %u is not a multiple "
                              "of 16", start->chunk_elements);
    if (status == FL_OK)
        status = check_u64_range("round_start.chunk_elements", start->chunk_elements, 16,
                                 1u << 24, err);
    return status;
}

static int check_chunk(const char *field, const Fedlora__ObjectChunk *chunk, fl_error *err)
{
    char name[96];
    snprintf(name, sizeof(name), "%s.object_id", field);
    int status = check_id(name, chunk->object_id, err);
    if (status != FL_OK)
        return status;

    size_t min_data = chunk->total_size == 0 ? 0 : 1;
    snprintf(name, sizeof(name), "%s.data", field);
    status = check_bytes_length(name, &chunk->data, min_data, PROTO_MAX_CHUNK, err);
    if (status != FL_OK)
        return status;

    if (chunk->offset > chunk->total_size || chunk->data.len > chunk->total_size - chunk->offset)
        return fl_error_set(err, FL_ERANGE,
                            "proto: field %s.offset = %llu plus %zu data bytes runs past "
                            "total_size = %llu", field, (unsigned long long)chunk->offset,
                            chunk->data.len, (unsigned long long)chunk->total_size);

    /* The chunk that ends the object must carry the hash; others may. */
    int last = chunk->offset + chunk->data.len == chunk->total_size;
    size_t hash_length = chunk->object_hash.len;
    if (hash_length == PROTO_HASH_BYTES || (hash_length == 0 && !last))
        return FL_OK;
    return fl_error_set(err, FL_ERANGE, "proto: field %s.object_hash has %zu bytes, expected %u%s",
                        field, hash_length, PROTO_HASH_BYTES,
                        last ? " in the chunk that ends the object" : " or none");
}

static int check_transfer(const char *field, const char *object_id, uint64_t done,
                          uint64_t total_size, fl_error *err)
{
    char name[96];
    snprintf(name, sizeof(name), "%s.object_id", field);
    int status = check_id(name, object_id, err);
    if (status == FL_OK && done > total_size)
        status = fl_error_set(err, FL_ERANGE,
                              "proto: field %s.received = %llu exceeds total_size = %llu", field,
                              (unsigned long long)done, (unsigned long long)total_size);
    return status;
}

static int check_query(const Fedlora__TransferQuery *query, fl_error *err)
{
    int status = check_transfer("transfer_query", query->object_id, 0, query->total_size, err);
    if (status == FL_OK)
        status = check_u64_range("transfer_query.window_chunks", query->window_chunks, 1,
                                 PROTO_MAX_WINDOW, err);
    return status;
}

static int check_blob(const char *field, const ProtobufCBinaryData *body, fl_error *err)
{
    return check_bytes_length(field, body, 1, PROTO_MAX_BLOB, err);
}

static int check_advertise_keys(const Fedlora__AdvertiseKeys *advertise, fl_error *err)
{
    char name[96];
    int status = check_u64_range("advertise_keys.keys (count)", advertise->n_keys, 1,
                                 PROTO_MAX_SITES, err);
    for (size_t i = 0; status == FL_OK && i < advertise->n_keys; i++) {
        const Fedlora__SiteBlob *entry = advertise->keys[i];
        snprintf(name, sizeof(name), "advertise_keys.keys[%zu].site_id", i);
        status = check_id(name, entry->site_id, err);
        for (size_t k = 0; status == FL_OK && k < i; k++) {
            if (strcmp(entry->site_id, advertise->keys[k]->site_id) == 0)
                status = fl_error_set(err, FL_EINVAL, "proto: field %s repeats the site id of "
                                      "advertise_keys.keys[%zu]", name, k);
        }
        snprintf(name, sizeof(name), "advertise_keys.keys[%zu].body", i);
        if (status == FL_OK)
            status = check_blob(name, &entry->body, err);
    }
    return status;
}

static int check_share_keys(const Fedlora__ShareKeys *share, fl_error *err)
{
    char name[96];
    int status = check_u64_range("share_keys.shares (count)", share->n_shares, 1,
                                 PROTO_MAX_SITES, err);
    for (size_t i = 0; status == FL_OK && i < share->n_shares; i++) {
        const Fedlora__RoutedBlob *entry = share->shares[i];
        snprintf(name, sizeof(name), "share_keys.shares[%zu].from_site", i);
        status = check_id(name, entry->from_site, err);
        snprintf(name, sizeof(name), "share_keys.shares[%zu].to_site", i);
        if (status == FL_OK)
            status = check_id(name, entry->to_site, err);
        snprintf(name, sizeof(name), "share_keys.shares[%zu].body", i);
        if (status == FL_OK)
            status = check_blob(name, &entry->body, err);
    }
    return status;
}

static int check_unmask_request(const Fedlora__UnmaskRequest *request, fl_error *err)
{
    int status = check_site_list("unmask_request.surviving_sites", request->surviving_sites,
                                 request->n_surviving_sites, 1, err);
    if (status == FL_OK)
        status = check_site_list("unmask_request.dropped_sites", request->dropped_sites,
                                 request->n_dropped_sites, 0, err);

    for (size_t i = 0; status == FL_OK && i < request->n_dropped_sites; i++) {
        for (size_t k = 0; status == FL_OK && k < request->n_surviving_sites; k++) {
            if (strcmp(request->dropped_sites[i], request->surviving_sites[k]) == 0)
                status = fl_error_set(err, FL_EINVAL,
                                      "proto: field unmask_request.dropped_sites[%zu] also appears "
                                      "in surviving_sites[%zu]; revealing both kinds of share "
                                      "would unmask that site's input", i, k);
        }
    }
    return status;
}

static int check_metrics(const Fedlora__Metrics *metrics, fl_error *err)
{
    int status = check_real("metrics.validation_loss_before", metrics->validation_loss_before,
                            0.0, 0, INFINITY, 1, err);
    if (status == FL_OK)
        status = check_real("metrics.training_loss", metrics->training_loss, 0.0, 0, INFINITY,
                            1, err);
    if (status == FL_OK)
        status = check_u64_range("metrics.local_steps_done", metrics->local_steps_done, 0,
                                 PROTO_MAX_LOCAL_STEPS, err);
    return status;
}

static int check_refusal(const Fedlora__Refusal *refusal, fl_error *err)
{
    int status = check_enum("refusal.reason", &fedlora__refusal_reason__descriptor,
                            (int)refusal->reason, err);
    if (status == FL_OK)
        status = check_text("refusal.detail", refusal->detail, 0, PROTO_MAX_DETAIL, err);
    return status;
}

static int check_abort(const Fedlora__Abort *abort_body, fl_error *err)
{
    int status = check_enum("abort.reason", &fedlora__abort_reason__descriptor,
                            (int)abort_body->reason, err);
    if (status == FL_OK)
        status = check_text("abort.detail", abort_body->detail, 0, PROTO_MAX_DETAIL, err);
    return status;
}

static int check_error(const Fedlora__Error *error_body, fl_error *err)
{
    int status = check_enum("error.code", &fedlora__error_code__descriptor,
                            (int)error_body->code, err);
    if (status == FL_OK)
        status = check_text("error.detail", error_body->detail, 0, PROTO_MAX_DETAIL, err);
    return status;
}

static int check_body(const Fedlora__Envelope *e, fl_error *err)
{
    switch (e->body_case) {
    case FEDLORA__ENVELOPE__BODY_HELLO: return check_hello(e->hello, err);
    case FEDLORA__ENVELOPE__BODY_HEARTBEAT: return check_heartbeat(e->heartbeat, err);
    case FEDLORA__ENVELOPE__BODY_JOB: return check_job(e->job, err);
    case FEDLORA__ENVELOPE__BODY_ROUND_START: return check_round_start(e->round_start, err);
    case FEDLORA__ENVELOPE__BODY_MODEL_CHUNK:
        return check_chunk("model_chunk", e->model_chunk, err);
    case FEDLORA__ENVELOPE__BODY_TRANSFER_QUERY:
        return check_query(e->transfer_query, err);
    case FEDLORA__ENVELOPE__BODY_TRANSFER_STATUS:
        return check_transfer("transfer_status", e->transfer_status->object_id,
                              e->transfer_status->received, e->transfer_status->total_size, err);
    case FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS:
        return check_advertise_keys(e->advertise_keys, err);
    case FEDLORA__ENVELOPE__BODY_SHARE_KEYS: return check_share_keys(e->share_keys, err);
    case FEDLORA__ENVELOPE__BODY_MASKED_INPUT_CHUNK:
        return check_chunk("masked_input_chunk", e->masked_input_chunk, err);
    case FEDLORA__ENVELOPE__BODY_UNMASK_REQUEST:
        return check_unmask_request(e->unmask_request, err);
    case FEDLORA__ENVELOPE__BODY_UNMASK_SHARES:
        return check_blob("unmask_shares.body", &e->unmask_shares->body, err);
    case FEDLORA__ENVELOPE__BODY_METRICS: return check_metrics(e->metrics, err);
    case FEDLORA__ENVELOPE__BODY_REFUSAL: return check_refusal(e->refusal, err);
    case FEDLORA__ENVELOPE__BODY_ABORT: return check_abort(e->abort, err);
    case FEDLORA__ENVELOPE__BODY_ERROR: return check_error(e->error, err);
    case FEDLORA__ENVELOPE__BODY_JOB_ACCEPT: return FL_OK; /* every example count is valid */
    case FEDLORA__ENVELOPE__BODY__NOT_SET: break;
    default: break;
    }
    return fl_error_set(err, FL_EFORMAT,
                        "proto: envelope has no known body (field number %d); the peer may "
                        "speak a newer protocol", (int)e->body_case);
}

/* Bodies that may travel before the receiver has been told the job. */
static int body_allows_empty_job(Fedlora__Envelope__BodyCase body_case)
{
    return body_case == FEDLORA__ENVELOPE__BODY_HELLO ||
           body_case == FEDLORA__ENVELOPE__BODY_HEARTBEAT ||
           body_case == FEDLORA__ENVELOPE__BODY_REFUSAL ||
           body_case == FEDLORA__ENVELOPE__BODY_ERROR;
}

/*
 * Rejects fields this protocol version does not define, in message and every
 * message inside it. Peers that speak the same version never send them, and
 * protobuf-c would otherwise keep and re-send them unchecked.
 */
static int check_no_unknown_fields(const ProtobufCMessage *message, const char *path,
                                   fl_error *err)
{
    if (message->n_unknown_fields > 0)
        return fl_error_set(err, FL_EFORMAT,
                            "proto: %s contains %u fields with numbers this protocol version "
                            "does not define (the first is %u)", path,
                            message->n_unknown_fields, message->unknown_fields[0].tag);

    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
        if (field->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;

        const char *base = (const char *)message;
        size_t count = 1;
        const ProtobufCMessage *const *items;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(const size_t *)(base + field->quantifier_offset);
            items = *(const ProtobufCMessage *const *const *)(base + field->offset);
        } else {
            items = (const ProtobufCMessage *const *)(base + field->offset);
        }
        for (size_t k = 0; k < count; k++) {
            /* A oneof member that is not the chosen one shares storage with it. */
            if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                *(const uint32_t *)(base + field->quantifier_offset) != field->id)
                break;
            if (items[k] == NULL)
                continue;
            char name[128];
            snprintf(name, sizeof(name), "%s.%s", path, field->name);
            int status = check_no_unknown_fields(items[k], name, err);
            if (status != FL_OK)
                return status;
        }
    }
    return FL_OK;
}

int proto_validate_envelope(const Fedlora__Envelope *e, fl_error *err)
{
    if (e->protocol_version != PROTO_VERSION)
        return fl_error_set(err, FL_EUNSUPPORTED,
                            "proto: field protocol_version = %u, this program speaks %u; "
                            "upgrade the older side", e->protocol_version, PROTO_VERSION);

    int status = check_id("sender", e->sender, err);
    if (status != FL_OK)
        return status;

    if (e->job_id[0] != '\0' || !body_allows_empty_job(e->body_case)) {
        status = check_id("job_id", e->job_id, err);
        if (status != FL_OK)
            return status;
    }

    if (e->session == 0)
        return fl_error_set(err, FL_ERANGE, "proto: field session = 0; a session must be a "
                            "random non-zero number");
    if (e->sequence == 0)
        return fl_error_set(err, FL_ERANGE, "proto: field sequence = 0; sequences start at 1");

    status = check_no_unknown_fields(&e->base, "envelope", err);
    if (status != FL_OK)
        return status;
    return check_body(e, err);
}
