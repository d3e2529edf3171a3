/* batch_json.h - tr_batch from the JSON the Python references write (tests only). */
#ifndef BATCH_JSON_H
#define BATCH_JSON_H

#include <jansson.h>

#include "tr_batch.h"

/* Fills batch from {"B", "T", "tokens", "targets", "positions", "segments"}. Returns 0 or -1. */
int batch_from_json(tr_batch *batch, const json_t *object);

/* Reads path (a JSON file holding one batch object) into batch. Returns 0 or -1. */
int batch_load(tr_batch *batch, const char *path);

void batch_free(tr_batch *batch);

#endif
