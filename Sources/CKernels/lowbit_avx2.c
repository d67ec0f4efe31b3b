// AVX2/FMA dot products of the low-bit weight types (Q2_K, Q3_K, IQ4_XS with Q8_K activations; IQ4_NL
// with Q8_0): the fast twins of lowbit_ref.c, equal to it bit for bit. Each 32-element run becomes 32
// code bytes; maddubs multiplies them with the activation bytes into int16 pairs and madd applies the
// sub-block scales (one per 16 elements) as it widens to eight int32 lanes — the reference's lanes, whose
// integer sums are exact in any order. No int16 pair can saturate: Q2_K/Q3_K codes are below 8, and IQ4
// levels go through maddubs as |level| against the activation carrying the level's sign (2 · 127 · 127 <
// 2^15). One FMA per lane adds a block's float scale, as the reference does.
// Compiled per function for avx2/fma; dispatch.c calls these only when cpuid says so.
#include "ckernels.h"
#include "kquants.h"
#include "lowbit.h"
#if defined(__x86_64__)
#include "gemm.h"
#include "kquants_avx2.h"
#include "prefetch.h"
#include <string.h>

// The per-block scale products round before their FMAs, as in the reference.
#pragma clang fp contract(off)

/// 32 unsigned codes times 32 activation bytes, scaled per 16-element half, as eight int32 lanes.
AVX2 static inline __m256i scaled_products(__m256i codes, __m256i q8, __m256i scale) {
    return _mm256_madd_epi16(scale, _mm256_maddubs_epi16(codes, q8));
}

/// The same for signed codes (the IQ4 levels): |codes| against q8 carrying the codes' signs.
AVX2 static inline __m256i scaled_products_signed(__m256i codes, __m256i q8, __m256i scale) {
    return scaled_products(_mm256_sign_epi8(codes, codes), _mm256_sign_epi8(q8, codes), scale);
}

AVX2 static inline __m256i load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/// 16 IQ4 code bytes → the 32 levels they index: low nibbles (elements 0..15), then high nibbles.
AVX2 static inline __m256i levels32(const uint8_t *qs, __m256i table) {
    return _mm256_shuffle_epi8(table, nibbles32(qs));
}

AVX2 static inline __m256i iq4_table(void) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)ck_iq4_levels));
}

/// sum plus the products of 32 unsigned codes and 32 activation bytes (maddubs into int16 pairs), scaled by
/// the int16 lanes of `scale` and widened (madd) into eight int32 lanes.
typedef __m256i (*scaled_add_fn)(__m256i sum, __m256i codes, __m256i q8, __m256i scale);

AVX2 static inline __m256i add_scaled(__m256i sum, __m256i codes, __m256i q8, __m256i scale) {
    return _mm256_add_epi32(sum, scaled_products(codes, q8, scale));
}

/// add_scaled with VNNI's vpdpwssd, which adds the madd into `sum` in one instruction: the same int32s
/// (neither sums with saturation). Its latency is several cycles, so the kernels alternate two sums.
VNNI static inline __m256i add_scaled_vnni(__m256i sum, __m256i codes, __m256i q8, __m256i scale) {
    return _mm256_dpwssd_epi32(sum, scale, _mm256_maddubs_epi16(codes, q8));
}

/// Bits 2j..2j+1 of each byte: run j's two-bit codes (a constant shift per run, no chain between runs).
AVX2 static inline __m256i two_bits(__m256i bits, int j) {
    return _mm256_and_si256(_mm256_srli_epi16(bits, 2 * j), _mm256_set1_epi8(3));
}

/// Int16 lanes 0..7 holding byte `a` of `bytes` and lanes 8..15 byte a + 1, zero-extended (one in-lane byte
/// shuffle; both 128-bit halves of `bytes` hold the same sixteen bytes).
AVX2 static inline __m256i byte_pair_lanes(__m256i bytes, int a) {
    const __m128i low = _mm_set1_epi16((short)(0x8000 | a)), high = _mm_set1_epi16((short)(0x8000 | (a + 1)));
    return _mm256_shuffle_epi8(bytes, _mm256_set_m128i(high, low));
}

