/*
 * tok_train.h - trains a small byte-level BPE tokenizer and writes it as a
 * Hugging Face tokenizer.json, so a project without a downloaded model (the
 * demo, the tests) has a real tokenizer that fedlora and the Hugging Face
 * tokenizers library read alike.
 *
 * The tokenizer follows Qwen2's layout: a Split pre-tokenizer with Qwen2's
 * regex, ByteLevel byte-to-character mapping, BPE merges learned from the
 * training text by pair frequency, and the ChatML special tokens
 * <|endoftext|>, <|im_start|> and <|im_end|>, so chat records use the
 * ChatML template.
 */
#ifndef TOK_TRAIN_H
#define TOK_TRAIN_H

#include <stddef.h>

#include "fl_error.h"

#define TOK_TRAIN_MAX_VOCAB 4096

/*
 * Learns merges from texts until the vocabulary (256 byte tokens, the
 * merges and 3 special tokens) reaches vocab_size (259 to
 * TOK_TRAIN_MAX_VOCAB), or no pair occurs twice, and writes tokenizer.json
 * to path. Ties between equally frequent pairs go to the pair whose
 * symbols sort first, so the result depends only on the input.
 */
int tok_train_bpe(const char *const *texts, const size_t *lengths, size_t count, int vocab_size,
                  const char *path, fl_error *err) FL_WARN_UNUSED;

#endif
