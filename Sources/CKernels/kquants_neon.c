// NEON dot products of K-quant weight rows (Q4_K, Q5_K, Q6_K) with Q8_K activations for arm64: the twins
// of kquants_ref.c, equal to it bit for bit like kquants_avx2.c. A super-block's eight int32 lanes are two
// int32x4 vectors; lane k sums the products of bytes 4k..4k+3 of each 32-byte run, which is exactly what
// SDOT (Armv8.2 dotprod) computes and what widening multiplies with two pairwise adds compute without
// it. Integer sums are exact in any order, and the float epilogue (one FMA per lane, then kquants.h's
// reduction) is the reference's, so every variant returns the same bits.
#include "ckernels.h"
#include "kquants.h"
#include <math.h>
#if defined(__aarch64__)
#include "kquants_neon.h"

/// Q4_K or (`five`) Q5_K as ggml_vec_dot sums it, or with `out` set, only the exact integers of each
/// super-block (`parts` 1) or each 64-element step (`parts` 4) written (ck_ksums_fn).
BODY q45_K_body(int n, const void *vx, size_t stride, const ck_block_q8_K *y, int five, dot16_fn dot, int parts,
                int32_t *out, int32_t *mins_out) {
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0), acc_m = vdupq_n_f32(0);
    float summs = 0;  // Q5_K's mins, in one sum (dot_q45_K_ref)
    const uint8x16_t low4 = vdupq_n_u8(0x0F), one = vdupq_n_u8(1);
    for (int i = 0; i < n / CK_QK_K; i++) {
        const ck_block_q4_K *head = (const void *)((const char *)vx + (size_t)i * stride);
        const ck_block_q5_K *b5 = (const void *)head;
        const uint8_t *qs = five ? b5->qs : head->qs;
        const int8_t *q8 = y[i].qs;
        uint8_t scales[8], mins[8];
        ck_unpack_scales_k4(head->scales, scales, mins);
        // Mins: lane l = mins[2l]·(bsums[4l] + bsums[4l+1]) + mins[2l+1]·(bsums[4l+2] + bsums[4l+3]).
        int16x8_t pairs = vpaddq_s16(vld1q_s16(y[i].bsums), vld1q_s16(y[i].bsums + 8));
        int16x8_t m16 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mins)));
        int32x4_t min_terms =
            vpaddq_s32(vmull_s16(vget_low_s16(m16), vget_low_s16(pairs)), vmull_high_s16(m16, pairs));
        if (!out && !five) acc_m = vfmaq_f32(acc_m, vdupq_n_f32(-y[i].d * h2f(head->dmin)), vcvtq_f32_s32(min_terms));
        if (!out && five) summs = fmaf(-y[i].d * h2f(head->dmin), (float)vaddvq_s32(min_terms), summs);

        uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
        if (five) h0 = vld1q_u8(b5->qh), h1 = vld1q_u8(b5->qh + 16);
        int32x4_t sum0 = vdupq_n_s32(0), sum1 = vdupq_n_s32(0);
        for (int j = 0; j < 4; j++, q8 += 64) {
            uint8x16_t b0 = vld1q_u8(qs + 32 * j), b1 = vld1q_u8(qs + 32 * j + 16);
            uint8x16_t lo0 = vandq_u8(b0, low4), lo1 = vandq_u8(b1, low4);
            uint8x16_t hi0 = vshrq_n_u8(b0, 4), hi1 = vshrq_n_u8(b1, 4);
            if (five) {  // bit 2j of each qh byte tops the low nibbles, bit 2j+1 the high ones
                lo0 = vorrq_u8(lo0, vshlq_n_u8(vandq_u8(h0, one), 4));
                lo1 = vorrq_u8(lo1, vshlq_n_u8(vandq_u8(h1, one), 4));
                hi0 = vorrq_u8(hi0, vshlq_n_u8(vandq_u8(vshrq_n_u8(h0, 1), one), 4));
                hi1 = vorrq_u8(hi1, vshlq_n_u8(vandq_u8(vshrq_n_u8(h1, 1), one), 4));
                h0 = vshrq_n_u8(h0, 2);
                h1 = vshrq_n_u8(h1, 2);
            }
            int32_t sl = scales[2 * j], sh = scales[2 * j + 1];
            int32x4_t step0 = vmulq_n_s32(dot(vreinterpretq_s8_u8(lo0), vld1q_s8(q8)), sl);
            int32x4_t step1 = vmulq_n_s32(dot(vreinterpretq_s8_u8(lo1), vld1q_s8(q8 + 16)), sl);
            step0 = vmlaq_n_s32(step0, dot(vreinterpretq_s8_u8(hi0), vld1q_s8(q8 + 32)), sh);
            step1 = vmlaq_n_s32(step1, dot(vreinterpretq_s8_u8(hi1), vld1q_s8(q8 + 48)), sh);
            sum0 = vaddq_s32(sum0, step0);
            sum1 = vaddq_s32(sum1, step1);
            if (out && parts == 4) {
                out[4 * i + j] = vaddvq_s32(vaddq_s32(step0, step1));
                mins_out[4 * i + j] = vgetq_lane_s32(min_terms, 0);
                min_terms = vextq_s32(min_terms, min_terms, 1);
            }
        }
        if (out) {
            if (parts == 1) out[i] = vaddvq_s32(vaddq_s32(sum0, sum1)), mins_out[i] = vaddvq_s32(min_terms);
            continue;
        }
        float32x4_t d = vdupq_n_f32(y[i].d * h2f(head->d));
        acc0 = vfmaq_f32(acc0, d, vcvtq_f32_s32(sum0));
        acc1 = vfmaq_f32(acc1, d, vcvtq_f32_s32(sum1));
    }
    float m[4];
    vst1q_f32(m, acc_m);
    return five ? reduce(acc0, acc1) + summs : reduce(acc0, acc1) + ck_sum_lanes4(m);
}