/// Q2_K: run j of half h holds bits 2j..2j+1 of the half's 32 qs bytes; each scales byte is a 4-bit scale
/// (low nibble) and a 4-bit min, whose term Σ min · bsums is the madd of mins and bsums in lanes of its own.
/// The sixteen scales bytes are loaded into both 128-bit halves, so each run's scales and the mins come from
/// in-lane byte shuffles alone, where widening them to int16 and moving halves across lanes (vpmovzxbw,
/// vpermq) cost more (Zen 2, one thread from L1: 8.1 -> 6.9 ns a super-block; the same integers).
AVX2 static inline __attribute__((always_inline)) float q2_K_body(int n, const void *vx, const void *vy,
                                                                  scaled_add_fn add, int32_t *dot, int32_t *mins_out) {
    const ck_block_q2_K *x = vx;
    const ck_block_q8_K *y = vy;
    // Byte k into int16 lane k (k = 0..15): the low half's lanes take bytes 0..7, the high half's 8..15.
    const __m256i spread = _mm256_setr_epi8(0, -1, 1, -1, 2, -1, 3, -1, 4, -1, 5, -1, 6, -1, 7, -1,  //
                                            8, -1, 9, -1, 10, -1, 11, -1, 12, -1, 13, -1, 14, -1, 15, -1);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / CK_QK_K; i++) {
        ck_prefetch_ahead(x + i, sizeof x[i]);
        __m256i packed = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)x[i].scales));
        // Each byte alone in its int16 lane, so the shift by 4 leaves its min.
        __m256i mins = _mm256_srli_epi16(_mm256_shuffle_epi8(packed, spread), 4);
        __m256i min_lanes = _mm256_madd_epi16(mins, load32(y[i].bsums));
        __m256i scales = _mm256_and_si256(packed, _mm256_set1_epi8(0x0F));
        __m256i sums[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int h = 0; h < 2; h++) {
            __m256i bits = load32(x[i].qs + 32 * h);
            for (int j = 0; j < 4; j++) {
                __m256i q8 = load32(y[i].qs + 128 * h + 32 * j);
                sums[j & 1] = add(sums[j & 1], two_bits(bits, j), q8, byte_pair_lanes(scales, 8 * h + 2 * j));
            }
        }
        __m256i sumi = _mm256_add_epi32(sums[0], sums[1]);
        if (dot) {
            dot[i] = hsum_i32(sumi), mins_out[i] = hsum_i32(min_lanes);
            continue;
        }
        // As ggml: the mins first, then the codes, into the same lanes.
        acc = _mm256_fmadd_ps(_mm256_set1_ps(-(y[i].d * H2F(x[i].dmin))), _mm256_cvtepi32_ps(min_lanes), acc);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * H2F(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return reduce8(acc);
}

/// ck_unpack_scales_q3_K in vector lanes: the sixteen scales as int16 lanes 0..15, in vector operations only
/// (the top bits through one variable shift, where scalar shifts and inserts cost more than the runs' work).
AVX2 static inline __m256i scales16_q3_K(const uint8_t *packed) {
    int32_t high_bytes;
    memcpy(&high_bytes, packed + 8, 4);
    __m128i low8 = _mm_loadl_epi64((const __m128i *)packed);
    // Low nibbles of bytes 0..7 are scales 0..7, their high nibbles scales 8..15.
    __m128i low = _mm_and_si128(_mm_unpacklo_epi64(low8, _mm_srli_epi16(low8, 4)), _mm_set1_epi8(0x0F));
    // Scale k's top bits are bits 2·(k / 4) of byte 8 + k % 4: the four bytes shifted by 0, 2, 4 and 6.
    __m128i high = _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32(high_bytes), _mm_setr_epi32(0, 2, 4, 6)),
                                 _mm_set1_epi8(3));
    __m128i scales = _mm_sub_epi8(_mm_or_si128(low, _mm_slli_epi16(high, 4)), _mm_set1_epi8(32));
    return _mm256_cvtepi8_epi16(scales);
}

/// Bit b of each byte as 4 (bit 2), the rest cleared: Q3_K's high bit of run b, which adds 4 to its code.
AVX2 static inline __m256i bit_as_four(__m256i high, int b) {
    __m256i moved = b < 2 ? _mm256_slli_epi16(high, 2 - b) : _mm256_srli_epi16(high, b - 2);
    return _mm256_and_si256(moved, _mm256_set1_epi8(4));
}

