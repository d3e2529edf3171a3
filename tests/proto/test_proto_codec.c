/* Tests of envelope encoding, decoding and field validation. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_fixture.h"

/* Packs f's envelope without validation, as a faulty or hostile peer would. */
static uint8_t *pack_unchecked(const proto_fixture *f, size_t *length)
{
    *length = fedlora__envelope__get_packed_size(&f->envelope);
    uint8_t *buffer = malloc(*length + 1);
    assert_non_null(buffer);
    assert_int_equal(fedlora__envelope__pack(&f->envelope, buffer), *length);
    return buffer;
}

/* Decodes f's envelope and expects status, with field named in the message. */
static void expect_rejected(const proto_fixture *f, int status, const char *field)
{
    size_t length;
    uint8_t *bytes = pack_unchecked(f, &length);
    Fedlora__Envelope *decoded = (Fedlora__Envelope *)1;
    fl_error err = {0};
    int got = proto_decode_envelope(bytes, length, &decoded, &err);
    free(bytes);
    if (got != status || strstr(err.msg, field) == NULL)
        print_error("expected %d naming %s, got %d: %s\n", status, field, got, err.msg);
    assert_int_equal(got, status);
    assert_non_null(strstr(err.msg, field));
    assert_null(decoded);

    /* The encoder refuses the same message, so nothing invalid is ever sent. */
    uint8_t *out = NULL;
    size_t out_length = 0;
    assert_int_equal(proto_encode_envelope(&f->envelope, &out, &out_length, NULL), status);
    assert_null(out);
}

static void test_round_trip_every_body(void **state)
{
    (void)state;
    for (size_t i = 0; i < proto_fixture_case_count; i++) {
        proto_fixture f;
        proto_fixture_init(&f, proto_fixture_cases[i]);
        uint8_t *bytes = NULL;
        size_t length = 0;
        fl_error err = {0};
        int status = proto_encode_envelope(&f.envelope, &bytes, &length, &err);
        if (status != FL_OK)
            print_error("%s: %s\n", proto_body_name(proto_fixture_cases[i]), err.msg);
        assert_int_equal(status, FL_OK);

        Fedlora__Envelope *decoded = NULL;
        assert_int_equal(proto_decode_envelope(bytes, length, &decoded, &err), FL_OK);
        assert_int_equal(decoded->body_case, proto_fixture_cases[i]);
        assert_string_equal(decoded->job_id, "job-2026-12");
        assert_string_equal(decoded->sender, "hospital-a");
        assert_int_equal(decoded->session, 0x1234567890abcdefull);
        assert_int_equal(decoded->sequence, 7);

        /* Packing is deterministic, so equal bytes mean every field survived. */
        uint8_t *again = NULL;
        size_t again_length = 0;
        assert_int_equal(proto_encode_envelope(decoded, &again, &again_length, &err), FL_OK);
        assert_int_equal(again_length, length);
        assert_memory_equal(again, bytes, length);

        free(again);
        free(bytes);
        proto_envelope_free(&decoded);
        assert_null(decoded);
    }
}

static void test_decoded_fields_match(void **state)
{
    (void)state;
    proto_fixture f;
    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_JOB);
    uint8_t *bytes = NULL;
    size_t length = 0;
    assert_int_equal(proto_encode_envelope(&f.envelope, &bytes, &length, NULL), FL_OK);
    Fedlora__Envelope *decoded = NULL;
    assert_int_equal(proto_decode_envelope(bytes, length, &decoded, NULL), FL_OK);

    const Fedlora__JobDescription *job = decoded->job;
    assert_string_equal(job->base_model_name, "Qwen/Qwen2.5-0.5B");
    assert_memory_equal(job->base_model_hash.data, f.hash, 32);
    assert_int_equal(job->lora->rank, 8);
    assert_string_equal(job->lora->target_modules[1], "v_proj");
    assert_int_equal(job->server_optimizer->kind,
                     FEDLORA__SERVER_OPTIMIZER_KIND__SERVER_OPTIMIZER_FEDADAM);
    assert_true(job->server_optimizer->beta2 == 0.99);
    assert_int_equal(job->secagg->threshold, 2);
    free(bytes);
    proto_envelope_free(&decoded);
}

