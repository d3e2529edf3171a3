/* Encoding, decoding and field checks of the admin messages of admin.proto. */
#include "proto_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_mem.h"
#include "proto_codec.h"

/* Maximum length of a job status name; the longest, "completed", has 9. */
#define STATUS_NAME_MAX 16u

static int check_text(const char *field, const char *text, size_t min_bytes, size_t max_bytes,
                      fl_error *err)
{
    size_t length = strlen(text);
    if (length < min_bytes || length > max_bytes)
        return fl_error_set(err, FL_ERANGE, "admin: field %s has %zu bytes, allowed %zu to %zu",
                            field, length, min_bytes, max_bytes);
    if (!proto_utf8_valid(text, length))
        return fl_error_set(err, FL_EFORMAT, "admin: field %s is not valid UTF-8", field);
    return FL_OK;
}

/* Checks an id: 1 to PROTO_MAX_ID bytes of UTF-8 without control characters. */
static int check_id(const char *field, const char *id, fl_error *err)
{
    int status = check_text(field, id, 1, PROTO_MAX_ID, err);
    for (const unsigned char *p = (const unsigned char *)id; status == FL_OK && *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7F)
            status = fl_error_set(err, FL_EFORMAT,
                                  "admin: field %s contains control character 0x%02x", field, *p);
    }
    return status;
}

static int check_range(const char *field, uint64_t value, uint64_t min, uint64_t max,
                       fl_error *err)
{
    if (value < min || value > max)
        return fl_error_set(err, FL_ERANGE, "admin: field %s = %llu is out of range [%llu, %llu]",
                            field, (unsigned long long)value, (unsigned long long)min,
                            (unsigned long long)max);
    return FL_OK;
}

static int check_present(const char *field, const void *message, fl_error *err)
{
    if (message == NULL)
        return fl_error_set(err, FL_EFORMAT, "admin: required field %s is missing", field);
    return FL_OK;
}

static int check_header(uint32_t version, uint64_t request_id, fl_error *err)
{
    if (version != PROTO_ADMIN_VERSION)
        return fl_error_set(err, FL_EUNSUPPORTED,
                            "admin: field protocol_version = %u, this program speaks %u; use the "
                            "same fedlora version on both sides",
                            version, PROTO_ADMIN_VERSION);
    return check_range("request_id", request_id, 1, UINT64_MAX, err);
}

static int check_export_file(const char *field, const char *file, fl_error *err)
{
    int status = check_text(field, file, 1, PROTO_MAX_ID, err);
    if (status == FL_OK && !proto_admin_export_file_valid(file))
        status = fl_error_set(err, FL_EINVAL, "admin: field %s = \"%.40s\" is not %s or %s",
                              field, file, PROTO_ADMIN_CONFIG_FILE, PROTO_ADMIN_WEIGHTS_FILE);
    return status;
}

bool proto_admin_export_file_valid(const char *name)
{
    return strcmp(name, PROTO_ADMIN_CONFIG_FILE) == 0 ||
           strcmp(name, PROTO_ADMIN_WEIGHTS_FILE) == 0;
}

static int check_export_request(const Fedlora__Admin__ExportRequest *e, fl_error *err)
{
    int status = check_id("export.job_id", e->job_id, err);
    if (status == FL_OK)
        status = check_range("export.round", e->round, 0, PROTO_MAX_ROUNDS, err);
    if (status == FL_OK)
        status = check_export_file("export.file", e->file, err);
    if (status == FL_OK)
        status = check_range("export.max_bytes", e->max_bytes, 1, PROTO_ADMIN_MAX_CHUNK, err);
    return status;
}

