// AVX2/FMA dot products of K-quant weight rows (Q4_K, Q5_K, Q6_K) with Q8_K activations, and their
// dequantization (for the prompt path's sgemm tiles): the fast twins of kquants_ref.c, equal to it bit
// for bit. Per super-block of 256, maddubs multiplies the unsigned
// codes by the signed activation bytes into int16 pairs (no pair can saturate: |2 · 63 · 127| < 2^15),
// madd applies the sub-block scales and widens to eight int32 lanes, and one FMA per lane adds the
// block's float scale. Compiled per function for avx2/fma; dispatch.c calls these only when cpuid says so.
#include "ckernels.h"
#include "kquants.h"
#if defined(__x86_64__)
#include "gemm.h"
#include "kquants_avx2.h"
#include "prefetch.h"
#include <string.h>

// Products and differences round separately, as in the reference (the dot kernels' FMAs are explicit).
#pragma clang fp contract(off)

/// 32 unsigned codes times 32 activation bytes, scaled by the int16 lanes of `scale`, as eight int32 lanes.
AVX2 static inline __m256i scaled_products(__m256i codes, const int8_t *q8, __m256i scale) {
    return _mm256_madd_epi16(scale, _mm256_maddubs_epi16(codes, _mm256_loadu_si256((const __m256i *)q8)));
}

/// Step j of a Q4_K/Q5_K block: the 32 codes of its low nibbles (`lo`, elements 64j..64j+31) and of its high
/// nibbles (`hi`, the next 32). For Q5_K, `high` holds the qh bytes shifted right by 2j: its bits 0 and 1
/// are the fifth bits of the two runs; it is advanced by two bits for the next step.
AVX2 static inline void codes45(const uint8_t *qs, int j, int five, __m256i *high, __m256i *lo, __m256i *hi) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    __m256i bytes = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
    *lo = _mm256_and_si256(bytes, low4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
    if (five) {
        *lo = _mm256_or_si256(*lo, _mm256_slli_epi16(_mm256_and_si256(*high, one), 4));
        *hi = _mm256_or_si256(*hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(*high, 1), one), 4));
        *high = _mm256_srli_epi16(*high, 2);
    }
}

/// The unsigned codes (0..63, stored +32) of one 128-element half of a Q6_K block, as four runs of 32: the
/// low nibbles of ql[0..31] and ql[32..63], then their high nibbles, each topped by two bits of qh.
AVX2 static inline void codes6(const ck_block_q6_K *b, int half, __m256i codes[4]) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(3);
    __m256i ql0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * half));
    __m256i ql1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * half + 32));
    __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * half));
    codes[0] = _mm256_and_si256(ql0, low4);
    codes[1] = _mm256_and_si256(ql1, low4);
    codes[2] = _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4);
    codes[3] = _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4);
    for (int g = 0; g < 4; g++) {
        codes[g] = _mm256_or_si256(codes[g], _mm256_slli_epi16(_mm256_and_si256(qh, low2), 4));
        qh = _mm256_srli_epi16(qh, 2);
    }
}

AVX2 static inline float reduce4(__m128 acc) {
    float a[4];
    _mm_storeu_ps(a, acc);
    return ck_sum_lanes4(a);
}

/// Q4_K or (`five`) Q5_K: 64 elements per step, the low nibbles of 32 bytes then their high
/// nibbles; for Q5_K bits 2j and 2j+1 of each qh byte are the fifth bits of step j's two halves. Summed as
/// ggml_vec_dot does, or when `gemv` as llama.cpp's repacked gemv (CK_ORDER_GEMV, ck_order_step), or with
/// `dot` set, only the exact integers of each super-block (`parts` 1) or each step (`parts` 4) written
/// (ck_ksums_fn).
AVX2 static inline __attribute__((always_inline)) float dot_q45_K(int n, const void *vx, size_t stride,
                                                                  const ck_block_q8_K *y, int five, int parts,
                                                                  int32_t *dot, int32_t *mins_out, int gemv) {
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    float summs = 0;  // Q5_K's mins, in one sum (dot_q45_K_ref); the gemv's sums
    float sum = 0;
    for (int i = 0; i < n / CK_QK_K; i++) {
        const ck_block_q4_K *head = (const void *)((const char *)vx + (size_t)i * stride);
        ck_prefetch_ahead(head, (int)stride);
        const ck_block_q5_K *b5 = (const void *)head;
        const uint8_t *qs = five ? b5->qs : head->qs;
        uint8_t scales[8], mins[8];
        ck_unpack_scales_k4(head->scales, scales, mins);
        // Mins: each two sub-blocks' mins against the sums of their four 16-code activation groups.
        __m256i bsums = _mm256_loadu_si256((const __m256i *)y[i].bsums);
        __m128i pair_sums = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
        // Lane j: the mins' term of step j (sub-blocks 2j and 2j + 1).
        __m128i min_terms = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mins)), pair_sums);
        float dmin = -y[i].d * H2F(head->dmin);
        if (!dot && !five) acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(min_terms), acc_m);
        if (!dot && five) summs = __builtin_fmaf(dmin, (float)hsum4_i32(min_terms), summs);

        __m256i high = five ? _mm256_loadu_si256((const __m256i *)b5->qh) : _mm256_setzero_si256();
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            __m256i lo, hi;
            codes45(qs, j, five, &high, &lo, &hi);
            __m256i p = _mm256_add_epi32(
                scaled_products(lo, y[i].qs + 64 * j, _mm256_set1_epi16(scales[2 * j])),
                scaled_products(hi, y[i].qs + 64 * j + 32, _mm256_set1_epi16(scales[2 * j + 1])));
            sumi = _mm256_add_epi32(sumi, p);
            if (dot && parts == 4) {
                int32_t m[4];
                _mm_storeu_si128((__m128i *)m, min_terms);
                dot[4 * i + j] = hsum_i32(p), mins_out[4 * i + j] = m[j];
            }
        }
        if (dot && parts == 1) dot[i] = hsum_i32(sumi), mins_out[i] = hsum4_i32(min_terms);
        if (gemv) {
            int32_t whole = hsum_i32(sumi), mins_total = hsum4_i32(min_terms);
            ck_order_step(CK_ORDER_GEMV, &whole, &mins_total, H2F(head->d), H2F(head->dmin), y[i].d, &sum, &summs);
            continue;
        }
        if (!dot) acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * H2F(head->d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    if (gemv) return sum - summs;
    return dot ? 0 : five ? reduce8(acc) + summs : reduce8(acc) + reduce4(acc_m);
}

