#define _GNU_SOURCE /* pipe2 */
#include "agent_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_sandbox.h"
#include "fl_file.h"
#include "fl_json.h"
#include "fl_log.h"
#include "fl_mem.h"
#include "fl_time.h"

#define SPEC_NAME "spec.json"
#define PATH_SIZE 4096

struct agent_worker {
    pid_t pid;
    int fd;            /* read end of the child's standard output */
    char line[2048];   /* partial line */
    size_t line_length;
    bool reaped;
    int exit_status;
    bool said_done;
    double terminated_at;  /* monotonic time SIGTERM was sent; 0 before */
};

static json_t *spec_json(const tr_round_options *o, const agent_worker_paths *paths)
{
    json_t *spec = json_pack(
        "{s:s, s:s, s:s, s:s, s:f, s:i, s:f, s:f, s:b, s:i, s:I, s:b, s:i, s:i, s:i, s:f, "
        "s:I, s:i, s:i, s:b}",
        "model_dir", o->model_dir, "train_path", o->train_path, "adapter_in", paths->adapter_in,
        "work_dir", paths->work_dir, "val_fraction", o->val_fraction, "rank", o->lora.rank,
        "alpha", (double)o->lora.alpha, "dropout", (double)o->lora.dropout, "use_rslora",
        o->lora.use_rslora, "targets", (int)o->lora.targets, "lora_seed",
        (json_int_t)o->lora_seed, "frozen_a", o->frozen_a, "steps", o->steps, "batch_size",
        o->batch_size, "seq_len", o->seq_len, "lr", (double)o->lr, "seed", (json_int_t)o->seed,
        "max_val_batches", o->max_val_batches, "threads", o->threads, "require_sandbox",
        paths->require_sandbox);
    if (o->validation_path != NULL)
        json_object_set_new(spec, "validation_path", json_string(o->validation_path));
    return spec;
}

