// A prompt's product by panels (ckernels.h, ck_panel_matmul): the weight rows of a 32-element signed type are
// unpacked sixteen at a time to bytes in the layout of gemm.h, once per product, and every token meets them
// through vpdpbusd on 512 bits: one instruction adds four code products to each of sixteen rows' sums. The
// weights' codes are stored +128 so that they can be its unsigned operand; the activation's block term
// (-128 × its code sum) starts each sum, so the integer is the exact block dot. Then one fused multiply-add
// per block and row in block order, which the portable twin below repeats.
#include "ckernels.h"
#include "fp16.h"
#include "gemm.h"
#include "kquants.h"
#include "lowbit.h"
#include "quants.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

void ck_panel_terms(int activation_type, const void *activation, size_t stride, int tokens, int cols,
                    ck_panel_term *terms) {
    if (activation_type == CK_TYPE_Q8_K) return;  // the K-quant panels read the Q8_K blocks themselves
    int blocks = cols / CK_QK;
    for (int t = 0; t < tokens; t++) {
        const char *row = (const char *)activation + (size_t)t * stride;
        for (int i = 0; i < blocks; i++) {
            ck_panel_term *term = &terms[(size_t)t * blocks + i];
            if (activation_type == CK_TYPE_Q8_1) {
                const ck_block_q8_1 *a = (const ck_block_q8_1 *)row + i;
                *term = (ck_panel_term){CK_H2F(a->d), 0, CK_H2F(a->s)};
            } else {
                const ck_block_q8_0 *a = (const ck_block_q8_0 *)row + i;
                int32_t sum = 0;
                for (int j = 0; j < CK_QK; j++) sum += a->qs[j];
                *term = (ck_panel_term){CK_H2F(a->d), -128 * sum, 0};
            }
        }
    }
}

size_t ck_panel_scratch_bytes(int cols) {
    size_t small = (size_t)(cols / CK_QK) * CK_PANEL_BLOCK_BYTES, k = (size_t)(cols / CK_QK_K) * CK_PANEL_K_BYTES;
    return (small > k ? small : k) + 64;
}

/// How a K-quant's super-block sums: sub-blocks of 16 elements (else 32), and the stored codes' offset as a
/// shift (Q3_K: 4, Q6_K: 32, IQ4_XS: 128; 0 where mins take its place).
static int in_sixteens(int type) { return type != CK_TYPE_Q4_K && type != CK_TYPE_Q5_K && type != CK_TYPE_IQ4_XS; }
static int offset_shift(int type) {
    return type == CK_TYPE_Q6_K ? 5 : type == CK_TYPE_Q3_K ? 2 : type == CK_TYPE_IQ4_XS ? 7 : 0;
}

void ck_store_panel_k_row(uint8_t *superblock, int r, int scales, const ck_panel_k_row *row) {
    for (int j = 0; j < 8; j++) {
        for (int g = 0; g < 8; g++) {
            memcpy(superblock + (j * 8 + g) * CK_PANEL_ROWS * 4 + r * 4, row->runs[j] + 4 * g, 4);
        }
    }
    for (int k = 0; k < scales; k++) {
        memcpy(superblock + CK_PANEL_K_SCALES + (k * CK_PANEL_ROWS + r) * 4, &row->scales[k], 4);
    }
    for (int k = 0; k < 8; k++) {
        memcpy(superblock + CK_PANEL_K_PAIRS(scales) + (k * CK_PANEL_ROWS + r) * 4, &row->pairs[2 * k], 4);
    }
    memcpy(superblock + CK_PANEL_K_D(scales) + r * 4, &row->d, 4);
    memcpy(superblock + CK_PANEL_K_D(scales) + (CK_PANEL_ROWS + r) * 4, &row->dmin, 4);
}