/// Q4_K in llama.cpp's repacked gemv order (CK_ORDER_GEMV): one token's product, the integers and the sums
/// in one pass.
AVX2 float ck_avx2_dot_q4_K_gemv(int n, const void *x, const void *y) {
    return dot_q45_K(n, x, sizeof(ck_block_q4_K), y, 0, 1, 0, 0, 1);
}

AVX2 static float dot_q4_K(int n, const void *x, const void *y) {
    return dot_q45_K(n, x, sizeof(ck_block_q4_K), y, 0, 1, 0, 0, 0);
}

AVX2 static float dot_q5_K(int n, const void *x, const void *y) {
    return dot_q45_K(n, x, sizeof(ck_block_q5_K), y, 1, 1, 0, 0, 0);
}

/// The codes' offset in each lane of a Q6_K product (dot_q6_K_ref): 32 · the activation sums of the
/// 16-element groups 2k and 2k+1, each times its scale, in lane k.
AVX2 static inline __m256i offset6(__m256i scales16, const ck_block_q8_K *y) {
    return _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), scales16), 5);
}

/// Q6_K: per 128-element half, 64 ql bytes give the low nibbles of four 32-element groups and 32 qh bytes
/// their top two bits; the codes are multiplied as stored (+32) and the offset taken off per lane after.
/// With `dot` set, each super-block's exact integer is written instead (ck_ksums_fn, `parts` 1).
AVX2 static inline __attribute__((always_inline)) float q6_K_body(int n, const void *vx, const void *vy,
                                                                 int32_t *dot) {
    const ck_block_q6_K *x = vx;
    const ck_block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / CK_QK_K; i++) {
        ck_prefetch_ahead(x + i, sizeof x[i]);
        __m256i sumi = _mm256_setzero_si256();
        __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        for (int half = 0; half < 2; half++) {
            __m256i codes[4];
            codes6(&x[i], half, codes);
            __m256i eight = scales_half(scales16, half);
            for (int g = 0; g < 4; g++) {
                const int8_t *q8 = y[i].qs + 128 * half + 32 * g;
                __m256i p16 = _mm256_maddubs_epi16(codes[g], _mm256_loadu_si256((const __m256i *)q8));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale_pair_at(eight, g), p16));
            }
        }
        sumi = _mm256_sub_epi32(sumi, offset6(scales16, &y[i]));
        if (dot) {
            dot[i] = hsum_i32(sumi);
            continue;
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * H2F(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return reduce8(acc);
}

AVX2 static float dot_q6_K(int n, const void *x, const void *y) { return q6_K_body(n, x, y, 0); }

/// The exact integers of a Q4_K, Q5_K or Q6_K row (ck_ksums_fn), from the dot kernels' bodies.
AVX2 void ck_avx2_ksums_k(int type, int n, const void *x, const void *y, int parts, int32_t *dot, int32_t *mins) {
    if (type == CK_TYPE_Q6_K) {
        q6_K_body(n, x, y, dot);
        for (int i = 0; i < n / CK_QK_K; i++) mins[i] = 0;
    } else if (type == CK_TYPE_Q5_K) {
        dot_q45_K(n, x, sizeof(ck_block_q5_K), y, 1, parts, dot, mins, 0);
    } else if (parts == 4) {
        dot_q45_K(n, x, sizeof(ck_block_q4_K), y, 0, 4, dot, mins, 0);
    } else {
        dot_q45_K(n, x, sizeof(ck_block_q4_K), y, 0, 1, dot, mins, 0);
    }
}

/// Eight codes (bytes) → eight floats, times `scale`, minus `offset`: two roundings, as the reference.
AVX2 static inline void store8(float *y, __m128i codes, __m256 scale, __m256 offset) {
    __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(codes));
    _mm256_storeu_ps(y, _mm256_sub_ps(_mm256_mul_ps(scale, f), offset));
}