static void test_large_offsets_survive(void **state)
{
    (void)state;
    proto_fixture f;
    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_MASKED_INPUT_CHUNK);
    f.chunk.total_size = (uint64_t)5 << 32;
    f.chunk.offset = f.chunk.total_size - f.chunk.data.len;
    f.chunk.object_hash.data = f.hash;
    f.chunk.object_hash.len = 32;
    uint8_t *bytes = NULL;
    size_t length = 0;
    assert_int_equal(proto_encode_envelope(&f.envelope, &bytes, &length, NULL), FL_OK);
    Fedlora__Envelope *decoded = NULL;
    assert_int_equal(proto_decode_envelope(bytes, length, &decoded, NULL), FL_OK);
    assert_int_equal(decoded->masked_input_chunk->total_size, (uint64_t)5 << 32);
    assert_int_equal(decoded->masked_input_chunk->offset, ((uint64_t)5 << 32) - 100);
    free(bytes);
    proto_envelope_free(&decoded);
}

static void test_garbage_rejected(void **state)
{
    (void)state;
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12};
    Fedlora__Envelope *decoded = NULL;
    fl_error err = {0};
    assert_int_equal(proto_decode_envelope(garbage, sizeof(garbage), &decoded, &err),
                     FL_EFORMAT);
    assert_null(decoded);
    assert_non_null(strstr(err.msg, "not a valid protobuf"));

    assert_int_equal(proto_decode_envelope(garbage, (size_t)PROTO_MAX_FRAME + 1, &decoded, &err),
                     FL_ERANGE);
    assert_non_null(strstr(err.msg, "exceeds the limit"));
}

static void test_non_canonical_rejected(void **state)
{
    (void)state;
    proto_fixture f;
    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HEARTBEAT);
    size_t length;
    uint8_t *bytes = pack_unchecked(&f, &length);

    /* The sender "hospital-a" becomes "hosp\0tal-a", which protobuf-c would cut to "hosp". */
    uint8_t *name = memmem(bytes, length, "hospital-a", 10);
    assert_non_null(name);
    name[4] = '\0';
    Fedlora__Envelope *decoded = NULL;
    fl_error err = {0};
    assert_int_equal(proto_decode_envelope(bytes, length, &decoded, &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "a string contains a NUL byte"));
    assert_null(decoded);

    /* The sequence field (6, varint 7) appended again would silently replace the first. */
    name[4] = 'i';
    uint8_t *longer = malloc(length + 2);
    assert_non_null(longer);
    memcpy(longer, bytes, length);
    longer[length] = 6 << 3;
    longer[length + 1] = 9;
    assert_int_equal(proto_decode_envelope(longer, length + 2, &decoded, &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "re-encodes to"));
    assert_int_equal(proto_decode_envelope(bytes, length, &decoded, &err), FL_OK);
    proto_envelope_free(&decoded);
    free(longer);
    free(bytes);
}

static void test_envelope_fields_rejected(void **state)
{
    (void)state;
    proto_fixture f;
    char long_id[PROTO_MAX_ID + 2];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HELLO);
    f.envelope.protocol_version = PROTO_VERSION + 1;
    expect_rejected(&f, FL_EUNSUPPORTED, "protocol_version = 3");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HELLO);
    f.envelope.sender = "";
    expect_rejected(&f, FL_ERANGE, "sender");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HELLO);
    f.envelope.sender = "hospital-\xff";
    expect_rejected(&f, FL_EFORMAT, "sender is not valid UTF-8");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HELLO);
    f.envelope.sender = "\xed\xa0\x80";
    expect_rejected(&f, FL_EFORMAT, "sender is not valid UTF-8");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HELLO);
    f.envelope.sender = "hospital\n";
    expect_rejected(&f, FL_EFORMAT, "control character 0x0a");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_METRICS);
    f.envelope.job_id = long_id;
    expect_rejected(&f, FL_ERANGE, "job_id has 129 bytes");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_METRICS);
    f.envelope.job_id = "";
    expect_rejected(&f, FL_ERANGE, "job_id has 0 bytes");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HEARTBEAT);
    f.envelope.session = 0;
    expect_rejected(&f, FL_ERANGE, "session = 0");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HEARTBEAT);
    f.envelope.sequence = 0;
    expect_rejected(&f, FL_ERANGE, "sequence = 0");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY__NOT_SET);
    expect_rejected(&f, FL_EFORMAT, "no known body");
}

