#include "coord_store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fl_file.h"
#include "fl_json.h"
#include "fl_mem.h"

#define STORE_PATH_MAX 4096
#define STORE_MAX_JSON (256u << 20)

const char *const coord_job_status_names[] = {"queued", "running", "completed", "aborted",
                                              "failed", NULL};

struct coord_store {
    char *root;
};

static int job_path(const coord_store *store, const char *id, const char *name, char *path,
                    size_t size, fl_error *err)
{
    int length = snprintf(path, size, "%s/jobs/%s%s%s", store->root, id, name ? "/" : "",
                          name ? name : "");
    if (length < 0 || (size_t)length >= size)
        return fl_error_set(err, FL_ERANGE, "%s: state path too long", store->root);
    return FL_OK;
}

/* Job ids become folder names, so only a safe character set is accepted. */
static int check_id(const char *id, fl_error *err)
{
    size_t length = strlen(id);
    if (length == 0 || length > COORD_JOB_ID_MAX || id[0] == '.')
        return fl_error_set(err, FL_EINVAL, "job id '%s' must have 1 to %d characters and not "
                                            "start with '.'",
                            id, COORD_JOB_ID_MAX);
    for (const char *p = id; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return fl_error_set(err, FL_EINVAL,
                                "job id '%s' contains '%c'; use letters, digits, '-', '_', '.'",
                                id, *p);
    }
    return FL_OK;
}

int coord_store_open(coord_store **out, const char *state_dir, fl_error *err)
{
    *out = NULL;
    char jobs[STORE_PATH_MAX];
    snprintf(jobs, sizeof(jobs), "%s/jobs", state_dir);
    int rc = fl_file_mkdirs(jobs, 0700, err);
    if (rc != FL_OK)
        return fl_error_prefix(err, "state_dir %s is not usable: ", state_dir);
    if (access(jobs, W_OK) != 0)
        return fl_error_set(err, FL_EPERM,
                            "state_dir %s is not writable by this user; fix its owner or "
                            "permissions",
                            state_dir);

    coord_store *store = fl_xcalloc(1, sizeof(*store));
    store->root = fl_xstrdup(state_dir);
    *out = store;
    return FL_OK;
}

void coord_store_destroy(coord_store **store)
{
    if (store == NULL || *store == NULL)
        return;
    free((*store)->root);
    free(*store);
    *store = NULL;
}

static json_t *state_to_json(const coord_job_state *state)
{
    return json_pack("{s:s, s:i, s:s}", "status", coord_job_status_names[state->status],
                     "completed_rounds", state->completed_rounds, "reason", state->reason);
}

static int state_from_json(const json_t *root, const char *where, coord_job_state *state,
                           fl_error *err)
{
    memset(state, 0, sizeof(*state));
    const char *status = NULL, *reason = NULL;
    int64_t rounds = 0;
    if (fl_json_get_string(root, "status", where, &status, err) != FL_OK ||
        fl_json_get_int(root, "completed_rounds", where, &rounds, err) != FL_OK ||
        fl_json_get_string(root, "reason", where, &reason, err) != FL_OK)
        return FL_EFORMAT;

    int index = 0;
    while (coord_job_status_names[index] != NULL &&
           strcmp(coord_job_status_names[index], status) != 0)
        index++;
    if (coord_job_status_names[index] == NULL || rounds < 0 || rounds > 1000000)
        return fl_error_set(err, FL_EFORMAT, "%s: invalid status '%s' or round count %lld",
                            where, status, (long long)rounds);
    state->status = (coord_job_status)index;
    state->completed_rounds = (int)rounds;
    snprintf(state->reason, sizeof(state->reason), "%s", reason);
    return FL_OK;
}

int coord_store_save_state(coord_store *store, const char *id, const coord_job_state *state,
                           fl_error *err)
{
    char path[STORE_PATH_MAX];
    int rc = job_path(store, id, "state.json", path, sizeof(path), err);
    if (rc != FL_OK)
        return rc;
    json_t *json = state_to_json(state);
    rc = fl_json_save_file(path, json, 0600, err);
    json_decref(json);
    return rc;
}

static int same_job(const coord_job_spec *a, const coord_job_spec *b)
{
    json_t *left = coord_job_to_json(a);
    json_t *right = coord_job_to_json(b);
    int equal = json_equal(left, right);
    json_decref(left);
    json_decref(right);
    return equal;
}