int proto_admin_validate_request(const Fedlora__Admin__Request *r, fl_error *err)
{
    int status = check_header(r->protocol_version, r->request_id, err);
    if (status != FL_OK)
        return status;

    switch (r->body_case) {
    case FEDLORA__ADMIN__REQUEST__BODY_SUBMIT:
        status = check_present("submit", r->submit, err);
        if (status == FL_OK)
            status = check_text("submit.job_json", r->submit->job_json, 1,
                                PROTO_ADMIN_MAX_JOB_JSON, err);
        return status;
    case FEDLORA__ADMIN__REQUEST__BODY_LIST: return check_present("list", r->list, err);
    case FEDLORA__ADMIN__REQUEST__BODY_STATUS: return check_present("status", r->status, err);
    case FEDLORA__ADMIN__REQUEST__BODY_ROUND_START:
        return check_present("round_start", r->round_start, err);
    case FEDLORA__ADMIN__REQUEST__BODY_ABORT:
        status = check_present("abort", r->abort, err);
        if (status == FL_OK)
            status = check_id("abort.job_id", r->abort->job_id, err);
        if (status == FL_OK)
            status = check_text("abort.reason", r->abort->reason, 0, PROTO_MAX_DETAIL, err);
        return status;
    case FEDLORA__ADMIN__REQUEST__BODY_EXPORT:
        status = check_present("export", r->export, err);
        return status == FL_OK ? check_export_request(r->export, err) : status;
    case FEDLORA__ADMIN__REQUEST__BODY_LOGS:
        status = check_present("logs", r->logs, err);
        return status == FL_OK ? check_id("logs.job_id", r->logs->job_id, err) : status;
    case FEDLORA__ADMIN__REQUEST__BODY__NOT_SET:
    default:
        return fl_error_set(err, FL_EFORMAT, "admin: request body %d is missing or unknown",
                            (int)r->body_case);
    }
}

static int check_list(const Fedlora__Admin__ListResponse *list, fl_error *err)
{
    int status = check_range("list.jobs", list->n_jobs, 0, PROTO_ADMIN_MAX_JOBS, err);
    for (size_t i = 0; status == FL_OK && i < list->n_jobs; i++) {
        const Fedlora__Admin__JobSummary *job = list->jobs[i];
        char field[64];
        snprintf(field, sizeof(field), "list.jobs[%zu]", i);
        status = check_present(field, job, err);
        if (status != FL_OK)
            break;
        snprintf(field, sizeof(field), "list.jobs[%zu].id", i);
        status = check_id(field, job->id, err);
        snprintf(field, sizeof(field), "list.jobs[%zu].researcher", i);
        if (status == FL_OK)
            status = check_text(field, job->researcher, 0, PROTO_MAX_ID, err);
        snprintf(field, sizeof(field), "list.jobs[%zu].status", i);
        if (status == FL_OK)
            status = check_text(field, job->status, 1, STATUS_NAME_MAX, err);
        snprintf(field, sizeof(field), "list.jobs[%zu].reason", i);
        if (status == FL_OK)
            status = check_text(field, job->reason, 0, PROTO_ADMIN_MAX_ERROR, err);
    }
    return status;
}

static int check_export_response(const Fedlora__Admin__ExportResponse *e, fl_error *err)
{
    int status = check_id("export.job_id", e->job_id, err);
    if (status == FL_OK)
        status = check_range("export.round", e->round, 1, PROTO_MAX_ROUNDS, err);
    if (status == FL_OK)
        status = check_export_file("export.file", e->file, err);
    if (status == FL_OK)
        status = check_range("export.data", e->data.len, 0, PROTO_ADMIN_MAX_CHUNK, err);
    if (status == FL_OK && (e->offset > e->total_size || e->data.len > e->total_size - e->offset))
        status = fl_error_set(err, FL_ERANGE,
                              "admin: field export.data: %zu bytes at offset %llu pass the end "
                              "of the %llu-byte file",
                              e->data.len, (unsigned long long)e->offset,
                              (unsigned long long)e->total_size);
    return status;
}

