/*
 * Parity of fedlora's tokenizer with @lenml/tokenizers (the JavaScript port
 * of Hugging Face tokenizers) on the tokenizer.json files of Qwen3, Llama 3
 * and Llama 2, plus three rewrites: Llama 2's with a Metaspace
 * pre-tokenizer, Qwen3's with GPT-2's ByteLevel regex and Llama 3's with an
 * NFKC normalizer. The ids must be identical on an
 * edge-case list, long lines, every PubMedQA context and every JMED
 * question, with and without the post-processor's special tokens, and
 * decode(encode(text)) must equal text where the tokenizer is lossless.
 *
 * The reference ids come from tests/tokenizer/node/reference.js, run once
 * into the build folder and again when the script, the edge cases or the
 * data change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>
#include <utf8proc.h>

#include "tok_test_util.h"
#include "tok_tokenizer.h"

#define REFERENCE_DIR FL_BINARY_DIR "/tokenizer-reference"
#define DATA_DIR FL_SOURCE_DIR "/../shared/data"
#define MAX_REPORTED 5

static double mtime_of(const char *path)
{
    struct stat info;
    if (stat(path, &info) != 0)
        return 0;
    return (double)info.st_mtim.tv_sec + info.st_mtim.tv_nsec * 1e-9;
}

/* Runs reference.js unless every output is newer than every input. */
static int ensure_reference(void)
{
    const char *inputs[] = {
        FL_SOURCE_DIR "/tests/tokenizer/node/reference.js",
        FL_SOURCE_DIR "/tests/tokenizer/edge_cases.json",
        FL_SOURCE_DIR "/tests/tokenizer/node/package-lock.json",
        DATA_DIR "/pubmedqa/ori_pqal.json",
        DATA_DIR "/citrus/jmed.jsonl",
    };
    const char *outputs[] = {REFERENCE_DIR "/qwen3.jsonl", REFERENCE_DIR "/llama3.jsonl",
                             REFERENCE_DIR "/llama2.jsonl",
                             REFERENCE_DIR "/llama2-metaspace.jsonl",
                             REFERENCE_DIR "/qwen3-gpt2.jsonl",
                             REFERENCE_DIR "/llama3-nfkc.jsonl"};
    double newest_input = 0, oldest_output = 1e300;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        if (mtime_of(inputs[i]) > newest_input)
            newest_input = mtime_of(inputs[i]);
    for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++)
        if (mtime_of(outputs[i]) < oldest_output)
            oldest_output = mtime_of(outputs[i]);
    if (oldest_output > newest_input)
        return 0;

    fprintf(stderr, "writing reference ids with node into %s\n", REFERENCE_DIR);
    return system("node '" FL_SOURCE_DIR "/tests/tokenizer/node/reference.js' dump '" DATA_DIR
                  "' '" FL_SOURCE_DIR "/tests/tokenizer/edge_cases.json' '" REFERENCE_DIR "'");
}

static int setup(void **state)
{
    (void)state;
    struct stat info;
    if (stat(DATA_DIR, &info) != 0)
        fprintf(stderr, "note: %s is absent; comparing on the edge cases only\n", DATA_DIR);
    return 0;
}

/* Prints where two id lists first differ. */
static void report(const char *model, size_t line, const char *what, const json_t *expected,
                   const tok_ids *got)
{
    size_t n = json_array_size(expected), at = 0;
    while (at < n && at < got->length &&
           json_integer_value(json_array_get(expected, at)) == got->data[at])
        at++;
    fprintf(stderr, "%s line %zu (%s): %zu reference ids, %zu ours; first difference at %zu: "
                    "reference %lld, ours %d\n",
            model, line, what, n, got->length, at,
            at < n ? (long long)json_integer_value(json_array_get(expected, at)) : -1LL,
            at < got->length ? got->data[at] : -1);
}

static bool ids_equal(const json_t *expected, const tok_ids *got)
{
    if (json_array_size(expected) != got->length)
        return false;
    for (size_t i = 0; i < got->length; i++)
        if (json_integer_value(json_array_get(expected, i)) != got->data[i])
            return false;
    return true;
}

/* The text decoding should give back: the normalized text, or the text itself. */
static char *expected_roundtrip(const char *model, const char *text)
{
    if (strncmp(model, "qwen3", 5) == 0)
        return (char *)utf8proc_NFC((const utf8proc_uint8_t *)text);
    if (strcmp(model, "llama3-nfkc") == 0)
        return (char *)utf8proc_NFKC((const utf8proc_uint8_t *)text);
    return strdup(text);
}

static bool has_added_token(const tok_tokenizer *tok, const tok_ids *ids)
{
    for (size_t i = 0; i < ids->length; i++)
        if (tok_is_special(tok, ids->data[i]))
            return true;
    return false;
}

