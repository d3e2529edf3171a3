/* The admin requests: submit, list, status, round start, abort, export, logs. */
#include "coord_admin_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_json.h"
#include "fl_log.h"
#include "fl_mem.h"

#define CHECKPOINT_PATH_MAX 4096

void admin_reply_init(admin_reply *reply, uint64_t request_id)
{
    memset(reply, 0, sizeof(*reply));
    fedlora__admin__response__init(&reply->response);
    reply->response.protocol_version = PROTO_ADMIN_VERSION;
    reply->response.request_id = request_id;
}

void admin_reply_release(admin_reply *reply)
{
    for (size_t i = 0; reply->summaries != NULL && i < reply->list.n_jobs; i++) {
        free(reply->summaries[i].id);
        free(reply->summaries[i].researcher);
        free(reply->summaries[i].reason);
    }
    free(reply->summaries);
    free(reply->list.jobs);
    free(reply->text);
    free(reply->data);
    memset(reply, 0, sizeof(*reply));
}

static int handle_submit(coord_service *service, const char *researcher,
                         const Fedlora__Admin__SubmitRequest *request, admin_reply *reply,
                         fl_error *err)
{
    const char *text = request->job_json;
    json_t *root = fl_json_load_text("submitted job", text, strlen(text), err);
    if (root == NULL)
        return err != NULL ? err->code : FL_EFORMAT;
    coord_job_spec *job = fl_xmalloc(sizeof(*job));
    int rc = coord_job_from_json(job, root, "submitted job", err);
    json_decref(root);

    if (rc == FL_OK && strcmp(job->researcher, researcher) != 0)
        rc = fl_error_set(err, FL_EPERM,
                          "submitted job: field 'researcher' is '%s', but this key belongs to "
                          "researcher '%s'; set \"researcher\": \"%s\" in the job file",
                          job->researcher, researcher, researcher);
    bool created = false;
    if (rc == FL_OK)
        rc = coord_service_submit(service, job, &created, err);
    if (rc == FL_OK) {
        snprintf(reply->job_id, sizeof(reply->job_id), "%s", job->id);
        fedlora__admin__submit_response__init(&reply->submit);
        reply->submit.job_id = reply->job_id;
        reply->submit.created = created;
        reply->response.body_case = FEDLORA__ADMIN__RESPONSE__BODY_SUBMIT;
        reply->response.submit = &reply->submit;
    }
    free(job);
    return rc;
}

static void fill_summary(Fedlora__Admin__JobSummary *summary, const coord_job_spec *job,
                         const coord_job_state *state)
{
    fedlora__admin__job_summary__init(summary);
    summary->id = fl_xstrdup(job->id);
    summary->researcher = fl_xstrdup(job->researcher);
    summary->status = (char *)coord_job_status_names[state->status];
    summary->completed_rounds = (uint32_t)state->completed_rounds;
    summary->rounds = (uint32_t)job->rounds;
    summary->reason = fl_xstrdup(state->reason);
}

static int handle_list(coord_service *service, admin_reply *reply, fl_error *err)
{
    coord_store *store = coord_service_store(service);
    json_t *ids = coord_store_list(store, err);
    if (ids == NULL)
        return err != NULL ? err->code : FL_EIO;
    size_t count = json_array_size(ids);
    if (count > PROTO_ADMIN_MAX_JOBS)
        count = PROTO_ADMIN_MAX_JOBS; /* TODO: page the list once a project can exceed this */

    fedlora__admin__list_response__init(&reply->list);
    reply->summaries = fl_xcalloc(count + 1, sizeof(Fedlora__Admin__JobSummary));
    reply->list.jobs = fl_xcalloc(count + 1, sizeof(Fedlora__Admin__JobSummary *));
    coord_job_spec *job = fl_xmalloc(sizeof(*job));
    for (size_t i = 0; i < count; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        coord_job_state state;
        fl_error detail = {0};
        if (coord_store_load(store, id, job, &state, &detail) != FL_OK) {
            fl_warn("job list: skipping job %s, which cannot be loaded: %s", id, detail.msg);
            continue;
        }
        Fedlora__Admin__JobSummary *summary = &reply->summaries[reply->list.n_jobs];
        fill_summary(summary, job, &state);
        reply->list.jobs[reply->list.n_jobs++] = summary;
    }
    free(job);
    json_decref(ids);
    reply->response.body_case = FEDLORA__ADMIN__RESPONSE__BODY_LIST;
    reply->response.list = &reply->list;
    return FL_OK;
}