AVX2 void ck_avx2_store32(float *y, __m256i v, float scale0, float scale1, float offset0, float offset1) {
    __m256 s0 = _mm256_set1_ps(scale0), s1 = _mm256_set1_ps(scale1);
    __m256 o0 = _mm256_set1_ps(offset0), o1 = _mm256_set1_ps(offset1);
    __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
    store8(y, lo, s0, o0);
    store8(y + 8, _mm_srli_si128(lo, 8), s0, o0);
    store8(y + 16, hi, s1, o1);
    store8(y + 24, _mm_srli_si128(hi, 8), s1, o1);
}

/// Dequantizes Q4_K/Q5_K/Q6_K rows, equal to the reference bit for bit (same products, no FMA).
/// Returns 0 for other types.
AVX2 int ck_avx2_dequantize_row_k(int type, const void *vx, float *y, int n) {
    if (type != CK_TYPE_Q4_K && type != CK_TYPE_Q5_K && type != CK_TYPE_Q6_K) return 0;
    for (int i = 0; i < n / CK_QK_K; i++, y += CK_QK_K) {
        if (type == CK_TYPE_Q4_K || type == CK_TYPE_Q5_K) {
            int five = type == CK_TYPE_Q5_K;
            const ck_block_q4_K *head = five ? (const void *)((const ck_block_q5_K *)vx + i)
                                             : (const void *)((const ck_block_q4_K *)vx + i);
            const ck_block_q5_K *b5 = (const void *)head;
            uint8_t scales[8], mins[8];
            ck_unpack_scales_k4(head->scales, scales, mins);
            float d = H2F(head->d), dmin = H2F(head->dmin);
            __m256i high = five ? _mm256_loadu_si256((const __m256i *)b5->qh) : _mm256_setzero_si256();
            for (int j = 0; j < 4; j++) {
                __m256i lo, hi;
                codes45(five ? b5->qs : head->qs, j, five, &high, &lo, &hi);
                float d0 = d * scales[2 * j], d1 = d * scales[2 * j + 1];
                float m0 = dmin * mins[2 * j], m1 = dmin * mins[2 * j + 1];
                ck_avx2_store32(y + 64 * j, lo, d0, d0, m0, m0);
                ck_avx2_store32(y + 64 * j + 32, hi, d1, d1, m1, m1);
            }
        } else {
            const ck_block_q6_K *b = (const ck_block_q6_K *)vx + i;
            float d = H2F(b->d);
            for (int half = 0; half < 2; half++) {
                __m256i codes[4];
                codes6(b, half, codes);
                for (int g = 0; g < 4; g++) {
                    // 16 elements per scale: the two halves of the 32 codes take scales 2G and 2G+1.
                    const int8_t *sc = b->scales + 2 * (4 * half + g);
                    __m256i c = _mm256_sub_epi8(codes[g], _mm256_set1_epi8(32));
                    ck_avx2_store32(y + 128 * half + 32 * g, c, d * sc[0], d * sc[1], 0.0f, 0.0f);
                }
            }
        }
    }
    return 1;
}

/// Q8_K activations, equal to ck_quantize_row_q8_K_ref bit for bit: the value of largest magnitude (the
/// first on ties) sets iscale = -127/max, each code is iscale · x rounded half to even (nearbyintf in the
/// default rounding mode), at most 127, and bsums are the sums of each 16 codes.
AVX2 void ck_avx2_quantize_row_q8_K(const float *x, void *vy, int n) {
    ck_block_q8_K *y = vy;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int i = 0; i < n / CK_QK_K; i++, x += CK_QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < CK_QK_K; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
        __m128 r = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        r = _mm_max_ps(r, _mm_movehl_ps(r, r));
        float amax = _mm_cvtss_f32(_mm_max_ss(r, _mm_movehdup_ps(r)));
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        int first = 0;
        while (__builtin_fabsf(x[first]) != amax) first++;
        float iscale = -127.0f / x[first];
        __m256 scale = _mm256_set1_ps(iscale);
        __m256i codes[32];
        for (int k = 0; k < 32; k++) {
            __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), scale),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            codes[k] = _mm256_min_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(127));
        }
        for (int k = 0; k < 32; k += 4) {
            __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(codes[k], codes[k + 1]),
                                               _mm256_packs_epi32(codes[k + 2], codes[k + 3]));
            bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(y[i].qs + 8 * k), bytes);
        }
        // bsums[g] = the lanes of codes 2g and 2g + 1, summed eight groups at a time.
        for (int half = 0; half < 2; half++) {
            __m256i pairs[8];
            for (int g = 0; g < 8; g++) {
                pairs[g] = _mm256_add_epi32(codes[16 * half + 2 * g], codes[16 * half + 2 * g + 1]);
            }
            __m256i sums = ck_sum8_i32(pairs);
            _mm_storeu_si128((__m128i *)(y[i].bsums + 8 * half),
                             _mm_packs_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1)));
        }
        y[i].d = 1 / iscale;
    }
}

