// Causal attention over the KV cache, in llama.cpp's f16-cache arithmetic (lanes.h explains why): the query
// and the probabilities rounded to f16, Q·K and P·V fused in eight lanes for a batch (tinyBLAS) and 32 for a
// single token (ggml_vec_dot_f16).
//
// Each output value is one fixed chain of fmaf, so the AVX2 variant for batches reorders only the loops
// around those chains: the heads that share a KV head, for a few tokens, read each key and value row
// together; several keys are scored at once (independent chains, where one dot product per key waits on its
// FMA latency); and with the values transposed, the eight P·V lanes of an output are one vector that stays in
// a register across the positions, instead of a lane buffer read and written per key. The AVX2 variant for
// a single token keeps the portable loop as it is and only vectorises its steps (attention_token_avx2_task).
// Both give the portable loop's bits.
#include "ckernels.h"
#include "fp16.h"
#include "lanes.h"
#include "lanes_avx2.h"
#include <string.h>

/// dispatch.c: whether the AVX2 variants run (the CPU has AVX2, FMA and F16C, and no test forces scalar).
int ck_have_avx2(void);

/// The most head_dim the attention keeps on the stack (query in f16 and 32 lanes of output).
#define CK_MAX_HEAD_DIM 256

/// The positions token t attends, [*first, *n): every earlier one, or the last `window` of them (a
/// sliding window masks keys `window` or more positions back; they get no probability at all).
static inline void token_range(const ck_attention_job *j, int t, int *first, int *n) {
    *n = j->first_position + t + 1;
    *first = j->window > 0 && *n > j->window ? *n - j->window : 0;
}

/// The portable variant, one (token, head) at a time; also the single-token (decoding) path on every CPU.
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
        int first, n;
        token_range(j, t, &first, &n);
        const float *q_in = j->q + (size_t)t * j->q_stride + h * j->head_dim;
        // llama.cpp multiplies f16 keys with the query converted to f16; round it the same way.
        for (int d = 0; d < dims; d++) q[d] = CK_H2F(ck_fp32_to_fp16(q_in[d]));
        for (int p = first; p < n; p++) {
            const float *key = j->keys + (size_t)p * j->kv_stride + kvh * j->head_dim;
            att[p] = (single ? ck_dot_quad(dims, q, key) : ck_dot_lanes(dims, q, key)) * j->scale;
        }
        ck_softmax(att + first, n - first, first % 8);
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

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX2_INLINE AVX2 static inline __attribute__((always_inline))

/// Values rounded to the nearest half and back. F16C rounds to nearest even as ck_fp32_to_fp16 does, to the
/// same half for every float but a NaN (whose payload it keeps in part, where ck_fp32_to_fp16 drops it).
AVX2_INLINE __m256 round_f16(__m256 x) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
}

/// att[i][p + k] = (query i · key p + k) * scale for `qn` f16-rounded queries (rows of `dims` in q) and `kb`
/// consecutive keys: one eight-lane accumulator per pair, element d fused into lane d % 8 in increasing d.
AVX2_INLINE void scores(int qn, int kb, int dims, const float *q, const float *key, size_t key_stride, float scale,
                        float *att, size_t att_stride) {
    __m256 acc[8][8];
    for (int i = 0; i < qn; i++) {
        for (int k = 0; k < kb; k++) acc[i][k] = _mm256_setzero_ps();
    }
    for (int d = 0; d < dims; d += 8) {
        __m256 kv[8];
        for (int k = 0; k < kb; k++) kv[k] = _mm256_loadu_ps(key + k * key_stride + d);
        for (int i = 0; i < qn; i++) {
            __m256 qv = _mm256_loadu_ps(q + i * dims + d);
            for (int k = 0; k < kb; k++) acc[i][k] = _mm256_fmadd_ps(qv, kv[k], acc[i][k]);
        }
    }
    for (int i = 0; i < qn; i++) {
        for (int k = 0; k < kb; k++) att[i * att_stride + k] = ck_lanes_sum8(acc[i][k]) * scale;
    }
}