void ck_panel_k_header(int type, const void *block, ck_panel_k_row *row) {
    row->dmin = 0;
    switch (type) {
    case CK_TYPE_Q2_K: {
        const ck_block_q2_K *b = block;
        for (int k = 0; k < 16; k++) row->scales[k] = b->scales[k] & 0xF, row->pairs[k] = (int16_t)(b->scales[k] >> 4);
        row->d = CK_H2F(b->d), row->dmin = CK_H2F(b->dmin);
        break;
    }
    case CK_TYPE_Q3_K: {
        const ck_block_q3_K *b = block;
        int scales[16];
        ck_unpack_scales_q3_K(b->scales, scales);
        for (int k = 0; k < 16; k++) row->scales[k] = row->pairs[k] = (int16_t)scales[k];
        row->d = CK_H2F(b->d);
        break;
    }
    case CK_TYPE_IQ4_XS: {
        const ck_block_iq4_xs *b = block;
        int scales[8];
        ck_unpack_scales_iq4_xs(b, scales);
        for (int k = 0; k < 8; k++) row->scales[k] = row->pairs[2 * k] = row->pairs[2 * k + 1] = (int16_t)scales[k];
        row->d = CK_H2F(b->d);
        break;
    }
    case CK_TYPE_Q6_K: {
        const ck_block_q6_K *b = block;
        for (int k = 0; k < 16; k++) row->scales[k] = row->pairs[k] = b->scales[k];
        row->d = CK_H2F(b->d);
        break;
    }
    default: {
        const ck_block_q4_K *b = block;  // d, dmin and scales sit at the same offsets in Q5_K
        uint8_t scales[8], mins[8];
        ck_unpack_scales_k4(b->scales, scales, mins);
        for (int k = 0; k < 8; k++) row->scales[k] = scales[k], row->pairs[2 * k] = row->pairs[2 * k + 1] = mins[k];
        row->d = CK_H2F(b->d), row->dmin = CK_H2F(b->dmin);
        break;
    }
    }
}

/// One row's super-block for the K-quant twin: its codes as the panels store them, from the references'
/// decoders, and its header.
static void unpack_k_ref(int type, const void *block, int codes[CK_QK_K], ck_panel_k_row *header) {
    int8_t signed_codes[CK_QK_K];
    int scale16[16];
    switch (type) {
    case CK_TYPE_Q2_K:
        ck_codes_2bit(((const ck_block_q2_K *)block)->qs, signed_codes);
        for (int e = 0; e < CK_QK_K; e++) codes[e] = signed_codes[e];
        break;
    case CK_TYPE_Q3_K:
        ck_codes_q3_K(block, signed_codes);
        for (int e = 0; e < CK_QK_K; e++) codes[e] = signed_codes[e] + 4;
        break;
    case CK_TYPE_IQ4_XS:
        ck_levels_iq4_xs(block, signed_codes, scale16);
        for (int e = 0; e < CK_QK_K; e++) codes[e] = signed_codes[e] + 128;
        break;
    case CK_TYPE_Q6_K:
        ck_codes_q6_K(block, signed_codes);
        for (int e = 0; e < CK_QK_K; e++) codes[e] = signed_codes[e] + 32;
        break;
    default: {
        uint8_t unsigned_codes[CK_QK_K];
        ck_codes_k(type, block, unsigned_codes);
        for (int e = 0; e < CK_QK_K; e++) codes[e] = unsigned_codes[e];
        break;
    }
    }
    ck_panel_k_header(type, block, header);
}

void ck_ksums_ref(int type, int n, const void *vx, const void *vy, int parts, int32_t *dot, int32_t *mins) {
    const char *row = vx;
    const ck_block_q8_K *a = vy;
    size_t block_bytes = ck_row_bytes(type, CK_QK_K);
    const int sub = in_sixteens(type) ? 16 : 32, shift = offset_shift(type);
    const int subs = CK_QK_K / sub, per_part = subs / parts, pairs_per_part = 16 / parts;
    for (int i = 0; i < n / CK_QK_K; i++) {
        int codes[CK_QK_K];
        ck_panel_k_row h;
        unpack_k_ref(type, row + (size_t)i * block_bytes, codes, &h);
        for (int part = 0; part < parts; part++) {
            int32_t d = 0, m = 0;
            for (int k = part * per_part; k < (part + 1) * per_part; k++) {
                int32_t sum = 0;
                for (int e = sub * k; e < sub * (k + 1); e++) sum += codes[e] * a[i].qs[e];
                d += h.scales[k] * sum;
            }
            for (int k = part * pairs_per_part; k < (part + 1) * pairs_per_part; k++) m += h.pairs[k] * a[i].bsums[k];
            // Q3_K, Q6_K and IQ4_XS: the pairs are the scales, whose sums times the codes' offset come off.
            if (shift) d -= m * (1 << shift), m = 0;
            dot[i * parts + part] = d;
            mins[i * parts + part] = m;
        }
    }
}

