/* AdamW with global-norm clipping and a warm-up + cosine learning-rate schedule. */
#include <math.h>

#include "tr_math.h"
#include "tr_pool.h"
#include "tr_state.h"

float tr_schedule_lr(const tr_optim_options *o, int step)
{
    /* The schedule of transformers' get_cosine_schedule_with_warmup (num_cycles 0.5). */
    if (step < o->warmup_steps)
        return o->lr * (float)step / (float)o->warmup_steps;
    if (o->total_steps <= 0)
        return o->lr;
    int span = o->total_steps - o->warmup_steps;
    double progress = (double)(step - o->warmup_steps) / (double)(span > 1 ? span : 1);
    if (progress > 1.0)
        progress = 1.0;
    return (float)(o->lr * 0.5 * (1.0 + cos(M_PI * progress)));
}

typedef struct norm_args {
    const float *g;
    double partial[TR_POOL_MAX_THREADS];
} norm_args;

static void square_sum_range(void *context, int part, size_t begin, size_t end)
{
    norm_args *a = context;
    double sum = 0.0;
    for (size_t i = begin; i < end; i++)
        sum += (double)a->g[i] * a->g[i];
    a->partial[part] = sum;
}

static double grad_norm(const tr_trainer *t)
{
    double sum = 0.0;
    for (int s = 0; s < t->segment_count; s++) {
        norm_args args = {.g = t->grads + t->segments[s].offset};
        tr_parallel_for(t->segments[s].count, square_sum_range, &args);
        for (int part = 0; part < TR_POOL_MAX_THREADS; part++)
            sum += args.partial[part];
    }
    return sqrt(sum);
}

typedef struct adamw_args {
    float *p, *m, *v;
    const float *g;
    float clip, decay, beta1, beta2, eps, step_size, correction2_sqrt;
} adamw_args;

TR_VECTOR_CLONES
static void adamw_range(void *context, int part, size_t begin, size_t end)
{
    const adamw_args *a = context;
    (void)part;
    for (size_t i = begin; i < end; i++) {
        float grad = a->g[i] * a->clip;
        a->p[i] *= a->decay;
        a->m[i] += (1.0f - a->beta1) * (grad - a->m[i]);
        a->v[i] = a->beta2 * a->v[i] + (1.0f - a->beta2) * grad * grad;
        float denominator = sqrtf(a->v[i]) / a->correction2_sqrt + a->eps;
        a->p[i] -= a->step_size * a->m[i] / denominator;
    }
}

void tr_trainer_apply(tr_trainer *t, tr_step_stats *stats)
{
    const tr_optim_options *o = &t->options.optim;

    // step: global-norm clipping as torch.nn.utils.clip_grad_norm_ does it
    double norm = grad_norm(t);
    float clip = 1.0f;
    if (o->max_grad_norm > 0 && norm > o->max_grad_norm)
        clip = (float)(o->max_grad_norm / (norm + 1e-6));

    // step: AdamW update in the form of torch.optim.AdamW
    float lr = tr_schedule_lr(o, t->step);
    t->step++;
    float correction1 = 1.0f - powf(o->beta1, (float)t->step);
    float correction2_sqrt = sqrtf(1.0f - powf(o->beta2, (float)t->step));
    float step_size = lr / correction1;
    for (int s = 0; s < t->segment_count; s++) {
        size_t offset = t->segments[s].offset;
        size_t n = t->segments[s].count;
        float decay = t->segments[s].decay ? 1.0f - lr * o->weight_decay : 1.0f;
        adamw_args args = {t->params + offset, t->m + offset, t->v + offset, t->grads + offset,
                           clip, decay, o->beta1, o->beta2, o->eps, step_size,
                           correction2_sqrt};
        tr_parallel_for(n, adamw_range, &args);
    }

    stats->grad_norm = (float)norm;
    stats->lr = lr;
    stats->step = t->step;
}
