// NEON dot products of the low-bit weight types (Q2_K, Q3_K, IQ4_XS with Q8_K activations; IQ4_NL with
// Q8_0) for arm64: the twins of lowbit_ref.c, equal to it bit for bit like lowbit_avx2.c. A block's eight
// int32 lanes are two int32x4 vectors — the first and second 16 elements of each 32-element run, which is
// also where each 16-element sub-block's scale applies — and lane k sums the products of bytes 4k..4k+3,
// as SDOT (Armv8.2 dotprod) computes and widening multiplies with pairwise adds compute without it.
// Integer sums are exact in any order and the float epilogue is the reference's, so every variant returns
// the same bits.
#include "ckernels.h"
#include "kquants.h"
#include "lowbit.h"
#if defined(__aarch64__)
#include "kquants_neon.h"
#include <math.h>

/// Q2_K and Q3_K (`three`): run j of half h is bits 2j..2j+1 of the half's 32 qs bytes; Q3_K's code is 4 less
/// where bit 4h + j of the 32 hmask bytes is clear, taken off each element as the reference does. Q2_K's mins
/// term goes into the same lanes, before the codes'.
BODY q23_K_body(int n, const void *vx, const ck_block_q8_K *y, int three, dot16_fn dot) {
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    const uint8x16_t low2 = vdupq_n_u8(3), one = vdupq_n_u8(1);
    const ck_block_q2_K *x2 = vx;
    const ck_block_q3_K *x3 = vx;
    for (int i = 0; i < n / CK_QK_K; i++) {
        int scales[16];
        int32_t mins[8];
        uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
        if (three) {
            ck_unpack_scales_q3_K(x3[i].scales, scales);
            h0 = vld1q_u8(x3[i].hmask);
            h1 = vld1q_u8(x3[i].hmask + 16);
        } else {
            for (int s = 0; s < 16; s++) scales[s] = x2[i].scales[s] & 0xF;
            for (int m = 0; m < 8; m++) {
                mins[m] = (x2[i].scales[2 * m] >> 4) * y[i].bsums[2 * m] +
                          (x2[i].scales[2 * m + 1] >> 4) * y[i].bsums[2 * m + 1];
            }
        }
        const uint8_t *qs = three ? x3[i].qs : x2[i].qs;
        int32x4_t sum0 = vdupq_n_s32(0), sum1 = vdupq_n_s32(0);
        for (int h = 0; h < 2; h++) {
            uint8x16_t b0 = vld1q_u8(qs + 32 * h), b1 = vld1q_u8(qs + 32 * h + 16);
            for (int j = 0; j < 4; j++) {
                int8x16_t c0 = vreinterpretq_s8_u8(vandq_u8(b0, low2)), c1 = vreinterpretq_s8_u8(vandq_u8(b1, low2));
                b0 = vshrq_n_u8(b0, 2);
                b1 = vshrq_n_u8(b1, 2);
                if (three) {  // the signed code: 4 off where the bit is clear
                    c0 = vsubq_s8(c0, vreinterpretq_s8_u8(vshlq_n_u8(vbicq_u8(one, h0), 2)));
                    c1 = vsubq_s8(c1, vreinterpretq_s8_u8(vshlq_n_u8(vbicq_u8(one, h1), 2)));
                    h0 = vshrq_n_u8(h0, 1);
                    h1 = vshrq_n_u8(h1, 1);
                }
                const int8_t *q8 = y[i].qs + 128 * h + 32 * j;
                int s = 8 * h + 2 * j;
                sum0 = vmlaq_n_s32(sum0, dot(c0, vld1q_s8(q8)), scales[s]);
                sum1 = vmlaq_n_s32(sum1, dot(c1, vld1q_s8(q8 + 16)), scales[s + 1]);
            }
        }
        if (!three) {  // the mins' lanes, m as sub-blocks 2m and 2m + 1 (the reference's), first
            float32x4_t mv = vdupq_n_f32(-(y[i].d * h2f(x2[i].dmin)));
            acc0 = vfmaq_f32(acc0, mv, vcvtq_f32_s32(vld1q_s32(mins)));
            acc1 = vfmaq_f32(acc1, mv, vcvtq_f32_s32(vld1q_s32(mins + 4)));
        }
        uint16_t d = three ? x3[i].d : x2[i].d;
        float32x4_t dv = vdupq_n_f32(y[i].d * h2f(d));
        acc0 = vfmaq_f32(acc0, dv, vcvtq_f32_s32(sum0));
        acc1 = vfmaq_f32(acc1, dv, vcvtq_f32_s32(sum1));
    }
    return reduce(acc0, acc1);
}