/// The AVX2 dot kernel for a K-quant `type`, or NULL.
ck_dot_fn ck_avx2_dot_function_k(int type) {
    switch (type) {
    case CK_TYPE_Q4_K: return dot_q4_K;
    case CK_TYPE_Q5_K: return dot_q5_K;
    case CK_TYPE_Q6_K: return dot_q6_K;
    default: return 0;
    }
}

/// The 256 codes of a K-quant super-block in eight runs of 32, in element order, unsigned as the dot kernels
/// multiply them: Q4_K's and Q5_K's as they are, Q6_K's stored +32 (here); Q2_K's, Q3_K's (+4) and IQ4_XS's
/// levels (+128) from lowbit_avx2.c.
AVX2 void ck_avx2_runs_k(int type, const void *block, __m256i runs[8]) {
    if (type == CK_TYPE_Q6_K) {
        codes6(block, 0, runs);
        codes6(block, 1, runs + 4);
        return;
    }
    if (type != CK_TYPE_Q4_K && type != CK_TYPE_Q5_K) {
        ck_avx2_runs_low(type, block, runs);
        return;
    }
    const int five = type == CK_TYPE_Q5_K;
    const uint8_t *qs = five ? ((const ck_block_q5_K *)block)->qs : ((const ck_block_q4_K *)block)->qs;
    __m256i high = five ? _mm256_loadu_si256((const __m256i *)((const ck_block_q5_K *)block)->qh)
                        : _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) codes45(qs, j, five, &high, &runs[2 * j], &runs[2 * j + 1]);
}

// MARK: Tiles of a batched product (gemm.h), each output summed as dot_q45_K and dot_q6_K sum it.

/// A super-block of one Q4_K/Q5_K row, unpacked once for all tokens of a tile.
typedef struct {
    __m256i codes[8];    // runs of 32 codes, in element order
    __m256i scales[8];   // each run's sub-block scale in every int16 lane
    __m128i mins;        // the eight sub-block mins as int16
    float d, dmin;
} unpacked_q45;

AVX2 static inline void unpack_q45(const ck_block_q4_K *head, int five, unpacked_q45 *u) {
    const ck_block_q5_K *b5 = (const void *)head;
    uint8_t scales[8], mins[8];
    ck_unpack_scales_k4(head->scales, scales, mins);
    u->mins = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mins));
    u->d = H2F(head->d);
    u->dmin = H2F(head->dmin);
    __m256i high = five ? _mm256_loadu_si256((const __m256i *)b5->qh) : _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) {
        codes45(five ? b5->qs : head->qs, j, five, &high, &u->codes[2 * j], &u->codes[2 * j + 1]);
        u->scales[2 * j] = _mm256_set1_epi16(scales[2 * j]);
        u->scales[2 * j + 1] = _mm256_set1_epi16(scales[2 * j + 1]);
    }
}

