/*
 * fedlora-coordinator: the central daemon of a fedlora project.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_service.h"
#include "coord_setup.h"
#include "fl_log.h"

#ifndef FEDLORA_VERSION
#define FEDLORA_VERSION "unknown"
#endif

static void print_usage(FILE *out)
{
    fprintf(out,
            "Usage: fedlora-coordinator --config FILE [--check]\n"
            "\n"
            "Runs the coordinator of a fedlora project: it schedules federated rounds,\n"
            "aggregates the sites' masked adapter updates and signs the global adapter.\n"
            "\n"
            "Options:\n"
            "  --config FILE        configuration file (see config/coordinator.conf)\n"
            "  --check              validate the configuration, key file and manifest, then exit\n"
            "  --submit JOB.json    add a job to the state folder and exit (the running\n"
            "                       coordinator picks it up within a second)\n"
            "  --print-sample       print a commented sample configuration and exit\n"
            "  --help               show this help and exit\n"
            "  --version            show the version and exit\n");
}

static volatile sig_atomic_t s_stop;

static void on_signal(int signal_number)
{
    (void)signal_number;
    s_stop = 1;
}

static int submit_job(coord_setup *setup, const char *path)
{
    coord_job_spec job;
    coord_store *store = NULL;
    fl_error err = {0};
    bool created = false;
    int rc = coord_job_load(&job, path, &err);
    if (rc == FL_OK)
        rc = coord_store_open(&store, setup->config.state_dir, &err);
    if (rc == FL_OK)
        rc = coord_store_submit(store, &job, &created, &err);
    coord_store_destroy(&store);
    if (rc != FL_OK) {
        fl_error("job not submitted: %s", err.msg);
        return 1;
    }
    fl_info("job %s %s", job.id, created ? "submitted" : "was already submitted; nothing changed");
    return 0;
}

static int serve(coord_setup *setup)
{
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_signal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    signal(SIGPIPE, SIG_IGN);

    coord_service *service = NULL;
    fl_error err = {0};
    if (coord_service_new(&service, setup, &err) != FL_OK) {
        fl_error("cannot start the service: %s", err.msg);
        return 1;
    }
    int rc = coord_service_run(service, &s_stop);
    coord_service_destroy(&service);
    return rc == FL_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"submit", required_argument, NULL, 'j'},
        {"print-sample", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    const char *submit_path = NULL;
    int check_only = 0;
    int opt;

    fl_log_set_role("coordinator");
    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'k': check_only = 1; break;
        case 'j': submit_path = optarg; break;
        case 's': fl_config_write_sample(coord_config_keys, coord_config_key_count, stdout);
                  return 0;
        case 'h': print_usage(stdout); return 0;
        case 'V': printf("fedlora-coordinator %s\n", FEDLORA_VERSION); return 0;
        default: print_usage(stderr); return 2;
        }
    }
    if (config_path == NULL || optind != argc) {
        fprintf(stderr, "fedlora-coordinator: --config FILE is required\n");
        print_usage(stderr);
        return 2;
    }

    coord_setup setup;
    fl_error err = {0};
    if (coord_setup_load(&setup, config_path, &err) != FL_OK) {
        fl_error("start-up stopped: %s", err.msg);
        coord_setup_release(&setup);
        return 1;
    }
    fl_log_set_level((fl_log_level)setup.config.log_level);
    fl_info("configuration %s, key file and project manifest are valid", config_path);

    int status = 0;
    if (submit_path != NULL)
        status = submit_job(&setup, submit_path);
    else if (!check_only)
        status = serve(&setup);
    coord_setup_release(&setup);
    return status;
}
