/* The admin socket: CURVE, researcher keys only, one request per message. */
#include "coord_admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "coord_admin_ops.h"
#include "fl_log.h"
#include "fl_mem.h"
#include "proto_zap.h"

/* Requests handled per call of coord_admin_poll(), so the rounds keep moving under load. */
#define ADMIN_REQUESTS_PER_POLL 8
#define ADMIN_HIGH_WATER_MARK 32
#define ADMIN_ZAP_DOMAIN "fedlora-admin"

struct coord_admin {
    coord_service *service;
    void *zmq;
    proto_zap *zap;
    void *socket;
    char endpoint[256];
};

/* Admits every researcher of the manifest, and no one else. */
static int allow_researchers(coord_admin *admin, const fc_manifest *manifest, fl_error *err)
{
    proto_zap_set_hint(admin->zap, "the admin socket admits only researcher keys listed in the "
                                   "project manifest");
    for (size_t i = 0; i < manifest->researcher_count; i++) {
        const fc_party *researcher = &manifest->researchers[i];
        int rc = proto_zap_allow(admin->zap, researcher->keys.curve_public, researcher->name,
                                 err);
        if (rc != FL_OK)
            return rc;
        char fingerprint[PROTO_FINGERPRINT_CHARS + 1];
        proto_key_fingerprint(researcher->keys.curve_public, fingerprint);
        fl_info("admin socket admits researcher %s (CURVE key fingerprint %s)", researcher->name,
                fingerprint);
    }
    return FL_OK;
}

static int set_option(void *socket, int option, const void *value, size_t length,
                      const char *name, fl_error *err)
{
    if (zmq_setsockopt(socket, option, value, length) != 0)
        return fl_error_set(err, FL_ENET, "admin socket: cannot set %s: %s", name,
                            zmq_strerror(zmq_errno()));
    return FL_OK;
}

static int open_socket(coord_admin *admin, const coord_setup *setup, fl_error *err)
{
    admin->socket = zmq_socket(admin->zmq, ZMQ_ROUTER);
    if (admin->socket == NULL)
        return fl_error_set(err, FL_ENET, "admin socket: cannot create a ROUTER socket: %s",
                            zmq_strerror(zmq_errno()));
    int zero = 0, one = 1, hwm = ADMIN_HIGH_WATER_MARK;
    int64_t max_message = PROTO_ADMIN_MAX_FRAME;
    int rc = set_option(admin->socket, ZMQ_LINGER, &zero, sizeof(zero), "ZMQ_LINGER", err);
    if (rc == FL_OK)
        rc = set_option(admin->socket, ZMQ_SNDHWM, &hwm, sizeof(hwm), "ZMQ_SNDHWM", err);
    if (rc == FL_OK)
        rc = set_option(admin->socket, ZMQ_RCVHWM, &hwm, sizeof(hwm), "ZMQ_RCVHWM", err);
    if (rc == FL_OK)
        rc = set_option(admin->socket, ZMQ_MAXMSGSIZE, &max_message, sizeof(max_message),
                        "ZMQ_MAXMSGSIZE", err);
    if (rc == FL_OK)
        rc = set_option(admin->socket, ZMQ_CURVE_SERVER, &one, sizeof(one), "ZMQ_CURVE_SERVER",
                        err);
    if (rc == FL_OK)
        rc = set_option(admin->socket, ZMQ_CURVE_SECRETKEY,
                        fc_identity_curve_secret(setup->identity), FC_CURVE_SECRET_BYTES,
                        "ZMQ_CURVE_SECRETKEY", err);
    if (rc == FL_OK)
        rc = set_option(admin->socket, ZMQ_ZAP_DOMAIN, ADMIN_ZAP_DOMAIN,
                        strlen(ADMIN_ZAP_DOMAIN), "ZMQ_ZAP_DOMAIN", err);
    if (rc != FL_OK)
        return rc;

    const char *bind = setup->config.admin_bind;
    if (zmq_bind(admin->socket, bind) != 0)
        return fl_error_set(err, FL_ENET, "admin socket: cannot bind %s: %s; check admin_bind "
                            "in the coordinator configuration and that the port is free",
                            bind, zmq_strerror(zmq_errno()));
    size_t size = sizeof(admin->endpoint);
    zmq_getsockopt(admin->socket, ZMQ_LAST_ENDPOINT, admin->endpoint, &size);
    return FL_OK;
}

int coord_admin_new(coord_admin **out, coord_service *service, const coord_setup *setup,
                    fl_error *err)
{
    *out = NULL;
    coord_admin *admin = fl_xcalloc(1, sizeof(*admin));
    admin->service = service;
    admin->zmq = zmq_ctx_new();
    int rc = FL_OK;
    if (admin->zmq == NULL)
        rc = fl_error_set(err, FL_ENET, "admin socket: cannot create a ZeroMQ context");
    if (rc == FL_OK)
        rc = proto_zap_start(admin->zmq, &admin->zap, err);
    if (rc == FL_OK)
        rc = allow_researchers(admin, setup->manifest, err);
    if (rc == FL_OK)
        rc = open_socket(admin, setup, err);
    if (rc != FL_OK) {
        coord_admin_destroy(&admin);
        return rc;
    }
    fl_info("serving researchers on %s (CURVE, %zu researcher keys)", admin->endpoint,
            setup->manifest->researcher_count);
    *out = admin;
    return FL_OK;
}

