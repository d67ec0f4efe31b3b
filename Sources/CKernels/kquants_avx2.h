// Private: the AVX2 pieces the kernels share (quants_avx2.c, kquants_avx2.c, lowbit_avx2.c) — the target
// attributes, a half read as a float, 32 nibbles as bytes, a block's two scales multiplied, per-16-element
// scale lanes for madd, the reduction of eight float lanes in kquants.h's order, and the 32-value
// dequantizing store (defined in kquants_avx2.c).
#ifndef ENCLAVE_CKERNELS_KQUANTS_AVX2_H
#define ENCLAVE_CKERNELS_KQUANTS_AVX2_H
#if defined(__x86_64__)
#include "fp16.h"
#include "kquants.h"
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
/// The variants for CPUs with 256-bit VNNI (AVX512-VL and AVX512-VNNI) and AVX512-BW's byte masks, which
/// dispatch.c's have_vnni checks for.
#define VNNI __attribute__((target("avx2,fma,f16c,avx512vl,avx512vnni,avx512bw")))
#define H2F(h) CK_H2F(h)

/// 32 nibbles → 32 bytes: low nibbles (elements 0..15) then high nibbles (16..31). The 16 bytes are loaded
/// into both halves at once, and one variable shift moves the upper half's down by 4: two vector ALU
/// operations where a shift, an insert and a mask were three.
AVX2 static inline __m256i nibbles32(const uint8_t *qs) {
    __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    return _mm256_and_si256(_mm256_srlv_epi32(both, _mm256_set_epi32(4, 4, 4, 4, 0, 0, 0, 0)), _mm256_set1_epi8(0x0f));
}

/// dx · dy in all eight lanes, rounded once as the reference rounds it, in one of two ways; each variant of
/// the kernels takes the faster on the CPUs that run it (bits are the same). scale_f16c converts both halves
/// with one F16C instruction (fp16.h): the VNNI variants, which run on Zen 4 and later, where it is faster,
/// and IQ4_NL, whose one AVX2 kernel runs on both.
/// scale_from_table reads each half from the f16 table by a broadcasting load, which needs no vector ALU operation,
/// and multiplies once: the AVX2 variants, which on AVX2-only CPUs such as Zen 2 are bound by vector ALU
/// operations (Zen 2, one thread from L2, ns a block: Q5_0 2.5 against 2.9 with scale_f16c, Q4_0 1.9 against
/// 2.3, Q8_0 1.6 against 1.8).
typedef __m256 (*scale_fn)(uint16_t dx, uint16_t dy);

AVX2 static inline __m256 scale_f16c(uint16_t dx, uint16_t dy) {
    __m128 h = ck_h2f_pair(dx | (uint32_t)dy << 16);
    return _mm256_broadcastss_ps(_mm_mul_ss(h, _mm_movehdup_ps(h)));
}

AVX2 static inline __m256 scale_from_table(uint16_t dx, uint16_t dy) {
    __m256 x = _mm256_broadcast_ss(&CK_H2F(dx));
    // An empty asm keeps the multiply in vector form: the compiler would otherwise multiply the two floats
    // and broadcast the product, two ALU operations where this is one.
    __asm__("" : "+x"(x));
    return _mm256_mul_ps(x, _mm256_broadcast_ss(&CK_H2F(dy)));
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

/// Lanes j of rows[0..7] → out[j], for j = 0..7 (an 8 × 8 transpose of int32 lanes).
AVX2 static inline void ck_transpose8(const __m256i rows[8], __m256i out[8]) {
    __m256i a[8], b[8];
    for (int k = 0; k < 8; k += 2) {
        a[k] = _mm256_unpacklo_epi32(rows[k], rows[k + 1]);
        a[k + 1] = _mm256_unpackhi_epi32(rows[k], rows[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
        b[k] = _mm256_unpacklo_epi64(a[k], a[k + 2]);
        b[k + 1] = _mm256_unpackhi_epi64(a[k], a[k + 2]);
        b[k + 2] = _mm256_unpacklo_epi64(a[k + 1], a[k + 3]);
        b[k + 3] = _mm256_unpackhi_epi64(a[k + 1], a[k + 3]);
    }
    for (int k = 0; k < 4; k++) {
        out[k] = _mm256_permute2x128_si256(b[k], b[k + 4], 0x20);
        out[k + 4] = _mm256_permute2x128_si256(b[k], b[k + 4], 0x31);
    }
}

/// Eight int32 vectors' lane sums, in order (lanes 0..7 of the result).
AVX2 static inline __m256i ck_sum8_i32(const __m256i v[8]) {
    __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    // a holds v0..v3's sums of lanes 0-3 in its low half and of lanes 4-7 in its high half; b v4..v7's.
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

/// The sum of the eight int32 lanes (exact).
AVX2 static inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 1)));
}

/// The sum of the four int32 lanes (exact).
AVX2 static inline int32_t hsum4_i32(__m128i v) {
    __m128i s = _mm_add_epi32(v, _mm_unpackhi_epi64(v, v));
    return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 1)));
}

AVX2 static inline float reduce8(__m256 acc) {
    float a[8];
    _mm256_storeu_ps(a, acc);
    return ck_sum_lanes8(a);
}

/// The 256 codes of a K-quant super-block of `type` in eight runs of 32 (kquants_avx2.c; Q2_K, Q3_K and IQ4_XS
/// through lowbit_avx2.c's ck_avx2_runs_low).
AVX2 void ck_avx2_runs_k(int type, const void *block, __m256i runs[8]);
AVX2 void ck_avx2_runs_low(int type, const void *block, __m256i runs[8]);

/// 32 signed codes (bytes of `v`) → y[0..31] = scale · code − offset, with `scale0` and `offset0` for the
/// first 16 codes and `scale1`, `offset1` for the last 16; a product and a difference, unfused.
AVX2 void ck_avx2_store32(float *y, __m256i v, float scale0, float scale1, float offset0, float offset1);

#endif
#endif