static void test_empty_job_allowed_for_hello(void **state)
{
    (void)state;
    proto_fixture f;
    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HELLO);
    f.envelope.job_id = "";
    assert_int_equal(proto_validate_envelope(&f.envelope, NULL), FL_OK);
}

static void test_hello_fields_rejected(void **state)
{
    (void)state;
    proto_fixture f;
    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HELLO);
    f.hello.role = FEDLORA__ROLE__ROLE_UNSPECIFIED;
    expect_rejected(&f, FL_ERANGE, "hello.role = 0");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HELLO);
    f.hello.role = (Fedlora__Role)77;
    expect_rejected(&f, FL_ERANGE, "hello.role = 77");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HELLO);
    f.hello.min_version = PROTO_VERSION + 1;
    f.hello.max_version = PROTO_VERSION + 2;
    expect_rejected(&f, FL_EUNSUPPORTED, "versions 3 to 4");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HEARTBEAT);
    f.heartbeat.state = (Fedlora__AgentState)40;
    expect_rejected(&f, FL_ERANGE, "heartbeat.state = 40");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HEARTBEAT);
    f.progress.control_received = PROTO_CONTROL_STEPS + 1;
    f.progress.control_replied = 1;
    expect_rejected(&f, FL_ERANGE, "heartbeat.progress.control_received = 5");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HEARTBEAT);
    f.progress.control_received = 2;
    f.progress.control_replied = 3;
    expect_rejected(&f, FL_ERANGE, "heartbeat.progress.control_replied = 3");
}

/* The body hash covers the body only, because every resend fills in a new header. */
static void test_body_hash_ignores_header(void **state)
{
    (void)state;
    proto_fixture f;
    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_ROUND_START);
    uint8_t first[PROTO_HASH_BYTES], resent[PROTO_HASH_BYTES], changed[PROTO_HASH_BYTES];
    proto_body_hash(&f.envelope, first);

    f.envelope.sequence += 7;
    f.envelope.session ^= 0x5a5a;
    f.envelope.sender = "another-sender";
    proto_body_hash(&f.envelope, resent);
    assert_memory_equal(first, resent, PROTO_HASH_BYTES);

    f.round_start.deadline_unix_ms += 1;
    proto_body_hash(&f.envelope, changed);
    assert_memory_not_equal(first, changed, PROTO_HASH_BYTES);
}

static void test_control_steps(void **state)
{
    (void)state;
    assert_int_equal(proto_control_step(FEDLORA__ENVELOPE__BODY_ROUND_START), 1);
    assert_int_equal(proto_control_step(FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS), 2);
    assert_int_equal(proto_control_step(FEDLORA__ENVELOPE__BODY_SHARE_KEYS), 3);
    assert_int_equal(proto_control_step(FEDLORA__ENVELOPE__BODY_UNMASK_REQUEST), 4);
    assert_int_equal(proto_control_step(FEDLORA__ENVELOPE__BODY_HEARTBEAT), 0);
    assert_int_equal(proto_control_step(FEDLORA__ENVELOPE__BODY_MODEL_CHUNK), 0);
}