/// One group of eight positions from g (lane k of the group is position g + k, so lane p % 8): for query i
/// and value dim c, acc[i][c] lane k += probability (att[i·att_stride + g + k]) × value (vt[c·vt_stride + k]),
/// fused. When `masked`, lanes outside mask[i] (positions query i does not attend) keep their sums.
AVX2_INLINE void weigh_group(int qn, int dc, __m256 acc[8][8], const float *att, size_t att_stride, const float *vt,
                             size_t vt_stride, int masked, const __m256 *mask) {
    __m256 v[8];
    for (int c = 0; c < dc; c++) v[c] = _mm256_loadu_ps(vt + c * vt_stride);
    for (int i = 0; i < qn; i++) {
        __m256 a = _mm256_loadu_ps(att + i * att_stride);
        for (int c = 0; c < dc; c++) {
            __m256 sum = _mm256_fmadd_ps(a, v[c], acc[i][c]);
            acc[i][c] = masked ? _mm256_blendv_ps(acc[i][c], sum, mask[i]) : sum;
        }
    }
}

/// The lanes of positions g..g+7 that lie in [first, n).
AVX2_INLINE __m256 group_mask(int g, int first, int n) {
    __m256i p = _mm256_add_epi32(_mm256_set1_epi32(g), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i below = _mm256_cmpgt_epi32(_mm256_set1_epi32(first), p);
    __m256i inside = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), p);
    return _mm256_castsi256_ps(_mm256_andnot_si256(below, inside));
}

/// The positions each query of a block attends ([first[i], n[i])), their union [lo, hi) and the groups of
/// eight that every query sees whole, [whole_lo, whole_hi).
typedef struct { int first[8], n[8], lo, hi, whole_lo, whole_hi; } block_ranges;

/// `dc` value dims of the outputs of `qn` queries (out[i] + c): probability p of query i (att[i·att_stride + p],
/// already f16) times value p fused into lane p % 8, p increasing, the lanes summed in ck_lanes_sum's order.
/// The values come transposed (vt: dim c's positions from `base` at vt + c·vt_stride), so one vector holds
/// the eight lanes of an output and both operands stream through memory in order.
AVX2_INLINE void weighted_values(int qn, int dc, const float *att, size_t att_stride, const float *vt,
                                 size_t vt_stride, int base, const block_ranges *r, float *const *out, int c0) {
    __m256 acc[8][8], mask[8];
    for (int i = 0; i < qn; i++) {
        for (int c = 0; c < dc; c++) acc[i][c] = _mm256_setzero_ps();
    }
    int g = r->lo & ~7, last = (r->hi - 1) & ~7;
    for (; g <= last && g < r->whole_lo; g += 8) {
        for (int i = 0; i < qn; i++) mask[i] = group_mask(g, r->first[i], r->n[i]);
        weigh_group(qn, dc, acc, att + g, att_stride, vt + g - base, vt_stride, 1, mask);
    }
    for (; g < r->whole_hi; g += 8) weigh_group(qn, dc, acc, att + g, att_stride, vt + g - base, vt_stride, 0, mask);
    for (; g <= last; g += 8) {
        for (int i = 0; i < qn; i++) mask[i] = group_mask(g, r->first[i], r->n[i]);
        weigh_group(qn, dc, acc, att + g, att_stride, vt + g - base, vt_stride, 1, mask);
    }
    for (int i = 0; i < qn; i++) {
        for (int c = 0; c < dc; c++) out[i][c0 + c] = ck_lanes_sum8(acc[i][c]);
    }
}

/// x[0..<count] rounded to f16 in place.
AVX2 static void round_row_f16(float *x, int count) {
    int i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(x + i, round_f16(_mm256_loadu_ps(x + i)));
    if (i < count) {
        float tail[8] = {0};
        memcpy(tail, x + i, (size_t)(count - i) * sizeof(float));
        _mm256_storeu_ps(tail, round_f16(_mm256_loadu_ps(tail)));
        memcpy(x + i, tail, (size_t)(count - i) * sizeof(float));
    }
}

