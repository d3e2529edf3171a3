#include "transport_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "fl_log.h"

void transport_keys_generate(transport_keys *keys)
{
    assert_true(sodium_init() >= 0);
    crypto_box_keypair(keys->public_key, keys->secret_key);
}

void transport_fixture_start(transport_fixture *f, const proto_link_options *options)
{
    memset(f, 0, sizeof(*f));
    f->log = tmpfile();
    assert_non_null(f->log);
    fl_log_set_stream(f->log);
    fl_log_set_level(FL_LOG_INFO);

    /* The server keys come from libzmq's own generator, in Z85. */
    char public_z85[41];
    char secret_z85[41];
    assert_int_equal(zmq_curve_keypair(public_z85, secret_z85), 0);
    assert_non_null(zmq_z85_decode(f->server_keys.public_key, public_z85));
    assert_non_null(zmq_z85_decode(f->server_keys.secret_key, secret_z85));

    if (options != NULL)
        f->options = *options;
    else
        proto_link_options_default(&f->options);

    f->context = zmq_ctx_new();
    assert_non_null(f->context);
    fl_error err = {0};
    assert_int_equal(proto_zap_start(f->context, &f->zap, &err), FL_OK);
    int status = proto_server_new(f->context, f->zap, "tcp://127.0.0.1:*",
                                  f->server_keys.public_key, f->server_keys.secret_key,
                                  "coordinator", &f->options, &f->server, &err);
    if (status != FL_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(status, FL_OK);
}

void transport_fixture_stop(transport_fixture *f)
{
    proto_link_destroy(&f->server);
    proto_zap_stop(&f->zap);
    zmq_ctx_term(f->context);
    fl_log_set_stream(NULL);
    fclose(f->log);
    sodium_memzero(&f->server_keys, sizeof(f->server_keys));
}

proto_link *transport_client(transport_fixture *f, const transport_keys *keys, const char *name)
{
    proto_link *client = NULL;
    fl_error err = {0};
    int status = proto_client_new(f->context, proto_link_endpoint(f->server),
                                  f->server_keys.public_key, keys->public_key, keys->secret_key,
                                  name, &f->options, &client, &err);
    if (status != FL_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(status, FL_OK);
    return client;
}

int transport_wait_for(proto_link *link, Fedlora__Envelope__BodyCase body_case, int timeout_ms,
                       proto_message *message)
{
    int64_t deadline = proto_now_ms() + timeout_ms;
    while (proto_now_ms() < deadline) {
        int status = proto_link_recv(link, 50, message, NULL);
        if (status == FL_OK && message->envelope->body_case == body_case)
            return FL_OK;
        if (status == FL_OK)
            proto_message_release(message);
    }
    return FL_ETIMEOUT;
}

/* Returns the captured log as a NUL-terminated heap string. */
static char *read_log(transport_fixture *f)
{
    fflush(f->log);
    long size = ftell(f->log);
    char *content = calloc(1, (size_t)size + 1);
    assert_non_null(content);
    rewind(f->log);
    size_t got = fread(content, 1, (size_t)size, f->log);
    content[got] = '\0';
    fseek(f->log, 0, SEEK_END);
    return content;
}

int transport_log_contains(transport_fixture *f, const char *text)
{
    char *content = read_log(f);
    int found = strstr(content, text) != NULL;
    if (!found)
        print_message("log does not contain \"%s\"; log:\n%s\n", text, content);
    free(content);
    return found;
}

int transport_log_count(transport_fixture *f, const char *text)
{
    char *content = read_log(f);
    int count = 0;
    for (const char *p = strstr(content, text); p != NULL; p = strstr(p + 1, text))
        count++;
    free(content);
    return count;
}