static int check_response_body(const Fedlora__Admin__Response *r, fl_error *err)
{
    int status = FL_OK;
    switch (r->body_case) {
    case FEDLORA__ADMIN__RESPONSE__BODY_SUBMIT:
        status = check_present("submit", r->submit, err);
        return status == FL_OK ? check_id("submit.job_id", r->submit->job_id, err) : status;
    case FEDLORA__ADMIN__RESPONSE__BODY_LIST:
        status = check_present("list", r->list, err);
        return status == FL_OK ? check_list(r->list, err) : status;
    case FEDLORA__ADMIN__RESPONSE__BODY_STATUS:
        status = check_present("status", r->status, err);
        return status == FL_OK ? check_text("status.status_json", r->status->status_json, 2,
                                            PROTO_ADMIN_MAX_JSON, err)
                               : status;
    case FEDLORA__ADMIN__RESPONSE__BODY_ROUND_START:
        status = check_present("round_start", r->round_start, err);
        if (status == FL_OK)
            status = check_id("round_start.job_id", r->round_start->job_id, err);
        if (status == FL_OK)
            status = check_range("round_start.round", r->round_start->round, 1,
                                 PROTO_MAX_ROUNDS, err);
        if (status == FL_OK)
            status = check_range("round_start.site_count", r->round_start->site_count, 1,
                                 PROTO_MAX_SITES, err);
        return status;
    case FEDLORA__ADMIN__RESPONSE__BODY_ABORT:
        status = check_present("abort", r->abort, err);
        if (status == FL_OK)
            status = check_id("abort.job_id", r->abort->job_id, err);
        if (status == FL_OK)
            status = check_text("abort.previous_status", r->abort->previous_status, 1,
                                STATUS_NAME_MAX, err);
        return status;
    case FEDLORA__ADMIN__RESPONSE__BODY_EXPORT:
        status = check_present("export", r->export, err);
        return status == FL_OK ? check_export_response(r->export, err) : status;
    case FEDLORA__ADMIN__RESPONSE__BODY_LOGS:
        status = check_present("logs", r->logs, err);
        return status == FL_OK ? check_text("logs.history_json", r->logs->history_json, 2,
                                            PROTO_ADMIN_MAX_JSON, err)
                               : status;
    case FEDLORA__ADMIN__RESPONSE__BODY__NOT_SET:
    default:
        return fl_error_set(err, FL_EFORMAT, "admin: response body %d is missing or unknown",
                            (int)r->body_case);
    }
}

int proto_admin_validate_response(const Fedlora__Admin__Response *r, fl_error *err)
{
    int status = check_header(r->protocol_version, r->request_id, err);
    if (status != FL_OK)
        return status;
    if (r->code > 0 || r->code < FL_STATUS_MIN)
        return fl_error_set(err, FL_ERANGE, "admin: field code = %d is not an fl_status code",
                            (int)r->code);
    status = check_text("error", r->error, r->code == FL_OK ? 0 : 1,
                        r->code == FL_OK ? 0 : PROTO_ADMIN_MAX_ERROR, err);
    if (status != FL_OK)
        return status;
    if (r->code != FL_OK) {
        if (r->body_case != FEDLORA__ADMIN__RESPONSE__BODY__NOT_SET)
            return fl_error_set(err, FL_EFORMAT, "admin: a failed response carries body %d",
                                (int)r->body_case);
        return FL_OK;
    }
    return check_response_body(r, err);
}

/* Packs message after validation succeeded. */
static int pack(const ProtobufCMessage *message, uint8_t **out, size_t *length, fl_error *err)
{
    size_t size = protobuf_c_message_get_packed_size(message);
    if (size > PROTO_ADMIN_MAX_FRAME)
        return fl_error_set(err, FL_ERANGE, "admin: message of %zu bytes exceeds the limit of %u",
                            size, PROTO_ADMIN_MAX_FRAME);
    uint8_t *buffer = fl_xmalloc(size > 0 ? size : 1);
    size_t packed = protobuf_c_message_pack(message, buffer);
    if (packed != size) {
        free(buffer);
        return fl_error_set(err, FL_EFORMAT, "admin: packed %zu bytes, expected %zu", packed,
                            size);
    }
    *out = buffer;
    *length = size;
    return FL_OK;
}

