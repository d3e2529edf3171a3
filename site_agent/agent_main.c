/*
 * fedlora-agent: the daemon each hospital runs.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_service.h"
#include "agent_setup.h"
#include "agent_worker.h"
#include "fl_log.h"

#ifndef FEDLORA_VERSION
#define FEDLORA_VERSION "unknown"
#endif

static void print_usage(FILE *out)
{
    fprintf(out,
            "Usage: fedlora-agent --config FILE [--check]\n"
            "\n"
            "Runs a site agent of a fedlora project: it trains LoRA adapters on this site's\n"
            "records and sends only clipped, quantised, masked updates to the coordinator.\n"
            "\n"
            "Options:\n"
            "  --config FILE        configuration file (see config/agent.conf)\n"
            "  --check              validate the configuration, key file and manifest, then exit\n"
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

static int serve(agent_setup *setup)
{
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_signal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    signal(SIGPIPE, SIG_IGN);

    agent_service *service = NULL;
    fl_error err = {0};
    if (agent_service_new(&service, setup, &err) != FL_OK) {
        fl_error("cannot start the agent: %s", err.msg);
        return 1;
    }
    int rc = agent_service_run(service, &s_stop);
    agent_service_destroy(&service);
    return rc == FL_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    /* The agent starts itself again as its sandboxed trainer process. */
    if (argc == 3 && strcmp(argv[1], "--trainer-worker") == 0) {
        fl_log_set_role("trainer");
        return agent_worker_main(argv[2]);
    }

    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"print-sample", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    int check_only = 0;
    int opt;

    fl_log_set_role("agent");
    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'k': check_only = 1; break;
        case 's': fl_config_write_sample(agent_config_keys, agent_config_key_count, stdout);
                  return 0;
        case 'h': print_usage(stdout); return 0;
        case 'V': printf("fedlora-agent %s\n", FEDLORA_VERSION); return 0;
        default: print_usage(stderr); return 2;
        }
    }
    if (config_path == NULL || optind != argc) {
        fprintf(stderr, "fedlora-agent: --config FILE is required\n");
        print_usage(stderr);
        return 2;
    }

    agent_setup setup;
    fl_error err = {0};
    if (agent_setup_load(&setup, config_path, &err) != FL_OK) {
        fl_error("start-up stopped: %s", err.msg);
        agent_setup_release(&setup);
        return 1;
    }
    fl_log_set_level((fl_log_level)setup.config.log_level);
    fl_info("configuration %s, key file and project manifest are valid", config_path);

    int status = check_only ? 0 : serve(&setup);
    agent_setup_release(&setup);
    return status;
}