static int write_new_job(coord_store *store, const coord_job_spec *job, fl_error *err)
{
    char path[STORE_PATH_MAX];
    int rc = job_path(store, job->id, NULL, path, sizeof(path), err);
    if (rc == FL_OK)
        rc = fl_file_mkdirs(path, 0700, err);
    if (rc != FL_OK)
        return rc;

    /* history.json and state.json first: job.json marks the job as complete on disk. */
    json_t *spec = coord_job_to_json(job);
    json_t *history = json_pack("{s:O, s:[]}", "job", spec, "rounds");
    rc = job_path(store, job->id, "history.json", path, sizeof(path), err);
    if (rc == FL_OK)
        rc = fl_json_save_file(path, history, 0600, err);
    json_decref(history);

    coord_job_state state = {.status = COORD_JOB_QUEUED};
    if (rc == FL_OK)
        rc = coord_store_save_state(store, job->id, &state, err);
    if (rc == FL_OK)
        rc = job_path(store, job->id, "job.json", path, sizeof(path), err);
    if (rc == FL_OK)
        rc = fl_json_save_file(path, spec, 0600, err);
    json_decref(spec);
    return rc;
}

int coord_store_submit(coord_store *store, const coord_job_spec *job, bool *created,
                       fl_error *err)
{
    *created = false;
    int rc = check_id(job->id, err);
    if (rc != FL_OK)
        return rc;

    coord_job_spec existing;
    coord_job_state state;
    fl_error lookup = {0};
    rc = coord_store_load(store, job->id, &existing, &state, &lookup);
    if (rc == FL_OK) {
        if (same_job(&existing, job))
            return FL_OK;
        return fl_error_set(err, FL_EEXIST,
                            "job id '%s' already exists with other settings; choose a new id",
                            job->id);
    }
    if (rc != FL_ENOTFOUND) {
        *err = lookup;
        return rc;
    }

    rc = write_new_job(store, job, err);
    if (rc == FL_OK)
        *created = true;
    return rc;
}

int coord_store_load(coord_store *store, const char *id, coord_job_spec *job,
                     coord_job_state *state, fl_error *err)
{
    int rc = check_id(id, err);
    if (rc != FL_OK)
        return rc;
    char path[STORE_PATH_MAX];
    rc = job_path(store, id, "job.json", path, sizeof(path), err);
    if (rc != FL_OK)
        return rc;
    if (access(path, F_OK) != 0)
        return fl_error_set(err, FL_ENOTFOUND,
                            "no job with id '%s'; 'fedlora job list' shows the jobs", id);

    rc = coord_job_load(job, path, err);
    if (rc != FL_OK)
        return rc;
    if (strcmp(job->id, id) != 0)
        return fl_error_set(err, FL_EFORMAT,
                            "%s: the job id is '%s' but its folder is named '%s'; a job folder "
                            "must carry its job's id, so rename or remove the folder",
                            path, job->id, id);
    rc = job_path(store, id, "state.json", path, sizeof(path), err);
    if (rc != FL_OK)
        return rc;
    json_t *json = fl_json_load_file(path, STORE_MAX_JSON, err);
    if (json == NULL)
        return FL_EFORMAT;
    rc = state_from_json(json, path, state, err);
    json_decref(json);
    return rc;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *coord_store_list(coord_store *store, fl_error *err)
{
    char path[STORE_PATH_MAX];
    snprintf(path, sizeof(path), "%s/jobs", store->root);
    DIR *folder = opendir(path);
    if (folder == NULL) {
        fl_error_set(err, FL_EIO, "%s: cannot list jobs: %s", path, strerror(errno));
        return NULL;
    }

    char **ids = NULL;
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL) {
        char job_file[STORE_PATH_MAX];
        if (entry->d_name[0] == '.' ||
            job_path(store, entry->d_name, "job.json", job_file, sizeof(job_file), NULL) != FL_OK ||
            access(job_file, F_OK) != 0)
            continue;
        ids = fl_xrealloc(ids, (count + 1) * sizeof(char *));
        ids[count++] = fl_xstrdup(entry->d_name);
    }
    closedir(folder);

    if (count > 0) /* ids is NULL while no job exists, and qsort() must not get NULL */
        qsort(ids, count, sizeof(char *), compare_strings);
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++) {
        json_array_append_new(list, json_string(ids[i]));
        free(ids[i]);
    }
    free(ids);
    return list;
}

