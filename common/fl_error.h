/*
 * fl_error.h - the one status convention of fedlora.
 *
 * Every fallible function returns 0 (FL_OK) on success or a negative
 * fl_status code on failure. Functions at I/O boundaries also take an
 * optional fl_error that carries the human-readable detail: the file, line,
 * field, offending value and what the user can do about it.
 */
#ifndef FL_ERROR_H
#define FL_ERROR_H

#include <stddef.h>

#define FL_WARN_UNUSED __attribute__((warn_unused_result))
#define FL_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))

typedef enum fl_status {
    FL_OK = 0,
    FL_EINVAL = -1,       /* invalid argument or input value */
    FL_ENOMEM = -2,       /* allocation failed */
    FL_EIO = -3,          /* read, write or fsync failed */
    FL_EFORMAT = -4,      /* malformed file or message */
    FL_ECRYPTO = -5,      /* signature, MAC or key agreement failed */
    FL_EPROTO = -6,       /* peer broke the protocol */
    FL_ETIMEOUT = -7,     /* deadline passed */
    FL_EPERM = -8,        /* permission denied or policy forbids it */
    FL_ENOTFOUND = -9,    /* file, key or record not found */
    FL_ERANGE = -10,      /* value outside its allowed range */
    FL_EUNSUPPORTED = -11,/* feature, dtype or architecture not supported */
    FL_ESTATE = -12,      /* operation not valid in the current state */
    FL_EOVERFLOW = -13,   /* arithmetic or buffer would overflow */
    FL_ECANCELED = -14,   /* operation aborted on request */
    FL_ENET = -15,        /* socket or transport failure */
    FL_EEXIST = -16,      /* object already exists */
    FL_STATUS_MIN = -16
} fl_status;

/* Detail of the last failure, filled in by functions that take one. */
typedef struct fl_error {
    int code;
    char msg[1024];
} fl_error;

/* Returns a static, human-readable text for a status code. Never NULL. */
const char *fl_strerror(int code);

/*
 * Records a failure in err (which may be NULL) and returns code, so callers
 * can write `return fl_error_set(err, FL_EINVAL, "...", ...);`.
 */
int fl_error_set(fl_error *err, int code, const char *fmt, ...) FL_PRINTF(3, 4);

/* Prepends context ("while loading X: ") to an existing message. Returns err->code. */
int fl_error_prefix(fl_error *err, const char *fmt, ...) FL_PRINTF(2, 3);

/* Resets err to FL_OK with an empty message. NULL-safe. */
void fl_error_clear(fl_error *err);

#endif
