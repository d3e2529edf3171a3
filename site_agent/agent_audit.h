/*
 * agent_audit.h - the site's append-only audit log.
 *
 * One JSON object per line records each message that left the site (time,
 * job, round, message type, size and BLAKE2b-256 of the payload) and each
 * policy decision. Every line carries "hash", the BLAKE2b-256 of the entry
 * serialised without that field, and "prev", the previous entry's hash (64
 * zeros on the first line). Editing a line breaks its own hash; removing,
 * inserting or reordering lines breaks the chain at the next line. Whoever
 * can rewrite the whole file can rebuild a valid chain, so keep a copy or
 * the last hash elsewhere when that matters. Lines are written with
 * O_APPEND and fsynced before the call returns.
 */
#ifndef AGENT_AUDIT_H
#define AGENT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"

typedef struct agent_audit agent_audit;

/*
 * Opens path for appending, creating it (mode 0640) when missing. An existing
 * file must end in a complete, valid entry; otherwise opening fails and err
 * says to run `fedlora audit verify`. Caller owns the result.
 */
int agent_audit_open(agent_audit **out, const char *path, fl_error *err) FL_WARN_UNUSED;

void agent_audit_destroy(agent_audit **audit);

/* Records one outbound message: its type, the payload bytes' size and hash. */
int agent_audit_message(agent_audit *audit, const char *job, int64_t round, const char *type,
                        const void *payload, size_t size, fl_error *err) FL_WARN_UNUSED;

/* Records a policy decision ("accepted" or "rejected") with its reason code and detail. */
int agent_audit_decision(agent_audit *audit, const char *job, int64_t round,
                         const char *decision, const char *reason, const char *detail,
                         fl_error *err) FL_WARN_UNUSED;

/* Result of agent_audit_verify. */
typedef struct agent_audit_report {
    uint64_t entries;      /* entries that verified */
    uint64_t bytes_sent;   /* sum of "size" over message entries */
    uint64_t broken_line;  /* first line that failed, 0 when the chain is intact */
} agent_audit_report;

/*
 * Checks the whole chain of path. Returns FL_OK when intact; otherwise
 * FL_EFORMAT with report->broken_line set and err naming the line and what
 * is wrong with it.
 */
int agent_audit_verify(const char *path, agent_audit_report *report,
                       fl_error *err) FL_WARN_UNUSED;

#endif