/* Stores json as the reply's compact text; fails when it exceeds the frame limit. */
static int take_json_text(admin_reply *reply, json_t *json, const char *what, fl_error *err)
{
    reply->text = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    if (reply->text == NULL)
        return fl_error_set(err, FL_ENOMEM, "cannot serialise the %s", what);
    if (strlen(reply->text) > PROTO_ADMIN_MAX_JSON)
        return fl_error_set(err, FL_ERANGE, "the %s has %zu bytes, more than the %u an admin "
                            "response carries", what, strlen(reply->text), PROTO_ADMIN_MAX_JSON);
    return FL_OK;
}

static int handle_status(coord_service *service, admin_reply *reply, fl_error *err)
{
    int rc = take_json_text(reply, coord_service_status_json(service), "status", err);
    if (rc != FL_OK)
        return rc;
    fedlora__admin__status_response__init(&reply->status);
    reply->status.status_json = reply->text;
    reply->response.body_case = FEDLORA__ADMIN__RESPONSE__BODY_STATUS;
    reply->response.status = &reply->status;
    return FL_OK;
}

static int handle_logs(coord_service *service, const Fedlora__Admin__LogsRequest *request,
                       admin_reply *reply, fl_error *err)
{
    json_t *history = coord_store_history(coord_service_store(service), request->job_id, err);
    if (history == NULL)
        return err != NULL && err->code != FL_OK ? err->code : FL_ENOTFOUND;
    int rc = take_json_text(reply, history, "job history", err);
    if (rc != FL_OK)
        return rc;
    fedlora__admin__logs_response__init(&reply->logs);
    reply->logs.history_json = reply->text;
    reply->response.body_case = FEDLORA__ADMIN__RESPONSE__BODY_LOGS;
    reply->response.logs = &reply->logs;
    return FL_OK;
}

static int handle_round_start(coord_service *service, admin_reply *reply, fl_error *err)
{
    uint64_t round = 0;
    size_t sites = 0;
    int rc = coord_service_start_round_now(service, reply->job_id, &round, &sites, err);
    if (rc != FL_OK)
        return rc;
    fedlora__admin__round_start_response__init(&reply->round_start);
    reply->round_start.job_id = reply->job_id;
    reply->round_start.round = round;
    reply->round_start.site_count = (uint32_t)sites;
    reply->response.body_case = FEDLORA__ADMIN__RESPONSE__BODY_ROUND_START;
    reply->response.round_start = &reply->round_start;
    return FL_OK;
}

static int handle_abort(coord_service *service, const char *researcher,
                        const Fedlora__Admin__AbortRequest *request, admin_reply *reply,
                        fl_error *err)
{
    char reason[256];
    snprintf(reason, sizeof(reason), "aborted by researcher %s: %s", researcher,
             request->reason[0] != '\0' ? request->reason : "no reason given");
    coord_job_status previous = COORD_JOB_QUEUED;
    int rc = coord_service_abort(service, request->job_id, reason, &previous, err);
    if (rc != FL_OK)
        return rc;
    snprintf(reply->job_id, sizeof(reply->job_id), "%s", request->job_id);
    fedlora__admin__abort_response__init(&reply->abort);
    reply->abort.job_id = reply->job_id;
    reply->abort.previous_status = (char *)coord_job_status_names[previous];
    reply->response.body_case = FEDLORA__ADMIN__RESPONSE__BODY_ABORT;
    reply->response.abort = &reply->abort;
    return FL_OK;
}

/* Picks the round to export: the requested one, or the last completed one for 0. */
static int export_round(coord_service *service, const Fedlora__Admin__ExportRequest *request,
                        int *round, fl_error *err)
{
    coord_job_spec *job = fl_xmalloc(sizeof(*job));
    coord_job_state state;
    int rc = coord_store_load(coord_service_store(service), request->job_id, job, &state, err);
    free(job);
    if (rc != FL_OK)
        return rc;
    if (state.completed_rounds == 0)
        return fl_error_set(err, FL_ENOTFOUND,
                            "job %s has no completed round yet (it is %s), so there is no "
                            "adapter to export; 'fedlora status' shows the round in progress",
                            request->job_id, coord_job_status_names[state.status]);
    if (request->round > (uint32_t)state.completed_rounds)
        return fl_error_set(err, FL_ENOTFOUND,
                            "job %s has completed %d rounds, so round %u has no adapter; use "
                            "--round 1 to %d or leave it out for the last one",
                            request->job_id, state.completed_rounds, request->round,
                            state.completed_rounds);
    *round = request->round != 0 ? (int)request->round : state.completed_rounds;
    return FL_OK;
}

