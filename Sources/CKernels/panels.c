// A prompt's product by panels (ckernels.h, ck_panel_matmul): the weight rows of a 32-element signed type are
// unpacked sixteen at a time to bytes in the layout of gemm.h, once per product, and every token meets them
// through vpdpbusd on 512 bits: one instruction adds four code products to each of sixteen rows' sums. The
// weights' codes are stored +128 so that they can be its unsigned operand; the activation's block term
// (-128 × its code sum) starts each sum, so the integer is the exact block dot. Then one fused multiply-add
// per block and row in block order, which the portable twin below repeats.
#include "ckernels.h"
#include "fp16.h"
#include "gemm.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

void ck_panel_terms(const void *activation, size_t stride, int tokens, int cols, ck_panel_term *terms) {
    int blocks = cols / CK_QK;
    for (int t = 0; t < tokens; t++) {
        const ck_block_q8_0 *a = (const ck_block_q8_0 *)((const char *)activation + (size_t)t * stride);
        for (int i = 0; i < blocks; i++) {
            int32_t sum = 0;
            for (int j = 0; j < CK_QK; j++) sum += a[i].qs[j];
            terms[(size_t)t * blocks + i] = (ck_panel_term){CK_H2F(a[i].d), -128 * sum};
        }
    }
}

size_t ck_panel_scratch_bytes(int cols) { return (size_t)(cols / CK_QK) * CK_PANEL_BLOCK_BYTES + 64; }

/// Block i of a Q4_0, Q5_0 or Q8_0 row as 32 signed codes (elements in order) and its scale.
static float block_codes_ref(int type, const void *row, int i, int8_t codes[CK_QK]) {
    switch (type) {
    case CK_TYPE_Q4_0: {
        const ck_block_q4_0 *b = (const ck_block_q4_0 *)row + i;
        for (int j = 0; j < 16; j++) {
            codes[j] = (int8_t)((b->qs[j] & 15) - 8);
            codes[j + 16] = (int8_t)((b->qs[j] >> 4) - 8);
        }
        return CK_H2F(b->d);
    }
    case CK_TYPE_Q5_0: {
        const ck_block_q5_0 *b = (const ck_block_q5_0 *)row + i;
        uint32_t qh;
        memcpy(&qh, b->qh, 4);
        for (int j = 0; j < 16; j++) {
            codes[j] = (int8_t)(((b->qs[j] & 15) | (((qh >> j) & 1) << 4)) - 16);
            codes[j + 16] = (int8_t)(((b->qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
        }
        return CK_H2F(b->d);
    }
    default: {
        const ck_block_q8_0 *b = (const ck_block_q8_0 *)row + i;
        memcpy(codes, b->qs, CK_QK);
        return CK_H2F(b->d);
    }
    }
}

void ck_panel_matmul_ref(const ck_panel_job *job) {
    const ck_matvec_job *p = &job->product;
    int blocks = p->cols / CK_QK;
    size_t row_bytes = ck_row_bytes(p->type, p->cols);
    for (int r = 0; r < p->rows; r++) {
        const char *row = (const char *)p->weights + (size_t)r * row_bytes;
        for (int t = 0; t < p->tokens; t++) {
            const ck_block_q8_0 *a = (const ck_block_q8_0 *)((const char *)p->activation + t * p->activation_stride);
            float sum = 0;
            for (int i = 0; i < blocks; i++) {
                int8_t codes[CK_QK];
                float d = block_codes_ref(p->type, row, i, codes);
                int32_t dot = 0;
                for (int j = 0; j < CK_QK; j++) dot += codes[j] * a[i].qs[j];
                sum = __builtin_fmaf((float)dot, d * job->terms[(size_t)t * blocks + i].d, sum);
            }
            p->out[(size_t)t * p->out_stride + r] = p->bias ? sum + p->bias[r] : sum;
        }
    }
}

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))

/// NC tokens (a constant once inlined) against one panel of `blocks` blocks: sixteen rows' sums per token in
/// one register each, written to out (token c at out + c × out_stride) where `mask` has the row.
AVX512 static inline __attribute__((always_inline)) void panel_tokens(
    const uint8_t *panel, int blocks, const char *activation, size_t stride, const ck_panel_term *terms,
    const float *bias, __mmask16 mask, float *out, size_t out_stride, const int NC) {
    __m512 acc[CK_PANEL_TOKENS];
    for (int c = 0; c < NC; c++) acc[c] = _mm512_setzero_ps();
    for (int i = 0; i < blocks; i++) {
        const uint8_t *p = panel + (size_t)i * CK_PANEL_BLOCK_BYTES;
        const char *a = activation + i * sizeof(ck_block_q8_0) + offsetof(ck_block_q8_0, qs);
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
        for (int c = 0; c < NC; c++) {
            __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(terms[(size_t)c * blocks + i].d));
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[c]), scale, acc[c]);
        }
    }
    __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias) : _mm512_setzero_ps();
    for (int c = 0; c < NC; c++) {
        _mm512_mask_storeu_ps(out + c * out_stride, mask, bias ? _mm512_add_ps(acc[c], b) : acc[c]);
    }
}

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
        ck_avx2_pack_panel(p->type, (const char *)p->weights + (size_t)r0 * row_bytes, row_bytes, rm, blocks, panel);
        __mmask16 mask = (__mmask16)((1u << rm) - 1);
        const float *bias = p->bias ? p->bias + r0 : 0;
        for (int t0 = 0; t0 < p->tokens; t0 += CK_PANEL_TOKENS) {
            const char *a = (const char *)p->activation + (size_t)t0 * p->activation_stride;
            const ck_panel_term *terms = job->terms + (size_t)t0 * blocks;
            float *out = p->out + (size_t)t0 * p->out_stride + r0;
            size_t s = p->activation_stride, os = (size_t)p->out_stride;
            switch (p->tokens - t0 < CK_PANEL_TOKENS ? p->tokens - t0 : CK_PANEL_TOKENS) {
            case 8: panel_tokens(panel, blocks, a, s, terms, bias, mask, out, os, 8); break;
            case 7: panel_tokens(panel, blocks, a, s, terms, bias, mask, out, os, 7); break;
            case 6: panel_tokens(panel, blocks, a, s, terms, bias, mask, out, os, 6); break;
            case 5: panel_tokens(panel, blocks, a, s, terms, bias, mask, out, os, 5); break;
            case 4: panel_tokens(panel, blocks, a, s, terms, bias, mask, out, os, 4); break;
            case 3: panel_tokens(panel, blocks, a, s, terms, bias, mask, out, os, 3); break;
            case 2: panel_tokens(panel, blocks, a, s, terms, bias, mask, out, os, 2); break;
            default: panel_tokens(panel, blocks, a, s, terms, bias, mask, out, os, 1); break;
            }
        }
    }
}

void ck_avx512_panel_matmul(ck_pool *pool, const ck_panel_job *job) { ck_pool_run(pool, panel_task, (void *)job); }
#endif
