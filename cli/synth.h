/*
 * synth.h - the synthetic clinical consultation generator behind
 * `fedlora synth` and the built-in demo.
 *
 * Every record is invented from a fixed table of common conditions (age
 * range, sex ratio, symptoms, findings, diagnosis and advice, in English and
 * Chinese); no real patient data is involved. Sites differ the way hospitals
 * do: disease prevalence follows a regional profile with seeded jitter, the
 * age mix shifts, and each site writes its notes in its own style.
 */
#ifndef SYNTH_H
#define SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "fl_error.h"

typedef enum synth_lang {
    SYNTH_EN = 0,
    SYNTH_ZH = 1,
} synth_lang;

/* One condition of the table; index 0 of each [2] array is English, 1 Chinese. */
typedef struct synth_condition {
    const char *name[2];
    const char *group;          /* respiratory, digestive, cardiometabolic, other */
    int age_min, age_max;       /* years */
    double female_share;        /* probability that the patient is female */
    int duration_min, duration_max;
    const char *duration_unit[2]; /* "days" / "weeks" */
    const char *symptoms[2][4];
    const char *findings[2][3];
    const char *advice[2];
} synth_condition;

extern const synth_condition synth_conditions[];
extern const size_t synth_condition_count;

/* A site's data distribution. */
typedef struct synth_site {
    int index;               /* 1-based; 0 is the shared public corpus */
    const char *profile;     /* name of the regional profile */
    int note_style;          /* 0 narrative, 1 shorthand, 2 structured; -1 mixes all three */
    int age_shift;           /* years added to every patient's age, within the condition's range */
    double prevalence[16];   /* [synth_condition_count] weights, summing to 1 */
} synth_site;

/* Derives the distribution of site (0 = public corpus) of a run seeded with seed. */
void synth_site_init(synth_site *site, int index, uint64_t seed);

/*
 * Writes count records of site as messages JSONL to path (atomically),
 * drawing from a generator seeded by stream_seed.
 */
int synth_write_file(const char *path, const synth_site *site, size_t count, synth_lang lang,
                     uint64_t stream_seed, fl_error *err) FL_WARN_UNUSED;

#endif
