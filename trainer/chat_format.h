/*
 * chat_format.h - chat templates of the supported model families, applied
 * at the token level with a mask of the tokens the model is trained on.
 *
 * Families and the text they produce (S = special token, by id):
 *   CHAT_CHATML (Qwen):   per message  S<|im_start|> role "\n" content S<|im_end|> "\n"
 *   CHAT_LLAMA3:          S<|begin_of_text|>, then per message
 *                         S<|start_header_id|> role S<|end_header_id|> "\n\n" content S<|eot_id|>
 *                         (content trimmed, as Llama 3's template does)
 *   CHAT_LLAMA2 ([INST]): per user/assistant exchange
 *                         S<s> "[INST] " [<<SYS>>\n system \n<</SYS>>\n\n] user " [/INST] "
 *                         assistant " " S</s>   (contents trimmed, as Llama 2's template does)
 * Only assistant messages are trained on: their content and the end-of-turn
 * token that follows (<|im_end|>, <|eot_id|> or </s>), so the model learns
 * to stop. Everything else is prompt.
 *
 * Text inside messages is encoded with TOK_SPLIT_SPECIAL, so a record that
 * contains "<|im_end|>" as text cannot forge a turn boundary.
 *
 * Mistral's own [INST] template has no spaces around the reply and no
 * <<SYS>> block; CHAT_LLAMA2 renders the Llama 2 layout for both.
 *
 * NOTE: ChatML here is the Qwen2/2.5 layout. Qwen3's own template also puts
 * an empty <think></think> block before the last assistant reply; records
 * for Qwen3 thinking mode must carry that text themselves.
 */
#ifndef CHAT_FORMAT_H
#define CHAT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "fl_error.h"
#include "tok_tokenizer.h"

typedef enum chat_family {
    CHAT_UNKNOWN = 0,
    CHAT_CHATML,
    CHAT_LLAMA3,
    CHAT_LLAMA2,
} chat_family;

typedef struct chat_message {
    const char *role;    /* "system", "user", "assistant" (ChatML and Llama 3 accept others) */
    const char *content; /* UTF-8, need not be NUL-terminated */
    size_t content_length;
} chat_message;

/* Returns "chatml", "llama3", "llama2" or "unknown". */
const char *chat_family_name(chat_family family);

/* Parses a family name as chat_family_name writes it. Returns FL_EINVAL for other text. */
int chat_family_parse(const char *name, chat_family *out) FL_WARN_UNUSED;

/*
 * Picks the family of the tokenizer: from the chat_template of
 * config_path (a tokenizer_config.json), then from the special tokens
 * (<|im_start|> means ChatML, <|start_header_id|> Llama 3), then from a
 * tokenizer_class of LlamaTokenizer with <s> and </s> (Llama 2).
 * config_path may be NULL or name a missing file, and then only the special
 * tokens decide. When nothing matches, fails with FL_EUNSUPPORTED and an err
 * that tells the user to choose the format.
 */
int chat_detect(const tok_tokenizer *tok, const char *config_path, chat_family *out,
                fl_error *err) FL_WARN_UNUSED;

/*
 * Chooses the family for a model: the name in override ("chatml", "llama3",
 * "llama2") when not NULL, else chat_detect with the tokenizer_config.json
 * beside tokenizer_path. Fails with FL_EINVAL for an unknown override name
 * and as chat_detect does otherwise; err says how to choose.
 */
int chat_resolve(const tok_tokenizer *tok, const char *tokenizer_path, const char *override,
                 chat_family *out, fl_error *err) FL_WARN_UNUSED;

/*
 * Writes the path of the tokenizer_config.json beside tokenizer_path into
 * out (size bytes). Returns FL_ERANGE when it does not fit.
 */
int chat_config_path(const char *tokenizer_path, char *out, size_t size) FL_WARN_UNUSED;

/*
 * Encodes a conversation with family's template and appends the ids to ids
 * and, for each id, 1 (trained on) or 0 (prompt) to train. Fails with
 * FL_EINVAL when a message breaks the family's rules (Llama 2 needs user
 * and assistant turns in alternation after an optional first system
 * message) or its content is not UTF-8, and with FL_EUNSUPPORTED when the
 * tokenizer lacks a special token the template needs; err names the
 * message index.
 */
int chat_encode(tok_tokenizer *tok, chat_family family, const chat_message *messages,
                size_t count, tok_ids *ids, tok_ids *train, fl_error *err) FL_WARN_UNUSED;

#endif
