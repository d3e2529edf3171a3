/*
 * coord_admin_ops.h - the admin requests, one handler each. Used by
 * coord_admin.c only.
 */
#ifndef COORD_ADMIN_OPS_H
#define COORD_ADMIN_OPS_H

#include "coord_service.h"
#include "fl_error.h"
#include "proto_admin.h"

/* A response under construction and the memory its body points to. */
typedef struct admin_reply {
    Fedlora__Admin__Response response;
    Fedlora__Admin__SubmitResponse submit;
    Fedlora__Admin__ListResponse list;
    Fedlora__Admin__StatusResponse status;
    Fedlora__Admin__RoundStartResponse round_start;
    Fedlora__Admin__AbortResponse abort;
    Fedlora__Admin__ExportResponse export;
    Fedlora__Admin__LogsResponse logs;

    Fedlora__Admin__JobSummary *summaries;   /* [list.n_jobs] */
    char *text;                              /* status or history JSON */
    uint8_t *data;                           /* exported bytes */
    char job_id[COORD_JOB_ID_MAX + 1];
} admin_reply;

/* Prepares reply for request_id with no body. */
void admin_reply_init(admin_reply *reply, uint64_t request_id);

/* Frees what the reply's body points to. */
void admin_reply_release(admin_reply *reply);

/*
 * Handles request from the researcher named researcher (the name its key
 * has in the manifest) and fills reply's body. Returns FL_OK, or a negative
 * fl_status with err saying why and what to do.
 */
int admin_handle(coord_service *service, const char *researcher,
                 const Fedlora__Admin__Request *request, admin_reply *reply,
                 fl_error *err) FL_WARN_UNUSED;

#endif
