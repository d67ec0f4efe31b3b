// NEON kernels for arm64: the fast twins of quants_ref.c, as quants_avx2.c is on x86-64. Advanced SIMD
// is baseline on AArch64, so the plain variants need no check; the *_dotprod variants use SDOT
// (vdotq_s32, Armv8.2 dotprod) and dispatch.c calls them only when the kernel reports HWCAP_ASIMDDP.
// Integer products are exact; the per-block scales are applied in float, so results match the
// references to rounding, and the BLOCKS kernels (llama.cpp's repacked Q4_0 and IQ4_NL order) bit for bit
// (deploy/check-neon.sh compares them under qemu).
#include "ckernels.h"
#if defined(__aarch64__)
#include "lowbit.h"
#include <arm_neon.h>
#include <string.h>

#define DOTPROD __attribute__((target("dotprod")))

static inline float h2f(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

/// 32 nibbles → elements 0..15 (low nibbles) in `lo`, 16..31 (high nibbles) in `hi`, as bytes 0..15.
static inline void nibbles32(const uint8_t *qs, int8x16_t *lo, int8x16_t *hi) {
    uint8x16_t b = vld1q_u8(qs);
    *lo = vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0f)));
    *hi = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));
}

/// The fifth bits of a Q5 block (qh, 32 bits) as 0x10 bytes: elements 0..15 in `lo`, 16..31 in `hi`.
static inline void fifth_bits(const uint8_t qh[4], uint8x16_t *lo, uint8x16_t *hi) {
    static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t mask = vld1q_u8(bit), fifth = vdupq_n_u8(0x10);
    *lo = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), mask), fifth);
    *hi = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), mask), fifth);
}

/// Sum of the products of 32 signed bytes (a0:a1 with b0:b1), plain NEON: widening multiplies, pairwise adds.
static inline int32_t dot32(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
    int32x4_t acc = vdupq_n_s32(0);
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a0), vget_low_s8(b0)));
    acc = vpadalq_s16(acc, vmull_high_s8(a0, b0));
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a1), vget_low_s8(b1)));
    acc = vpadalq_s16(acc, vmull_high_s8(a1, b1));
    return vaddvq_s32(acc);
}

/// The same with SDOT.
DOTPROD static inline int32_t dot32_sdot(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
    return vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), a0, b0), a1, b1));
}

typedef int32_t (*dot32_fn)(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1);

// Each quantized kernel is written once over a 32-byte dot and instantiated for both variants below;
// inlined with a constant `dot`, the plain and SDOT versions are each straight-line code.
#define BODY static inline __attribute__((always_inline)) float

/// The weight block's 32 codes as signed bytes: `lo` elements 0..15, `hi` 16..31 (`offset` subtracted).
static inline void codes4(const uint8_t *qs, int offset, int8x16_t *lo, int8x16_t *hi) {
    nibbles32(qs, lo, hi);
    *lo = vsubq_s8(*lo, vdupq_n_s8((int8_t)offset));
    *hi = vsubq_s8(*hi, vdupq_n_s8((int8_t)offset));
}

/// The same for 5-bit codes (nibble | fifth bit << 4, minus `offset`).
static inline void codes5(const uint8_t *qs, const uint8_t *qh, int offset, int8x16_t *lo, int8x16_t *hi) {
    uint8x16_t blo, bhi;
    nibbles32(qs, lo, hi);
    fifth_bits(qh, &blo, &bhi);
    *lo = vsubq_s8(vorrq_s8(*lo, vreinterpretq_s8_u8(blo)), vdupq_n_s8((int8_t)offset));
    *hi = vsubq_s8(vorrq_s8(*hi, vreinterpretq_s8_u8(bhi)), vdupq_n_s8((int8_t)offset));
}

BODY q4_0_body(int n, const ck_block_q4_0 *x, const ck_block_q8_0 *y, dot32_fn dot) {
    float sum = 0;
    for (int i = 0; i < n / 32; i++) {
        int8x16_t lo, hi;
        codes4(x[i].qs, 8, &lo, &hi);
        sum += h2f(x[i].d) * h2f(y[i].d) * (float)dot(lo, hi, vld1q_s8(y[i].qs), vld1q_s8(y[i].qs + 16));
    }
    return sum;
}

