/* AdamW with global-norm clipping and a warm-up + cosine learning-rate schedule. */
#include <math.h>

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

static double grad_norm(const tr_trainer *t)
{
    double sum = 0.0;
    for (int s = 0; s < t->segment_count; s++) {
        const float *g = t->grads + t->segments[s].offset;
        size_t n = t->segments[s].count;
#pragma omp parallel for schedule(static) reduction(+ : sum)
        for (size_t i = 0; i < n; i++)
            sum += (double)g[i] * g[i];
    }
    return sqrt(sum);
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
        float *p = t->params + offset;
        const float *g = t->grads + offset;
        float *m = t->m + offset;
        float *v = t->v + offset;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            float grad = g[i] * clip;
            p[i] *= decay;
            m[i] += (1.0f - o->beta1) * (grad - m[i]);
            v[i] = o->beta2 * v[i] + (1.0f - o->beta2) * grad * grad;
            float denominator = sqrtf(v[i]) / correction2_sqrt + o->eps;
            p[i] -= step_size * m[i] / denominator;
        }
    }

    stats->grad_norm = (float)norm;
    stats->lr = lr;
    stats->step = t->step;
}