/// Attention of a block of `m` queries, tokens t0.. times heads h0..h0+qn-1 (query i: token t0 + i / qn,
/// head h0 + i % qn), all on KV head kvh: the rows of att (att_stride apart) hold their scores, then
/// probabilities; q holds the f16 queries. Each key and value is read once for the block.
AVX2_INLINE void attend_block(const ck_attention_job *j, int m, int qn, int t0, int h0, int kvh, float *att,
                              size_t att_stride, float *q, int base, size_t vt_stride) {
    int dims = j->head_dim;
    block_ranges r;
    float *out[8];
    int max_first = 0, min_n = j->first_position + j->tokens;
    r.lo = min_n;
    r.hi = 0;
    for (int i = 0; i < m; i++) {
        int t = t0 + i / qn, h = h0 + i % qn;
        token_range(j, t, &r.first[i], &r.n[i]);
        r.lo = r.first[i] < r.lo ? r.first[i] : r.lo;
        r.hi = r.n[i] > r.hi ? r.n[i] : r.hi;
        max_first = r.first[i] > max_first ? r.first[i] : max_first;
        min_n = r.n[i] < min_n ? r.n[i] : min_n;
        out[i] = j->out + (size_t)t * j->out_stride + (size_t)h * dims;
        const float *q_in = j->q + (size_t)t * j->q_stride + (size_t)h * dims;
        for (int d = 0; d < dims; d += 8) _mm256_storeu_ps(q + i * dims + d, round_f16(_mm256_loadu_ps(q_in + d)));
    }
    r.whole_lo = (max_first + 7) & ~7;
    r.whole_hi = min_n & ~7;
    // Scores for every key any query of the block sees (those a query does not see are never read): about
    // eight accumulators in flight, enough to cover the FMA latency.
    const int kb = m == 1 ? 8 : m == 2 ? 4 : m == 3 ? 3 : m == 4 ? 2 : 1;
    const float *keys = j->keys + (size_t)kvh * dims;
    size_t kv_stride = (size_t)j->kv_stride;
    int p = r.lo;
    for (; p + kb <= r.hi; p += kb) {
        scores(m, kb, dims, q, keys + p * kv_stride, kv_stride, j->scale, att + p, att_stride);
    }
    for (; p < r.hi; p++) scores(m, 1, dims, q, keys + p * kv_stride, kv_stride, j->scale, att + p, att_stride);
    for (int i = 0; i < m; i++) {
        ck_softmax(att + i * att_stride + r.first[i], r.n[i] - r.first[i], r.first[i] % 8);
        round_row_f16(att + i * att_stride + r.first[i], r.n[i] - r.first[i]);
    }
    // Dims per pass: up to twelve accumulators, plus the probabilities and one value vector.
    const int dc = m == 1 ? 8 : m == 2 ? 4 : m == 3 ? 3 : m <= 6 ? 2 : 1;
    const float *vt = j->transposed + (size_t)kvh * dims * vt_stride;
    int c = 0;
    for (; c + dc <= dims; c += dc) {
        weighted_values(m, dc, att, att_stride, vt + c * vt_stride, vt_stride, base, &r, out, c);
    }
    for (; c < dims; c++) weighted_values(m, 1, att, att_stride, vt + c * vt_stride, vt_stride, base, &r, out, c);
}

/// The thread's share of the tokens, [*begin, *end): contiguous, of about equal cost. A token costs its
/// keys (later tokens see more) plus a fixed part for its queries, softmax and outputs.
static void token_share(const ck_attention_job *j, int ith, int nth, int *begin, int *end) {
    long long total = 0;
    for (int t = 0; t < j->tokens; t++) {
        int first, n;
        token_range(j, t, &first, &n);
        total += n - first + 8;
    }
    *begin = *end = 0;
    long long before = 0;
    for (int t = 0; t < j->tokens; t++) {
        int first, n;
        token_range(j, t, &first, &n);
        long long cost = n - first + 8;
        // The thread whose share holds the token's midpoint takes it: shares stay contiguous.
        long long owner = (2 * before + cost) * nth / (2 * total);
        if (owner < ith) *begin = t + 1;
        if (owner <= ith) *end = t + 1;
        before += cost;
    }
    if (*end < *begin) *end = *begin;
}

/// The positions a batch's values are transposed from: the first any token attends, rounded down to a
/// group of eight; and the transposed rows' stride, whole groups up to the batch's last position.
static void transposed_span(const ck_attention_job *j, int *base, size_t *stride) {
    int first, n;
    token_range(j, 0, &first, &n);
    *base = first & ~7;
    *stride = (size_t)((j->first_position + j->tokens - *base + 7) & ~7);
}