BODY q4_1_body(int n, const ck_block_q4_1 *x, const ck_block_q8_1 *y, dot32_fn dot) {
    float sum = 0, mins = 0;
    for (int i = 0; i < n / 32; i++) {
        int8x16_t lo, hi;
        codes4(x[i].qs, 0, &lo, &hi);
        sum += h2f(x[i].d) * h2f(y[i].d) * (float)dot(lo, hi, vld1q_s8(y[i].qs), vld1q_s8(y[i].qs + 16));
        mins += h2f(x[i].m) * h2f(y[i].s);
    }
    return sum + mins;
}

BODY q5_0_body(int n, const ck_block_q5_0 *x, const ck_block_q8_0 *y, dot32_fn dot) {
    float sum = 0;
    for (int i = 0; i < n / 32; i++) {
        int8x16_t lo, hi;
        codes5(x[i].qs, x[i].qh, 16, &lo, &hi);
        sum += h2f(x[i].d) * h2f(y[i].d) * (float)dot(lo, hi, vld1q_s8(y[i].qs), vld1q_s8(y[i].qs + 16));
    }
    return sum;
}

BODY q5_1_body(int n, const ck_block_q5_1 *x, const ck_block_q8_1 *y, dot32_fn dot) {
    float sum = 0, mins = 0;
    for (int i = 0; i < n / 32; i++) {
        int8x16_t lo, hi;
        codes5(x[i].qs, x[i].qh, 0, &lo, &hi);
        sum += h2f(x[i].d) * h2f(y[i].d) * (float)dot(lo, hi, vld1q_s8(y[i].qs), vld1q_s8(y[i].qs + 16));
        mins += h2f(x[i].m) * h2f(y[i].s);
    }
    return sum + mins;
}

BODY q8_0_body(int n, const ck_block_q8_0 *x, const ck_block_q8_0 *y, dot32_fn dot) {
    float sum = 0;
    for (int i = 0; i < n / 32; i++) {
        int32_t q = dot(vld1q_s8(x[i].qs), vld1q_s8(x[i].qs + 16), vld1q_s8(y[i].qs), vld1q_s8(y[i].qs + 16));
        sum += h2f(x[i].d) * h2f(y[i].d) * (float)q;
    }
    return sum;
}

#define INSTANCES(name)                                                                        \
    static float dot_##name(int n, const void *x, const void *y) { return name##_body(n, x, y, dot32); } \
    DOTPROD static float dot_##name##_sdot(int n, const void *x, const void *y) {                      \
        return name##_body(n, x, y, dot32_sdot);                                                       \
    }
INSTANCES(q4_0)
INSTANCES(q4_1)
INSTANCES(q5_0)
INSTANCES(q5_1)
INSTANCES(q8_0)

/// A Q4_0 or IQ4_NL row in llama.cpp's repacked order (CK_ORDER_BLOCKS; orders.c's blocks_product, bit for bit):
/// per block the exact integer dot, then acc = fma(dot, d · the activation's d, acc). The two types' blocks are
/// laid out alike (a half scale, then 16 bytes of nibbles); IQ4_NL's nibbles index the level table.
BODY blocks_body(int type, int n, const ck_block_q4_0 *x, const ck_block_q8_0 *y, dot32_fn dot) {
    const int8x16_t levels = vld1q_s8(ck_iq4_levels);
    float acc = 0;
    for (int i = 0; i < n / 32; i++) {
        int8x16_t lo, hi;
        if (type == CK_TYPE_Q4_0) {
            codes4(x[i].qs, 8, &lo, &hi);
        } else {
            nibbles32(x[i].qs, &lo, &hi);
            lo = vqtbl1q_s8(levels, vreinterpretq_u8_s8(lo));
            hi = vqtbl1q_s8(levels, vreinterpretq_u8_s8(hi));
        }
        int32_t q = dot(lo, hi, vld1q_s8(y[i].qs), vld1q_s8(y[i].qs + 16));
        acc = __builtin_fmaf((float)q, h2f(x[i].d) * h2f(y[i].d), acc);
    }
    return acc;
}

static float blocks_q4_0(int n, const void *x, const void *y) { return blocks_body(CK_TYPE_Q4_0, n, x, y, dot32); }
static float blocks_iq4_nl(int n, const void *x, const void *y) { return blocks_body(CK_TYPE_IQ4_NL, n, x, y, dot32); }
DOTPROD static float blocks_q4_0_sdot(int n, const void *x, const void *y) {
    return blocks_body(CK_TYPE_Q4_0, n, x, y, dot32_sdot);
}
DOTPROD static float blocks_iq4_nl_sdot(int n, const void *x, const void *y) {
    return blocks_body(CK_TYPE_IQ4_NL, n, x, y, dot32_sdot);
}