/// RM rows (a constant once inlined) × rn tokens of Q4_K or (`five`) Q5_K: each row's super-block is
/// unpacked once for all the tokens, whose accumulators live in L1.
AVX2 static inline __attribute__((always_inline)) void tile_q45(const ck_matvec_job *job, int five, int r0, int RM,
                                                                int t0, int rn) {
    size_t row_bytes = ck_row_bytes(job->type, job->cols);
    size_t block_bytes = five ? sizeof(ck_block_q5_K) : sizeof(ck_block_q4_K);
    const int fetch = ck_tile_fetch(rn, block_bytes);
    const char *w = (const char *)job->weights + (size_t)r0 * row_bytes;
    const char *a = (const char *)job->activation + (size_t)t0 * job->activation_stride;
    __m256 acc[CK_GEMM_TOKENS][CK_GEMM_ROWS];
    __m128 acc_m[CK_GEMM_TOKENS][CK_GEMM_ROWS];
    float sum[CK_GEMM_TOKENS][CK_GEMM_ROWS], sum_m[CK_GEMM_TOKENS][CK_GEMM_ROWS];  // the other orders' sums
    int order[CK_GEMM_TOKENS];
    for (int t = 0; t < rn; t++) {
        order[t] = ck_sum_order(job, t0 + t);
        for (int r = 0; r < RM; r++) {
            acc[t][r] = _mm256_setzero_ps();
            acc_m[t][r] = _mm_setzero_ps();
            sum[t][r] = sum_m[t][r] = 0;
        }
    }
    for (int i = 0; i < job->cols / CK_QK_K; i++) {
        unpacked_q45 u[CK_GEMM_ROWS];
        for (int r = 0; r < RM; r++) {
            const char *block = w + r * row_bytes + i * block_bytes;
            ck_prefetch_rows_below(block, row_bytes, CK_GEMM_ROWS, fetch);
            unpack_q45((const void *)block, five, &u[r]);
        }
        for (int t = 0; t < rn; t++) {
            const ck_block_q8_K *y = (const ck_block_q8_K *)(a + t * job->activation_stride) + i;
            __m256i bsums = _mm256_loadu_si256((const __m256i *)y->bsums);
            __m128i pair_sums = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
            for (int r = 0; r < RM; r++) {
                // Lane j: the mins' term of step j (sub-blocks 2j and 2j + 1).
                __m128i min_terms = _mm_madd_epi16(u[r].mins, pair_sums);
                __m256i sumi = _mm256_setzero_si256(), p[4];
                int32_t dot[4], mins[4];
                for (int j = 0; j < 4; j++) {
                    p[j] = _mm256_add_epi32(scaled_products(u[r].codes[2 * j], y->qs + 64 * j, u[r].scales[2 * j]),
                                            scaled_products(u[r].codes[2 * j + 1], y->qs + 64 * j + 32,
                                                            u[r].scales[2 * j + 1]));
                    sumi = _mm256_add_epi32(sumi, p[j]);
                }
                if (order[t] == CK_ORDER_GEMM) {
                    // The four steps' totals at once: pairwise sums within each half, then the halves added.
                    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
                    _mm_storeu_si128((__m128i *)dot,
                                     _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
                }
                if (order[t] == CK_ORDER_VEC_DOT && five) {  // the mins in one sum, as dot_q45_K
                    sum_m[t][r] = __builtin_fmaf(-y->d * u[r].dmin, (float)hsum4_i32(min_terms), sum_m[t][r]);
                    acc[t][r] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * u[r].d), _mm256_cvtepi32_ps(sumi), acc[t][r]);
                    continue;
                }
                if (order[t] == CK_ORDER_VEC_DOT) {
                    acc_m[t][r] =
                        _mm_fmadd_ps(_mm_set1_ps(-y->d * u[r].dmin), _mm_cvtepi32_ps(min_terms), acc_m[t][r]);
                    acc[t][r] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * u[r].d), _mm256_cvtepi32_ps(sumi), acc[t][r]);
                    continue;
                }
                _mm_storeu_si128((__m128i *)mins, min_terms);
                if (order[t] != CK_ORDER_GEMM) dot[0] = hsum_i32(sumi), mins[0] = mins[0] + mins[1] + mins[2] + mins[3];
                ck_order_step(order[t], dot, mins, u[r].d, u[r].dmin, y->d, &sum[t][r], &sum_m[t][r]);
            }
        }
    }
    for (int t = 0; t < rn; t++) {
        float *out = job->out + (size_t)(t0 + t) * job->out_stride + r0;
        for (int r = 0; r < RM; r++) {
            float v = order[t] != CK_ORDER_VEC_DOT ? sum[t][r] - sum_m[t][r]
                      : five                          ? reduce8(acc[t][r]) + sum_m[t][r]
                                                      : reduce8(acc[t][r]) + reduce4(acc_m[t][r]);
            out[r] = v + (job->bias ? job->bias[r0 + r] : 0.0f);
        }
    }
}

/// A Q6_K super-block of one row, unpacked once for all tokens of a tile: codes (stored +32) and the scale
/// pair of each run of 32.
typedef struct {
    __m256i codes[8];
    __m256i scales[8];
    __m256i scales16;
    float d;
} unpacked_q6;

