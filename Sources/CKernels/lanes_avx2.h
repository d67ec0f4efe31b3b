// Private: lanes.h's sums in AVX2 registers, shared by the f32 kernels (math_avx2.c) and the attention
// (attention.c), with the same operations in the same order, so the same bits.
#ifndef ENCLAVE_CKERNELS_LANES_AVX2_H
#define ENCLAVE_CKERNELS_LANES_AVX2_H
#if defined(__x86_64__)
#include <immintrin.h>

#define CK_LANES_AVX2 __attribute__((target("avx2,fma,f16c"), always_inline)) static inline

/// The eight lanes summed in ck_lanes_sum's order.
CK_LANES_AVX2 float ck_lanes_sum8(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/// x · y for n a multiple of 32, as ck_dot_quad_body sums it: element i fused into accumulator i % 32 (four
/// vectors of eight lanes), reduced as ck_quad_sum.
CK_LANES_AVX2 float ck_quad_dot(int n, const float *x, const float *y) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int i = 0; i < n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    __m256 v = _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_hadd_ps(t, t);
    return _mm_cvtss_f32(_mm_hadd_ps(t, t));
}

#endif
#endif
