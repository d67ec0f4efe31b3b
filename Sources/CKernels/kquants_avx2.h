// Private: the AVX2 pieces the K-quant (kquants_avx2.c) and low-bit (lowbit_avx2.c) kernels share — the
// target attribute, a half read as a float, per-16-element scale lanes for madd, the reduction of eight
// float lanes in kquants.h's order, and the 32-value dequantizing store (defined in kquants_avx2.c).
#ifndef ENCLAVE_CKERNELS_KQUANTS_AVX2_H
#define ENCLAVE_CKERNELS_KQUANTS_AVX2_H
#if defined(__x86_64__)
#include "kquants.h"
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define H2F(h) _cvtsh_ss(h)

/// Sixteen int16 lanes: `lo` in lanes 0..7 (elements 0..15 of a 32-byte run), `hi` in lanes 8..15.
AVX2 static inline __m256i scale_pair(int lo, int hi) {
    return _mm256_set_m128i(_mm_set1_epi16((short)hi), _mm_set1_epi16((short)lo));
}

AVX2 static inline float reduce8(__m256 acc) {
    float a[8];
    _mm256_storeu_ps(a, acc);
    return ck_sum_lanes8(a);
}

/// 32 signed codes (bytes of `v`) → y[0..31] = scale · code − offset, with `scale0` and `offset0` for the
/// first 16 codes and `scale1`, `offset1` for the last 16; a product and a difference, unfused.
AVX2 void ck_avx2_store32(float *y, __m256i v, float scale0, float scale1, float offset0, float offset1);

#endif
#endif