int agent_worker_write_spec(const tr_round_options *options, const agent_worker_paths *paths,
                            fl_error *err)
{
    char path[PATH_SIZE];
    if (fl_path_format(path, sizeof(path), "%s/%s", paths->work_dir, SPEC_NAME) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", paths->work_dir);
    json_t *spec = spec_json(options, paths);
    int rc = fl_json_save_file(path, spec, 0600, err);
    json_decref(spec);
    return rc;
}

/* The child's reading of the spec; strings stay owned by root. */
typedef struct worker_spec {
    tr_round_options options;
    const char *adapter_in, *work_dir;
    bool require_sandbox;
} worker_spec;

static int parse_spec(json_t *root, const char *where, worker_spec *spec, fl_error *err)
{
    tr_round_options *o = &spec->options;
    tr_round_options_init(o);
    json_int_t rank = 0, targets = 0, lora_seed = 0, steps = 0, batch = 0, seq = 0, seed = 0;
    json_int_t val_batches = 0, threads = 0;
    double alpha = 0, dropout = 0, lr = 0;
    int use_rslora = 0, frozen_a = 0, sandbox = 1;
    json_error_t error;
    if (json_unpack_ex(root, &error, 0,
                       "{s:s, s:s, s:s, s:s, s:F, s:I, s:F, s:F, s:b, s:I, s:I, s:b, s:I, s:I, "
                       "s:I, s:F, s:I, s:I, s:I, s:b}",
                       "model_dir", &o->model_dir, "train_path", &o->train_path, "adapter_in",
                       &spec->adapter_in, "work_dir", &spec->work_dir, "val_fraction",
                       &o->val_fraction, "rank", &rank, "alpha", &alpha, "dropout", &dropout,
                       "use_rslora", &use_rslora, "targets", &targets, "lora_seed", &lora_seed,
                       "frozen_a", &frozen_a, "steps", &steps, "batch_size", &batch, "seq_len",
                       &seq, "lr", &lr, "seed", &seed, "max_val_batches", &val_batches,
                       "threads", &threads, "require_sandbox", &sandbox) != 0)
        return fl_error_set(err, FL_EFORMAT, "%s: %s", where, error.text);

    o->validation_path = json_string_value(json_object_get(root, "validation_path"));
    o->lora.rank = (int)rank;
    o->lora.alpha = (float)alpha;
    o->lora.dropout = (float)dropout;
    o->lora.use_rslora = use_rslora;
    o->lora.targets = (unsigned)targets;
    o->lora_seed = (uint64_t)lora_seed;
    o->frozen_a = frozen_a;
    o->steps = (int)steps;
    o->batch_size = (int)batch;
    o->seq_len = (int)seq;
    o->lr = (float)lr;
    o->seed = (uint64_t)seed;
    o->max_val_batches = (int)val_batches;
    o->threads = (int)threads;
    spec->require_sandbox = sandbox;
    return FL_OK;
}

static int confine(const worker_spec *spec, fl_error *err)
{
    const char *read_only[4] = {spec->options.model_dir, spec->options.train_path,
                                spec->adapter_in, spec->options.validation_path};
    const char *writable[1] = {spec->work_dir};
    agent_sandbox_paths paths = {read_only, spec->options.validation_path ? 4u : 3u, writable, 1};
    int rc = agent_sandbox_apply(&paths, err);
    if (rc == FL_EUNSUPPORTED && !spec->require_sandbox) {
        printf("warning %s\n", err->msg);
        return FL_OK;
    }
    return rc;
}

/*
 * Test-only: FEDLORA_TEST_STEP_DELAY_MS makes the trainer process sleep that
 * many milliseconds after every local step, so integration tests can hold a
 * site in training for longer than the heartbeat timeout. Nothing else reads
 * the variable.
 */
static void delay_step_for_test(void)
{
    const char *text = getenv("FEDLORA_TEST_STEP_DELAY_MS");
    long milliseconds = text != NULL ? strtol(text, NULL, 10) : 0;
    if (milliseconds <= 0)
        return;
    struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

static int report_progress(void *context, const tr_round_step *step)
{
    (void)context;
    printf("progress %d %d %.6f\n", step->step, step->steps, step->loss);
    fflush(stdout);
    delay_step_for_test();
    return 0;
}

static int write_outputs(const worker_spec *spec, const tr_round_result *result, fl_error *err)
{
    char path[PATH_SIZE];
    if (fl_path_format(path, sizeof(path), "%s/delta.bin", spec->work_dir) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "work path too long");
    int rc = fl_file_write_atomic(path, result->delta, result->trained_count * sizeof(float),
                                  0600, err);
    if (rc != FL_OK)
        return rc;

    json_t *metrics = json_pack("{s:f, s:f, s:I, s:f, s:f, s:I}", "val_loss_before",
                                result->val_loss_before, "train_loss", result->train_loss,
                                "examples", (json_int_t)result->examples, "train_s",
                                result->train_s, "eval_s", result->eval_s, "count",
                                (json_int_t)result->trained_count);
    if (fl_path_format(path, sizeof(path), "%s/metrics.json", spec->work_dir) != FL_OK)
        rc = fl_error_set(err, FL_ERANGE, "work path too long");
    else
        rc = fl_json_save_file(path, metrics, 0600, err);
    json_decref(metrics);
    return rc;
}

static int run_spec(const char *spec_path, fl_error *err)
{
    json_t *root = fl_json_load_file(spec_path, 1 << 20, err);
    if (root == NULL)
        return FL_EFORMAT;
    worker_spec spec;
    char *adapter = NULL;
    size_t adapter_size = 0;
    tr_round_result result = {0};
    int rc = parse_spec(root, spec_path, &spec, err);
    if (rc == FL_OK)
        rc = confine(&spec, err);
    if (rc == FL_OK)
        rc = fl_file_read_all(spec.adapter_in, (size_t)1 << 36, &adapter, &adapter_size, err);
    if (rc == FL_OK && adapter_size % sizeof(float) != 0)
        rc = fl_error_set(err, FL_EFORMAT, "%s: %zu bytes is not a whole number of float32 values",
                          spec.adapter_in, adapter_size);
    if (rc == FL_OK) {
        spec.options.adapter_in = (const float *)adapter;
        spec.options.adapter_in_count = adapter_size / sizeof(float);
        rc = tr_round_run(&spec.options, report_progress, NULL, &result, err);
    }
    if (rc == FL_OK)
        rc = write_outputs(&spec, &result, err);
    free(result.delta);
    free(adapter);
    json_decref(root);
    return rc;
}

/*
 * Test-only: with FEDLORA_TEST_TRAINER_IGNORES_SIGTERM set to 1 the trainer
 * process ignores SIGTERM, so an integration test can check that the agent
 * sends SIGKILL once its stop_timeout has passed. Nothing else reads the
 * variable.
 */
static void ignore_sigterm_for_test(void)
{
    const char *text = getenv("FEDLORA_TEST_TRAINER_IGNORES_SIGTERM");
    if (text != NULL && strcmp(text, "1") == 0)
        signal(SIGTERM, SIG_IGN);
}

int agent_worker_main(const char *spec_path)
{
    fl_error err = {0};
    ignore_sigterm_for_test();
    if (run_spec(spec_path, &err) != FL_OK) {
        printf("error %s\n", err.msg);
        fflush(stdout);
        return 1;
    }
    printf("done\n");
    fflush(stdout);
    return 0;
}

int agent_worker_start(agent_worker **out, const char *work_dir, fl_error *err)
{
    *out = NULL;
    char spec[PATH_SIZE], self[PATH_SIZE];
    if (fl_path_format(spec, sizeof(spec), "%s/%s", work_dir, SPEC_NAME) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", work_dir);
    ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (length <= 0)
        return fl_error_set(err, FL_EIO, "cannot find this program's path: %s", strerror(errno));
    self[length] = '\0';

    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0)
        return fl_error_set(err, FL_EIO, "cannot create a pipe: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return fl_error_set(err, FL_EIO, "cannot start the trainer process: %s", strerror(errno));
    }
    if (pid == 0) {
        /* A trainer outliving a killed agent would keep the site's cores busy for nothing. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        dup2(pipe_fds[1], STDOUT_FILENO);
        execl(self, self, "--trainer-worker", spec, (char *)NULL);
        printf("error cannot run %s: %s\n", self, strerror(errno));
        _exit(127);
    }
    close(pipe_fds[1]);
    fcntl(pipe_fds[0], F_SETFL, fcntl(pipe_fds[0], F_GETFL) | O_NONBLOCK);

    agent_worker *worker = fl_xcalloc(1, sizeof(*worker));
    worker->pid = pid;
    worker->fd = pipe_fds[0];
    *out = worker;
    return FL_OK;
}

int agent_worker_fd(const agent_worker *worker)
{
    return worker->fd;
}

static void parse_line(agent_worker *worker, const char *line, agent_worker_status *status)
{
    int step = 0, steps = 0;
    double loss = 0;
    if (sscanf(line, "progress %d %d %lf", &step, &steps, &loss) == 3) {
        status->step = step;
        status->steps = steps;
        status->loss = loss;
    } else if (strcmp(line, "done") == 0) {
        worker->said_done = true;
    } else if (strncmp(line, "warning ", 8) == 0) {
        fl_warn("trainer process: %s", line + 8);
    } else if (strncmp(line, "error ", 6) == 0) {
        snprintf(status->error, sizeof(status->error), "%s", line + 6);
    }
}

static void read_output(agent_worker *worker, agent_worker_status *status)
{
    char buffer[4096];
    ssize_t got;
    while ((got = read(worker->fd, buffer, sizeof(buffer))) > 0) {
        for (ssize_t i = 0; i < got; i++) {
            if (buffer[i] != '\n') {
                if (worker->line_length + 1 < sizeof(worker->line))
                    worker->line[worker->line_length++] = buffer[i];
                continue;
            }
            worker->line[worker->line_length] = '\0';
            parse_line(worker, worker->line, status);
            worker->line_length = 0;
        }
    }
}

void agent_worker_update(agent_worker *worker, agent_worker_status *status)
{
    read_output(worker, status);
    if (!worker->reaped && waitpid(worker->pid, &worker->exit_status, WNOHANG) == worker->pid) {
        worker->reaped = true;
        read_output(worker, status);
    }
    status->finished = worker->reaped;
    status->succeeded = worker->reaped && WIFEXITED(worker->exit_status) &&
                        WEXITSTATUS(worker->exit_status) == 0 && worker->said_done;
    if (worker->reaped && !status->succeeded && status->error[0] == '\0') {
        if (WIFSIGNALED(worker->exit_status))
            snprintf(status->error, sizeof(status->error), "the trainer process died of signal %d",
                     WTERMSIG(worker->exit_status));
        else
            snprintf(status->error, sizeof(status->error),
                     "the trainer process exited with status %d",
                     WIFEXITED(worker->exit_status) ? WEXITSTATUS(worker->exit_status) : -1);
    }
}

void agent_worker_terminate(agent_worker *worker)
{
    if (worker == NULL || worker->reaped || worker->terminated_at > 0)
        return;
    kill(worker->pid, SIGTERM);
    worker->terminated_at = fl_time_monotonic();
}

bool agent_worker_reap(agent_worker *worker, double stop_timeout)
{
    if (worker->reaped)
        return true;
    agent_worker_terminate(worker);
    if (waitpid(worker->pid, &worker->exit_status, WNOHANG) == worker->pid) {
        worker->reaped = true;
        fl_info("trainer process %d stopped %.2f s after SIGTERM", (int)worker->pid,
                fl_time_monotonic() - worker->terminated_at);
        return true;
    }
    if (fl_time_monotonic() - worker->terminated_at < stop_timeout)
        return false;

    /* SIGKILL cannot be caught, so the blocking wait ends as soon as the kernel frees it. */
    fl_warn("trainer process %d still runs %.1f s after SIGTERM; sending SIGKILL",
            (int)worker->pid, stop_timeout);
    kill(worker->pid, SIGKILL);
    waitpid(worker->pid, &worker->exit_status, 0);
    worker->reaped = true;
    fl_info("trainer process %d stopped %.2f s after SIGTERM, by SIGKILL", (int)worker->pid,
            fl_time_monotonic() - worker->terminated_at);
    return true;
}

void agent_worker_stop(agent_worker **worker, double grace_seconds)
{
    if (worker == NULL || *worker == NULL)
        return;
    agent_worker *w = *worker;
    while (!agent_worker_reap(w, grace_seconds)) {
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    close(w->fd);
    free(w);
    *worker = NULL;
}

int agent_worker_read_result(const char *work_dir, size_t expected_count,
                             agent_worker_result *result, fl_error *err)
{
    memset(result, 0, sizeof(*result));
    char path[PATH_SIZE];
    if (fl_path_format(path, sizeof(path), "%s/metrics.json", work_dir) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", work_dir);
    json_t *metrics = fl_json_load_file(path, 1 << 20, err);
    if (metrics == NULL)
        return FL_EFORMAT;
    json_int_t examples = 0;
    json_error_t error;
    int rc = json_unpack_ex(metrics, &error, 0, "{s:F, s:F, s:I, s:F, s:F}", "val_loss_before",
                            &result->val_loss_before, "train_loss", &result->train_loss,
                            "examples", &examples, "train_s", &result->train_s, "eval_s",
                            &result->eval_s) == 0
                 ? FL_OK
                 : fl_error_set(err, FL_EFORMAT, "%s: %s", path, error.text);
    json_decref(metrics);
    result->examples = (uint64_t)examples;
    if (rc != FL_OK)
        return rc;

    char *data = NULL;
    size_t size = 0;
    if (fl_path_format(path, sizeof(path), "%s/delta.bin", work_dir) != FL_OK)
        return fl_error_set(err, FL_ERANGE, "%s: path too long", work_dir);
    rc = fl_file_read_all(path, (size_t)1 << 36, &data, &size, err);
    if (rc == FL_OK && size != expected_count * sizeof(float)) {
        free(data);
        return fl_error_set(err, FL_EFORMAT, "%s holds %zu bytes, expected %zu", path, size,
                            expected_count * sizeof(float));
    }
    if (rc == FL_OK) {
        result->delta = (float *)data;
        result->count = expected_count;
    }
    return rc;
}