AVX2 static inline __attribute__((always_inline)) void tile_q6(const ck_matvec_job *job, int r0, int RM, int t0,
                                                               int rn) {
    size_t row_bytes = ck_row_bytes(job->type, job->cols);
    const int fetch = ck_tile_fetch(rn, sizeof(ck_block_q6_K));
    const char *w = (const char *)job->weights + (size_t)r0 * row_bytes;
    const char *a = (const char *)job->activation + (size_t)t0 * job->activation_stride;
    __m256 acc[CK_GEMM_TOKENS][CK_GEMM_ROWS];
    float sum[CK_GEMM_TOKENS][CK_GEMM_ROWS], sum_m[CK_GEMM_TOKENS][CK_GEMM_ROWS];  // the other orders' sums
    int order[CK_GEMM_TOKENS];
    for (int t = 0; t < rn; t++) {
        order[t] = ck_sum_order(job, t0 + t);
        for (int r = 0; r < RM; r++) acc[t][r] = _mm256_setzero_ps(), sum[t][r] = sum_m[t][r] = 0;
    }
    for (int i = 0; i < job->cols / CK_QK_K; i++) {
        unpacked_q6 u[CK_GEMM_ROWS];
        for (int r = 0; r < RM; r++) {
            const ck_block_q6_K *x = (const ck_block_q6_K *)(w + r * row_bytes) + i;
            ck_prefetch_rows_below(x, row_bytes, CK_GEMM_ROWS, fetch);
            __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
            u[r].scales16 = scales16;
            for (int half = 0; half < 2; half++) {
                codes6(x, half, u[r].codes + 4 * half);
                __m256i eight = scales_half(scales16, half);
                for (int g = 0; g < 4; g++) u[r].scales[4 * half + g] = scale_pair_at(eight, g);
            }
            u[r].d = H2F(x->d);
        }
        for (int t = 0; t < rn; t++) {
            const ck_block_q8_K *y = (const ck_block_q8_K *)(a + t * job->activation_stride) + i;
            __m256i q8[8];
            for (int g = 0; g < 8; g++) q8[g] = _mm256_loadu_si256((const __m256i *)(y->qs + 32 * g));
            for (int r = 0; r < RM; r++) {
                __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), offset6(u[r].scales16, y));
                for (int g = 0; g < 8; g++) {
                    __m256i p16 = _mm256_maddubs_epi16(u[r].codes[g], q8[g]);
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(u[r].scales[g], p16));
                }
                if (order[t] != CK_ORDER_VEC_DOT) {
                    int32_t dot = hsum_i32(sumi), none = 0;
                    ck_order_step(order[t], &dot, &none, u[r].d, 0, y->d, &sum[t][r], &sum_m[t][r]);
                    continue;
                }
                acc[t][r] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * u[r].d), _mm256_cvtepi32_ps(sumi), acc[t][r]);
            }
        }
    }
    for (int t = 0; t < rn; t++) {
        float *out = job->out + (size_t)(t0 + t) * job->out_stride + r0;
        for (int r = 0; r < RM; r++) {
            float v = order[t] == CK_ORDER_VEC_DOT ? reduce8(acc[t][r]) : sum[t][r] - sum_m[t][r];
            out[r] = v + (job->bias ? job->bias[r0 + r] : 0.0f);
        }
    }
}

/// A super-block of eight K-quant rows (Q2_K..Q6_K, IQ4_XS), unpacked once for all tokens of a wide tile
/// (gemm.h), a row in each int32 lane: chunk c holds each row's codes of elements 4c..4c + 3 (ck_avx2_runs_k,
/// transposed), so one maddubs with the activation's four bytes broadcast gives every row's products at once.
typedef struct {
    __m256i codes[64];   // unsigned codes; IQ4_XS: the levels' magnitudes
    __m256i levels[64];  // IQ4_XS: the signed levels, whose signs go to the activation (dot_s8's trick)
    __m256i scales[16];  // sub-block s (16 of 16 elements, or 8 of 32): each row's scale in both int16 halves
    __m256i pairs[8];    // each row's multipliers of the activation's block sums 2k and 2k + 1 (int16 halves)
    __m256 d, dmin;
} unpacked8_k;

/// Unpacks super-block i of the eight rows at `rows` for a tile of rn tokens (which decides the prefetch).
AVX2 static void unpack8_k(int type, const char *rows, size_t row_bytes, int i, int rn, unpacked8_k *u) {
    size_t block_bytes = ck_row_bytes(type, CK_QK_K);
    const int fetch = ck_tile_fetch(rn, block_bytes);
    int32_t scales[16][8], pairs[8][8];
    float d[8], dmin[8];
    __m256i runs[8][8];  // row, run of 32
    for (int r = 0; r < 8; r++) {
        const void *block = rows + r * row_bytes + i * block_bytes;
        ck_prefetch_rows_below(block, row_bytes, 8, fetch);
        ck_k_header_row h;
        ck_k_header(type, block, &h);
        for (int s = 0; s < 16; s++) scales[s][r] = (int32_t)((uint32_t)(uint16_t)h.scales[s] * 0x10001u);
        for (int k = 0; k < 8; k++) {
            pairs[k][r] = (int32_t)((uint32_t)(uint16_t)h.pairs[2 * k] | (uint32_t)h.pairs[2 * k + 1] << 16);
        }
        d[r] = h.d;
        dmin[r] = h.dmin;
        ck_avx2_runs_k(type, block, runs[r]);
    }
    for (int k = 0; k < 8; k++) {
        __m256i run_rows[8];
        for (int r = 0; r < 8; r++) run_rows[r] = runs[r][k];
        ck_transpose8(run_rows, u->codes + 8 * k);
        u->pairs[k] = _mm256_loadu_si256((const __m256i *)pairs[k]);
    }
    for (int c = 0; type == CK_TYPE_IQ4_XS && c < 64; c++) {
        u->levels[c] = _mm256_xor_si256(u->codes[c], _mm256_set1_epi8((char)0x80));
        u->codes[c] = _mm256_sign_epi8(u->levels[c], u->levels[c]);
    }
    for (int s = 0; s < 16; s++) u->scales[s] = _mm256_loadu_si256((const __m256i *)scales[s]);
    u->d = _mm256_loadu_ps(d);
    u->dmin = _mm256_loadu_ps(dmin);
}