static void test_job_fields_rejected(void **state)
{
    (void)state;
    proto_fixture f;
    const Fedlora__Envelope__BodyCase job = FEDLORA__ENVELOPE__BODY_JOB;

    proto_fixture_init(&f, job);
    f.job.base_model_hash.len = 31;
    expect_rejected(&f, FL_ERANGE, "job.base_model_hash has 31 bytes");

    proto_fixture_init(&f, job);
    f.job.base_model_name = "";
    expect_rejected(&f, FL_ERANGE, "job.base_model_name");

    proto_fixture_init(&f, job);
    f.job.lora = NULL;
    expect_rejected(&f, FL_EFORMAT, "required field job.lora is missing");

    proto_fixture_init(&f, job);
    f.lora.rank = 0;
    expect_rejected(&f, FL_ERANGE, "job.lora.rank = 0");

    proto_fixture_init(&f, job);
    f.lora.alpha = NAN;
    expect_rejected(&f, FL_ERANGE, "job.lora.alpha = nan");

    proto_fixture_init(&f, job);
    f.lora.dropout = 1.0f;
    expect_rejected(&f, FL_ERANGE, "job.lora.dropout = 1");

    proto_fixture_init(&f, job);
    f.lora.mode = (Fedlora__LoraMode)9;
    expect_rejected(&f, FL_ERANGE, "job.lora.mode = 9");

    proto_fixture_init(&f, job);
    f.lora.n_target_modules = 0;
    expect_rejected(&f, FL_ERANGE, "job.lora.target_modules (count) = 0");

    proto_fixture_init(&f, job);
    f.modules[1] = "";
    expect_rejected(&f, FL_ERANGE, "job.lora.target_modules[1]");

    proto_fixture_init(&f, job);
    f.job.rounds = 0;
    expect_rejected(&f, FL_ERANGE, "job.rounds = 0");

    proto_fixture_init(&f, job);
    f.job.local_steps = PROTO_MAX_LOCAL_STEPS + 1;
    expect_rejected(&f, FL_ERANGE, "job.local_steps = 10000001");

    proto_fixture_init(&f, job);
    f.job.learning_rate = 2.0;
    expect_rejected(&f, FL_ERANGE, "job.learning_rate = 2");

    proto_fixture_init(&f, job);
    f.job.round_deadline_s = 0;
    expect_rejected(&f, FL_ERANGE, "job.round_deadline_s = 0");
}

static void test_optimizer_and_secagg_rejected(void **state)
{
    (void)state;
    proto_fixture f;
    const Fedlora__Envelope__BodyCase job = FEDLORA__ENVELOPE__BODY_JOB;

    proto_fixture_init(&f, job);
    f.job.server_optimizer = NULL;
    expect_rejected(&f, FL_EFORMAT, "required field job.server_optimizer is missing");

    proto_fixture_init(&f, job);
    f.job.secagg = NULL;
    expect_rejected(&f, FL_EFORMAT, "required field job.secagg is missing");

    proto_fixture_init(&f, job);
    f.optimizer.kind = (Fedlora__ServerOptimizerKind)5;
    expect_rejected(&f, FL_ERANGE, "job.server_optimizer.kind = 5");

    proto_fixture_init(&f, job);
    f.optimizer.tau = 0.0;
    expect_rejected(&f, FL_ERANGE, "job.server_optimizer.tau = 0");

    proto_fixture_init(&f, job);
    f.optimizer.kind = FEDLORA__SERVER_OPTIMIZER_KIND__SERVER_OPTIMIZER_FEDAVG;
    f.optimizer.tau = 0.0;
    assert_int_equal(proto_validate_envelope(&f.envelope, NULL), FL_OK);

    proto_fixture_init(&f, job);
    f.optimizer.beta1 = 1.0;
    expect_rejected(&f, FL_ERANGE, "job.server_optimizer.beta1 = 1");

    proto_fixture_init(&f, job);
    f.job.min_sites_per_round = 2;
    expect_rejected(&f, FL_ERANGE, "job.min_sites_per_round = 2 is below 3");

    proto_fixture_init(&f, job);
    f.secagg.enabled = 0;
    f.job.min_sites_per_round = 2;
    assert_int_equal(proto_validate_envelope(&f.envelope, NULL), FL_OK);

    proto_fixture_init(&f, job);
    f.secagg.threshold = 1;
    expect_rejected(&f, FL_ERANGE, "job.secagg.threshold = 1");

    proto_fixture_init(&f, job);
    f.secagg.threshold = 4;
    expect_rejected(&f, FL_ERANGE, "job.secagg.threshold = 4");

    proto_fixture_init(&f, job);
    f.secagg.modulus_bits = 65;
    expect_rejected(&f, FL_ERANGE, "job.secagg.modulus_bits = 65");

    proto_fixture_init(&f, job);
    f.secagg.quant_bits = 32;
    expect_rejected(&f, FL_ERANGE, "job.secagg.quant_bits = 32");

    proto_fixture_init(&f, job);
    f.secagg.clip_bound = -1.0;
    expect_rejected(&f, FL_ERANGE, "job.secagg.clip_bound = -1");

    proto_fixture_init(&f, job);
    f.secagg.max_weight = 0;
    expect_rejected(&f, FL_ERANGE, "job.secagg.max_weight = 0");
}

