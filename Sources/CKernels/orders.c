// The float steps of products in llama.cpp's orders (ckernels.h): which order a token of a product takes, and
// the formulas that sum a row's exact integers in each. A K-quant's integers come from ck_ksums_fn (the
// portable twin in ksums.c, SIMD variants beside the dot kernels), a Q4_0's or IQ4_NL's block by block here;
// the formulas are plain C with explicit fmaf, so every CPU gives the same bits.
#include "ckernels.h"
#include "fp16.h"
#include "gemm.h"
#include "quants.h"

// Products and sums round separately, as written (the formulas' fused steps are explicit).
#pragma clang fp contract(off)

int ck_sum_order(const ck_matvec_job *job, int t) {
    // llama.cpp repacks Q4_0 and IQ4_NL matrices of a multiple of 8 rows for AVX2, for every token.
    if ((job->type == CK_TYPE_Q4_0 || job->type == CK_TYPE_IQ4_NL) && job->rows % 8 == 0) return CK_ORDER_BLOCKS;
    if (!ck_is_k_quant(job->type)) return CK_ORDER_VEC_DOT;
    int tokens = job->batch_tokens > 0 ? job->batch_tokens : job->tokens, at = job->batch_first + t;
    // llama.cpp repacks Q4_K matrices of a multiple of 8 rows for AVX2 and multiplies them in its own orders.
    if (job->type == CK_TYPE_Q4_K && job->rows % 8 == 0) {
        if (job->sessions) return CK_ORDER_GEMV;
        return at < tokens - tokens % 4 ? CK_ORDER_GEMM : CK_ORDER_GEMV;
    }
    return !job->sessions && tokens >= 8 ? CK_ORDER_TILED : CK_ORDER_VEC_DOT;
}

/// Super-block i's d and dmin (0 for the types without mins).
static void block_scales(int type, const void *x, int i, float *d, float *dmin) {
    *dmin = 0;
    switch (type) {
    case CK_TYPE_Q2_K: {
        const ck_block_q2_K *b = (const ck_block_q2_K *)x + i;
        *d = CK_H2F(b->d), *dmin = CK_H2F(b->dmin);
        return;
    }
    case CK_TYPE_Q3_K: *d = CK_H2F(((const ck_block_q3_K *)x)[i].d); return;
    case CK_TYPE_Q6_K: *d = CK_H2F(((const ck_block_q6_K *)x)[i].d); return;
    case CK_TYPE_IQ4_XS: *d = CK_H2F(((const ck_block_iq4_xs *)x)[i].d); return;
    case CK_TYPE_Q5_K: {
        const ck_block_q5_K *b = (const ck_block_q5_K *)x + i;
        *d = CK_H2F(b->d), *dmin = CK_H2F(b->dmin);
        return;
    }
    default: {
        const ck_block_q4_K *b = (const ck_block_q4_K *)x + i;
        *d = CK_H2F(b->d), *dmin = CK_H2F(b->dmin);
        return;
    }
    }
}

/// A Q4_0 or IQ4_NL row in the BLOCKS order: per block, its exact integer dot with the Q8_0 activation (the
/// reference's codes, ck_block_codes_ref), then out += dot · (d · the activation's d), fused.
static inline __attribute__((always_inline)) float blocks_product(int type, int n, const void *x, const void *y) {
    const ck_block_q8_0 *a = y;
    float acc = 0;
    for (int i = 0; i < n / CK_QK; i++) {
        int codes[CK_QK];
        float m, d = ck_block_codes_ref(type, x, i, codes, &m);
        int32_t dot = 0;
        for (int j = 0; j < CK_QK; j++) dot += codes[j] * a[i].qs[j];
        acc = __builtin_fmaf((float)dot, d * CK_H2F(a[i].d), acc);
    }
    return acc;
}

/// The formulas over `sums`' integers; fmaf is one instruction in the FMA copy below, a libm call otherwise.
static inline __attribute__((always_inline)) float k_product(int type, int order, int n, const void *x, const void *y,
                                                             ck_ksums_fn sums) {
    if (order == CK_ORDER_BLOCKS) return blocks_product(type, n, x, y);
    const ck_block_q8_K *a = y;
    int blocks = n / CK_QK_K, parts = order == CK_ORDER_GEMM ? 4 : 1;
    int32_t dot[64 * 4], mins[64 * 4];  // rows of up to 16,384 elements at a time
    float acc = 0, accm = 0;
    for (int b0 = 0; b0 < blocks; b0 += 64) {
        int count = blocks - b0 < 64 ? blocks - b0 : 64;
        size_t block_bytes = ck_row_bytes(type, CK_QK_K);
        sums(type, count * CK_QK_K, (const char *)x + b0 * block_bytes, a + b0, parts, dot, mins);
        for (int i = 0; i < count; i++) {
            float d, dmin;
            block_scales(type, x, b0 + i, &d, &dmin);
            ck_order_step(order, dot + i * parts, mins + i * parts, d, dmin, a[b0 + i].d, &acc, &accm);
        }
    }
    return acc - accm;
}

#if defined(__x86_64__)
int ck_have_avx2(void);
float ck_avx2_dot_q4_K_gemv(int n, const void *x, const void *y);
__attribute__((target("fma"))) static float k_product_fma(int type, int order, int n, const void *x, const void *y,
                                                           ck_ksums_fn sums) {
    return k_product(type, order, n, x, y, sums);
}
#endif

float ck_ordered_product(int type, int order, int n, const void *x, const void *y, ck_ksums_fn sums) {
    if (order == CK_ORDER_VEC_DOT) return ck_dot_function(type)(n, x, y);
#if defined(__x86_64__)
    // A decoding token's Q4_K product in one pass, where the integers would be the fast ones anyway.
    if (order == CK_ORDER_GEMV && type == CK_TYPE_Q4_K && sums != ck_ksums_ref && ck_have_avx2()) {
        return ck_avx2_dot_q4_K_gemv(n, x, y);
    }
    if (ck_have_avx2()) return k_product_fma(type, order, n, x, y, sums);
#endif
    return k_product(type, order, n, x, y, sums);
}
