/*
 * fedlora synth: write synthetic clinical consultations for a multi-site
 * demo: per site a training file and a held-out validation file with the
 * site's own distribution, plus a shared public corpus and a manifest.
 */
#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "fl_file.h"
#include "fl_json.h"
#include "synth.h"

static const cli_option s_options[] = {
    {"sites", "N", "number of sites, 1 to 64 (required)"},
    {"records", "N", "training records per site and in the public corpus (required)"},
    {"out", "DIR", "folder to write into; created when missing (required)"},
    {"seed", "S", "seed of every random choice, a 64-bit integer (default: 1)"},
    {"lang", "LANG", "language of the notes: en or zh (default: en)"},
    {"val-records", "N", "held-out validation records per site (default: records / 10, "
                         "at least 1)"},
};
#define OPTION_COUNT (sizeof(s_options) / sizeof(s_options[0]))

static const char *const STYLE_NAMES[] = {"narrative", "shorthand", "structured"};

/* Mixes seed with the file's identity so every file draws an independent stream. */
static uint64_t stream_seed(uint64_t seed, int site, int kind)
{
    return seed * 0x9E3779B97F4A7C15ull + (uint64_t)site * 0xD1B54A32D192ED03ull +
           (uint64_t)kind * 0x8CB92BA72F3D8DD7ull;
}

static json_t *site_manifest(const synth_site *site, const char *train, const char *val)
{
    json_t *prevalence = json_object();
    for (size_t c = 0; c < synth_condition_count; c++)
        json_object_set_new(prevalence, synth_conditions[c].name[0],
                            json_real(site->prevalence[c]));
    json_t *entry = json_pack("{s:i,s:s,s:s,s:i,s:o}", "site", site->index, "profile",
                              site->profile, "note_style",
                              site->note_style >= 0 ? STYLE_NAMES[site->note_style] : "mixed",
                              "age_shift", site->age_shift, "prevalence", prevalence);
    json_object_set_new(entry, "train", json_string(train));
    if (val != NULL)
        json_object_set_new(entry, "validation", json_string(val));
    return entry;
}

typedef struct synth_request {
    int64_t sites, records, val_records;
    uint64_t seed;
    synth_lang lang;
    const char *out;
} synth_request;

static int write_all(const synth_request *request)
{
    fl_error err = {0};
    if (fl_file_mkdirs(request->out, 0755, &err) != FL_OK) {
        fprintf(stderr, "fedlora synth: %s\n", err.msg);
        return 1;
    }

    json_t *manifest = json_pack("{s:I,s:s,s:I,s:I,s:[]}", "seed", (json_int_t)request->seed,
                                 "lang", request->lang == SYNTH_ZH ? "zh" : "en", "records",
                                 (json_int_t)request->records, "val_records",
                                 (json_int_t)request->val_records, "sites");
    printf("%-6s %-26s %-11s %8s %8s\n", "site", "profile", "notes", "train", "val");
    int status = 0;
    for (int k = 0; k <= request->sites && status == 0; k++) {
        synth_site site;
        synth_site_init(&site, k, request->seed);
        char train[4096], val[4096];
        snprintf(train, sizeof(train), "%s/%s%.0d.jsonl", request->out, k == 0 ? "public" : "site-",
                 k);
        snprintf(val, sizeof(val), "%s/site-%d-val.jsonl", request->out, k);

        int rc = synth_write_file(train, &site, (size_t)request->records, request->lang,
                                  stream_seed(request->seed, k, 0), &err);
        if (rc == FL_OK && k > 0)
            rc = synth_write_file(val, &site, (size_t)request->val_records, request->lang,
                                  stream_seed(request->seed, k, 1), &err);
        if (rc != FL_OK) {
            fprintf(stderr, "fedlora synth: %s\n", err.msg);
            status = 1;
            break;
        }
        const char *base_train = strrchr(train, '/') + 1, *base_val = strrchr(val, '/') + 1;
        json_array_append_new(json_object_get(manifest, "sites"),
                              site_manifest(&site, base_train, k > 0 ? base_val : NULL));
        char label[16];
        snprintf(label, sizeof(label), "%d", k);
        printf("%-6s %-26s %-11s %8lld %8lld\n", k == 0 ? "public" : label, site.profile,
               site.note_style >= 0 ? STYLE_NAMES[site.note_style] : "mixed",
               (long long)request->records, k > 0 ? (long long)request->val_records : 0LL);
    }

    char path[4096];
    snprintf(path, sizeof(path), "%s/sites.json", request->out);
    if (status == 0 && fl_json_save_file(path, manifest, 0644, &err) != FL_OK) {
        fprintf(stderr, "fedlora synth: %s\n", err.msg);
        status = 1;
    }
    json_decref(manifest);
    return status;
}

int cmd_synth(int argc, char **argv)
{
    cli_args args;
    int parsed = cli_parse("synth", "--sites N --records N --out DIR [--seed S] [--lang en|zh]",
                           "Writes invented clinical consultations (age, sex, symptoms,\n"
                           "findings, then diagnosis and advice) as messages JSONL: per site\n"
                           "site-K.jsonl and site-K-val.jsonl, each site with its own disease\n"
                           "mix, age mix and note style; public.jsonl, a shared corpus; and\n"
                           "sites.json describing each site. No real patient data is used.",
                           s_options, OPTION_COUNT, argc, argv, &args);
    if (parsed != CLI_PARSE_OK)
        return cli_parse_exit(parsed);
    assert(synth_condition_count <= 16);

    synth_request request = {.lang = SYNTH_EN, .seed = 1};
    const char *sites = cli_get(&args, s_options, OPTION_COUNT, "sites");
    const char *records = cli_get(&args, s_options, OPTION_COUNT, "records");
    const char *seed = cli_get(&args, s_options, OPTION_COUNT, "seed");
    const char *lang = cli_get(&args, s_options, OPTION_COUNT, "lang");
    const char *val = cli_get(&args, s_options, OPTION_COUNT, "val-records");
    request.out = cli_get(&args, s_options, OPTION_COUNT, "out");
    if (sites == NULL || records == NULL || request.out == NULL || args.positional_count != 0) {
        fprintf(stderr, "fedlora synth: give --sites N, --records N and --out DIR\n");
        return 2;
    }
    int64_t seed_value = 1;
    if (!cli_to_int("synth", "sites", sites, 1, 64, &request.sites) ||
        !cli_to_int("synth", "records", records, 1, 10000000, &request.records) ||
        (seed != NULL && !cli_to_int("synth", "seed", seed, 0, INT64_MAX, &seed_value)))
        return 2;
    request.seed = (uint64_t)seed_value;
    request.val_records = request.records / 10 > 0 ? request.records / 10 : 1;
    if (val != NULL && !cli_to_int("synth", "val-records", val, 1, 10000000,
                                   &request.val_records))
        return 2;
    if (lang != NULL && strcmp(lang, "zh") == 0) {
        request.lang = SYNTH_ZH;
    } else if (lang != NULL && strcmp(lang, "en") != 0) {
        fprintf(stderr, "fedlora synth: --lang must be 'en' or 'zh', not '%s'\n", lang);
        return 2;
    }
    return write_all(&request);
}