/// The K-quant twin: per super-block, fmaf(exact integer dot, d × the activation's d, sum) and the mins'
/// integer likewise into a sum of their own, the output their difference (ck_ordered_product's GEMV order).
static float dot_k_ref(int type, int cols, const char *row, const ck_block_q8_K *a) {
    return ck_ordered_product(type, CK_ORDER_GEMV, cols, row, a, ck_ksums_ref);
}

static int with_min(int type) { return type == CK_TYPE_Q4_1 || type == CK_TYPE_Q5_1; }

void ck_panel_matmul_ref(const ck_panel_job *job) {
    const ck_matvec_job *p = &job->product;
    int blocks = p->cols / CK_QK;
    size_t row_bytes = ck_row_bytes(p->type, p->cols);
    for (int r = 0; r < p->rows; r++) {
        const char *row = (const char *)p->weights + (size_t)r * row_bytes;
        for (int t = 0; t < p->tokens; t++) {
            if (ck_is_k_quant(p->type)) {
                const void *a = (const char *)p->activation + t * p->activation_stride;
                float v = dot_k_ref(p->type, p->cols, row, a);
                p->out[(size_t)t * p->out_stride + r] = p->bias ? v + p->bias[r] : v;
                continue;
            }
            const char *a = (const char *)p->activation + t * p->activation_stride;
            size_t block_bytes = with_min(p->type) ? sizeof(ck_block_q8_1) : sizeof(ck_block_q8_0);
            size_t qs = with_min(p->type) ? offsetof(ck_block_q8_1, qs) : offsetof(ck_block_q8_0, qs);
            float sum = 0, mins = 0;
            for (int i = 0; i < blocks; i++) {
                int codes[CK_QK];
                float m = 0, d = ck_block_codes_ref(p->type, row, i, codes, &m);
                const int8_t *q8 = (const int8_t *)(a + i * block_bytes + qs);
                int32_t dot = 0;
                for (int j = 0; j < CK_QK; j++) dot += codes[j] * q8[j];
                const ck_panel_term *term = &job->terms[(size_t)t * blocks + i];
                sum = __builtin_fmaf((float)dot, d * term->d, sum);
                if (with_min(p->type)) mins = __builtin_fmaf(m, term->s, mins);
            }
            float v = with_min(p->type) ? sum + mins : sum;
            p->out[(size_t)t * p->out_stride + r] = p->bias ? v + p->bias[r] : v;
        }
    }
}

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))