/// The stored 6-bit codes (0..63) of 16 elements: a nibble of `ql` topped by two bits of `qh` (already
/// shifted).
static inline int8x16_t codes6(uint8x16_t nibble, uint8x16_t qh) {
    return vreinterpretq_s8_u8(vorrq_u8(nibble, vshlq_n_u8(vandq_u8(qh, vdupq_n_u8(3)), 4)));
}

/// The codes' offset of lanes 4h..4h+3 (the reference's lanes): 32 · the activation sums of the 16-element
/// groups 2k and 2k+1, each times its scale, in lane k.
static inline int32x4_t offset6(const ck_block_q6_K *x, const ck_block_q8_K *y, int h) {
    int32_t o[4];
    for (int j = 0; j < 4; j++) {
        int k = 4 * h + j;
        o[j] = 32 * (y->bsums[2 * k] * x->scales[2 * k] + y->bsums[2 * k + 1] * x->scales[2 * k + 1]);
    }
    return vld1q_s32(o);
}

/// Q6_K as ggml_vec_dot sums it, or with `out` set, each super-block's exact integer (ck_ksums_fn, `parts` 1).
BODY q6_K_body(int n, const ck_block_q6_K *x, const ck_block_q8_K *y, dot16_fn dot, int32_t *out) {
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    for (int i = 0; i < n / CK_QK_K; i++) {
        int32x4_t sum0 = vdupq_n_s32(0), sum1 = vdupq_n_s32(0);
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = x[i].ql + 64 * half;
            uint8x16_t qh0 = vld1q_u8(x[i].qh + 32 * half), qh1 = vld1q_u8(x[i].qh + 32 * half + 16);
            // Groups of 32: ql[0..31] low nibbles, ql[32..63] low, ql[0..31] high, ql[32..63] high.
            for (int g = 0; g < 4; g++) {
                const uint8_t *src = ql + 32 * (g & 1);
                uint8x16_t n0 = vld1q_u8(src), n1 = vld1q_u8(src + 16);
                n0 = g < 2 ? vandq_u8(n0, low4) : vshrq_n_u8(n0, 4);
                n1 = g < 2 ? vandq_u8(n1, low4) : vshrq_n_u8(n1, 4);
                const int8_t *q8 = y[i].qs + 128 * half + 32 * g;
                const int8_t *sc = x[i].scales + 2 * (4 * half + g);
                sum0 = vmlaq_n_s32(sum0, dot(codes6(n0, qh0), vld1q_s8(q8)), sc[0]);
                sum1 = vmlaq_n_s32(sum1, dot(codes6(n1, qh1), vld1q_s8(q8 + 16)), sc[1]);
                qh0 = vshrq_n_u8(qh0, 2);
                qh1 = vshrq_n_u8(qh1, 2);
            }
        }
        sum0 = vsubq_s32(sum0, offset6(&x[i], &y[i], 0));
        sum1 = vsubq_s32(sum1, offset6(&x[i], &y[i], 1));
        if (out) {
            out[i] = vaddvq_s32(vaddq_s32(sum0, sum1));
            continue;
        }
        float32x4_t d = vdupq_n_f32(y[i].d * h2f(x[i].d));
        acc0 = vfmaq_f32(acc0, d, vcvtq_f32_s32(sum0));
        acc1 = vfmaq_f32(acc1, d, vcvtq_f32_s32(sum1));
    }
    return reduce(acc0, acc1);
}