void coord_admin_destroy(coord_admin **admin)
{
    if (admin == NULL || *admin == NULL)
        return;
    coord_admin *a = *admin;
    if (a->socket != NULL)
        zmq_close(a->socket);
    proto_zap_stop(&a->zap);
    if (a->zmq != NULL)
        zmq_ctx_term(a->zmq);
    free(a);
    *admin = NULL;
}

const char *coord_admin_endpoint(const coord_admin *admin)
{
    return admin->endpoint;
}

static void send_reply(coord_admin *admin, zmq_msg_t *routing_id, admin_reply *reply,
                       const char *researcher)
{
    uint8_t *bytes = NULL;
    size_t length = 0;
    fl_error err = {0};
    if (proto_admin_encode_response(&reply->response, &bytes, &length, &err) != FL_OK) {
        fl_error("admin reply to %s not sent: %s", researcher, err.msg);
        return;
    }
    /* Sends without waiting: a researcher who went away or stopped reading loses the reply. */
    if (zmq_send(admin->socket, zmq_msg_data(routing_id), zmq_msg_size(routing_id),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(admin->socket, bytes, length, ZMQ_DONTWAIT) < 0)
        fl_warn("admin reply to %s not sent: %s", researcher, zmq_strerror(zmq_errno()));
    free(bytes);
}

/* Returns the request id of bytes that failed validation, or 0 when there is none to reply to. */
static uint64_t request_id_of(const uint8_t *bytes, size_t length)
{
    Fedlora__Admin__Request *raw = fedlora__admin__request__unpack(NULL, length, bytes);
    uint64_t id = raw != NULL ? raw->request_id : 0;
    if (raw != NULL)
        fedlora__admin__request__free_unpacked(raw, NULL);
    return id;
}

static void answer(coord_admin *admin, zmq_msg_t *routing_id, zmq_msg_t *payload,
                   const char *researcher)
{
    const uint8_t *bytes = zmq_msg_data(payload);
    size_t length = zmq_msg_size(payload);
    Fedlora__Admin__Request *request = NULL;
    fl_error err = {0};
    admin_reply reply;

    int rc = proto_admin_decode_request(bytes, length, &request, &err);
    admin_reply_init(&reply, request != NULL ? request->request_id
                                             : request_id_of(bytes, length));
    if (rc == FL_OK)
        rc = admin_handle(admin->service, researcher, request, &reply, &err);
    const char *name = request != NULL ? proto_admin_request_name(request->body_case)
                                       : "invalid";
    if (rc != FL_OK) {
        fl_warn("admin request %s from researcher %s failed: %s", name, researcher, err.msg);
        admin_reply_release(&reply);
        admin_reply_init(&reply, request != NULL ? request->request_id
                                                 : request_id_of(bytes, length));
        reply.response.code = rc;
        reply.response.error = err.msg[0] != '\0' ? err.msg : (char *)fl_strerror(rc);
    } else {
        fl_debug("admin request %s from researcher %s done", name, researcher);
    }
    if (reply.response.request_id != 0)
        send_reply(admin, routing_id, &reply, researcher);
    admin_reply_release(&reply);
    proto_admin_request_free(&request);
}

/* Receives one request; returns false when none is waiting. */
static bool receive_one(coord_admin *admin)
{
    zmq_msg_t routing_id, payload;
    zmq_msg_init(&routing_id);
    zmq_msg_init(&payload);
    bool received = false;
    if (zmq_msg_recv(&routing_id, admin->socket, ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() != EAGAIN)
            fl_warn("admin socket: receive failed: %s", zmq_strerror(zmq_errno()));
        goto close_frames;
    }
    received = true;
    if (!zmq_msg_more(&routing_id) || zmq_msg_recv(&payload, admin->socket, 0) < 0)
        goto close_frames;

    /* The ZAP handler stored the researcher's manifest name as the connection's User-Id. */
    const char *researcher = zmq_msg_gets(&payload, "User-Id");
    if (zmq_msg_more(&payload)) {
        fl_warn("admin socket: dropped a message of more than one frame from %s",
                researcher != NULL ? researcher : "an unknown peer");
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        while (zmq_msg_recv(&extra, admin->socket, 0) >= 0 && zmq_msg_more(&extra)) {
        }
        zmq_msg_close(&extra);
        goto close_frames;
    }
    answer(admin, &routing_id, &payload, researcher != NULL ? researcher : "");

close_frames:
    zmq_msg_close(&payload);
    zmq_msg_close(&routing_id);
    return received;
}

void coord_admin_poll(coord_admin *admin)
{
    for (int i = 0; i < ADMIN_REQUESTS_PER_POLL && receive_one(admin); i++) {
    }
}