static void test_round_start_rejected(void **state)
{
    (void)state;
    proto_fixture f;
    const Fedlora__Envelope__BodyCase round = FEDLORA__ENVELOPE__BODY_ROUND_START;

    proto_fixture_init(&f, round);
    f.sites[2] = "hospital-a";
    expect_rejected(&f, FL_EINVAL, "round_start.selected_sites[2] = \"hospital-a\" repeats");

    proto_fixture_init(&f, round);
    f.round_start.n_selected_sites = 0;
    expect_rejected(&f, FL_ERANGE, "round_start.selected_sites = 0");

    proto_fixture_init(&f, round);
    f.round_start.adapter_signature.len = 63;
    expect_rejected(&f, FL_ERANGE, "round_start.adapter_signature has 63 bytes");

    proto_fixture_init(&f, round);
    f.round_start.global_adapter = NULL;
    expect_rejected(&f, FL_EFORMAT, "round_start.global_adapter is missing");

    proto_fixture_init(&f, round);
    f.adapter.hash.len = 0;
    expect_rejected(&f, FL_ERANGE, "round_start.global_adapter.hash has 0 bytes");

    proto_fixture_init(&f, round);
    f.round_start.secagg_threshold = 1;
    expect_rejected(&f, FL_ERANGE, "round_start.secagg_threshold = 1");

    proto_fixture_init(&f, round);
    f.round_start.deadline_unix_ms = 0;
    expect_rejected(&f, FL_ERANGE, "round_start.deadline_unix_ms = 0");
}

static void test_chunk_fields_rejected(void **state)
{
    (void)state;
    proto_fixture f;
    const Fedlora__Envelope__BodyCase chunk = FEDLORA__ENVELOPE__BODY_MODEL_CHUNK;

    proto_fixture_init(&f, chunk);
    f.chunk.offset = f.chunk.total_size - 50;
    expect_rejected(&f, FL_ERANGE, "model_chunk.offset = 5999999950 plus 100 data bytes");

    proto_fixture_init(&f, chunk);
    f.chunk.offset = UINT64_MAX - 10;
    f.chunk.total_size = UINT64_MAX;
    expect_rejected(&f, FL_ERANGE, "model_chunk.offset");

    proto_fixture_init(&f, chunk);
    f.chunk.offset = f.chunk.total_size - f.chunk.data.len;
    expect_rejected(&f, FL_ERANGE, "model_chunk.object_hash has 0 bytes, expected 32 in the "
                                   "chunk that ends the object");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_MASKED_INPUT_CHUNK);
    f.chunk.object_hash.data = f.hash;
    f.chunk.object_hash.len = 31;
    expect_rejected(&f, FL_ERANGE, "masked_input_chunk.object_hash has 31 bytes");

    proto_fixture_init(&f, chunk);
    f.chunk.data.len = 0;
    expect_rejected(&f, FL_ERANGE, "model_chunk.data has 0 bytes");

    proto_fixture_init(&f, chunk);
    f.chunk.object_id = "";
    expect_rejected(&f, FL_ERANGE, "model_chunk.object_id");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_TRANSFER_STATUS);
    f.status.received = f.status.total_size + 1;
    expect_rejected(&f, FL_ERANGE, "transfer_status.received = 6000000001 exceeds");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_TRANSFER_QUERY);
    f.query.window_chunks = 0;
    expect_rejected(&f, FL_ERANGE, "transfer_query.window_chunks = 0");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_TRANSFER_QUERY);
    f.query.object_id = "a\x01";
    expect_rejected(&f, FL_EFORMAT, "transfer_query.object_id");
}

static void test_secagg_messages_rejected(void **state)
{
    (void)state;
    proto_fixture f;

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS);
    f.site_keys[1].site_id = f.sites[0];
    expect_rejected(&f, FL_EINVAL, "advertise_keys.keys[1].site_id repeats");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_ADVERTISE_KEYS);
    f.site_keys[0].body.len = 0;
    expect_rejected(&f, FL_ERANGE, "advertise_keys.keys[0].body has 0 bytes");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_SHARE_KEYS);
    f.shares[1].to_site = "";
    expect_rejected(&f, FL_ERANGE, "share_keys.shares[1].to_site");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_SHARE_KEYS);
    f.share.n_shares = 0;
    expect_rejected(&f, FL_ERANGE, "share_keys.shares (count) = 0");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_UNMASK_REQUEST);
    f.dropped[0] = f.sites[1];
    expect_rejected(&f, FL_EINVAL, "unmask_request.dropped_sites[0] also appears");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_UNMASK_SHARES);
    f.unmask_shares.body.len = 0;
    expect_rejected(&f, FL_ERANGE, "unmask_shares.body has 0 bytes");
}