/// Q3_K: the two low bits as for Q2_K, the high bit of run 4h + j from bit 4h + j of the 32 hmask bytes
/// (clear means 4 off the code); as ggml, the offset comes off each element's own lane: the products of
/// the low bits, less the products of 4 where the bit is clear, both scaled.
AVX2 static inline __attribute__((always_inline)) float q3_K_body(int n, const void *vx, const void *vy,
                                                                  int32_t *dot) {
    const ck_block_q3_K *x = vx;
    const ck_block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / CK_QK_K; i++) {
        ck_prefetch_ahead(x + i, sizeof x[i]);
        __m256i scales16 = scales16_q3_K(x[i].scales);
        __m256i high = load32(x[i].hmask);
        __m256i sums[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int h = 0; h < 2; h++) {
            __m256i bits = load32(x[i].qs + 32 * h);
            __m256i eight = scales_half(scales16, h);
            for (int j = 0; j < 4; j++) {
                __m256i offsets = _mm256_andnot_si256(bit_as_four(high, 4 * h + j), _mm256_set1_epi8(4));
                __m256i q8 = load32(y[i].qs + 128 * h + 32 * j);
                // Pairs of the low bits' products less the offsets' (|each| < 2^11), then scaled into lanes.
                __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(two_bits(bits, j), q8),
                                               _mm256_maddubs_epi16(offsets, q8));
                sums[j & 1] = _mm256_add_epi32(sums[j & 1], _mm256_madd_epi16(scale_pair_at(eight, j), p16));
            }
        }
        __m256i sumi = _mm256_add_epi32(sums[0], sums[1]);
        if (dot) {
            dot[i] = hsum_i32(sumi);
            continue;
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * H2F(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return reduce8(acc);
}

/// IQ4_XS: each 32-element run's 4-bit indices pick signed levels, multiplied as |level| against the
/// activations carrying the level's sign; one scale per run.
AVX2 static inline __attribute__((always_inline)) float iq4_xs_body(int n, const void *vx, const void *vy,
                                                                    scaled_add_fn add, int32_t *dot) {
    const ck_block_iq4_xs *x = vx;
    const ck_block_q8_K *y = vy;
    const __m256i table = iq4_table();
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / CK_QK_K; i++) {
        ck_prefetch_ahead(x + i, sizeof x[i]);
        int scales[8];
        ck_unpack_scales_iq4_xs(&x[i], scales);
        __m256i sums[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int j = 0; j < 8; j++) {
            __m256i levels = levels32(x[i].qs + 16 * j, table);
            __m256i q8 = _mm256_sign_epi8(load32(y[i].qs + 32 * j), levels);
            sums[j & 1] = add(sums[j & 1], _mm256_sign_epi8(levels, levels), q8, _mm256_set1_epi16((short)scales[j]));
        }
        __m256i sumi = _mm256_add_epi32(sums[0], sums[1]);
        if (dot) {
            dot[i] = hsum_i32(sumi);
            continue;
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * H2F(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return reduce8(acc);
}

AVX2 static float dot_q2_K(int n, const void *x, const void *y) { return q2_K_body(n, x, y, add_scaled, 0, 0); }
AVX2 static float dot_q3_K(int n, const void *x, const void *y) { return q3_K_body(n, x, y, 0); }
AVX2 static float dot_iq4_xs(int n, const void *x, const void *y) { return iq4_xs_body(n, x, y, add_scaled, 0); }
VNNI static float dot_q2_K_vnni(int n, const void *x, const void *y) {
    return q2_K_body(n, x, y, add_scaled_vnni, 0, 0);
}

/// The exact integers of a Q2_K, Q3_K or IQ4_XS row per super-block (ck_ksums_fn, `parts` 1), from the dot
/// kernels' bodies.
AVX2 void ck_avx2_ksums_low(int type, int n, const void *x, const void *y, int parts, int32_t *dot, int32_t *mins) {
    (void)parts;
    if (type == CK_TYPE_Q2_K) {
        q2_K_body(n, x, y, add_scaled, dot, mins);
        return;
    }
    if (type == CK_TYPE_Q3_K) {
        q3_K_body(n, x, y, dot);
    } else {
        iq4_xs_body(n, x, y, add_scaled, dot);
    }
    for (int i = 0; i < n / CK_QK_K; i++) mins[i] = 0;
}
VNNI static float dot_iq4_xs_vnni(int n, const void *x, const void *y) {
    return iq4_xs_body(n, x, y, add_scaled_vnni, 0);
}

AVX2 static float dot_iq4_nl(int n, const void *vx, const void *vy) {
    const ck_block_iq4_nl *x = vx;
    const ck_block_q8_0 *y = vy;
    const __m256i table = iq4_table(), ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / CK_QK; i++) {
        ck_prefetch_ahead(x + i, sizeof x[i]);
        __m256i lanes = scaled_products_signed(levels32(x[i].qs, table), load32(y[i].qs), ones);
        acc = _mm256_fmadd_ps(scale_f16c(x[i].d, y[i].d), _mm256_cvtepi32_ps(lanes), acc);
    }
    return reduce8(acc);
}

/// Dequantizes Q2_K/Q3_K/IQ4_NL/IQ4_XS rows (the prompt path's sgemm tiles), equal to the reference bit for
/// bit: the same scale products, then one product and one subtraction per value, unfused. Returns 0 for
/// other types.
AVX2 int ck_avx2_dequantize_row_low(int type, const void *vx, float *y, int n) {
    const __m256i table = iq4_table(), low2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    switch (type) {
    case CK_TYPE_IQ4_NL:
        for (int i = 0; i < n / CK_QK; i++) {
            const ck_block_iq4_nl *b = (const ck_block_iq4_nl *)vx + i;
            float d = H2F(b->d);
            ck_avx2_store32(y + CK_QK * i, levels32(b->qs, table), d, d, 0.0f, 0.0f);
        }
        return 1;
    case CK_TYPE_IQ4_XS:
        for (int i = 0; i < n / CK_QK_K; i++) {
            const ck_block_iq4_xs *b = (const ck_block_iq4_xs *)vx + i;
            int scales[8];
            ck_unpack_scales_iq4_xs(b, scales);
            float d = H2F(b->d);
            for (int j = 0; j < 8; j++) {
                float dl = d * scales[j];
                ck_avx2_store32(y + CK_QK_K * i + 32 * j, levels32(b->qs + 16 * j, table), dl, dl, 0.0f, 0.0f);
            }
        }
        return 1;
    case CK_TYPE_Q2_K: case CK_TYPE_Q3_K:
        for (int i = 0; i < n / CK_QK_K; i++) {
            const ck_block_q2_K *b2 = (const ck_block_q2_K *)vx + i;
            const ck_block_q3_K *b3 = (const ck_block_q3_K *)vx + i;
            int three = type == CK_TYPE_Q3_K, scales[16];
            float d = H2F(three ? b3->d : b2->d), dmin = three ? 0.0f : H2F(b2->dmin), dl[16], ml[16];
            if (three) ck_unpack_scales_q3_K(b3->scales, scales);
            for (int s = 0; s < 16; s++) {
                dl[s] = d * (three ? scales[s] : b2->scales[s] & 0xF);
                ml[s] = three ? 0.0f : dmin * (b2->scales[s] >> 4);
            }
            __m256i high = three ? load32(b3->hmask) : _mm256_setzero_si256();
            for (int h = 0; h < 2; h++) {
                __m256i bits = load32(three ? b3->qs + 32 * h : b2->qs + 32 * h);
                for (int j = 0; j < 4; j++) {
                    __m256i codes = _mm256_and_si256(bits, low2);
                    bits = _mm256_srli_epi16(bits, 2);
                    if (three) {  // high bit set: no offset; clear: -4
                        __m256i top = _mm256_slli_epi16(_mm256_and_si256(high, one), 2);
                        codes = _mm256_sub_epi8(_mm256_or_si256(codes, top), _mm256_set1_epi8(4));
                        high = _mm256_srli_epi16(high, 1);
                    }
                    int s = 8 * h + 2 * j;
                    ck_avx2_store32(y + CK_QK_K * i + 32 * s / 2, codes, dl[s], dl[s + 1], ml[s], ml[s + 1]);
                }
            }
        }
        return 1;
    default: return 0;
    }
}

/// The AVX2 dot kernel for a low-bit `type`, with VNNI when `vnni` (the caller has checked AVX512-VL and
/// VNNI), or NULL.
ck_dot_fn ck_avx2_dot_function_low(int type, int vnni) {
    switch (type) {
    case CK_TYPE_Q2_K: return vnni ? dot_q2_K_vnni : dot_q2_K;
    case CK_TYPE_Q3_K: return dot_q3_K;  // int16 differences before the scales (q3_K_body): no VNNI copy
    case CK_TYPE_IQ4_XS: return vnni ? dot_iq4_xs_vnni : dot_iq4_xs;
    case CK_TYPE_IQ4_NL: return dot_iq4_nl;
    default: return 0;
    }
}
/// ck_avx2_runs_k for Q2_K, Q3_K and IQ4_XS: the runs as the dot kernels form them (Q3_K's codes stored +4,
/// IQ4_XS's levels +128).
AVX2 void ck_avx2_runs_low(int type, const void *block, __m256i runs[8]) {
    if (type == CK_TYPE_IQ4_XS) {
        const ck_block_iq4_xs *b = block;
        const __m256i table = iq4_table();
        for (int j = 0; j < 8; j++) {
            runs[j] = _mm256_xor_si256(levels32(b->qs + 16 * j, table), _mm256_set1_epi8((char)0x80));
        }
        return;
    }
    const int three = type == CK_TYPE_Q3_K;
    const uint8_t *qs = three ? ((const ck_block_q3_K *)block)->qs : ((const ck_block_q2_K *)block)->qs;
    __m256i high = three ? load32(((const ck_block_q3_K *)block)->hmask) : _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        __m256i bits = load32(qs + 32 * h);
        for (int j = 0; j < 4; j++) {
            __m256i codes = two_bits(bits, j);
            runs[4 * h + j] = three ? _mm256_or_si256(codes, bit_as_four(high, 4 * h + j)) : codes;
        }
    }
}

#endif