/// Chunks c0..c0 + n − 1 of a token's activation `q8` against the eight rows, times `scale`: each row's scaled
/// sum in its lane; with `levels`, the signed levels' (|level| times the activation with the level's sign).
/// The int16 pair sums of the chunks are added before madd widens them, so n is bounded by the codes' range
/// (n · 2 · max code · 127 ≤ 32767).
AVX2 static inline __attribute__((always_inline)) __m256i chunks8(const unpacked8_k *u, const int8_t *q8, int c0,
                                                                  int n, __m256i scale, const int levels) {
    __m256i p = _mm256_setzero_si256();
    for (int c = c0; c < c0 + n; c++) {
        int32_t four;
        memcpy(&four, q8 + 4 * c, 4);
        __m256i y = levels ? _mm256_sign_epi8(_mm256_set1_epi32(four), u->levels[c]) : _mm256_set1_epi32(four);
        p = _mm256_add_epi16(p, _mm256_maddubs_epi16(u->codes[c], y));
    }
    return _mm256_madd_epi16(p, scale);
}

/// Each row's multipliers of the activation's block sums 2k and 2k + 1 for k in k0..k1 − 1, summed (exact).
AVX2 static inline __m256i bsums8(const unpacked8_k *u, const ck_block_q8_K *y, int k0, int k1) {
    __m256i m = _mm256_setzero_si256();
    for (int k = k0; k < k1; k++) {
        int32_t two;
        memcpy(&two, y->bsums + 2 * k, 4);
        m = _mm256_add_epi32(m, _mm256_madd_epi16(u->pairs[k], _mm256_set1_epi32(two)));
    }
    return m;
}

/// Eight Q4_K rows × rn tokens, each token in llama.cpp's repacked order (ck_sum_order: GEMM or GEMV only; the
/// caller checks), a row in each lane of the float sums: the same steps as ck_order_step, row by row. A
/// sub-block's eight chunks sum in int16 (at most 8 · 2 · 15 · 127 = 30480).
AVX2 static void wide_q4_K(const ck_matvec_job *job, int r0, int rm, int t0, int rn) {
    (void)rm;
    size_t row_bytes = ck_row_bytes(job->type, job->cols);
    const char *w = (const char *)job->weights + (size_t)r0 * row_bytes;
    const char *a = (const char *)job->activation + (size_t)t0 * job->activation_stride;
    __m256 acc[CK_GEMM_TOKENS], acc_m[CK_GEMM_TOKENS];
    int gemm[CK_GEMM_TOKENS];
    for (int t = 0; t < rn; t++) {
        gemm[t] = ck_sum_order(job, t0 + t) == CK_ORDER_GEMM;
        acc[t] = acc_m[t] = _mm256_setzero_ps();
    }
    unpacked8_k u;
    for (int i = 0; i < job->cols / CK_QK_K; i++) {
        unpack8_k(CK_TYPE_Q4_K, w, row_bytes, i, rn, &u);
        for (int t = 0; t < rn; t++) {
            const ck_block_q8_K *y = (const ck_block_q8_K *)(a + t * job->activation_stride) + i;
            __m256 ad = _mm256_set1_ps(y->d);
            __m256 dd = _mm256_mul_ps(u.d, ad), dm = _mm256_mul_ps(u.dmin, ad);
            __m256i dot = _mm256_setzero_si256(), min = _mm256_setzero_si256();
            for (int j = 0; j < 4; j++) {
                __m256i dot_j = _mm256_add_epi32(chunks8(&u, y->qs, 16 * j, 8, u.scales[2 * j], 0),
                                                 chunks8(&u, y->qs, 16 * j + 8, 8, u.scales[2 * j + 1], 0));
                __m256i min_j = bsums8(&u, y, 2 * j, 2 * j + 2);
                if (gemm[t]) {
                    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_j), dd, acc[t]);
                    acc_m[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(min_j), dm, acc_m[t]);
                } else {
                    dot = _mm256_add_epi32(dot, dot_j);
                    min = _mm256_add_epi32(min, min_j);
                }
            }
            if (!gemm[t]) {
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), dd, acc[t]);
                acc_m[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(min), dm, acc_m[t]);
            }
        }
    }
    __m256 bias = job->bias ? _mm256_loadu_ps(job->bias + r0) : _mm256_setzero_ps();
    for (int t = 0; t < rn; t++) {
        _mm256_storeu_ps(job->out + (size_t)(t0 + t) * job->out_stride + r0,
                         _mm256_add_ps(_mm256_sub_ps(acc[t], acc_m[t]), bias));
    }
}