/// job->transposed[c][p - base] = value p's element c, for the thread's share of the groups of positions;
/// the positions past the batch's last are zero.
static void transpose_task(void *context, int ith, int nth) {
    const ck_attention_job *j = context;
    int base;
    size_t stride;
    transposed_span(j, &base, &stride);
    int per = ((int)stride / 8 + nth - 1) / nth * 8;
    int begin = base + ith * per, end = begin + per < base + (int)stride ? begin + per : base + (int)stride;
    int positions = j->first_position + j->tokens;
    for (int g = begin; g < end; g += 8) {
        for (int c = 0; c < j->kv_stride; c++) {
            float *row = j->transposed + (size_t)c * stride + (g - base);
            for (int k = 0; k < 8; k++) row[k] = g + k < positions ? j->values[(size_t)(g + k) * j->kv_stride + c] : 0;
        }
    }
}

AVX2 static void attention_avx2_task(void *context, int ith, int nth) {
    const ck_attention_job *j = context;
    int group = j->heads / j->kv_heads;
    int base;
    size_t vt_stride;
    transposed_span(j, &base, &vt_stride);
    // Rows of scores padded to whole groups of eight (P·V reads a group at a time). Up to CK_ATTENTION_ROWS
    // queries at once, as many as the scratch has rows for.
    size_t att_stride = (size_t)((j->first_position + j->tokens + 7) & ~7);
    int rows = (int)((size_t)j->scratch_stride / att_stride);
    if (rows > CK_ATTENTION_ROWS) rows = CK_ATTENTION_ROWS;
    float *att = j->scratch + (size_t)ith * j->scratch_stride;
    float q[CK_ATTENTION_ROWS * CK_MAX_HEAD_DIM];
    int begin, end;
    token_share(j, ith, nth, &begin, &end);
    // Blocks of up to four heads of a KV head times as many tokens as fill CK_ATTENTION_ROWS queries.
    int heads_per_block = group < 4 ? group : 4;
    if (heads_per_block > rows) heads_per_block = rows;
    int tokens_per_block = rows / heads_per_block;
    for (int t0 = begin; t0 < end; t0 += tokens_per_block) {
        int tb = end - t0 < tokens_per_block ? end - t0 : tokens_per_block;
        for (int h0 = 0; h0 < j->heads;) {
            int kvh = h0 / group;
            int qn = (kvh + 1) * group - h0;
            if (qn > heads_per_block) qn = heads_per_block;
            switch (qn * tb) {  // constant counts, so the accumulators unroll into registers
            case 1: attend_block(j, 1, qn, t0, h0, kvh, att, att_stride, q, base, vt_stride); break;
            case 2: attend_block(j, 2, qn, t0, h0, kvh, att, att_stride, q, base, vt_stride); break;
            case 3: attend_block(j, 3, qn, t0, h0, kvh, att, att_stride, q, base, vt_stride); break;
            case 4: attend_block(j, 4, qn, t0, h0, kvh, att, att_stride, q, base, vt_stride); break;
            case 5: attend_block(j, 5, qn, t0, h0, kvh, att, att_stride, q, base, vt_stride); break;
            case 6: attend_block(j, 6, qn, t0, h0, kvh, att, att_stride, q, base, vt_stride); break;
            case 7: attend_block(j, 7, qn, t0, h0, kvh, att, att_stride, q, base, vt_stride); break;
            default: attend_block(j, 8, qn, t0, h0, kvh, att, att_stride, q, base, vt_stride); break;
            }
            h0 += qn;
        }
    }
}

