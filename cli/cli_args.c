#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLI_MAX_OPTIONS 63

static const char *s_global_config;

void cli_set_global_config(const char *path)
{
    s_global_config = path;
}

const char *cli_global_config(void)
{
    return s_global_config;
}

static void print_help(const char *command, const char *usage, const char *description,
                       const cli_option *options, size_t count)
{
    printf("Usage: fedlora %s %s\n\n%s\n\nOptions:\n", command, usage, description);
    for (size_t i = 0; i < count; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", options[i].name, options[i].arg ? " " : "",
                 options[i].arg ? options[i].arg : "");
        printf("  %-24s %s\n", left, options[i].help);
    }
    printf("  %-24s %s\n", "--help", "show this help and exit");
}

int cli_parse(const char *command, const char *usage, const char *description,
              const cli_option *options, size_t count, int argc, char **argv, cli_args *out)
{
    memset(out, 0, sizeof(*out));
    if (count > CLI_MAX_OPTIONS) {
        fprintf(stderr, "fedlora %s: too many options declared\n", command);
        return CLI_PARSE_USAGE;
    }

    struct option long_options[CLI_MAX_OPTIONS + 2];
    for (size_t i = 0; i < count; i++) {
        long_options[i] = (struct option){options[i].name,
                                          options[i].arg ? required_argument : no_argument,
                                          NULL, (int)(i + 1000)};
    }
    long_options[count] = (struct option){"help", no_argument, NULL, 'h'};
    long_options[count + 1] = (struct option){NULL, 0, NULL, 0};

    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+h", long_options, NULL)) != -1) {
        if (opt == 'h') {
            print_help(command, usage, description, options, count);
            return CLI_PARSE_HELP;
        }
        if (opt >= 1000 && (size_t)(opt - 1000) < count) {
            out->values[opt - 1000] = optarg ? optarg : "1";
            continue;
        }
        const char *bad = argv[optind - 1];
        if (opt == ':' || (opt == '?' && optopt >= 1000))
            fprintf(stderr, "fedlora %s: option %s needs a value\n", command, bad);
        else
            fprintf(stderr, "fedlora %s: unknown option '%s'; see 'fedlora %s --help'\n",
                    command, bad, command);
        return CLI_PARSE_USAGE;
    }
    out->positional = argv + optind;
    out->positional_count = argc - optind;
    return CLI_PARSE_OK;
}

int cli_parse_exit(int parse_result)
{
    return parse_result == CLI_PARSE_HELP ? 0 : 2;
}

const char *cli_get(const cli_args *args, const cli_option *options, size_t count,
                    const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(options[i].name, name) == 0)
            return args->values[i];
    }
    return NULL;
}

bool cli_to_int(const char *command, const char *option, const char *text, int64_t min,
                int64_t max, int64_t *out)
{
    errno = 0;
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0) {
        fprintf(stderr, "fedlora %s: --%s: '%s' is not an integer\n", command, option, text);
        return false;
    }
    if (value < min || value > max) {
        fprintf(stderr, "fedlora %s: --%s: %lld is out of range; use %lld to %lld\n", command,
                option, value, (long long)min, (long long)max);
        return false;
    }
    *out = value;
    return true;
}

bool cli_to_double(const char *command, const char *option, const char *text, double min,
                   double max, double *out)
{
    errno = 0;
    char *end = NULL;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !isfinite(value)) {
        fprintf(stderr, "fedlora %s: --%s: '%s' is not a number\n", command, option, text);
        return false;
    }
    if (value < min || value > max) {
        fprintf(stderr, "fedlora %s: --%s: %g is out of range; use %g to %g\n", command, option,
                value, min, max);
        return false;
    }
    *out = value;
    return true;
}

bool cli_check_model_dir(const char *command, const char *option, const char *dir)
{
    char path[4096];
    int length = snprintf(path, sizeof(path), "%s/config.json", dir);
    if (length > 0 && (size_t)length < sizeof(path) && access(path, R_OK) == 0)
        return true;
    fprintf(stderr,
            "fedlora %s: --%s %s: not a Hugging Face model folder (%s is missing or not "
            "readable); name the folder that holds config.json and the *.safetensors files\n",
            command, option, dir, path);
    return false;
}
