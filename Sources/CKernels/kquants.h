// Private: what the K-quant references (kquants_ref.c) and their AVX2 twins (kquants_avx2.c) share — the
// unpacking of a Q4_K/Q5_K block's 6-bit scales and mins, and the order in which a dot product's float
// lanes are reduced, which both must follow for their results to be equal bit for bit.
#ifndef ENCLAVE_CKERNELS_KQUANTS_H
#define ENCLAVE_CKERNELS_KQUANTS_H

#include <stdint.h>
#include <string.h>

/// The eight 6-bit scales and eight 6-bit mins of a Q4_K/Q5_K block's `scales[12]`. Sub-blocks 0..3 keep
/// theirs in the low six bits of bytes 0..3 (scales) and 4..7 (mins); sub-blocks 4..7 take their low
/// nibbles from bytes 8..11 (scale low, min high) and their top two bits from the spare bits of bytes 0..7.
static inline void ck_unpack_scales_k4(const uint8_t *packed, uint8_t scales[8], uint8_t mins[8]) {
    uint32_t w[3], s[2], m[2];
    memcpy(w, packed, 12);
    s[0] = w[0] & 0x3f3f3f3fu;
    m[0] = w[1] & 0x3f3f3f3fu;
    s[1] = (w[2] & 0x0f0f0f0fu) | (((w[0] >> 6) & 0x03030303u) << 4);
    m[1] = ((w[2] >> 4) & 0x0f0f0f0fu) | (((w[1] >> 6) & 0x03030303u) << 4);
    memcpy(scales, s, 8);
    memcpy(mins, m, 8);
}

/// The 256 unsigned codes (0..15, or 0..31 for Q5_K) of one Q4_K/Q5_K block in element order, and the 256
/// signed codes (-32..31) of one Q6_K block (kquants_ref.c).
void ck_codes_k(int type, const void *block, uint8_t *codes);
void ck_codes_q6_K(const void *block, int8_t *codes);

/// Eight float lanes reduced as the AVX2 horizontal sum does: k + (k+4), then (0+2) + (1+3).
static inline float ck_sum_lanes8(const float *a) {
    float r0 = a[0] + a[4], r1 = a[1] + a[5], r2 = a[2] + a[6], r3 = a[3] + a[7];
    return (r0 + r2) + (r1 + r3);
}

/// Four float lanes reduced the same way: (0+2) + (1+3).
static inline float ck_sum_lanes4(const float *a) { return (a[0] + a[2]) + (a[1] + a[3]); }

#endif