static float dot_q4_K(int n, const void *x, const void *y) {
    return q45_K_body(n, x, sizeof(ck_block_q4_K), y, 0, dot16, 1, 0, 0);
}
static float dot_q5_K(int n, const void *x, const void *y) {
    return q45_K_body(n, x, sizeof(ck_block_q5_K), y, 1, dot16, 1, 0, 0);
}
static float dot_q6_K(int n, const void *x, const void *y) { return q6_K_body(n, x, y, dot16, 0); }
DOTPROD static float dot_q4_K_sdot(int n, const void *x, const void *y) {
    return q45_K_body(n, x, sizeof(ck_block_q4_K), y, 0, dot16_sdot, 1, 0, 0);
}
DOTPROD static float dot_q5_K_sdot(int n, const void *x, const void *y) {
    return q45_K_body(n, x, sizeof(ck_block_q5_K), y, 1, dot16_sdot, 1, 0, 0);
}
DOTPROD static float dot_q6_K_sdot(int n, const void *x, const void *y) { return q6_K_body(n, x, y, dot16_sdot, 0); }

/// The exact integers of a Q4_K, Q5_K or Q6_K row (ck_ksums_fn), from the dot kernels' bodies (without SDOT:
/// they are the same integers either way).
void ck_neon_ksums_k(int type, int n, const void *x, const void *y, int parts, int32_t *dot, int32_t *mins) {
    if (type == CK_TYPE_Q6_K) {
        q6_K_body(n, x, y, dot16, dot);
        for (int i = 0; i < n / CK_QK_K; i++) mins[i] = 0;
    } else if (type == CK_TYPE_Q5_K) {
        q45_K_body(n, x, sizeof(ck_block_q5_K), y, 1, dot16, parts, dot, mins);
    } else {
        q45_K_body(n, x, sizeof(ck_block_q4_K), y, 0, dot16, parts, dot, mins);
    }
}

/// The NEON dot kernel for a K-quant `type` (SDOT when `dotprod`), or NULL.
ck_dot_fn ck_neon_dot_function_k(int type, int dotprod) {
    switch (type) {
    case CK_TYPE_Q4_K: return dotprod ? dot_q4_K_sdot : dot_q4_K;
    case CK_TYPE_Q5_K: return dotprod ? dot_q5_K_sdot : dot_q5_K;
    case CK_TYPE_Q6_K: return dotprod ? dot_q6_K_sdot : dot_q6_K;
    default: return 0;
    }
}
#endif
