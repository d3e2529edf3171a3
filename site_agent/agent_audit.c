#include "agent_audit.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fl_json.h"
#include "fl_mem.h"
#include "fl_time.h"

#define AUDIT_HASH_BYTES 32
#define AUDIT_HASH_HEX (2 * AUDIT_HASH_BYTES + 1)

struct agent_audit {
    int fd;
    char *path;
    uint64_t sequence;            /* number of entries written so far */
    char last_hash[AUDIT_HASH_HEX]; /* hash of the last line, hex */
};

static void hash_hex(const void *data, size_t size, char out[AUDIT_HASH_HEX])
{
    unsigned char digest[AUDIT_HASH_BYTES];
    crypto_generichash(digest, sizeof(digest), data, size, NULL, 0);
    sodium_bin2hex(out, AUDIT_HASH_HEX, digest, sizeof(digest));
}

static void zero_hash(char out[AUDIT_HASH_HEX])
{
    memset(out, '0', AUDIT_HASH_HEX - 1);
    out[AUDIT_HASH_HEX - 1] = '\0';
}

#define AUDIT_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

/* Hashes entry as serialised without its "hash" field. */
static int entry_hash(const json_t *entry, char out[AUDIT_HASH_HEX])
{
    json_t *copy = json_deep_copy(entry);
    json_object_del(copy, "hash");
    char *text = json_dumps(copy, AUDIT_DUMP_FLAGS);
    json_decref(copy);
    if (text == NULL)
        return FL_ENOMEM;
    hash_hex(text, strlen(text), out);
    free(text);
    return FL_OK;
}

/*
 * Checks one line: its own hash, its link to the previous entry and its
 * sequence number. On success *hash is the line's hash.
 */
static int check_line(const char *path, uint64_t number, const char *line, size_t length,
                      const char *expected_prev, char hash[AUDIT_HASH_HEX],
                      uint64_t *bytes_sent, fl_error *err)
{
    char where[512];
    snprintf(where, sizeof(where), "%s:%llu", path, (unsigned long long)number);
    json_t *entry = fl_json_load_text(where, line, length, err);
    if (entry == NULL)
        return FL_EFORMAT;

    int rc = FL_OK;
    const char *stored = NULL;
    const char *prev = NULL;
    int64_t sequence = 0;
    if (fl_json_get_string(entry, "hash", where, &stored, err) != FL_OK ||
        fl_json_get_string(entry, "prev", where, &prev, err) != FL_OK ||
        fl_json_get_int(entry, "seq", where, &sequence, err) != FL_OK) {
        rc = FL_EFORMAT;
        goto release_entry;
    }
    if (entry_hash(entry, hash) != FL_OK || strcmp(stored, hash) != 0) {
        rc = fl_error_set(err, FL_EFORMAT,
                          "%s: entry altered: its content hashes to %.16s..., but its field "
                          "'hash' is %.16s...",
                          where, hash, stored);
        goto release_entry;
    }
    if (strcmp(prev, expected_prev) != 0) {
        rc = fl_error_set(err, FL_EFORMAT,
                          "%s: chain broken: field 'prev' is %.16s..., but the previous entry's "
                          "hash is %.16s...; an entry before this one was removed, inserted or "
                          "reordered",
                          where, prev, expected_prev);
        goto release_entry;
    }
    if (sequence != (int64_t)number) {
        rc = fl_error_set(err, FL_EFORMAT, "%s: field 'seq' is %lld, expected %llu", where,
                          (long long)sequence, (unsigned long long)number);
        goto release_entry;
    }
    json_t *size = json_object_get(entry, "size");
    if (json_is_integer(size) && json_integer_value(size) > 0)
        *bytes_sent += (uint64_t)json_integer_value(size);

release_entry:
    json_decref(entry);
    return rc;
}

/*
 * Walks the file line by line, checking the chain. On success *last_hash is
 * the hash of the final line and report->entries the number of lines.
 */
static int walk_chain(const char *path, agent_audit_report *report,
                      char last_hash[AUDIT_HASH_HEX], fl_error *err)
{
    memset(report, 0, sizeof(*report));
    zero_hash(last_hash);
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return fl_error_set(err, errno == ENOENT ? FL_ENOTFOUND : FL_EIO,
                            "%s: cannot open audit log: %s", path, strerror(errno));

    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    int rc = FL_OK;
    uint64_t number = 0;
    while ((length = getline(&line, &capacity, file)) >= 0) {
        number++;
        if (length == 0 || line[length - 1] != '\n') {
            rc = fl_error_set(err, FL_EFORMAT,
                              "%s:%llu: last line is incomplete (no newline); the agent "
                              "stopped while writing it",
                              path, (unsigned long long)number);
            break;
        }
        length--;
        char hash[AUDIT_HASH_HEX];
        rc = check_line(path, number, line, (size_t)length, last_hash, hash,
                        &report->bytes_sent, err);
        if (rc != FL_OK)
            break;
        memcpy(last_hash, hash, AUDIT_HASH_HEX);
        report->entries = number;
    }
    if (rc != FL_OK)
        report->broken_line = number;
    free(line);
    fclose(file);
    return rc;
}

