/*
 * agent_worker.h - local training in a child process.
 *
 * The agent writes a spec (JSON) into a work folder and starts its own
 * program again as `fedlora-agent --trainer-worker SPEC`. The child confines
 * itself with Landlock (agent_sandbox.h) to the model, the data, the input
 * adapter and the work folder, so it cannot read the site's identity key,
 * then runs tr_round_run and writes delta.bin (the change of the trained
 * parameters, float32 little-endian) and metrics.json into the work folder.
 * It reports progress on its standard output, one line per step:
 *   progress STEP STEPS LOSS
 * and ends with "done" or "error MESSAGE". The agent keeps serving its
 * connection meanwhile, and kills the child to abort.
 */
#ifndef AGENT_WORKER_H
#define AGENT_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_error.h"
#include "tr_round.h"

/* Where the child reads and writes. */
typedef struct agent_worker_paths {
    const char *adapter_in;   /* raw float32 arena of the global adapter */
    const char *work_dir;     /* spec.json, delta.bin and metrics.json live here */
    bool require_sandbox;     /* fail when Landlock is missing instead of training unconfined */
} agent_worker_paths;

/* Writes work_dir/spec.json for options (whose adapter_in is ignored) and paths. */
int agent_worker_write_spec(const tr_round_options *options, const agent_worker_paths *paths,
                            fl_error *err) FL_WARN_UNUSED;

/* The child's side: runs the spec at spec_path. Returns the process exit status. */
int agent_worker_main(const char *spec_path);

typedef struct agent_worker agent_worker;

/* Starts the child for work_dir/spec.json. Caller owns *out; stop it with agent_worker_stop. */
int agent_worker_start(agent_worker **out, const char *work_dir, fl_error *err) FL_WARN_UNUSED;

/* Returns the descriptor of the child's output, for poll(). */
int agent_worker_fd(const agent_worker *worker);

typedef struct agent_worker_status {
    int step, steps;      /* last reported progress */
    double loss;
    bool finished;        /* the child exited */
    bool succeeded;       /* it exited 0 after "done" */
    char error[1024];     /* its "error" line, or how it died */
} agent_worker_status;

/* Reads what the child wrote so far without blocking and reaps it when it exited. */
void agent_worker_update(agent_worker *worker, agent_worker_status *status);

/* Sends SIGTERM to the child unless it was reaped or already got one. NULL-safe; does not wait. */
void agent_worker_terminate(agent_worker *worker);

/*
 * Reaps the child without blocking, sending SIGTERM first when it was not
 * sent yet. Once stop_timeout seconds have passed since SIGTERM, sends
 * SIGKILL and waits for the child, which then ends at once. Returns true
 * when the child has been reaped, false while it still runs.
 */
bool agent_worker_reap(agent_worker *worker, double stop_timeout);

/*
 * Stops the child when it still runs (SIGTERM, then SIGKILL after
 * grace_seconds), waiting until it is reaped, and frees worker. NULL-safe;
 * clears the pointer.
 */
void agent_worker_stop(agent_worker **worker, double grace_seconds);

/* Result files of a finished child. */
typedef struct agent_worker_result {
    double val_loss_before, train_loss;
    uint64_t examples;
    double train_s, eval_s;
    float *delta;          /* [count]; free() it */
    size_t count;
} agent_worker_result;

/* Reads work_dir/metrics.json and work_dir/delta.bin, which must hold expected_count floats. */
int agent_worker_read_result(const char *work_dir, size_t expected_count,
                             agent_worker_result *result, fl_error *err) FL_WARN_UNUSED;

#endif