/// NC tokens (a constant once inlined) against one panel of `blocks` blocks: sixteen rows' sums per token in
/// one register each (Q4_1/Q5_1, `min`: and their mins' sums), written to out (token c at out + c ×
/// out_stride) where `mask` has the row.
AVX512 static inline __attribute__((always_inline)) void panel_tokens(
    const uint8_t *panel, int blocks, const char *activation, size_t stride, const ck_panel_term *terms,
    const float *bias, __mmask16 mask, float *out, size_t out_stride, const int min, const int NC) {
    const size_t block_bytes = min ? sizeof(ck_block_q8_1) : sizeof(ck_block_q8_0);
    const size_t qs = min ? offsetof(ck_block_q8_1, qs) : offsetof(ck_block_q8_0, qs);
    __m512 acc[CK_PANEL_TOKENS], accm[CK_PANEL_TOKENS];
    for (int c = 0; c < NC; c++) acc[c] = accm[c] = _mm512_setzero_ps();
    for (int i = 0; i < blocks; i++) {
        const uint8_t *p = panel + (size_t)i * CK_PANEL_BLOCK_BYTES;
        const char *a = activation + i * block_bytes + qs;
        __m512i dot[CK_PANEL_TOKENS];
        for (int c = 0; c < NC; c++) dot[c] = _mm512_set1_epi32(terms[(size_t)c * blocks + i].offset);
        for (int g = 0; g < 8; g++) {
            __m512i w = _mm512_loadu_si512((const void *)(p + g * CK_PANEL_ROWS * 4));
            for (int c = 0; c < NC; c++) {
                int32_t four;
                memcpy(&four, a + c * stride + g * 4, 4);
                dot[c] = _mm512_dpbusd_epi32(dot[c], w, _mm512_set1_epi32(four));
            }
        }
        __m512 dw = _mm512_loadu_ps((const float *)(p + CK_PANEL_ROWS * CK_QK));
        __m512 mw = _mm512_loadu_ps((const float *)(p + CK_PANEL_ROWS * CK_QK) + CK_PANEL_ROWS);
        for (int c = 0; c < NC; c++) {
            const ck_panel_term *term = &terms[(size_t)c * blocks + i];
            __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(term->d));
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[c]), scale, acc[c]);
            if (min) accm[c] = _mm512_fmadd_ps(mw, _mm512_set1_ps(term->s), accm[c]);
        }
    }
    __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias) : _mm512_setzero_ps();
    for (int c = 0; c < NC; c++) {
        __m512 v = min ? _mm512_add_ps(acc[c], accm[c]) : acc[c];
        _mm512_mask_storeu_ps(out + c * out_stride, mask, bias ? _mm512_add_ps(v, b) : v);
    }
}

/// The 32-element panels' token loop, for signed codes or (`min`) unsigned ones with mins.
AVX512 static inline __attribute__((always_inline)) void panel_all(const ck_matvec_job *p, const ck_panel_term *terms,
                                                                   const uint8_t *panel, int r0, __mmask16 mask,
                                                                   const int min) {
    int blocks = p->cols / CK_QK;
    const float *bias = p->bias ? p->bias + r0 : 0;
    size_t s = p->activation_stride, os = (size_t)p->out_stride;
    for (int t0 = 0; t0 < p->tokens; t0 += CK_PANEL_TOKENS) {
        const char *a = (const char *)p->activation + (size_t)t0 * s;
        const ck_panel_term *tt = terms + (size_t)t0 * blocks;
        float *out = p->out + (size_t)t0 * os + r0;
        switch (p->tokens - t0 < CK_PANEL_TOKENS ? p->tokens - t0 : CK_PANEL_TOKENS) {
        case 8: panel_tokens(panel, blocks, a, s, tt, bias, mask, out, os, min, 8); break;
        case 7: panel_tokens(panel, blocks, a, s, tt, bias, mask, out, os, min, 7); break;
        case 6: panel_tokens(panel, blocks, a, s, tt, bias, mask, out, os, min, 6); break;
        case 5: panel_tokens(panel, blocks, a, s, tt, bias, mask, out, os, min, 5); break;
        case 4: panel_tokens(panel, blocks, a, s, tt, bias, mask, out, os, min, 4); break;
        case 3: panel_tokens(panel, blocks, a, s, tt, bias, mask, out, os, min, 3); break;
        case 2: panel_tokens(panel, blocks, a, s, tt, bias, mask, out, os, min, 2); break;
        default: panel_tokens(panel, blocks, a, s, tt, bias, mask, out, os, min, 1); break;
        }
    }
}

AVX512 static void panel_signed(const ck_matvec_job *p, const ck_panel_term *t, const uint8_t *panel, int r0,
                                __mmask16 mask) {
    panel_all(p, t, panel, r0, mask, 0);
}

AVX512 static void panel_min(const ck_matvec_job *p, const ck_panel_term *t, const uint8_t *panel, int r0,
                             __mmask16 mask) {
    panel_all(p, t, panel, r0, mask, 1);
}