BODY iq4_xs_body(int n, const ck_block_iq4_xs *x, const ck_block_q8_K *y, dot16_fn dot) {
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    const int8x16_t table = vld1q_s8(ck_iq4_levels);
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    for (int i = 0; i < n / CK_QK_K; i++) {
        int scales[8];
        ck_unpack_scales_iq4_xs(&x[i], scales);
        int32x4_t sum0 = vdupq_n_s32(0), sum1 = vdupq_n_s32(0);
        for (int j = 0; j < 8; j++) {
            uint8x16_t b = vld1q_u8(x[i].qs + 16 * j);
            const int8_t *q8 = y[i].qs + 32 * j;
            sum0 = vmlaq_n_s32(sum0, dot(vqtbl1q_s8(table, vandq_u8(b, low4)), vld1q_s8(q8)), scales[j]);
            sum1 = vmlaq_n_s32(sum1, dot(vqtbl1q_s8(table, vshrq_n_u8(b, 4)), vld1q_s8(q8 + 16)), scales[j]);
        }
        float32x4_t dv = vdupq_n_f32(y[i].d * h2f(x[i].d));
        acc0 = vfmaq_f32(acc0, dv, vcvtq_f32_s32(sum0));
        acc1 = vfmaq_f32(acc1, dv, vcvtq_f32_s32(sum1));
    }
    return reduce(acc0, acc1);
}

BODY iq4_nl_body(int n, const ck_block_iq4_nl *x, const ck_block_q8_0 *y, dot16_fn dot) {
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    const int8x16_t table = vld1q_s8(ck_iq4_levels);
    for (int i = 0; i < n / CK_QK; i++) {
        uint8x16_t b = vld1q_u8(x[i].qs);
        int32x4_t lo = dot(vqtbl1q_s8(table, vandq_u8(b, vdupq_n_u8(0x0F))), vld1q_s8(y[i].qs));
        int32x4_t hi = dot(vqtbl1q_s8(table, vshrq_n_u8(b, 4)), vld1q_s8(y[i].qs + 16));
        float32x4_t dv = vdupq_n_f32(h2f(x[i].d) * h2f(y[i].d));
        acc0 = vfmaq_f32(acc0, dv, vcvtq_f32_s32(lo));
        acc1 = vfmaq_f32(acc1, dv, vcvtq_f32_s32(hi));
    }
    return reduce(acc0, acc1);
}

static float dot_q2_K(int n, const void *x, const void *y) { return q23_K_body(n, x, y, 0, dot16); }
static float dot_q3_K(int n, const void *x, const void *y) { return q23_K_body(n, x, y, 1, dot16); }
static float dot_iq4_xs(int n, const void *x, const void *y) { return iq4_xs_body(n, x, y, dot16); }
static float dot_iq4_nl(int n, const void *x, const void *y) { return iq4_nl_body(n, x, y, dot16); }
DOTPROD static float dot_q2_K_sdot(int n, const void *x, const void *y) { return q23_K_body(n, x, y, 0, dot16_sdot); }
DOTPROD static float dot_q3_K_sdot(int n, const void *x, const void *y) { return q23_K_body(n, x, y, 1, dot16_sdot); }
DOTPROD static float dot_iq4_xs_sdot(int n, const void *x, const void *y) { return iq4_xs_body(n, x, y, dot16_sdot); }
DOTPROD static float dot_iq4_nl_sdot(int n, const void *x, const void *y) { return iq4_nl_body(n, x, y, dot16_sdot); }

/// The NEON dot kernel for a low-bit `type` (SDOT when `dotprod`), or NULL.
ck_dot_fn ck_neon_dot_function_low(int type, int dotprod) {
    switch (type) {
    case CK_TYPE_Q2_K: return dotprod ? dot_q2_K_sdot : dot_q2_K;
    case CK_TYPE_Q3_K: return dotprod ? dot_q3_K_sdot : dot_q3_K;
    case CK_TYPE_IQ4_XS: return dotprod ? dot_iq4_xs_sdot : dot_iq4_xs;
    case CK_TYPE_IQ4_NL: return dotprod ? dot_iq4_nl_sdot : dot_iq4_nl;
    default: return 0;
    }
}
#endif
