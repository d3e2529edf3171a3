/*
 * peft_roundtrip export|import DIR: the C half of the PEFT interoperability
 * test (peft_reference.py is the other half).
 *   export: trains a fresh PEFT-initialised adapter for three steps on
 *           DIR/batch.json, writes it to DIR/exported and its loss to
 *           DIR/c_loss.txt.
 *   import: reads DIR/from_torch (written by PyTorch) and checks that its
 *           loss equals DIR/torch_loss.txt within 1e-5 relative.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "batch_json.h"
#include "lora.h"
#include "tr_train.h"

static int evaluate(tr_model *model, lora_adapter *adapter, const tr_batch *batch,
                    double *loss, fl_error *err)
{
    tr_train_options options = tr_train_options_default();
    options.max_batch = batch->B;
    options.max_seq = batch->T;
    tr_trainer *trainer = NULL;
    int rc = tr_trainer_new(&trainer, model, adapter, &options, err);
    double sum = 0.0;
    long tokens = 0;
    if (rc == FL_OK)
        rc = tr_trainer_evaluate(trainer, batch, &sum, &tokens, err);
    *loss = tokens > 0 ? sum / (double)tokens : 0.0;
    tr_trainer_destroy(&trainer);
    return rc;
}

static int train_and_export(tr_model *model, const tr_batch *batch, const char *dir,
                            fl_error *err)
{
    lora_options lora = {.rank = 4, .alpha = 8.0f, .targets = LORA_ALL_TARGETS};
    lora_adapter adapter;
    lora_adapter_init(&adapter, &model->config, &lora);
    lora_adapter_init_weights(&adapter, 7);

    tr_train_options options = tr_train_options_default();
    options.optim.lr = 1e-2f;
    options.max_batch = batch->B;
    options.max_seq = batch->T;
    tr_trainer *trainer = NULL;
    int rc = tr_trainer_new(&trainer, model, &adapter, &options, err);
    for (int step = 0; step < 3 && rc == FL_OK; step++) {
        tr_step_stats stats;
        rc = tr_trainer_step(trainer, batch, 1, &stats, err);
    }
    tr_trainer_destroy(&trainer);

    char path[4096];
    snprintf(path, sizeof(path), "%s/exported", dir);
    double loss = 0.0;
    if (rc == FL_OK)
        rc = lora_adapter_save(&adapter, path, "peft-test-model", err);
    if (rc == FL_OK)
        rc = evaluate(model, &adapter, batch, &loss, err);
    if (rc == FL_OK) {
        snprintf(path, sizeof(path), "%s/c_loss.txt", dir);
        FILE *f = fopen(path, "w");
        fprintf(f, "%.9f\n", loss);
        fclose(f);
        printf("exported adapter: C loss %.7f\n", loss);
    }
    lora_adapter_release(&adapter);
    return rc;
}

static int import_and_check(tr_model *model, const tr_batch *batch, const char *dir,
                            fl_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/from_torch", dir);
    lora_adapter adapter;
    int rc = lora_adapter_load(&adapter, path, &model->config, err);
    if (rc != FL_OK)
        return rc;
    double loss = 0.0;
    rc = evaluate(model, &adapter, batch, &loss, err);
    lora_adapter_release(&adapter);
    if (rc != FL_OK)
        return rc;

    snprintf(path, sizeof(path), "%s/torch_loss.txt", dir);
    FILE *f = fopen(path, "r");
    double expected = 0.0;
    if (f == NULL || fscanf(f, "%lf", &expected) != 1)
        return fl_error_set(err, FL_EIO, "%s: cannot read the reference loss", path);
    fclose(f);
    double diff = fabs(loss - expected) / fabs(expected);
    printf("adapter read back from PyTorch: C loss %.7f vs %.7f, relative difference %.3g\n",
           loss, expected, diff);
    return diff < 1e-5 ? FL_OK : fl_error_set(err, FL_ERANGE, "loss differs by %.3g", diff);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "export") != 0 && strcmp(argv[1], "import") != 0)) {
        fprintf(stderr, "usage: peft_roundtrip export|import DIR\n");
        return 2;
    }
    const char *dir = argv[2];
    fl_error err = {0};
    tr_model model;
    tr_batch batch;
    char path[4096];
    snprintf(path, sizeof(path), "%s/batch.json", dir);
    if (tr_model_load(&model, dir, &err) != FL_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (batch_load(&batch, path) != 0) {
        tr_model_release(&model);
        return 1;
    }
    int rc = strcmp(argv[1], "export") == 0 ? train_and_export(&model, &batch, dir, &err)
                                            : import_and_check(&model, &batch, dir, &err);
    if (rc != FL_OK)
        fprintf(stderr, "%s\n", err.msg);
    batch_free(&batch);
    tr_model_release(&model);
    return rc == FL_OK ? 0 : 1;
}
