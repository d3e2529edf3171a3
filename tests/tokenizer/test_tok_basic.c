/*
 * Unit tests of the tokenizer on small tokenizer.json files written by the
 * test: both merge notations, added-token options, split_special, the
 * post-processor template, and the errors for bad files and bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tok_tokenizer.h"

static char s_dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof(s_dir), "/tmp/fl_test_tok.XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char command[300];
    snprintf(command, sizeof(command), "rm -rf '%s'", s_dir);
    return system(command) == 0 ? 0 : -1;
}

/* Writes a tokenizer.json with the given merges, added tokens and extra top-level fields. */
static void write_tokenizer(const char *name, const char *merges, const char *added,
                            const char *extra, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", s_dir, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fprintf(file,
            "{\"version\":\"1.0\",\"added_tokens\":[%s],%s"
            "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,"
            "\"a\":1,\"b\":2,\"c\":3,\"ab\":4,\"abc\":5,\" \":6,\"<s>\":7,\"</s>\":8},"
            "\"merges\":%s}}",
            added, extra, merges);
    fclose(file);
}

static tok_tokenizer *load_ok(const char *path)
{
    tok_tokenizer *tok = NULL;
    fl_error err = {0};
    int rc = tok_load(path, &tok, &err);
    if (rc != FL_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, FL_OK);
    return tok;
}

static void encode_expect(tok_tokenizer *tok, const char *text, unsigned flags,
                          const int32_t *expected, size_t count)
{
    tok_ids ids;
    tok_ids_init(&ids);
    fl_error err = {0};
    assert_int_equal(tok_encode(tok, text, strlen(text), flags, &ids, &err), FL_OK);
    assert_int_equal(ids.length, count);
    for (size_t i = 0; i < count; i++)
        assert_int_equal(ids.data[i], expected[i]);
    tok_ids_release(&ids);
}

static void test_merge_notations_agree(void **state)
{
    (void)state;
    char strings[512], pairs[512];
    write_tokenizer("strings.json", "[\"a b\",\"ab c\"]", "", "", strings, sizeof(strings));
    write_tokenizer("pairs.json", "[[\"a\",\"b\"],[\"ab\",\"c\"]]", "", "", pairs,
                    sizeof(pairs));
    const int32_t expected[] = {5, 4, 6, 1};
    tok_tokenizer *tok = load_ok(strings);
    encode_expect(tok, "abcab a", 0, expected, 4);
    tok_destroy(&tok);
    assert_null(tok);
    tok = load_ok(pairs);
    encode_expect(tok, "abcab a", 0, expected, 4);
    tok_destroy(&tok);
}

static void test_unknown_character_gives_unk(void **state)
{
    (void)state;
    char path[512];
    write_tokenizer("unk.json", "[\"a b\"]", "", "", path, sizeof(path));
    tok_tokenizer *tok = load_ok(path);
    const int32_t expected[] = {4, 0, 3};
    encode_expect(tok, "abxc", 0, expected, 3);
    tok_destroy(&tok);
}

static void test_added_tokens_and_template(void **state)
{
    (void)state;
    char path[512];
    write_tokenizer("added.json", "[\"a b\"]",
                    "{\"id\":7,\"content\":\"<s>\",\"special\":true,\"rstrip\":true},"
                    "{\"id\":8,\"content\":\"</s>\",\"special\":true,\"lstrip\":true}",
                    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":["
                    "{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
                    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
                    "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],"
                    "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[7]},"
                    "\"</s>\":{\"id\":\"</s>\",\"ids\":[8]}}},",
                    path, sizeof(path));
    tok_tokenizer *tok = load_ok(path);

    /* rstrip of <s> eats the spaces after it, lstrip of </s> the spaces before it */
    const int32_t stripped[] = {7, 4, 8, 6, 3};
    encode_expect(tok, "<s>  ab  </s> c", 0, stripped, 5);

    const int32_t templated[] = {7, 4, 8};
    encode_expect(tok, "ab", TOK_ADD_SPECIAL, templated, 3);

    /* with TOK_SPLIT_SPECIAL the markers are plain text: '<', 's', '>' are unknown */
    const int32_t split[] = {0, 0, 0, 4};
    encode_expect(tok, "<s>ab", TOK_SPLIT_SPECIAL, split, 4);

    size_t count = 0;
    assert_int_equal(tok_template_prefix(tok, &count)[0], 7);
    assert_int_equal(count, 1);
    assert_true(tok_is_special(tok, 8));
    assert_false(tok_is_special(tok, 4));
    assert_int_equal(tok_token_id(tok, "abc"), 5);
    assert_int_equal(tok_token_id(tok, "zzz"), -1);
    tok_destroy(&tok);
}

/* Writes a Metaspace tokenizer.json with the given split flag. */
static void write_metaspace(const char *name, bool split, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", s_dir, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fprintf(file,
            "{\"added_tokens\":[],\"normalizer\":null,"
            "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\u2581\","
            "\"prepend_scheme\":\"always\",\"split\":%s},"
            "\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\u2581\","
            "\"prepend_scheme\":\"always\",\"split\":%s},"
            "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,"
            "\"\u2581\":1,\"a\":2,\"\u2581a\":3,\"\u2581\u2581\":4},"
            "\"merges\":[\"\u2581 \u2581\",\"\u2581 a\"]}}",
            split ? "true" : "false", split ? "true" : "false");
    fclose(file);
}

