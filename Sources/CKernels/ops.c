// Small f32 operations of the forward pass, written as ggml computes them (sums in double where ggml
// uses ggml_float) so our logits track llama.cpp's closely.
#include "ckernels.h"
#include "fp16.h"
#include "gemm.h"
#include <math.h>
#include <pthread.h>

void ck_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    float scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

/// tanh-GELU of `h`, a value of a half, rounded to f16: what llama.cpp's f16 GELU table holds for that half.
/// Its build fuses 1 + 0.044715·h·h into one FMA; unfused, one half of the 65536 gets another value.
static float gelu_of_half(float h) {
    const float root_two_over_pi = 0.79788456080286535587989211986876f;
    float g = 0.5f * h * (1.0f + tanhf(root_two_over_pi * h * fmaf(0.044715f * h, h, 1.0f)));
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

/// Rows of a batch for the element-wise steps a prompt would otherwise take on one thread: RMSNorm, or the
/// gated activation (GeGLU or SwiGLU) of `gate` with `up`, row by row, each row whole on one thread.
typedef struct {
    int kind;  // 0: RMSNorm, 1: GeGLU, 2: SwiGLU
    float *out;
    const float *x;
    const float *w;
    int rows;
    int width;
    float eps;
} rows_job;

static void rows_task(void *context, int ith, int nth) {
    const rows_job *j = context;
    int per = (j->rows + nth - 1) / nth;
    int begin = ith * per, end = begin + per < j->rows ? begin + per : j->rows;
    for (int r = begin; r < end; r++) {
        float *out = j->out + (size_t)r * j->width;
        const float *x = j->x + (size_t)r * j->width;
        switch (j->kind) {
        case 0: ck_rmsnorm(out, x, j->w, j->width, j->eps); break;
        case 1: ck_geglu(out, x, j->width); break;
        default: ck_swiglu(out, x, j->width); break;
        }
    }
}

/// One row (decoding) stays on the caller: waking the pool would cost more than the row.
static void run_rows(ck_pool *pool, const rows_job *job) {
    ck_pool_run(job->rows > 1 ? pool : 0, rows_task, (void *)job);
}

void ck_rmsnorm_rows(ck_pool *pool, float *out, const float *x, const float *w, int rows, int width, float eps) {
    rows_job job = {0, out, x, w, rows, width, eps};
    run_rows(pool, &job);
}

void ck_gated_rows(ck_pool *pool, int gelu, float *gate, const float *up, int rows, int width) {
    rows_job job = {gelu ? 1 : 2, gate, up, 0, rows, width, 0};
    run_rows(pool, &job);
}

void ck_round_f16(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = CK_H2F(ck_fp32_to_fp16(x[i]));
}

/// Rows r0..<r1 and tokens t0..<t1 of `job` one output at a time, each in llama.cpp's order for its token
/// (ck_sum_order): the dot kernel's (for one token over short rows CK_DOT_ROWS rows at a time where the type has
/// a kernel of several rows, with the same bits), the BLOCKS order's kernel where the CPU has one (arm64), or
/// from the row's exact integers (ck_ordered_product).
static void products(const ck_matvec_job *job, int r0, int r1, int t0, int t1) {
    size_t row_bytes = ck_row_bytes(job->type, job->cols);
    const char *w = job->weights;
    const char *a = job->activation;
    ck_dot_fn dot = ck_dot_function(job->type), blocks = ck_blocks_function(job->type);
    ck_ksums_fn sums = ck_ksums_function(job->type);
    ck_dot_rows_fn rows = t1 - t0 == 1 && job->cols <= CK_DOT_ROWS_MAX_COLUMNS ? ck_dot_rows_function(job->type) : 0;
    if (rows && ck_sum_order(job, t0) == CK_ORDER_VEC_DOT) {
        const void *x = a + (size_t)t0 * job->activation_stride;
        float *out = job->out + (size_t)t0 * job->out_stride;
        for (; r1 - r0 >= CK_DOT_ROWS; r0 += CK_DOT_ROWS) {
            rows(job->cols, w + (size_t)r0 * row_bytes, row_bytes, x, out + r0);
            for (int r = r0; r < r0 + CK_DOT_ROWS; r++) out[r] += job->bias ? job->bias[r] : 0.0f;  // as below
        }
    }
    for (int r = r0; r < r1; r++) {
        float b = job->bias ? job->bias[r] : 0.0f;
        for (int t = t0; t < t1; t++) {
            const void *row = w + (size_t)r * row_bytes, *x = a + (size_t)t * job->activation_stride;
            int order = ck_sum_order(job, t);
            float v;
            if (order == CK_ORDER_VEC_DOT) {
                v = dot(job->cols, row, x);
            } else if (order == CK_ORDER_BLOCKS && blocks) {
                v = blocks(job->cols, row, x);
            } else {
                v = ck_ordered_product(job->type, order, job->cols, row, x, sums);
            }
            job->out[(size_t)t * job->out_stride + r] = v + b;
        }
    }
}

static void matvec_task(void *context, int ith, int nth) {
    const ck_matvec_job *job = context;
    // Two tokens or more: tiles of rows × tokens (gemm.h), which unpack each row once per CK_GEMM_TOKENS
    // tokens and sum each output in llama.cpp's order, eight rows at a time where a wide tile exists and
    // the rest in tiles of four (or one output at a time where the type has none); a single token takes the
    // dot kernel (or Q4_K's gemv), except in the BLOCKS order, whose wide tiles take one token too. The four-row
    // tiles sum as the dot kernels, which the BLOCKS order does not.
    const int blocks = ck_sum_order(job, 0) == CK_ORDER_BLOCKS;
    ck_tile_fn tile = job->tokens > 1 && !blocks ? ck_tile_function(job->type) : 0;
    ck_tile_fn wide = job->tokens > 1 || blocks ? ck_wide_tile_function(job) : 0;
    // Each thread's rows in eights where there are wide tiles, so that they take all but the matrix's last rows.
    int per = (job->rows + nth - 1) / nth;
    if (wide) per = (per + CK_GEMM_WIDE_ROWS - 1) / CK_GEMM_WIDE_ROWS * CK_GEMM_WIDE_ROWS;
    int begin = ith * per, end = begin + per < job->rows ? begin + per : job->rows;
    if (!tile && !wide) {
        products(job, begin, end, 0, job->tokens);
        return;
    }
    for (int t = 0; t < job->tokens; t += CK_GEMM_TOKENS) {
        int rn = job->tokens - t < CK_GEMM_TOKENS ? job->tokens - t : CK_GEMM_TOKENS, r = begin;
        for (; wide && end - r >= CK_GEMM_WIDE_ROWS; r += CK_GEMM_WIDE_ROWS) wide(job, r, CK_GEMM_WIDE_ROWS, t, rn);
        if (!tile) products(job, r, end, t, t + rn);
        for (; tile && r < end; r += CK_GEMM_ROWS) tile(job, r, end - r < CK_GEMM_ROWS ? end - r : CK_GEMM_ROWS, t, rn);
    }
}

void ck_matvec(ck_pool *pool, const ck_matvec_job *job) { ck_pool_run(pool, matvec_task, (void *)job); }
