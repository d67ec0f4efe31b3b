// Private: the NEON pieces the K-quant (kquants_neon.c) and low-bit (lowbit_neon.c) dot kernels share —
// a half read as a float, the 16-byte dot product in two flavours (widening multiplies, or SDOT) that puts
// the sum of bytes 4k..4k+3 in lane k, and the reduction of two lane vectors in kquants.h's order.
#ifndef ENCLAVE_CKERNELS_KQUANTS_NEON_H
#define ENCLAVE_CKERNELS_KQUANTS_NEON_H
#if defined(__aarch64__)
#include "kquants.h"
#include <arm_neon.h>

#define DOTPROD __attribute__((target("dotprod")))
#define BODY static inline __attribute__((always_inline)) float

static inline float h2f(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

/// Lane k of the result: Σ a[j]·b[j] over bytes j = 4k..4k+3.
typedef int32x4_t (*dot16_fn)(int8x16_t a, int8x16_t b);

static inline int32x4_t dot16(int8x16_t a, int8x16_t b) {
    int32x4_t lo = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));  // pairs of bytes 0..7
    int32x4_t hi = vpaddlq_s16(vmull_high_s8(a, b));                        // pairs of bytes 8..15
    return vpaddq_s32(lo, hi);
}

DOTPROD static inline int32x4_t dot16_sdot(int8x16_t a, int8x16_t b) { return vdotq_s32(vdupq_n_s32(0), a, b); }

static inline float reduce(float32x4_t lo, float32x4_t hi) {
    float a[8];
    vst1q_f32(a, lo);
    vst1q_f32(a + 4, hi);
    return ck_sum_lanes8(a);
}

#endif
#endif