static void test_metaspace_split_and_decode(void **state)
{
    (void)state;
    char whole[512], split[512];
    write_metaspace("metaspace_whole.json", false, whole, sizeof(whole));
    write_metaspace("metaspace_split.json", true, split, sizeof(split));

    /* "  a" becomes "▁▁a" (nothing prepended before a leading space): merged
       whole, "▁▁" wins; split before each "▁", "▁a" does */
    tok_tokenizer *tok = load_ok(whole);
    const int32_t merged[] = {4, 2};
    encode_expect(tok, "  a", 0, merged, 2);
    tok_destroy(&tok);

    tok = load_ok(split);
    const int32_t words[] = {1, 3};
    encode_expect(tok, "  a", 0, words, 2);
    const int32_t prepended[] = {3};
    encode_expect(tok, "a", 0, prepended, 1);

    /* the decoder turns "▁" into spaces and drops the first token's leading one */
    char *text = NULL;
    fl_error err = {0};
    assert_int_equal(tok_decode(tok, words, 2, false, &text, NULL, &err), FL_OK);
    assert_string_equal(text, " a");
    free(text);
    assert_int_equal(tok_decode(tok, prepended, 1, false, &text, NULL, &err), FL_OK);
    assert_string_equal(text, "a");
    free(text);
    tok_destroy(&tok);
}

static void test_invalid_utf8_names_offset(void **state)
{
    (void)state;
    char path[512];
    write_tokenizer("utf8.json", "[]", "", "", path, sizeof(path));
    tok_tokenizer *tok = load_ok(path);
    tok_ids ids;
    tok_ids_init(&ids);
    fl_error err = {0};
    const char text[] = "ab\xC3(";
    assert_int_equal(tok_encode(tok, text, 4, 0, &ids, &err), FL_EINVAL);
    assert_non_null(strstr(err.msg, "byte offset 2"));
    assert_non_null(strstr(err.msg, "iconv"));
    tok_ids_release(&ids);
    tok_destroy(&tok);
}

static void test_decode_rejects_unknown_id(void **state)
{
    (void)state;
    char path[512];
    write_tokenizer("decode.json", "[]", "", "", path, sizeof(path));
    tok_tokenizer *tok = load_ok(path);
    const int32_t ids[] = {1, 99};
    char *text = NULL;
    fl_error err = {0};
    assert_int_equal(tok_decode(tok, ids, 2, false, &text, NULL, &err), FL_ERANGE);
    assert_null(text);
    assert_non_null(strstr(err.msg, "99"));
    tok_destroy(&tok);
}

static void test_unsupported_model_named(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/wordpiece.json", s_dir);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}}}", file);
    fclose(file);
    tok_tokenizer *tok = NULL;
    fl_error err = {0};
    assert_int_equal(tok_load(path, &tok, &err), FL_EUNSUPPORTED);
    assert_null(tok);
    assert_non_null(strstr(err.msg, "wordpiece.json"));
    assert_non_null(strstr(err.msg, "WordPiece"));
}

static void test_bad_merge_named(void **state)
{
    (void)state;
    char path[512];
    write_tokenizer("badmerge.json", "[\"a b\", 17]", "", "", path, sizeof(path));
    tok_tokenizer *tok = NULL;
    fl_error err = {0};
    assert_int_equal(tok_load(path, &tok, &err), FL_EFORMAT);
    assert_non_null(strstr(err.msg, "model.merges[1]"));

    /* A merge with an empty part, in either form, found by the tokenizer fuzzer. */
    static const char *const empty_parts[] = {"[\"a b\", \"  a\"]", "[\"a b\", [\"\", \"a\"]]"};
    for (size_t i = 0; i < sizeof(empty_parts) / sizeof(empty_parts[0]); i++) {
        write_tokenizer("emptymerge.json", empty_parts[i], "", "", path, sizeof(path));
        assert_int_equal(tok_load(path, &tok, &err), FL_EFORMAT);
        assert_non_null(strstr(err.msg, "model.merges[1]"));
        assert_non_null(strstr(err.msg, "two non-empty parts"));
    }
}

static void test_missing_file_named(void **state)
{
    (void)state;
    tok_tokenizer *tok = NULL;
    fl_error err = {0};
    assert_int_not_equal(tok_load("/nonexistent/tokenizer.json", &tok, &err), FL_OK);
    assert_non_null(strstr(err.msg, "/nonexistent/tokenizer.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_notations_agree),
        cmocka_unit_test(test_unknown_character_gives_unk),
        cmocka_unit_test(test_added_tokens_and_template),
        cmocka_unit_test(test_metaspace_split_and_decode),
        cmocka_unit_test(test_invalid_utf8_names_offset),
        cmocka_unit_test(test_decode_rejects_unknown_id),
        cmocka_unit_test(test_unsupported_model_named),
        cmocka_unit_test(test_bad_merge_named),
        cmocka_unit_test(test_missing_file_named),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