static json_t *load_history(coord_store *store, const char *id, fl_error *err)
{
    char path[STORE_PATH_MAX];
    if (check_id(id, err) != FL_OK ||
        job_path(store, id, "history.json", path, sizeof(path), err) != FL_OK)
        return NULL;
    return fl_json_load_file(path, STORE_MAX_JSON, err);
}

json_t *coord_store_history(coord_store *store, const char *id, fl_error *err)
{
    coord_job_spec job;
    coord_job_state state;
    if (coord_store_load(store, id, &job, &state, err) != FL_OK)
        return NULL;
    json_t *history = load_history(store, id, err);
    if (history == NULL)
        return NULL;
    json_object_set_new(history, "status", json_string(coord_job_status_names[state.status]));
    json_object_set_new(history, "completed_rounds", json_integer(state.completed_rounds));
    json_object_set_new(history, "reason", json_string(state.reason));
    return history;
}

int coord_store_record_round(coord_store *store, const char *id, const json_t *round,
                             fl_error *err)
{
    json_t *history = load_history(store, id, err);
    if (history == NULL)
        return FL_EFORMAT;
    json_t *rounds = json_object_get(history, "rounds");
    json_int_t number = json_integer_value(json_object_get(round, "round"));
    json_int_t attempt = json_integer_value(json_object_get(round, "attempt"));

    /* Each attempt keeps its own entry, so a retried round shows why every attempt failed. */
    size_t index;
    json_t *existing;
    bool replaced = false;
    json_array_foreach(rounds, index, existing) {
        if (json_integer_value(json_object_get(existing, "round")) == number &&
            json_integer_value(json_object_get(existing, "attempt")) == attempt) {
            json_array_set(rounds, index, (json_t *)round);
            replaced = true;
            break;
        }
    }
    if (!replaced)
        json_array_append(rounds, (json_t *)round);

    char path[STORE_PATH_MAX];
    int rc = job_path(store, id, "history.json", path, sizeof(path), err);
    if (rc == FL_OK)
        rc = fl_json_save_file(path, history, 0600, err);
    json_decref(history);
    return rc;
}

int coord_store_mark_uncounted_rounds(coord_store *store, const char *id, int completed_rounds,
                                      int *marked, fl_error *err)
{
    if (marked != NULL)
        *marked = 0;
    json_t *history = load_history(store, id, err);
    if (history == NULL)
        return FL_EFORMAT;

    int changed = 0;
    size_t index;
    json_t *entry;
    json_array_foreach(json_object_get(history, "rounds"), index, entry) {
        const char *outcome = json_string_value(json_object_get(entry, "outcome"));
        json_int_t number = json_integer_value(json_object_get(entry, "round"));
        if (number <= completed_rounds || outcome == NULL || strcmp(outcome, "completed") != 0)
            continue;
        json_object_set_new(entry, "outcome", json_string("failed"));
        json_object_set_new(entry, "reason",
                            json_string("the coordinator stopped before state.json counted "
                                        "this round, so the round is redone"));
        changed++;
    }

    int rc = FL_OK;
    char path[STORE_PATH_MAX];
    if (changed > 0)
        rc = job_path(store, id, "history.json", path, sizeof(path), err);
    if (changed > 0 && rc == FL_OK)
        rc = fl_json_save_file(path, history, 0600, err);
    json_decref(history);
    if (rc == FL_OK && marked != NULL)
        *marked = changed;
    return rc;
}

int coord_store_checkpoint_path(coord_store *store, const char *id, int round,
                                const char *name, char *path, size_t size, fl_error *err)
{
    char folder[64];
    snprintf(folder, sizeof(folder), "round-%d", round);
    int rc = job_path(store, id, folder, path, size, err);
    if (rc == FL_OK)
        rc = fl_file_mkdirs(path, 0700, err);
    if (rc != FL_OK)
        return rc;
    size_t used = strlen(path);
    int length = snprintf(path + used, size - used, "/%s", name);
    if (length < 0 || (size_t)length >= size - used)
        return fl_error_set(err, FL_ERANGE, "%s: checkpoint path too long", store->root);
    return FL_OK;
}
