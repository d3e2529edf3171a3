#include "fl_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const s_status_text[] = {
    [0] = "success",
    [1] = "invalid argument",
    [2] = "out of memory",
    [3] = "input/output error",
    [4] = "malformed data",
    [5] = "cryptographic check failed",
    [6] = "protocol error",
    [7] = "timed out",
    [8] = "permission denied",
    [9] = "not found",
    [10] = "value out of range",
    [11] = "not supported",
    [12] = "invalid state",
    [13] = "overflow",
    [14] = "canceled",
    [15] = "network error",
    [16] = "already exists",
};

const char *fl_strerror(int code)
{
    if (code > 0 || code < FL_STATUS_MIN)
        return "unknown error";
    return s_status_text[-code];
}

int fl_error_set(fl_error *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;

    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

int fl_error_prefix(fl_error *err, const char *fmt, ...)
{
    if (err == NULL)
        return FL_EINVAL;

    char prefix[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);

    size_t prefix_length = strlen(prefix);
    size_t message_length = strlen(err->msg);
    if (prefix_length + message_length >= sizeof(err->msg))
        message_length = sizeof(err->msg) - 1 - prefix_length;
    memmove(err->msg + prefix_length, err->msg, message_length);
    memcpy(err->msg, prefix, prefix_length);
    err->msg[prefix_length + message_length] = '\0';
    return err->code;
}

void fl_error_clear(fl_error *err)
{
    if (err == NULL)
        return;
    err->code = FL_OK;
    err->msg[0] = '\0';
}
