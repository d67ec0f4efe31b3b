// Small f32 operations of the forward pass, written as ggml computes them (sums in double where ggml
// uses ggml_float) so our logits track llama.cpp's closely.
#include "ckernels.h"
#include "fp16.h"
#include "gemm.h"
#include "lanes.h"
#include <math.h>
#include <pthread.h>

void ck_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    float scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

/// tanh-GELU of `h`, a value of a half, rounded to f16: what llama.cpp's f16 GELU table holds for that half.
static float gelu_of_half(float h) {
    const float root_two_over_pi = 0.79788456080286535587989211986876f;
    float g = 0.5f * h * (1.0f + tanhf(root_two_over_pi * h * (1.0f + 0.044715f * h * h)));
    return CK_H2F(ck_fp32_to_fp16(g));
}

/// gelu_of_half for every half, by its bits: a decoding step applies GELU to a whole hidden vector per layer
/// on the calling thread, and one tanhf per element cost more than the lookups.
static float gelu_table[65536];
static pthread_once_t gelu_table_once = PTHREAD_ONCE_INIT;

static void fill_gelu_table(void) {
    for (int h = 0; h < 65536; h++) gelu_table[h] = gelu_of_half(CK_H2F((uint16_t)h));
}

void ck_geglu(float *gate, const float *up, int n) {
    pthread_once(&gelu_table_once, fill_gelu_table);
    for (int i = 0; i < n; i++) {
        float x = gate[i], g;
        if (x <= -10.0f) {
            g = 0.0f;
        } else if (x >= 10.0f) {
            g = x;
        } else {
            g = gelu_table[ck_fp32_to_fp16(x)];
        }
        gate[i] = g * up[i];
    }
}

void ck_round_f16(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = CK_H2F(ck_fp32_to_fp16(x[i]));
}

static void matvec_task(void *context, int ith, int nth) {
    const ck_matvec_job *job = context;
    int per = (job->rows + nth - 1) / nth;
    int begin = ith * per, end = begin + per < job->rows ? begin + per : job->rows;
    size_t row_bytes = ck_row_bytes(job->type, job->cols);
    const char *w = job->weights;
    const char *a = job->activation;
    // Two tokens or more: tiles of rows × tokens (gemm.h), which unpack each row once per CK_GEMM_TOKENS
    // tokens and give the dot kernel's bits; a single token (decoding) keeps the dot kernel.
    ck_tile_fn tile = job->tokens > 1 ? ck_tile_function(job->type) : 0;
    if (tile) {
        for (int t = 0; t < job->tokens; t += CK_GEMM_TOKENS) {
            int rn = job->tokens - t < CK_GEMM_TOKENS ? job->tokens - t : CK_GEMM_TOKENS;
            for (int r = begin; r < end; r += CK_GEMM_ROWS) {
                tile(job, r, end - r < CK_GEMM_ROWS ? end - r : CK_GEMM_ROWS, t, rn);
            }
        }
        return;
    }
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

/// The most head_dim the attention keeps on the stack (query in f16 and 32 lanes of output).
#define CK_MAX_HEAD_DIM 256

static void attention_task(void *context, int ith, int nth) {
    const ck_attention_job *j = context;
    float *att = j->scratch + (size_t)ith * j->scratch_stride;
    int group = j->heads / j->kv_heads;
    int dims = j->head_dim < CK_MAX_HEAD_DIM ? j->head_dim : CK_MAX_HEAD_DIM;
    // llama.cpp multiplies a batch with tinyBLAS (8 lanes) but a single token with ggml_vec_dot_f16 (32).
    int single = j->tokens == 1;
    int lane_count = single ? 32 : 8;
    float q[CK_MAX_HEAD_DIM];
    float lanes[32 * CK_MAX_HEAD_DIM];
    for (int item = ith; item < j->tokens * j->heads; item += nth) {
        int t = item / j->heads, h = item % j->heads, kvh = h / group;
        int n = j->first_position + t + 1;
        // A sliding window masks keys `window` or more positions back; they get no probability at all.
        int first = j->window > 0 && n > j->window ? n - j->window : 0;
        const float *q_in = j->q + (size_t)t * j->q_stride + h * j->head_dim;
        // llama.cpp multiplies f16 keys with the query converted to f16; round it the same way.
        for (int d = 0; d < dims; d++) q[d] = CK_H2F(ck_fp32_to_fp16(q_in[d]));
        for (int p = first; p < n; p++) {
            const float *key = j->keys + (size_t)p * j->kv_stride + kvh * j->head_dim;
            att[p] = (single ? ck_dot_quad(dims, q, key) : ck_dot_lanes(dims, q, key)) * j->scale;
        }
        ck_softmax(att + first, n - first);
        // ... and the probabilities converted to f16 for the product with f16 values, position p fused
        // into lane p % lane_count of each output element, the lanes summed in llama.cpp's order.
        for (int i = 0; i < lane_count * dims; i++) lanes[i] = 0;
        for (int p = first; p < n; p++) {
            float a = CK_H2F(ck_fp32_to_fp16(att[p]));
            const float *value = j->values + (size_t)p * j->kv_stride + kvh * j->head_dim;
            ck_fma_axpy(dims, a, value, lanes + (p % lane_count) * dims);
        }
        float *out = j->out + (size_t)t * j->out_stride + h * j->head_dim;
        for (int d = 0; d < dims; d++) {
            float l[32];
            for (int k = 0; k < lane_count; k++) l[k] = lanes[k * dims + d];
            out[d] = single ? ck_quad_sum(l) : ck_lanes_sum(l);
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
