// Private: the AVX2 pieces the kernels share (quants_avx2.c, kquants_avx2.c, lowbit_avx2.c) — the target
// attribute, a half read as a float, 32 nibbles as bytes, per-16-element scale lanes for madd, the reduction
// of eight float lanes in kquants.h's order, and the 32-value dequantizing store (defined in kquants_avx2.c).
#ifndef ENCLAVE_CKERNELS_KQUANTS_AVX2_H
#define ENCLAVE_CKERNELS_KQUANTS_AVX2_H
#if defined(__x86_64__)
#include "fp16.h"
#include "kquants.h"
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define H2F(h) CK_H2F(h)

/// 32 nibbles → 32 bytes: low nibbles (elements 0..15) then high nibbles (16..31). The 16 bytes are loaded
/// into both halves at once, and one variable shift moves the upper half's down by 4: two vector ALU
/// operations where a shift, an insert and a mask were three.
AVX2 static inline __m256i nibbles32(const uint8_t *qs) {
    __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    return _mm256_and_si256(_mm256_srlv_epi32(both, _mm256_set_epi32(4, 4, 4, 4, 0, 0, 0, 0)), _mm256_set1_epi8(0x0f));
}

/// Sixteen int16 lanes for madd over one 32-element run: s[2j] in lanes 0..7 (its first 16 elements) and
/// s[2j + 1] in lanes 8..15, from `half`, whose two 128-bit lanes both hold the eight int16 scales s[0..7]:
/// one byte shuffle rather than two scalars moved into vector lanes for every run.
AVX2 static inline __m256i scale_pair_at(__m256i half, int j) {
    const __m256i pick = _mm256_set_epi8(3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2,  //
                                         1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0);
    return _mm256_shuffle_epi8(half, _mm256_add_epi8(pick, _mm256_set1_epi8((char)(4 * j))));
}

/// Sixteen int16 scales in order (lanes 0..15) → the eight of half `h` (scales 8h..8h + 7) in both lanes.
AVX2 static inline __m256i scales_half(__m256i scales16, int h) {
    return h ? _mm256_permute2x128_si256(scales16, scales16, 0x11)
             : _mm256_permute2x128_si256(scales16, scales16, 0x00);
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