/// One token (decoding) as attention_task computes it, operation for operation: the f16 query; each score a
/// 32-lane product (ck_quad_dot) in registers, where the portable loop calls out per key; each f16
/// probability times its value fused into lane p % 32 of the outputs, eight dims a vector; and the 32 lanes of
/// eight outputs summed at once in ck_quad_sum's order, where the portable loop gathers them one output at a
/// time. The heads are shared out as there, one at a time.
AVX2 static void attention_token_avx2_task(void *context, int ith, int nth) {
    const ck_attention_job *j = context;
    const int group = j->heads / j->kv_heads, dims = j->head_dim;
    float *att = j->scratch + (size_t)ith * j->scratch_stride;
    _Alignas(32) float q[CK_MAX_HEAD_DIM];
    _Alignas(32) float lanes[32 * CK_MAX_HEAD_DIM];
    int first, n;
    token_range(j, 0, &first, &n);
    for (int h = ith; h < j->heads; h += nth) {
        const float *q_in = j->q + (size_t)h * dims;
        for (int d = 0; d < dims; d += 8) _mm256_store_ps(q + d, round_f16(_mm256_loadu_ps(q_in + d)));
        const float *keys = j->keys + (size_t)(h / group) * dims, *values = j->values + (size_t)(h / group) * dims;
        for (int p = first; p < n; p++) att[p] = ck_quad_dot(dims, q, keys + (size_t)p * j->kv_stride) * j->scale;
        ck_softmax(att + first, n - first, first % 8);
        memset(lanes, 0, sizeof(float) * 32 * (size_t)dims);
        for (int p = first; p < n; p++) {
            __m256 a = round_f16(_mm256_set1_ps(att[p]));
            const float *value = values + (size_t)p * j->kv_stride;
            float *lane = lanes + (p % 32) * dims;
            for (int d = 0; d < dims; d += 8) {
                _mm256_store_ps(lane + d, _mm256_fmadd_ps(a, _mm256_loadu_ps(value + d), _mm256_load_ps(lane + d)));
            }
        }
        float *out = j->out + (size_t)h * dims;
        for (int d = 0; d < dims; d += 8) {
            __m256 l[8];
            for (int k = 0; k < 8; k++) {
                const float *a = lanes + d + (size_t)k * dims;
                const size_t eight = 8 * (size_t)dims;  // lanes k, 8 + k, 16 + k and 24 + k are eight rows apart
                __m256 outer = _mm256_add_ps(_mm256_load_ps(a), _mm256_load_ps(a + 2 * eight));
                __m256 inner = _mm256_add_ps(_mm256_load_ps(a + eight), _mm256_load_ps(a + 3 * eight));
                l[k] = _mm256_add_ps(outer, inner);
            }
            __m256 low = _mm256_add_ps(_mm256_add_ps(l[0], l[4]), _mm256_add_ps(l[1], l[5]));
            __m256 high = _mm256_add_ps(_mm256_add_ps(l[2], l[6]), _mm256_add_ps(l[3], l[7]));
            _mm256_storeu_ps(out + d, _mm256_add_ps(low, high));
        }
    }
}
#endif

/// Whether ck_attention takes the AVX2 variant for a batch: a CPU with AVX2, FMA and F16C (the dispatched
/// kernels' choice, so a forced scalar run stays portable), head_dim a whole number of vectors that the stack
/// buffers hold, a buffer for the transposed values and a row of scores, padded to a group of eight
/// positions, per thread.
#if defined(__x86_64__)
static int use_avx2(const ck_attention_job *j) {
    return j->tokens > 1 && j->head_dim % 8 == 0 && j->head_dim <= CK_MAX_HEAD_DIM && j->transposed &&
           j->scratch_stride >= ((j->first_position + j->tokens + 7) & ~7) && ck_have_avx2();
}

/// Whether it takes attention_token_avx2_task for a single token: the same CPU, and head_dim a whole number of
/// ggml_vec_dot_f16's 32 lanes that the stack buffers hold.
static int use_avx2_token(const ck_attention_job *j) {
    return j->tokens == 1 && j->head_dim % 32 == 0 && j->head_dim <= CK_MAX_HEAD_DIM && ck_have_avx2();
}
#endif

void ck_attention(ck_pool *pool, const ck_attention_job *job) {
#if defined(__x86_64__)
    if (use_avx2(job)) {
        ck_pool_run(pool, transpose_task, (void *)job);
        ck_pool_run(pool, attention_avx2_task, (void *)job);
        return;
    }
    if (use_avx2_token(job)) {
        ck_pool_run(pool, attention_token_avx2_task, (void *)job);
        return;
    }
#endif
    ck_attention_ref(pool, job);
}

void ck_attention_ref(ck_pool *pool, const ck_attention_job *job) { ck_pool_run(pool, attention_task, (void *)job); }