int proto_admin_encode_request(const Fedlora__Admin__Request *request, uint8_t **out,
                               size_t *length, fl_error *err)
{
    *out = NULL;
    *length = 0;
    int status = proto_admin_validate_request(request, err);
    if (status != FL_OK) {
        if (err != NULL)
            fl_error_prefix(err, "cannot send an invalid %s request: ",
                            proto_admin_request_name(request->body_case));
        return status;
    }
    return pack(&request->base, out, length, err);
}

int proto_admin_encode_response(const Fedlora__Admin__Response *response, uint8_t **out,
                                size_t *length, fl_error *err)
{
    *out = NULL;
    *length = 0;
    int status = proto_admin_validate_response(response, err);
    if (status != FL_OK) {
        if (err != NULL)
            fl_error_prefix(err, "cannot send an invalid response: ");
        return status;
    }
    return pack(&response->base, out, length, err);
}

static int check_frame(size_t length, fl_error *err)
{
    if (length > PROTO_ADMIN_MAX_FRAME)
        return fl_error_set(err, FL_ERANGE, "admin: message of %zu bytes exceeds the limit of %u",
                            length, PROTO_ADMIN_MAX_FRAME);
    return FL_OK;
}

int proto_admin_decode_request(const uint8_t *data, size_t length,
                               Fedlora__Admin__Request **out, fl_error *err)
{
    *out = NULL;
    int status = check_frame(length, err);
    if (status != FL_OK)
        return status;
    Fedlora__Admin__Request *request = fedlora__admin__request__unpack(NULL, length, data);
    if (request == NULL)
        return fl_error_set(err, FL_EFORMAT, "admin: %zu bytes are not a valid protobuf Request",
                            length);
    status = proto_admin_validate_request(request, err);
    if (status != FL_OK) {
        fedlora__admin__request__free_unpacked(request, NULL);
        return status;
    }
    *out = request;
    return FL_OK;
}

int proto_admin_decode_response(const uint8_t *data, size_t length,
                                Fedlora__Admin__Response **out, fl_error *err)
{
    *out = NULL;
    int status = check_frame(length, err);
    if (status != FL_OK)
        return status;
    Fedlora__Admin__Response *response = fedlora__admin__response__unpack(NULL, length, data);
    if (response == NULL)
        return fl_error_set(err, FL_EFORMAT,
                            "admin: %zu bytes are not a valid protobuf Response", length);
    status = proto_admin_validate_response(response, err);
    if (status != FL_OK) {
        fedlora__admin__response__free_unpacked(response, NULL);
        return status;
    }
    *out = response;
    return FL_OK;
}

void proto_admin_request_free(Fedlora__Admin__Request **request)
{
    if (request == NULL || *request == NULL)
        return;
    fedlora__admin__request__free_unpacked(*request, NULL);
    *request = NULL;
}

void proto_admin_response_free(Fedlora__Admin__Response **response)
{
    if (response == NULL || *response == NULL)
        return;
    fedlora__admin__response__free_unpacked(*response, NULL);
    *response = NULL;
}

const char *proto_admin_request_name(Fedlora__Admin__Request__BodyCase body_case)
{
    switch (body_case) {
    case FEDLORA__ADMIN__REQUEST__BODY_SUBMIT: return "submit";
    case FEDLORA__ADMIN__REQUEST__BODY_LIST: return "list";
    case FEDLORA__ADMIN__REQUEST__BODY_STATUS: return "status";
    case FEDLORA__ADMIN__REQUEST__BODY_ROUND_START: return "round_start";
    case FEDLORA__ADMIN__REQUEST__BODY_ABORT: return "abort";
    case FEDLORA__ADMIN__REQUEST__BODY_EXPORT: return "export";
    case FEDLORA__ADMIN__REQUEST__BODY_LOGS: return "logs";
    case FEDLORA__ADMIN__REQUEST__BODY__NOT_SET:
    default: break;
    }
    return "unknown";
}
