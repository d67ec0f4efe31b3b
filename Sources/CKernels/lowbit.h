// Private: what the low-bit references (lowbit_ref.c) and their AVX2 twins (lowbit_avx2.c) share — the
// IQ4 level table, the unpacking of Q3_K's and IQ4_XS's packed scales, and the lane layout of a dot
// product, which both must follow for their results to be equal bit for bit.
#ifndef ENCLAVE_CKERNELS_LOWBIT_H
#define ENCLAVE_CKERNELS_LOWBIT_H

#include "ckernels.h"
#include <stdint.h>

/// The sixteen levels a 4-bit IQ4_NL/IQ4_XS code indexes (ggml's non-linear grid, denser near zero).
static const int8_t ck_iq4_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/// The 256 two-bit codes of a Q2_K/Q3_K block's `qs` in element order, and Q3_K's signed codes (-4..3)
/// (lowbit_ref.c).
void ck_codes_2bit(const uint8_t *qs, int8_t *codes);
void ck_codes_q3_K(const ck_block_q3_K *b, int8_t *codes);
/// The 32 levels of 16 IQ4 code bytes (low nibbles, then high nibbles), and the 256 levels of an IQ4_XS block
/// with the scale of each of its sixteen 16-element halves (lowbit_ref.c).
void ck_levels_iq4(const uint8_t *qs, int8_t *levels);
void ck_levels_iq4_xs(const ck_block_iq4_xs *b, int8_t *levels, int scale16[16]);

/// Q3_K's sixteen signed 6-bit scales: scale k takes its low nibble from byte k (k < 8) or the high nibble of
/// byte k − 8, and its top two bits from bits 2·(k / 4) of byte 8 + k % 4; stored +32.
static inline void ck_unpack_scales_q3_K(const uint8_t *packed, int scales[16]) {
    for (int k = 0; k < 16; k++) {
        int low = k < 8 ? packed[k] & 0xF : packed[k - 8] >> 4;
        int high = (packed[8 + k % 4] >> (2 * (k / 4))) & 3;
        scales[k] = (low | high << 4) - 32;
    }
}

/// IQ4_XS's eight signed 6-bit scales: nibble (j % 2) of scales_l[j / 2], topped by bits 2j..2j+1 of
/// scales_h; stored +32.
static inline void ck_unpack_scales_iq4_xs(const ck_block_iq4_xs *b, int scales[8]) {
    for (int j = 0; j < 8; j++) {
        int low = (b->scales_l[j / 2] >> (4 * (j % 2))) & 0xF;
        int high = (b->scales_h >> (2 * j)) & 3;
        scales[j] = (low | high << 4) - 32;
    }
}

#endif