/// The NEON product of one row in the BLOCKS order for Q4_0 or IQ4_NL (SDOT when `dotprod`), or 0.
ck_dot_fn ck_neon_blocks_function(int type, int dotprod) {
    switch (type) {
    case CK_TYPE_Q4_0: return dotprod ? blocks_q4_0_sdot : blocks_q4_0;
    case CK_TYPE_IQ4_NL: return dotprod ? blocks_iq4_nl_sdot : blocks_iq4_nl;
    default: return 0;
    }
}

float ck_neon_dot_f32(int n, const float *x, const float *y) {
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vfmaq_f32(a0, vld1q_f32(x + i), vld1q_f32(y + i));
        a1 = vfmaq_f32(a1, vld1q_f32(x + i + 4), vld1q_f32(y + i + 4));
        a2 = vfmaq_f32(a2, vld1q_f32(x + i + 8), vld1q_f32(y + i + 8));
        a3 = vfmaq_f32(a3, vld1q_f32(x + i + 12), vld1q_f32(y + i + 12));
    }
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

static float dot_f32_any(int n, const void *x, const void *y) { return ck_neon_dot_f32(n, x, y); }

static float dot_f16(int n, const void *vx, const void *vy) {
    const uint16_t *x = vx;
    const float *y = vy;
    float32x4_t acc = vdupq_n_f32(0);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        acc = vfmaq_f32(acc, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x + i))), vld1q_f32(y + i));
    }
    float s = vaddvq_f32(acc);
    for (; i < n; i++) s += h2f(x[i]) * y[i];
    return s;
}

static float dot_bf16(int n, const void *vx, const void *vy) {
    const uint16_t *x = vx;
    const float *y = vy;
    float32x4_t acc = vdupq_n_f32(0);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t w = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(x + i), 16));
        acc = vfmaq_f32(acc, w, vld1q_f32(y + i));
    }
    float s = vaddvq_f32(acc);
    for (; i < n; i++) s += ck_bf16_to_fp32(x[i]) * y[i];
    return s;
}

/// The NEON dot kernel for `type` (SDOT variants when `dotprod`), or 0 when there is none.
ck_dot_fn ck_neon_dot_function(int type, int dotprod) {
    switch (type) {
    case CK_TYPE_F32: return dot_f32_any;
    case CK_TYPE_F16: return dot_f16;
    case CK_TYPE_BF16: return dot_bf16;
    case CK_TYPE_Q4_0: return dotprod ? dot_q4_0_sdot : dot_q4_0;
    case CK_TYPE_Q4_1: return dotprod ? dot_q4_1_sdot : dot_q4_1;
    case CK_TYPE_Q5_0: return dotprod ? dot_q5_0_sdot : dot_q5_0;
    case CK_TYPE_Q5_1: return dotprod ? dot_q5_1_sdot : dot_q5_1;
    case CK_TYPE_Q8_0: return dotprod ? dot_q8_0_sdot : dot_q8_0;
    default: return 0;
    }
}

/// Q8_0/Q8_1 activation quantization: id = 127/amax, round half to even (vcvtnq), like the reference.
void ck_neon_quantize_row_q8(int with_sum, const float *x, void *vy, int n) {
    for (int i = 0; i < n / 32; i++) {
        float32x4_t v[8];
        float32x4_t amax = vdupq_n_f32(0);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(x + i * 32 + k * 4);
            amax = vmaxq_f32(amax, vabsq_f32(v[k]));
        }
        float m = vmaxvq_f32(amax);
        float d = m / 127.0f, id = m != 0 ? 127.0f / m : 0.0f;
        int8_t q[32];
        int32x4_t sum = vdupq_n_s32(0);
        for (int k = 0; k < 8; k += 2) {
            int32x4_t a = vcvtnq_s32_f32(vmulq_n_f32(v[k], id));
            int32x4_t b = vcvtnq_s32_f32(vmulq_n_f32(v[k + 1], id));
            sum = vaddq_s32(sum, vaddq_s32(a, b));
            int16x8_t ab = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
            vst1_s8(q + k * 4, vqmovn_s16(ab));
        }
        if (with_sum) {
            ck_block_q8_1 *y = (ck_block_q8_1 *)vy + i;
            y->d = ck_fp32_to_fp16(d);
            memcpy(y->qs, q, 32);
            y->s = ck_fp32_to_fp16((float)vaddvq_s32(sum) * d);
        } else {
            ck_block_q8_0 *y = (ck_block_q8_0 *)vy + i;
            y->d = ck_fp32_to_fp16(d);
            memcpy(y->qs, q, 32);
        }
    }
}
#endif