/// NC tokens (a constant once inlined, at most CK_PANEL_K_TOKENS) against one K-quant panel of `blocks`
/// super-blocks (gemm.h's layout), as dot_k_ref computes each output.
#define CK_PANEL_K_TOKENS 4
AVX512 static inline __attribute__((always_inline)) void panel_k_tokens(
    const uint8_t *panel, int blocks, const char *activation, size_t stride, const float *bias, __mmask16 mask,
    float *out, size_t out_stride, const int sub16, const int shift, const int NC) {
    const int nsc = sub16 ? 16 : 8;
    __m512 acc[CK_PANEL_K_TOKENS], accm[CK_PANEL_K_TOKENS];
    for (int c = 0; c < NC; c++) acc[c] = accm[c] = _mm512_setzero_ps();
    for (int i = 0; i < blocks; i++) {
        const uint8_t *p = panel + (size_t)i * CK_PANEL_K_BYTES;
        const char *a = activation + i * sizeof(ck_block_q8_K);
        const int32_t *scales = (const int32_t *)(p + CK_PANEL_K_SCALES);
        __m512i dot[CK_PANEL_K_TOKENS], sums[CK_PANEL_K_TOKENS];
        for (int c = 0; c < NC; c++) dot[c] = sums[c] = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            __m512i t0[CK_PANEL_K_TOKENS], t1[CK_PANEL_K_TOKENS];
            for (int c = 0; c < NC; c++) t0[c] = t1[c] = _mm512_setzero_si512();
            for (int g = 0; g < 8; g++) {
                __m512i w = _mm512_loadu_si512((const void *)(p + (j * 8 + g) * CK_PANEL_ROWS * 4));
                for (int c = 0; c < NC; c++) {
                    int32_t four;
                    memcpy(&four, a + c * stride + offsetof(ck_block_q8_K, qs) + 32 * j + 4 * g, 4);
                    if (sub16 && g >= 4) t1[c] = _mm512_dpbusd_epi32(t1[c], w, _mm512_set1_epi32(four));
                    else t0[c] = _mm512_dpbusd_epi32(t0[c], w, _mm512_set1_epi32(four));
                }
            }
            __m512i s0 = _mm512_loadu_si512((const void *)(scales + (sub16 ? 2 * j : j) * CK_PANEL_ROWS));
            for (int c = 0; c < NC; c++) dot[c] = _mm512_add_epi32(dot[c], _mm512_mullo_epi32(t0[c], s0));
            if (sub16) {
                __m512i s1 = _mm512_loadu_si512((const void *)(scales + (2 * j + 1) * CK_PANEL_ROWS));
                for (int c = 0; c < NC; c++) dot[c] = _mm512_add_epi32(dot[c], _mm512_mullo_epi32(t1[c], s1));
            }
        }
        for (int k = 0; k < 8; k++) {
            __m512i m = _mm512_loadu_si512((const void *)(p + CK_PANEL_K_PAIRS(nsc) + k * CK_PANEL_ROWS * 4));
            for (int c = 0; c < NC; c++) {
                int32_t two;
                memcpy(&two, a + c * stride + offsetof(ck_block_q8_K, bsums) + 4 * k, 4);
                sums[c] = _mm512_dpwssd_epi32(sums[c], m, _mm512_set1_epi32(two));
            }
        }
        const float *dp = (const float *)(p + CK_PANEL_K_D(nsc));
        __m512 d = _mm512_loadu_ps(dp), dmin = _mm512_loadu_ps(dp + CK_PANEL_ROWS);
        for (int c = 0; c < NC; c++) {
            float da;
            memcpy(&da, a + c * stride, 4);
            __m512i total = shift ? _mm512_sub_epi32(dot[c], _mm512_slli_epi32(sums[c], shift)) : dot[c];
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(d, _mm512_set1_ps(da)), acc[c]);
            if (!shift) {
                accm[c] =
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[c]), _mm512_mul_ps(dmin, _mm512_set1_ps(da)), accm[c]);
            }
        }
    }
    __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias) : _mm512_setzero_ps();
    for (int c = 0; c < NC; c++) {
        __m512 v = _mm512_sub_ps(acc[c], accm[c]);
        _mm512_mask_storeu_ps(out + c * out_stride, mask, bias ? _mm512_add_ps(v, b) : v);
    }
}