/// Eight rows × rn tokens of a K-quant in llama.cpp's tiled order (ck_sum_order TILED; the caller checks), a row
/// in each lane: per super-block r = d · dot − dmin · mins (fused), then out += r · the activation's d (fused),
/// as ck_order_step. `group` chunks sum in int16 before each madd (the codes' range bounds it: Q6_K's 0..63
/// two chunks, Q5_K's 0..31 four, IQ4_XS's levels one); the stored codes' offset (Q3_K, Q6_K;
/// ck_k_offset_shift) comes off the dot as its block sums times the scales, where the others' are the mins
/// (IQ4_XS: none, its levels signed).
AVX2 static inline __attribute__((always_inline)) void wide_k_tiled(const ck_matvec_job *job, int type, int r0,
                                                                    int t0, int rn, const int group) {
    const int sub16 = ck_k_in_sixteens(type), shift = type == CK_TYPE_IQ4_XS ? 0 : ck_k_offset_shift(type);
    size_t row_bytes = ck_row_bytes(type, job->cols);
    const char *w = (const char *)job->weights + (size_t)r0 * row_bytes;
    const char *a = (const char *)job->activation + (size_t)t0 * job->activation_stride;
    const int per = sub16 ? 4 : 8;  // chunks of a sub-block
    __m256 acc[CK_GEMM_TOKENS];
    for (int t = 0; t < rn; t++) acc[t] = _mm256_setzero_ps();
    unpacked8_k u;
    for (int i = 0; i < job->cols / CK_QK_K; i++) {
        unpack8_k(type, w, row_bytes, i, rn, &u);
        const __m256 neg_dmin = _mm256_sub_ps(_mm256_setzero_ps(), u.dmin);
        for (int t = 0; t < rn; t++) {
            const ck_block_q8_K *y = (const ck_block_q8_K *)(a + t * job->activation_stride) + i;
            __m256i dot = _mm256_setzero_si256();
            for (int s = 0; s < 64 / per; s++) {
                for (int c = per * s; c < per * (s + 1); c += group) {
                    dot = _mm256_add_epi32(dot, chunks8(&u, y->qs, c, group, u.scales[s], type == CK_TYPE_IQ4_XS));
                }
            }
            __m256i mins = type == CK_TYPE_IQ4_XS ? _mm256_setzero_si256() : bsums8(&u, y, 0, 8);
            if (shift) {
                dot = _mm256_sub_epi32(dot, _mm256_slli_epi32(mins, shift));
                mins = _mm256_setzero_si256();
            }
            __m256 r = _mm256_fmadd_ps(neg_dmin, _mm256_cvtepi32_ps(mins), _mm256_mul_ps(u.d, _mm256_cvtepi32_ps(dot)));
            acc[t] = _mm256_fmadd_ps(r, _mm256_set1_ps(y->d), acc[t]);
        }
    }
    __m256 bias = job->bias ? _mm256_loadu_ps(job->bias + r0) : _mm256_setzero_ps();
    for (int t = 0; t < rn; t++) {
        _mm256_storeu_ps(job->out + (size_t)(t0 + t) * job->out_stride + r0, _mm256_add_ps(acc[t], bias));
    }
}

#define WIDE_K_TILED(name, type, group)                                                                        \
    AVX2 static void name(const ck_matvec_job *job, int r0, int rm, int t0, int rn) {                          \
        (void)rm;                                                                                              \
        wide_k_tiled(job, type, r0, t0, rn, group);                                                            \
    }
WIDE_K_TILED(wide_tiled_q2_K, CK_TYPE_Q2_K, 4)
WIDE_K_TILED(wide_tiled_q3_K, CK_TYPE_Q3_K, 4)
WIDE_K_TILED(wide_tiled_q4_K, CK_TYPE_Q4_K, 8)
WIDE_K_TILED(wide_tiled_q5_K, CK_TYPE_Q5_K, 4)
WIDE_K_TILED(wide_tiled_q6_K, CK_TYPE_Q6_K, 2)
WIDE_K_TILED(wide_tiled_iq4_xs, CK_TYPE_IQ4_XS, 1)

#define Q4_K_TILE(RM) tile_q45(job, 0, r0, RM, t0, rn)
#define Q5_K_TILE(RM) tile_q45(job, 1, r0, RM, t0, rn)
#define Q6_K_TILE(RM) tile_q6(job, r0, RM, t0, rn)
CK_TILE_SHAPES(tile_q4_K, AVX2, Q4_K_TILE)
CK_TILE_SHAPES(tile_q5_K, AVX2, Q5_K_TILE)
CK_TILE_SHAPES(tile_q6_K, AVX2, Q6_K_TILE)

ck_tile_fn ck_avx2_wide_tile_function_k(int type, int order) {
    if (order == CK_ORDER_GEMM || order == CK_ORDER_GEMV) return type == CK_TYPE_Q4_K ? wide_q4_K : 0;
    if (order != CK_ORDER_TILED) return 0;
    switch (type) {
    case CK_TYPE_Q2_K: return wide_tiled_q2_K;
    case CK_TYPE_Q3_K: return wide_tiled_q3_K;
    case CK_TYPE_Q4_K: return wide_tiled_q4_K;
    case CK_TYPE_Q5_K: return wide_tiled_q5_K;
    case CK_TYPE_Q6_K: return wide_tiled_q6_K;
    case CK_TYPE_IQ4_XS: return wide_tiled_iq4_xs;
    default: return 0;
    }
}

ck_tile_fn ck_avx2_tile_function_k(int type) {
    switch (type) {
    case CK_TYPE_Q4_K: return tile_q4_K;
    case CK_TYPE_Q5_K: return tile_q5_K;
    case CK_TYPE_Q6_K: return tile_q6_K;
    default: return 0;
    }
}
#endif
