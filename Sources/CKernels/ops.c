// Small f32 operations of the forward pass, written as ggml computes them (sums in double where ggml
// uses ggml_float) so our logits track llama.cpp's closely.
#include "ckernels.h"
#include <math.h>

void ck_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += (double)x[i] * x[i];
    float scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

void ck_softmax(float *x, int n) {
    float max = -INFINITY;
    for (int i = 0; i < n; i++) max = fmaxf(max, x[i]);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void ck_round_f16(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = ck_fp16_to_fp32(ck_fp32_to_fp16(x[i]));
}

void ck_swiglu(float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

static void matvec_task(void *context, int ith, int nth) {
    const ck_matvec_job *job = context;
    int per = (job->rows + nth - 1) / nth;
    int begin = ith * per, end = begin + per < job->rows ? begin + per : job->rows;
    size_t row_bytes = ck_row_bytes(job->type, job->cols);
    const char *w = job->weights;
    const char *a = job->activation;
    ck_dot_fn dot = ck_dot_function(job->type);
    for (int r = begin; r < end; r++) {
        float b = job->bias ? job->bias[r] : 0.0f;
        for (int t = 0; t < job->tokens; t++) {
            float v = dot(job->cols, w + (size_t)r * row_bytes, a + (size_t)t * job->activation_stride);
            job->out[(size_t)t * job->out_stride + r] = v + b;
        }
    }
}

void ck_matvec(ck_pool *pool, const ck_matvec_job *job) {
    if (pool) {
        ck_pool_run(pool, matvec_task, (void *)job);
    } else {
        matvec_task((void *)job, 0, 1);
    }
}

static void attention_task(void *context, int ith, int nth) {
    const ck_attention_job *j = context;
    float *att = j->scratch + (size_t)ith * j->scratch_stride;
    int group = j->heads / j->kv_heads;
    for (int item = ith; item < j->tokens * j->heads; item += nth) {
        int t = item / j->heads, h = item % j->heads, kvh = h / group;
        int n = j->first_position + t + 1;
        const float *q_in = j->q + (size_t)t * j->q_stride + h * j->head_dim;
        // llama.cpp multiplies f16 keys with the query converted to f16; round it the same way.
        float q[512];
        int d_max = j->head_dim < 512 ? j->head_dim : 512;
        for (int d = 0; d < d_max; d++) q[d] = ck_fp16_to_fp32(ck_fp32_to_fp16(q_in[d]));
        for (int p = 0; p < n; p++) {
            att[p] = ck_dot_f32(j->head_dim, q, j->keys + (size_t)p * j->kv_stride + kvh * j->head_dim) * j->scale;
        }
        ck_softmax(att, n);
        // ... and the probabilities converted to f16 for the product with f16 values.
        for (int p = 0; p < n; p++) att[p] = ck_fp16_to_fp32(ck_fp32_to_fp16(att[p]));
        float *out = j->out + (size_t)t * j->out_stride + h * j->head_dim;
        for (int d = 0; d < j->head_dim; d++) out[d] = 0;
        for (int p = 0; p < n; p++) {
            ck_axpy_f32(j->head_dim, att[p], j->values + (size_t)p * j->kv_stride + kvh * j->head_dim, out);
        }
    }
}

void ck_attention(ck_pool *pool, const ck_attention_job *job) {
    if (pool) {
        ck_pool_run(pool, attention_task, (void *)job);
    } else {
        attention_task((void *)job, 0, 1);
    }
}