/// The K-quant panels' token loop, for one shape of super-block (its branches fold).
AVX512 static inline __attribute__((always_inline)) void panel_k_all(const ck_matvec_job *p, const uint8_t *panel,
                                                                     int r0, __mmask16 mask, const int sub16,
                                                                     const int shift) {
    int blocks = p->cols / CK_QK_K;
    const float *bias = p->bias ? p->bias + r0 : 0;
    size_t s = p->activation_stride, os = (size_t)p->out_stride;
    for (int t0 = 0; t0 < p->tokens; t0 += CK_PANEL_K_TOKENS) {
        const char *a = (const char *)p->activation + (size_t)t0 * s;
        float *out = p->out + (size_t)t0 * os + r0;
        switch (p->tokens - t0 < CK_PANEL_K_TOKENS ? p->tokens - t0 : CK_PANEL_K_TOKENS) {
        case 4: panel_k_tokens(panel, blocks, a, s, bias, mask, out, os, sub16, shift, 4); break;
        case 3: panel_k_tokens(panel, blocks, a, s, bias, mask, out, os, sub16, shift, 3); break;
        case 2: panel_k_tokens(panel, blocks, a, s, bias, mask, out, os, sub16, shift, 2); break;
        default: panel_k_tokens(panel, blocks, a, s, bias, mask, out, os, sub16, shift, 1); break;
        }
    }
}

/// panel_k_all for each shape of super-block, its sub-block size and offset folded from the type (Q4_K and
/// Q5_K share one).
#define PANEL_K(name, type)                                                                                     \
    AVX512 static void name(const ck_matvec_job *p, const uint8_t *panel, int r0, __mmask16 mask) {             \
        panel_k_all(p, panel, r0, mask, in_sixteens(type), offset_shift(type));                                      \
    }
PANEL_K(panel_k_q45, CK_TYPE_Q4_K)
PANEL_K(panel_k_q2, CK_TYPE_Q2_K)
PANEL_K(panel_k_q3, CK_TYPE_Q3_K)
PANEL_K(panel_k_q6, CK_TYPE_Q6_K)
PANEL_K(panel_k_iq4_xs, CK_TYPE_IQ4_XS)

/// Panels dealt out round-robin: each thread unpacks its panel into its scratch, then every token meets it.
AVX512 static void panel_task(void *context, int ith, int nth) {
    const ck_panel_job *job = context;
    const ck_matvec_job *p = &job->product;
    int blocks = p->cols / CK_QK;
    size_t row_bytes = ck_row_bytes(p->type, p->cols);
    uint8_t *panel = job->scratch[ith];
    int panels = (p->rows + CK_PANEL_ROWS - 1) / CK_PANEL_ROWS;
    for (int k = ith; k < panels; k += nth) {
        int r0 = k * CK_PANEL_ROWS;
        int rm = p->rows - r0 < CK_PANEL_ROWS ? p->rows - r0 : CK_PANEL_ROWS;
        const void *rows = (const char *)p->weights + (size_t)r0 * row_bytes;
        __mmask16 mask = (__mmask16)((1u << rm) - 1);
        if (ck_is_k_quant(p->type)) {
            int low = p->type == CK_TYPE_Q2_K || p->type == CK_TYPE_Q3_K || p->type == CK_TYPE_IQ4_XS;
            (low ? ck_avx2_pack_panel_low : ck_avx2_pack_panel_k)(p->type, rows, row_bytes, rm, p->cols / CK_QK_K,
                                                                   panel);
            switch (p->type) {
            case CK_TYPE_Q2_K: panel_k_q2(p, panel, r0, mask); break;
            case CK_TYPE_Q3_K: panel_k_q3(p, panel, r0, mask); break;
            case CK_TYPE_IQ4_XS: panel_k_iq4_xs(p, panel, r0, mask); break;
            case CK_TYPE_Q6_K: panel_k_q6(p, panel, r0, mask); break;
            default: panel_k_q45(p, panel, r0, mask); break;
            }
            continue;
        }
        ck_avx2_pack_panel(p->type, rows, row_bytes, rm, blocks, panel);
        if (with_min(p->type)) panel_min(p, job->terms, panel, r0, mask);
        else panel_signed(p, job->terms, panel, r0, mask);
    }
}

void ck_avx512_panel_matmul(ck_pool *pool, const ck_panel_job *job) { ck_pool_run(pool, panel_task, (void *)job); }
#endif
