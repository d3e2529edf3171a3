/*
 * synthetic_agent - the real site agent (agent_service from fedlora_agent:
 * CURVE link, policy, audit log, secure-aggregation client, chunked and
 * spooled upload) whose trainer process skips training: it writes a
 * pseudo-random delta of the adapter's size and fixed metrics instead.
 *
 * Memory and round benchmarks use it where training a large adapter on
 * every simulated site would take far longer than the transfer and the
 * aggregation they measure. The trainer step runs without the Landlock
 * sandbox, because it reads no site data.
 *
 * Usage: synthetic_agent --config FILE   (an agent.conf from a site kit)
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_service.h"
#include "agent_setup.h"
#include "fl_json.h"
#include "fl_log.h"
#include "fl_mem.h"

/* Delta values are uniform in [-DELTA_RANGE, DELTA_RANGE], well inside any clip bound. */
#define DELTA_RANGE 1e-4f
#define DELTA_BLOCK 65536

static volatile sig_atomic_t s_stop;

static void on_signal(int signal_number)
{
    (void)signal_number;
    s_stop = 1;
}

/* Writes count pseudo-random float32 values to path, one block at a time. */
static int write_delta(const char *path, uint64_t count, uint64_t seed)
{
    FILE *file = fopen(path, "wb");
    if (file == NULL)
        return -1;
    float *block = fl_xmalloc(DELTA_BLOCK * sizeof(float));
    uint64_t state = seed | 1u;
    int rc = 0;
    for (uint64_t done = 0; rc == 0 && done < count; done += DELTA_BLOCK) {
        size_t n = count - done < DELTA_BLOCK ? (size_t)(count - done) : DELTA_BLOCK;
        for (size_t i = 0; i < n; i++) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            float unit = (float)(state >> 40) / (float)(1u << 24);
            block[i] = (2.0f * unit - 1.0f) * DELTA_RANGE;
        }
        if (fwrite(block, sizeof(float), n, file) != n)
            rc = -1;
    }
    free(block);
    if (fclose(file) != 0)
        rc = -1;
    return rc;
}

/*
 * The trainer process's side: reads the spec the agent wrote, writes
 * delta.bin with one value per float of the input adapter (the job must not
 * use frozen-A mode, where only B is trained) and metrics.json.
 */
static int fake_training(const char *spec_path)
{
    fl_error err = {0};
    json_t *spec = fl_json_load_file(spec_path, 1 << 20, &err);
    if (spec == NULL) {
        printf("error %s\n", err.msg);
        return 1;
    }
    const char *adapter_in = json_string_value(json_object_get(spec, "adapter_in"));
    const char *work_dir = json_string_value(json_object_get(spec, "work_dir"));
    json_int_t seed = json_integer_value(json_object_get(spec, "seed"));
    int frozen_a = json_is_true(json_object_get(spec, "frozen_a"));
    struct stat st;
    int status = 1;
    if (adapter_in == NULL || work_dir == NULL || stat(adapter_in, &st) != 0 || frozen_a) {
        printf("error %s: needs adapter_in and work_dir, an existing adapter and no frozen_a\n",
               spec_path);
        goto release_spec;
    }

    uint64_t count = (uint64_t)st.st_size / sizeof(float);
    char path[4200];
    snprintf(path, sizeof(path), "%s/delta.bin", work_dir);
    if (write_delta(path, count, (uint64_t)seed ^ (uint64_t)getpid()) != 0) {
        printf("error %s: cannot write the delta\n", path);
        goto release_spec;
    }
    json_t *metrics = json_pack("{s:f, s:f, s:I, s:f, s:f, s:I}", "val_loss_before", 1.0,
                                "train_loss", 1.0, "examples", (json_int_t)40, "train_s", 0.0,
                                "eval_s", 0.0, "count", (json_int_t)count);
    snprintf(path, sizeof(path), "%s/metrics.json", work_dir);
    int rc = fl_json_save_file(path, metrics, 0600, &err);
    json_decref(metrics);
    if (rc != FL_OK) {
        printf("error %s\n", err.msg);
        goto release_spec;
    }
    printf("progress 1 1 1.0\ndone\n");
    status = 0;

release_spec:
    json_decref(spec);
    fflush(stdout);
    return status;
}

static int serve(const char *config_path)
{
    agent_setup setup;
    fl_error err = {0};
    int status = 1;
    if (agent_setup_load(&setup, config_path, &err) != FL_OK) {
        fl_error("start-up stopped: %s", err.msg);
        goto release_setup;
    }
    fl_log_set_level((fl_log_level)setup.config.log_level);

    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_signal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    signal(SIGPIPE, SIG_IGN);

    agent_service *service = NULL;
    if (agent_service_new(&service, &setup, &err) != FL_OK) {
        fl_error("cannot start the agent: %s", err.msg);
        goto release_setup;
    }
    status = agent_service_run(service, &s_stop) == FL_OK ? 0 : 1;
    agent_service_destroy(&service);

release_setup:
    agent_setup_release(&setup);
    return status;
}

int main(int argc, char **argv)
{
    /* agent_worker_start runs this program again as the trainer process. */
    if (argc == 3 && strcmp(argv[1], "--trainer-worker") == 0) {
        fl_log_set_role("trainer");
        return fake_training(argv[2]);
    }
    if (argc != 3 || strcmp(argv[1], "--config") != 0) {
        fprintf(stderr, "usage: synthetic_agent --config FILE\n");
        return 2;
    }
    fl_log_set_role("agent");
    return serve(argv[2]);
}