/* Reads up to max_bytes of path from offset into reply->data. */
static int read_piece(const char *path, uint64_t offset, uint32_t max_bytes, admin_reply *reply,
                      fl_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fl_error_set(err, FL_EIO, "%s: cannot open the checkpoint: %s", path,
                            strerror(errno));
    int rc = FL_OK;
    struct stat info;
    if (fstat(fd, &info) != 0) {
        rc = fl_error_set(err, FL_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto close_file;
    }
    uint64_t size = (uint64_t)info.st_size;
    if (offset > size) {
        rc = fl_error_set(err, FL_ERANGE, "export: offset %llu is past the end of the "
                          "%llu-byte file", (unsigned long long)offset, (unsigned long long)size);
        goto close_file;
    }
    size_t length = size - offset < max_bytes ? (size_t)(size - offset) : max_bytes;
    reply->data = fl_xmalloc(length > 0 ? length : 1);
    size_t done = 0;
    while (done < length) {
        ssize_t got = pread(fd, reply->data + done, length - done, (off_t)(offset + done));
        if (got <= 0) {
            rc = fl_error_set(err, FL_EIO, "%s: read failed at byte %llu: %s", path,
                              (unsigned long long)(offset + done),
                              got < 0 ? strerror(errno) : "unexpected end of file");
            goto close_file;
        }
        done += (size_t)got;
    }
    reply->export.total_size = size;
    reply->export.data.data = reply->data;
    reply->export.data.len = length;

close_file:
    close(fd);
    return rc;
}

static int handle_export(coord_service *service, const Fedlora__Admin__ExportRequest *request,
                         admin_reply *reply, fl_error *err)
{
    int round = 0;
    int rc = export_round(service, request, &round, err);
    if (rc != FL_OK)
        return rc;

    char name[128], path[CHECKPOINT_PATH_MAX];
    snprintf(name, sizeof(name), "adapter/%s", request->file);
    rc = coord_store_checkpoint_path(coord_service_store(service), request->job_id, round, name,
                                     path, sizeof(path), err);
    fedlora__admin__export_response__init(&reply->export);
    if (rc == FL_OK)
        rc = read_piece(path, request->offset, request->max_bytes, reply, err);
    if (rc != FL_OK)
        return rc;

    snprintf(reply->job_id, sizeof(reply->job_id), "%s", request->job_id);
    reply->export.job_id = reply->job_id;
    reply->export.round = (uint32_t)round;
    reply->export.file = request->file;
    reply->export.offset = request->offset;
    reply->response.body_case = FEDLORA__ADMIN__RESPONSE__BODY_EXPORT;
    reply->response.export = &reply->export;
    return FL_OK;
}

int admin_handle(coord_service *service, const char *researcher,
                 const Fedlora__Admin__Request *request, admin_reply *reply, fl_error *err)
{
    switch (request->body_case) {
    case FEDLORA__ADMIN__REQUEST__BODY_SUBMIT:
        return handle_submit(service, researcher, request->submit, reply, err);
    case FEDLORA__ADMIN__REQUEST__BODY_LIST: return handle_list(service, reply, err);
    case FEDLORA__ADMIN__REQUEST__BODY_STATUS: return handle_status(service, reply, err);
    case FEDLORA__ADMIN__REQUEST__BODY_ROUND_START:
        return handle_round_start(service, reply, err);
    case FEDLORA__ADMIN__REQUEST__BODY_ABORT:
        return handle_abort(service, researcher, request->abort, reply, err);
    case FEDLORA__ADMIN__REQUEST__BODY_EXPORT:
        return handle_export(service, request->export, reply, err);
    case FEDLORA__ADMIN__REQUEST__BODY_LOGS: return handle_logs(service, request->logs, reply, err);
    case FEDLORA__ADMIN__REQUEST__BODY__NOT_SET:
    default: break;
    }
    return fl_error_set(err, FL_EUNSUPPORTED, "unknown admin request %d",
                        (int)request->body_case);
}