static void test_reports_rejected(void **state)
{
    (void)state;
    proto_fixture f;

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_METRICS);
    f.metrics.training_loss = -1.0;
    expect_rejected(&f, FL_ERANGE, "metrics.training_loss = -1");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_METRICS);
    f.metrics.validation_loss_before = INFINITY;
    expect_rejected(&f, FL_ERANGE, "metrics.validation_loss_before = inf");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_REFUSAL);
    f.refusal.reason = FEDLORA__REFUSAL_REASON__REFUSAL_REASON_UNSPECIFIED;
    expect_rejected(&f, FL_ERANGE, "refusal.reason = 0");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_REFUSAL);
    f.refusal.reason = (Fedlora__RefusalReason)42;
    expect_rejected(&f, FL_ERANGE, "refusal.reason = 42 is not a valid RefusalReason");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_REFUSAL);
    f.refusal.detail = "\xc0\xaf";
    expect_rejected(&f, FL_EFORMAT, "refusal.detail is not valid UTF-8");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_ABORT);
    f.abort_body.reason = (Fedlora__AbortReason)99;
    expect_rejected(&f, FL_ERANGE, "abort.reason = 99");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_ERROR);
    f.error_body.code = (Fedlora__ErrorCode)99;
    expect_rejected(&f, FL_ERANGE, "error.code = 99");
}

static void test_unknown_fields_rejected(void **state)
{
    (void)state;
    uint8_t value = 1;
    ProtobufCMessageUnknownField unknown = {
        .tag = 99, .wire_type = PROTOBUF_C_WIRE_TYPE_VARINT, .len = 1, .data = &value};

    proto_fixture f;
    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_HEARTBEAT);
    f.envelope.base.n_unknown_fields = 1;
    f.envelope.base.unknown_fields = &unknown;
    expect_rejected(&f, FL_EFORMAT, "envelope contains 1 fields with numbers this protocol "
                                    "version does not define (the first is 99)");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_JOB);
    f.secagg.base.n_unknown_fields = 1;
    f.secagg.base.unknown_fields = &unknown;
    expect_rejected(&f, FL_EFORMAT, "envelope.job.secagg contains 1 fields");

    proto_fixture_init(&f, FEDLORA__ENVELOPE__BODY_SHARE_KEYS);
    f.shares[1].base.n_unknown_fields = 1;
    f.shares[1].base.unknown_fields = &unknown;
    expect_rejected(&f, FL_EFORMAT, "envelope.share_keys.shares contains 1 fields");
}

static void test_utf8_validator(void **state)
{
    (void)state;
    assert_true(proto_utf8_valid("h\xc3\xb4pital", 7));
    assert_true(proto_utf8_valid("\xf0\x9f\x8f\xa5", 4));
    assert_false(proto_utf8_valid("\xc3", 1));
    assert_false(proto_utf8_valid("\xe0\x80\xaf", 3));
    assert_false(proto_utf8_valid("\xf4\x90\x80\x80", 4));
    assert_false(proto_utf8_valid("\x80", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_body),
        cmocka_unit_test(test_decoded_fields_match),
        cmocka_unit_test(test_large_offsets_survive),
        cmocka_unit_test(test_garbage_rejected),
        cmocka_unit_test(test_non_canonical_rejected),
        cmocka_unit_test(test_envelope_fields_rejected),
        cmocka_unit_test(test_empty_job_allowed_for_hello),
        cmocka_unit_test(test_hello_fields_rejected),
        cmocka_unit_test(test_job_fields_rejected),
        cmocka_unit_test(test_optimizer_and_secagg_rejected),
        cmocka_unit_test(test_round_start_rejected),
        cmocka_unit_test(test_chunk_fields_rejected),
        cmocka_unit_test(test_secagg_messages_rejected),
        cmocka_unit_test(test_reports_rejected),
        cmocka_unit_test(test_unknown_fields_rejected),
        cmocka_unit_test(test_utf8_validator),
        cmocka_unit_test(test_body_hash_ignores_header),
        cmocka_unit_test(test_control_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
