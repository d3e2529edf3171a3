/* Tests of admin request and response encoding, decoding and field validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_admin.h"

/* Packs request without validation, as a faulty client would. */
static void expect_request_rejected(const Fedlora__Admin__Request *request, int status,
                                    const char *field)
{
    size_t length = fedlora__admin__request__get_packed_size(request);
    uint8_t *bytes = malloc(length + 1);
    assert_non_null(bytes);
    assert_int_equal(fedlora__admin__request__pack(request, bytes), length);

    Fedlora__Admin__Request *decoded = (Fedlora__Admin__Request *)1;
    fl_error err = {0};
    int got = proto_admin_decode_request(bytes, length, &decoded, &err);
    free(bytes);
    if (got != status || strstr(err.msg, field) == NULL)
        print_error("expected %d naming %s, got %d: %s\n", status, field, got, err.msg);
    assert_int_equal(got, status);
    assert_non_null(strstr(err.msg, field));
    assert_null(decoded);

    uint8_t *out = NULL;
    size_t out_length = 0;
    assert_int_equal(proto_admin_encode_request(request, &out, &out_length, NULL), status);
    assert_null(out);
}

static void test_abort_round_trip(void **state)
{
    (void)state;
    Fedlora__Admin__AbortRequest abort_body = FEDLORA__ADMIN__ABORT_REQUEST__INIT;
    abort_body.job_id = "study-1";
    abort_body.reason = "wrong base model, résumé follows";
    Fedlora__Admin__Request request = FEDLORA__ADMIN__REQUEST__INIT;
    request.protocol_version = PROTO_ADMIN_VERSION;
    request.request_id = 7;
    request.body_case = FEDLORA__ADMIN__REQUEST__BODY_ABORT;
    request.abort = &abort_body;

    uint8_t *bytes = NULL;
    size_t length = 0;
    assert_int_equal(proto_admin_encode_request(&request, &bytes, &length, NULL), FL_OK);
    Fedlora__Admin__Request *decoded = NULL;
    assert_int_equal(proto_admin_decode_request(bytes, length, &decoded, NULL), FL_OK);
    free(bytes);
    assert_int_equal(decoded->request_id, 7);
    assert_string_equal(decoded->abort->job_id, "study-1");
    assert_string_equal(decoded->abort->reason, abort_body.reason);
    proto_admin_request_free(&decoded);
    assert_null(decoded);
}

static void test_invalid_request_fields(void **state)
{
    (void)state;
    Fedlora__Admin__ExportRequest export_body = FEDLORA__ADMIN__EXPORT_REQUEST__INIT;
    export_body.job_id = "study-1";
    export_body.file = PROTO_ADMIN_WEIGHTS_FILE;
    export_body.max_bytes = 4096;
    Fedlora__Admin__Request request = FEDLORA__ADMIN__REQUEST__INIT;
    request.protocol_version = PROTO_ADMIN_VERSION;
    request.request_id = 1;
    request.body_case = FEDLORA__ADMIN__REQUEST__BODY_EXPORT;
    request.export = &export_body;

    export_body.file = "../../etc/passwd";
    expect_request_rejected(&request, FL_EINVAL, "export.file");
    export_body.file = PROTO_ADMIN_WEIGHTS_FILE;

    export_body.max_bytes = PROTO_ADMIN_MAX_CHUNK + 1;
    expect_request_rejected(&request, FL_ERANGE, "export.max_bytes");
    export_body.max_bytes = 4096;

    export_body.job_id = "bad\x01id";
    expect_request_rejected(&request, FL_EFORMAT, "export.job_id");
    export_body.job_id = "bad\xc3\x28utf8";
    expect_request_rejected(&request, FL_EFORMAT, "export.job_id");
    export_body.job_id = "";
    expect_request_rejected(&request, FL_ERANGE, "export.job_id");
    export_body.job_id = "study-1";

    request.request_id = 0;
    expect_request_rejected(&request, FL_ERANGE, "request_id");
    request.request_id = 1;
    request.protocol_version = PROTO_ADMIN_VERSION + 1;
    expect_request_rejected(&request, FL_EUNSUPPORTED, "protocol_version");
    request.protocol_version = PROTO_ADMIN_VERSION;

    request.body_case = FEDLORA__ADMIN__REQUEST__BODY__NOT_SET;
    expect_request_rejected(&request, FL_EFORMAT, "body");
}

static void test_export_response_past_end(void **state)
{
    (void)state;
    uint8_t data[16] = {0};
    Fedlora__Admin__ExportResponse export_body = FEDLORA__ADMIN__EXPORT_RESPONSE__INIT;
    export_body.job_id = "study-1";
    export_body.round = 2;
    export_body.file = PROTO_ADMIN_CONFIG_FILE;
    export_body.offset = 10;
    export_body.total_size = 20;
    export_body.data.data = data;
    export_body.data.len = sizeof(data);
    Fedlora__Admin__Response response = FEDLORA__ADMIN__RESPONSE__INIT;
    response.protocol_version = PROTO_ADMIN_VERSION;
    response.request_id = 3;
    response.body_case = FEDLORA__ADMIN__RESPONSE__BODY_EXPORT;
    response.export = &export_body;

    fl_error err = {0};
    assert_int_equal(proto_admin_validate_response(&response, &err), FL_ERANGE);
    assert_non_null(strstr(err.msg, "export.data"));
    export_body.total_size = 26;
    assert_int_equal(proto_admin_validate_response(&response, NULL), FL_OK);
}

static void test_failed_response_needs_text(void **state)
{
    (void)state;
    Fedlora__Admin__Response response = FEDLORA__ADMIN__RESPONSE__INIT;
    response.protocol_version = PROTO_ADMIN_VERSION;
    response.request_id = 3;
    response.code = FL_ENOTFOUND;
    fl_error err = {0};
    assert_int_equal(proto_admin_validate_response(&response, &err), FL_ERANGE);
    assert_non_null(strstr(err.msg, "error"));
    response.error = "no job with id 'x'";
    assert_int_equal(proto_admin_validate_response(&response, NULL), FL_OK);
    response.code = 5;
    assert_int_equal(proto_admin_validate_response(&response, NULL), FL_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abort_round_trip),
        cmocka_unit_test(test_invalid_request_fields),
        cmocka_unit_test(test_export_response_past_end),
        cmocka_unit_test(test_failed_response_needs_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