int agent_audit_verify(const char *path, agent_audit_report *report, fl_error *err)
{
    char last_hash[AUDIT_HASH_HEX];
    return walk_chain(path, report, last_hash, err);
}

int agent_audit_open(agent_audit **out, const char *path, fl_error *err)
{
    *out = NULL;
    if (sodium_init() < 0)
        return fl_error_set(err, FL_ECRYPTO, "libsodium failed to initialise");

    agent_audit *audit = fl_xcalloc(1, sizeof(*audit));
    audit->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (audit->fd < 0) {
        int rc = fl_error_set(err, FL_EIO, "%s: cannot open audit log for appending: %s", path,
                              strerror(errno));
        free(audit);
        return rc;
    }
    audit->path = fl_xstrdup(path);

    agent_audit_report report;
    int rc = walk_chain(path, &report, audit->last_hash, err);
    if (rc != FL_OK) {
        fl_error_prefix(err, "refusing to append to a damaged audit log (inspect it with "
                             "'fedlora audit verify %s' and move it aside): ", path);
        agent_audit_destroy(&audit);
        return rc;
    }
    audit->sequence = report.entries;
    *out = audit;
    return FL_OK;
}

void agent_audit_destroy(agent_audit **audit)
{
    if (audit == NULL || *audit == NULL)
        return;
    close((*audit)->fd);
    free((*audit)->path);
    free(*audit);
    *audit = NULL;
}

/* Adds seq, time, job, round and prev to entry, then appends and fsyncs it. */
static int append_entry(agent_audit *audit, json_t *entry, const char *job, int64_t round,
                        fl_error *err)
{
    char stamp[FL_TIME_ISO_SIZE];
    fl_time_iso8601(stamp);
    json_object_set_new(entry, "seq", json_integer((json_int_t)(audit->sequence + 1)));
    json_object_set_new(entry, "time", json_string(stamp));
    json_object_set_new(entry, "job", json_string(job ? job : ""));
    json_object_set_new(entry, "round", json_integer(round));
    json_object_set_new(entry, "prev", json_string(audit->last_hash));

    char hash[AUDIT_HASH_HEX];
    if (entry_hash(entry, hash) != FL_OK)
        return fl_error_set(err, FL_ENOMEM, "%s: cannot serialise audit entry", audit->path);
    json_object_set_new(entry, "hash", json_string(hash));
    char *text = json_dumps(entry, AUDIT_DUMP_FLAGS);
    if (text == NULL)
        return fl_error_set(err, FL_ENOMEM, "%s: cannot serialise audit entry", audit->path);
    size_t length = strlen(text);
    text = fl_xrealloc(text, length + 2);
    text[length] = '\n';

    int rc = FL_OK;
    ssize_t wrote = write(audit->fd, text, length + 1);
    if (wrote != (ssize_t)(length + 1) || fsync(audit->fd) != 0)
        rc = fl_error_set(err, FL_EIO, "%s: cannot append audit entry: %s", audit->path,
                          wrote < 0 ? strerror(errno) : "short write or fsync failed");
    if (rc == FL_OK) {
        memcpy(audit->last_hash, hash, AUDIT_HASH_HEX);
        audit->sequence++;
    }
    free(text);
    return rc;
}

int agent_audit_message(agent_audit *audit, const char *job, int64_t round, const char *type,
                        const void *payload, size_t size, fl_error *err)
{
    char payload_hash[AUDIT_HASH_HEX];
    hash_hex(payload, size, payload_hash);

    json_t *entry = json_object();
    json_object_set_new(entry, "event", json_string("message"));
    json_object_set_new(entry, "type", json_string(type));
    json_object_set_new(entry, "size", json_integer((json_int_t)size));
    json_object_set_new(entry, "blake2b", json_string(payload_hash));
    int rc = append_entry(audit, entry, job, round, err);
    json_decref(entry);
    return rc;
}

int agent_audit_decision(agent_audit *audit, const char *job, int64_t round,
                         const char *decision, const char *reason, const char *detail,
                         fl_error *err)
{
    json_t *entry = json_object();
    json_object_set_new(entry, "event", json_string("policy"));
    json_object_set_new(entry, "decision", json_string(decision));
    json_object_set_new(entry, "reason", json_string(reason));
    json_object_set_new(entry, "detail", json_string(detail ? detail : ""));
    int rc = append_entry(audit, entry, job, round, err);
    json_decref(entry);
    return rc;
}
