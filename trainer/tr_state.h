/*
 * tr_state.h - the trainer's internals, shared by tr_train.c (lifecycle,
 * optimizer) and tr_forward.c (forward and backward of the model). Not a
 * public header.
 *
 * Shapes: Nmax = max_batch * max_seq positions, Bmax x Tmax; per-layer
 * activations are stacked with a stride sized for Nmax, and a smaller batch
 * uses the front of each slice.
 */
#ifndef TR_STATE_H
#define TR_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "lora.h"
#include "tr_batch.h"
#include "tr_model.h"
#include "tr_train.h"

enum tr_act_id {
    TR_A_RESID,    /* [L+1, N, H] input of each layer; the last feeds the final norm */
    TR_A_HRES,     /* [L, N, H] residual after attention */
    TR_A_LN1,      /* [L, N, H] */
    TR_A_LN1_RSTD, /* [L, N] */
    TR_A_Q_RAW,    /* [L, N, QD] q before q_norm (Qwen3) */
    TR_A_Q_RSTD,   /* [L, N*nh] (Qwen3) */
    TR_A_K_RAW,    /* [L, N, KVD] (Qwen3) */
    TR_A_K_RSTD,   /* [L, N*nkv] (Qwen3) */
    TR_A_Q,        /* [L, N, QD] after norm and RoPE */
    TR_A_K,        /* [L, N, KVD] after norm and RoPE */
    TR_A_V,        /* [L, N, KVD] */
    TR_A_ATT,      /* [L, B, nh, T, T] attention probabilities */
    TR_A_ATTY,     /* [L, N, QD] attention output */
    TR_A_LN2,      /* [L, N, H] */
    TR_A_LN2_RSTD, /* [L, N] */
    TR_A_GATE,     /* [L, N, I] */
    TR_A_UP,       /* [L, N, I] */
    TR_A_LORA_U,   /* [L, 7, N, r] A x of each adapted projection */
    TR_A_LNF,      /* [N, H] */
    TR_A_LNF_RSTD, /* [N] */
    TR_A_LOGITS,   /* [N, V]; replaced by dlogits during the loss */
    TR_A_LOSSES,   /* [N] */
    TR_A_COS,      /* [N, hd/2] */
    TR_A_SIN,      /* [N, hd/2] */
    /* scratch of the current layer */
    TR_S_ACT,      /* [N, I] swiglu output, recomputed in backward */
    TR_S_DRES,     /* [N, H] gradient of the residual stream */
    TR_S_DLN,      /* [N, H] */
    TR_S_DQ,       /* [N, QD] */
    TR_S_DK,       /* [N, KVD] */
    TR_S_DV,       /* [N, KVD] */
    TR_S_DQ_RAW,   /* [N, QD] (Qwen3) */
    TR_S_DK_RAW,   /* [N, KVD] (Qwen3) */
    TR_S_DATTY,    /* [N, QD] */
    TR_S_DATT,     /* [T, T] */
    TR_S_DACT,     /* [N, I] */
    TR_S_DGATE,    /* [N, I] */
    TR_S_DUP,      /* [N, I] */
    TR_S_LORA_DU,  /* [N, r] */
    TR_S_DROPPED,  /* [N, max(H, I, QD)] dropout applied to a LoRA input */
    TR_ACT_COUNT
};

/* A range of the trainable arena that AdamW updates. */
typedef struct tr_segment {
    size_t offset;
    size_t count;
    int decay; /* apply weight decay */
} tr_segment;

struct tr_trainer {
    tr_model *model;
    lora_adapter *adapter; /* NULL in full mode */
    tr_train_options options;
    int max_batch, max_seq, max_n;

    /* activations and scratch, carved from one arena */
    size_t act_sizes[TR_ACT_COUNT];
    float *acts[TR_ACT_COUNT];
    float *act_memory;
    float *inv_freq; /* [hd/2] */

    /* gradients: of the adapter (LoRA modes) or of the base weights (full mode) */
    lora_adapter lora_grads;
    tr_params param_grads;
    float *grad_memory;

    /* optimizer over the flat trainable arena */
    float *params;      /* adapter->memory or model->memory */
    float *grads;
    size_t param_count;
    float *m, *v;
    tr_segment segments[TR_PARAM_COUNT];
    int segment_count;
    int step;

    uint64_t dropout_key; /* changes every micro-batch */
    int training;         /* dropout active */
};

/* Forward pass of the model over batch, up to the logits. */
void tr_model_forward(tr_trainer *t, const tr_batch *batch);

/* Backward pass from dlogits (already in TR_A_LOGITS) to the trainable gradients. */
void tr_model_backward(tr_trainer *t, const tr_batch *batch);

#endif
