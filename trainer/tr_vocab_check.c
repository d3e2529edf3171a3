/* Checks that a tokenizer.json fits the vocabulary of a model. */
#include <jansson.h>

#include "fl_json.h"
#include "tr_model.h"

#define TR_MAX_TOKENIZER_BYTES (256u * 1024u * 1024u)

/* Raises the maximum id found so far, remembering its token text. */
static void note_id(json_int_t id, const char *text, json_int_t *max_id, const char **max_text)
{
    if (id > *max_id) {
        *max_id = id;
        *max_text = text;
    }
}

int tr_model_check_tokenizer(const tr_config *config, const char *path, fl_error *err)
{
    json_t *root = fl_json_load_file(path, TR_MAX_TOKENIZER_BYTES, err);
    if (root == NULL)
        return err != NULL ? err->code : FL_EFORMAT;

    json_int_t max_id = -1;
    const char *max_text = "";
    json_t *vocab = json_object_get(json_object_get(root, "model"), "vocab");
    const char *token;
    json_t *id;
    json_object_foreach(vocab, token, id) {
        if (json_is_integer(id))
            note_id(json_integer_value(id), token, &max_id, &max_text);
    }
    size_t i;
    json_t *added;
    json_array_foreach(json_object_get(root, "added_tokens"), i, added) {
        json_t *added_id = json_object_get(added, "id");
        const char *content = json_string_value(json_object_get(added, "content"));
        if (json_is_integer(added_id))
            note_id(json_integer_value(added_id), content != NULL ? content : "", &max_id,
                    &max_text);
    }

    int rc = FL_OK;
    if (max_id < 0)
        rc = fl_error_set(err, FL_EFORMAT, "%s: no token ids found in model.vocab or added_tokens",
                          path);
    else if (max_id >= config->vocab_size)
        rc = fl_error_set(err, FL_EINVAL,
                          "%s: token '%s' has id %lld but the model's vocab_size is %d; use the "
                          "tokenizer the model was built with", path, max_text,
                          (long long)max_id, config->vocab_size);
    json_decref(root);
    return rc;
}