static void check_model(const char *model)
{
    char path[1024];
    if (strchr(model, '-') != NULL) /* a variant written by reference.js */
        snprintf(path, sizeof(path), "%s/%s.tokenizer.json", REFERENCE_DIR, model);
    else
        tok_test_model_path(model, path, sizeof(path));
    tok_tokenizer *tok = NULL;
    fl_error err = {0};
    int rc = tok_load(path, &tok, &err);
    if (rc != FL_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, FL_OK);

    char reference[1024];
    snprintf(reference, sizeof(reference), "%s/%s.jsonl", REFERENCE_DIR, model);
    FILE *file = fopen(reference, "r");
    assert_non_null(file);

    char *line = NULL;
    size_t capacity = 0;
    size_t lines = 0, id_mismatches = 0, plain_mismatches = 0, roundtrip_failures = 0;
    size_t roundtrips = 0;
    tok_ids ids, plain;
    tok_ids_init(&ids);
    tok_ids_init(&plain);
    while (getline(&line, &capacity, file) > 0) {
        lines++;
        json_error_t json_error;
        json_t *record = json_loads(line, 0, &json_error);
        assert_non_null(record);
        const json_t *text = json_object_get(record, "text");
        ids.length = plain.length = 0;

        rc = tok_encode(tok, json_string_value(text), json_string_length(text), TOK_ADD_SPECIAL,
                        &ids, &err);
        assert_int_equal(rc, FL_OK);
        rc = tok_encode(tok, json_string_value(text), json_string_length(text), 0, &plain, &err);
        assert_int_equal(rc, FL_OK);

        if (!ids_equal(json_object_get(record, "ids"), &ids) &&
            id_mismatches++ < MAX_REPORTED)
            report(model, lines, "with special tokens", json_object_get(record, "ids"), &ids);
        if (!ids_equal(json_object_get(record, "plain"), &plain) &&
            plain_mismatches++ < MAX_REPORTED)
            report(model, lines, "plain", json_object_get(record, "plain"), &plain);

        /* The Prepend normalizer puts U+2581 before every text section, so
           text with added tokens inside does not round-trip; Metaspace with
           prepend_scheme "first" adds none before a leading space, whose
           loss the decoder's Strip then undoes. */
        const char *raw = json_string_value(text);
        bool lossless = true;
        if (strcmp(model, "llama2") == 0)
            lossless = !has_added_token(tok, &plain);
        if (strcmp(model, "llama2-metaspace") == 0)
            lossless = raw[0] != ' ';
        if (lossless) {
            char *decoded = NULL;
            size_t decoded_length = 0;
            rc = tok_decode(tok, plain.data, plain.length, false, &decoded, &decoded_length,
                            &err);
            assert_int_equal(rc, FL_OK);
            char *expected = expected_roundtrip(model, json_string_value(text));
            roundtrips++;
            if (strcmp(decoded, expected) != 0 && roundtrip_failures++ < MAX_REPORTED)
                fprintf(stderr, "%s line %zu: decode(encode(text)) differs:\n  text:    %.200s\n"
                                "  decoded: %.200s\n",
                        model, lines, expected, decoded);
            free(expected);
            free(decoded);
        }
        json_decref(record);
    }
    free(line);
    fclose(file);
    tok_ids_release(&ids);
    tok_ids_release(&plain);
    tok_destroy(&tok);

    fprintf(stderr, "%s: %zu inputs; %zu differ with special tokens, %zu plain; "
                    "%zu of %zu round trips differ\n",
            model, lines, id_mismatches, plain_mismatches, roundtrip_failures, roundtrips);
    assert_true(lines > 40);
    assert_int_equal(id_mismatches, 0);
    assert_int_equal(plain_mismatches, 0);
    assert_int_equal(roundtrip_failures, 0);
}

static void test_parity_qwen3(void **state)
{
    (void)state;
    check_model("qwen3");
}

static void test_parity_llama3(void **state)
{
    (void)state;
    check_model("llama3");
}

static void test_parity_llama2(void **state)
{
    (void)state;
    check_model("llama2");
}

static void test_parity_metaspace(void **state)
{
    (void)state;
    check_model("llama2-metaspace");
}

static void test_parity_gpt2_regex(void **state)
{
    (void)state;
    check_model("qwen3-gpt2");
}

static void test_parity_nfkc(void **state)
{
    (void)state;
    check_model("llama3-nfkc");
}

int main(void)
{
    if (!tok_test_models_present())
        return 0;
    if (ensure_reference() != 0) {
        fprintf(stderr, "reference.js failed; is node installed (scripts/test.sh installs it)?\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parity_qwen3),
        cmocka_unit_test(test_parity_llama3),
        cmocka_unit_test(test_parity_llama2),
        cmocka_unit_test(test_parity_metaspace),
        cmocka_unit_test(test_parity_gpt2_regex),
        cmocka_unit_test(test_parity_nfkc),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
