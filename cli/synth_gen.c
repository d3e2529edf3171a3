/*
 * synth_gen.c - site profiles and record text of `fedlora synth` (see
 * synth.h). Everything is drawn from splitmix64 generators, so a seed fixes
 * every file byte for byte.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_file.h"
#include "synth.h"

/* Regional profiles: weight multipliers per condition group, and an age shift. */
typedef struct profile {
    const char *name;
    double respiratory, digestive, cardiometabolic, other;
    int age_shift;
} profile;

static const profile PROFILES[] = {
    {"northern winter clinic", 3.0, 1.0, 1.0, 1.0, 0},
    {"coastal general practice", 1.0, 3.0, 1.0, 1.5, 0},
    {"urban older population", 1.0, 1.0, 3.0, 1.0, 15},
    {"suburban young families", 1.5, 1.0, 0.5, 2.5, -10},
};
#define PROFILE_COUNT (sizeof(PROFILES) / sizeof(PROFILES[0]))

static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Returns a uniform double in [0, 1). */
static double uniform(uint64_t *state)
{
    return (double)(next_random(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* Returns a uniform integer in [low, high]. */
static int uniform_int(uint64_t *state, int low, int high)
{
    return low + (int)(next_random(state) % (uint64_t)(high - low + 1));
}

static double group_weight(const profile *p, const char *group)
{
    if (strcmp(group, "respiratory") == 0)
        return p->respiratory;
    if (strcmp(group, "digestive") == 0)
        return p->digestive;
    if (strcmp(group, "cardiometabolic") == 0)
        return p->cardiometabolic;
    return p->other;
}

void synth_site_init(synth_site *site, int index, uint64_t seed)
{
    memset(site, 0, sizeof(*site));
    site->index = index;
    double total = 0;
    if (index == 0) {
        site->profile = "public corpus";
        site->note_style = -1;
        for (size_t c = 0; c < synth_condition_count; c++)
            site->prevalence[c] = 1.0;
        total = (double)synth_condition_count;
    } else {
        const profile *p = &PROFILES[(size_t)(index - 1) % PROFILE_COUNT];
        uint64_t state = seed ^ (0xA24BAED4963EE407ull * (uint64_t)index);
        site->profile = p->name;
        site->note_style = (index - 1) % 3;
        site->age_shift = p->age_shift;
        for (size_t c = 0; c < synth_condition_count; c++) {
            /* seeded jitter so two sites of one profile still differ */
            double weight = group_weight(p, synth_conditions[c].group) * (0.5 + uniform(&state));
            site->prevalence[c] = weight;
            total += weight;
        }
    }
    for (size_t c = 0; c < synth_condition_count; c++)
        site->prevalence[c] /= total;
}

static size_t pick_condition(const synth_site *site, uint64_t *state)
{
    double u = uniform(state), sum = 0;
    for (size_t c = 0; c < synth_condition_count; c++) {
        sum += site->prevalence[c];
        if (u < sum)
            return c;
    }
    return synth_condition_count - 1;
}

/* Picks count distinct indices of [0, n) in random order. */
static void pick_distinct(uint64_t *state, int n, int count, int *out)
{
    int all[8];
    for (int i = 0; i < n; i++)
        all[i] = i;
    for (int i = 0; i < count; i++) {
        int j = uniform_int(state, i, n - 1);
        int swap = all[i];
        all[i] = all[j];
        all[j] = swap;
        out[i] = all[i];
    }
}

/* The invented patient of one record. */
typedef struct patient {
    const synth_condition *condition;
    int age, duration, female;
    int symptoms[3], symptom_count;
    int findings[2], finding_count;
} patient;

static void draw_patient(const synth_site *site, uint64_t *state, patient *p)
{
    p->condition = &synth_conditions[pick_condition(site, state)];
    const synth_condition *c = p->condition;
    p->female = uniform(state) < c->female_share;
    p->age = uniform_int(state, c->age_min, c->age_max) + site->age_shift;
    if (p->age < c->age_min)
        p->age = c->age_min;
    if (p->age > c->age_max)
        p->age = c->age_max;
    p->duration = uniform_int(state, c->duration_min, c->duration_max);
    p->symptom_count = uniform_int(state, 2, 3);
    pick_distinct(state, 4, p->symptom_count, p->symptoms);
    p->finding_count = uniform_int(state, 1, 2);
    pick_distinct(state, 3, p->finding_count, p->findings);
}

/* Joins the chosen symptoms (or findings) with separator and, before the last, last_separator. */
static void join(FILE *out, const char *const *items, const int *chosen, int count,
                 const char *separator, const char *last_separator)
{
    for (int i = 0; i < count; i++) {
        if (i > 0)
            fputs(i == count - 1 ? last_separator : separator, out);
        fputs(items[chosen[i]], out);
    }
}

static void write_case_en(FILE *out, const patient *p, int style)
{
    const synth_condition *c = p->condition;
    const char *unit = c->duration_unit[0];
    if (style == 0) {
        const char *person = p->age < 18 ? (p->female ? "girl" : "boy")
                                         : (p->female ? "woman" : "man");
        fprintf(out, "A %d-year-old %s presents with ", p->age, person);
        join(out, c->symptoms[0], p->symptoms, p->symptom_count, ", ", " and ");
        fprintf(out, " for %d %s. On examination: ", p->duration, unit);
        join(out, c->findings[0], p->findings, p->finding_count, "; ", "; ");
        fputs(". What is the most likely diagnosis, and what do you advise?", out);
    } else if (style == 1) {
        fprintf(out, "%d%s. ", p->age, p->female ? "F" : "M");
        join(out, c->symptoms[0], p->symptoms, p->symptom_count, ", ", ", ");
        fprintf(out, " x %d %s. O/E: ", p->duration, unit);
        join(out, c->findings[0], p->findings, p->finding_count, ", ", ", ");
        fputs(". Dx? Plan?", out);
    } else {
        fprintf(out, "Age: %d\nSex: %s\nSymptoms: ", p->age, p->female ? "female" : "male");
        join(out, c->symptoms[0], p->symptoms, p->symptom_count, "; ", "; ");
        fprintf(out, "\nDuration: %d %s\nFindings: ", p->duration, unit);
        join(out, c->findings[0], p->findings, p->finding_count, "; ", "; ");
        fputs("\nQuestion: most likely diagnosis and advice?", out);
    }
}

static void write_case_zh(FILE *out, const patient *p, int style)
{
    const synth_condition *c = p->condition;
    const char *unit = c->duration_unit[1];
    const char *sex = p->female ? "女" : "男";
    if (style == 0) {
        fprintf(out, "患者，%s，%d岁，", sex, p->age);
        join(out, c->symptoms[1], p->symptoms, p->symptom_count, "、", "、");
        fprintf(out, "%d%s。查体：", p->duration, unit);
        join(out, c->findings[1], p->findings, p->finding_count, "，", "，");
        fputs("。请问最可能的诊断是什么？有何建议？", out);
    } else if (style == 1) {
        fprintf(out, "%s，%d岁。", sex, p->age);
        join(out, c->symptoms[1], p->symptoms, p->symptom_count, "、", "、");
        fprintf(out, "%d%s。查：", p->duration, unit);
        join(out, c->findings[1], p->findings, p->finding_count, "；", "；");
        fputs("。诊断？处理？", out);
    } else {
        fprintf(out, "患者年龄：%d岁\n患者性别：%s\n症状：", p->age, sex);
        join(out, c->symptoms[1], p->symptoms, p->symptom_count, "、", "、");
        fprintf(out, "\n病程：%d%s\n检查：", p->duration, unit);
        join(out, c->findings[1], p->findings, p->finding_count, "；", "；");
        fputs("\n问题：最可能的诊断和建议？", out);
    }
}

static const char *const SYSTEM_PROMPT[2] = {
    "You are a clinical assistant in primary care. Give the most likely diagnosis and brief "
    "advice.",
    "你是基层医疗的临床助理。请给出最可能的诊断和简要建议。",
};

/* Returns one record as a JSON object {"messages": [...]}; caller owns it. */
static json_t *make_record(const synth_site *site, synth_lang lang, uint64_t *state)
{
    patient p;
    draw_patient(site, state, &p);
    int style = site->note_style >= 0 ? site->note_style : uniform_int(state, 0, 2);

    char *question = NULL, *answer = NULL;
    size_t question_length = 0, answer_length = 0;
    FILE *out = open_memstream(&question, &question_length);
    if (lang == SYNTH_ZH)
        write_case_zh(out, &p, style);
    else
        write_case_en(out, &p, style);
    fclose(out);
    out = open_memstream(&answer, &answer_length);
    if (lang == SYNTH_ZH)
        fprintf(out, "最可能的诊断：%s。建议：%s。", p.condition->name[1], p.condition->advice[1]);
    else
        fprintf(out, "Most likely diagnosis: %s. Advice: %s.", p.condition->name[0],
                p.condition->advice[0]);
    fclose(out);

    json_t *record = json_pack("{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "messages", "role",
                               "system", "content", SYSTEM_PROMPT[lang], "role", "user",
                               "content", question, "role", "assistant", "content", answer);
    free(question);
    free(answer);
    return record;
}

int synth_write_file(const char *path, const synth_site *site, size_t count, synth_lang lang,
                     uint64_t stream_seed, fl_error *err)
{
    uint64_t state = stream_seed;
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    for (size_t i = 0; i < count; i++) {
        json_t *record = make_record(site, lang, &state);
        char *line = json_dumps(record, JSON_COMPACT);
        fputs(line, out);
        fputc('\n', out);
        free(line);
        json_decref(record);
    }
    fclose(out);
    int rc = fl_file_write_atomic(path, text, length, 0644, err);
    free(text);
    return rc;
}
