// Scalar references for the low-bit weight types: Q2_K and Q3_K (2-bit codes, sixteen 16-element
// sub-blocks; Q3_K adds a high bit), IQ4_NL and IQ4_XS (4-bit indices into a fixed non-linear table).
//
// Dequantization follows ggml's dequantize_row_* term for term: each sub-block's float scale is one
// product, each value one more (and one subtraction for Q2_K's mins), never fused — the `gguf` Python
// package computes the same roundings and the tests compare against it.
//
// Dot products take the activations llama.cpp pairs with each type: Q8_K for the three super-block types,
// Q8_0 for IQ4_NL. They are the scalar twins of lowbit_avx2.c: eight int32 lanes per block, lane k holding
// the scaled sums of elements 4k..4k+3 of every 32-element run (where maddubs + madd put them), one fused
// multiply-add per lane for the block's float scale, and kquants.h's reduction at the end.
#include "ckernels.h"
#include "kquants.h"
#include "lowbit.h"
#include <math.h>
#include <string.h>

// No contraction into FMA: the dequantizers must round each product as ggml (and numpy) do.
#pragma clang fp contract(off)

_Static_assert(sizeof(ck_block_q2_K) == 84, "q2_K block size");
_Static_assert(sizeof(ck_block_q3_K) == 110, "q3_K block size");
_Static_assert(sizeof(ck_block_iq4_nl) == 18, "iq4_nl block size");
_Static_assert(sizeof(ck_block_iq4_xs) == 136, "iq4_xs block size");

#define H2F ck_fp16_to_fp32

/// The 256 two-bit codes of a Q2_K/Q3_K block's `qs`, in element order: element 128h + 32j + l is bits
/// 2j..2j+1 of byte 32h + l.
void ck_codes_2bit(const uint8_t *qs, int8_t *codes) {
    for (int h = 0; h < 2; h++) {
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 32; l++) codes[128 * h + 32 * j + l] = (int8_t)((qs[32 * h + l] >> (2 * j)) & 3);
        }
    }
}

/// Q3_K's signed codes (-4..3): the two low bits, minus 4 where the element's high bit is clear. Element
/// 128h + 32j + l finds its high bit at bit 4h + j of hmask[l].
void ck_codes_q3_K(const ck_block_q3_K *b, int8_t *codes) {
    ck_codes_2bit(b->qs, codes);
    for (int e = 0; e < CK_QK_K; e++) {
        int l = e % 32, bit = e / 32;
        if (!((b->hmask[l] >> bit) & 1)) codes[e] -= 4;
    }
}

/// The 32 levels of 16 IQ4 code bytes: low nibbles (elements 0..15), then high nibbles (16..31).
void ck_levels_iq4(const uint8_t *qs, int8_t *levels) {
    for (int j = 0; j < 16; j++) {
        levels[j] = ck_iq4_levels[qs[j] & 0xF];
        levels[j + 16] = ck_iq4_levels[qs[j] >> 4];
    }
}

/// The 256 levels of an IQ4_XS block and the scale of each of its sixteen 16-element halves.
void ck_levels_iq4_xs(const ck_block_iq4_xs *b, int8_t *levels, int scale16[16]) {
    int scales[8];
    ck_unpack_scales_iq4_xs(b, scales);
    for (int j = 0; j < 8; j++) {
        ck_levels_iq4(b->qs + 16 * j, levels + 32 * j);
        scale16[2 * j] = scale16[2 * j + 1] = scales[j];
    }
}

void ck_dequantize_row_low_ref(int type, const void *vx, float *y, int n) {
    int8_t codes[CK_QK_K];
    if (type == CK_TYPE_IQ4_NL) {
        const ck_block_iq4_nl *x = vx;
        for (int i = 0; i < n / CK_QK; i++, y += CK_QK) {
            float d = H2F(x[i].d);
            ck_levels_iq4(x[i].qs, codes);
            for (int l = 0; l < CK_QK; l++) y[l] = d * codes[l];
        }
        return;
    }
    for (int i = 0; i < n / CK_QK_K; i++, y += CK_QK_K) {
        switch (type) {
        case CK_TYPE_Q2_K: {
            const ck_block_q2_K *b = (const ck_block_q2_K *)vx + i;
            float d = H2F(b->d), dmin = H2F(b->dmin);
            ck_codes_2bit(b->qs, codes);
            for (int s = 0; s < 16; s++) {
                float dl = d * (b->scales[s] & 0xF), ml = dmin * (b->scales[s] >> 4);
                for (int l = 0; l < 16; l++) y[16 * s + l] = dl * codes[16 * s + l] - ml;
            }
            break;
        }
        case CK_TYPE_Q3_K: {
            const ck_block_q3_K *b = (const ck_block_q3_K *)vx + i;
            int scales[16];
            ck_unpack_scales_q3_K(b->scales, scales);
            ck_codes_q3_K(b, codes);
            float d = H2F(b->d);
            for (int s = 0; s < 16; s++) {
                float dl = d * scales[s];
                for (int l = 0; l < 16; l++) y[16 * s + l] = dl * codes[16 * s + l];
            }
            break;
        }
        case CK_TYPE_IQ4_XS: {
            const ck_block_iq4_xs *b = (const ck_block_iq4_xs *)vx + i;
            int scale16[16];
            ck_levels_iq4_xs(b, codes, scale16);
            float d = H2F(b->d);
            for (int s = 0; s < 16; s++) {
                float dl = d * scale16[s];
                for (int l = 0; l < 16; l++) y[16 * s + l] = dl * codes[16 * s + l];
            }
            break;
        }
        default: memset(y, 0, CK_QK_K * sizeof *y); break;
        }
    }
}

/// Adds to lane k, for each of the `runs` 32-element runs g, Σ codes·q8 over elements 32g + 4k..32g + 4k + 3,
/// times the scale of the 16-element half they lie in (scale16[2g + k / 4]).
static void add_scaled_lanes(int32_t lanes[8], const int8_t *codes, const int8_t *q8, const int *scale16, int runs) {
    for (int g = 0; g < runs; g++) {
        for (int k = 0; k < 8; k++) {
            int s = 0;
            for (int e = 32 * g + 4 * k; e < 32 * g + 4 * k + 4; e++) s += codes[e] * q8[e];
            lanes[k] += scale16[2 * g + k / 4] * s;
        }
    }
}

/// acc[k] += d · lane[k], fused.
static inline void fma_lanes8(float acc[8], float d, const int32_t lanes[8]) {
    for (int k = 0; k < 8; k++) acc[k] = fmaf(d, (float)lanes[k], acc[k]);
}

/// Q2_K · Q8_K as ggml sums it: the codes' lanes as above with the 4-bit scales, and the mins term
/// Σ min_s · bsums_s in eight lanes (lane m holding sub-blocks 2m and 2m + 1, the pairs AVX2's madd forms),
/// both fused into the same eight float lanes per block, the mins first.
static float dot_q2_K(int n, const ck_block_q2_K *x, const ck_block_q8_K *y) {
    float acc[8] = {0};
    for (int i = 0; i < n / CK_QK_K; i++) {
        int8_t codes[CK_QK_K];
        int scale16[16];
        int32_t mins[8];
        ck_codes_2bit(x[i].qs, codes);
        for (int s = 0; s < 16; s++) scale16[s] = x[i].scales[s] & 0xF;
        for (int m = 0; m < 8; m++) {
            mins[m] = (x[i].scales[2 * m] >> 4) * y[i].bsums[2 * m] +
                      (x[i].scales[2 * m + 1] >> 4) * y[i].bsums[2 * m + 1];
        }
        int32_t lanes[8] = {0};
        add_scaled_lanes(lanes, codes, y[i].qs, scale16, 8);
        fma_lanes8(acc, -(y[i].d * H2F(x[i].dmin)), mins);
        fma_lanes8(acc, y[i].d * H2F(x[i].d), lanes);
    }
    return ck_sum_lanes8(acc);
}

/// Q3_K · Q8_K as ggml sums it: the lanes sum the signed codes (-4..3), each element's offset in its own lane.
static float dot_q3_K(int n, const ck_block_q3_K *x, const ck_block_q8_K *y) {
    float acc[8] = {0};
    for (int i = 0; i < n / CK_QK_K; i++) {
        int8_t codes[CK_QK_K];
        int scale16[16];
        ck_codes_q3_K(&x[i], codes);
        ck_unpack_scales_q3_K(x[i].scales, scale16);
        int32_t lanes[8] = {0};
        add_scaled_lanes(lanes, codes, y[i].qs, scale16, 8);
        fma_lanes8(acc, y[i].d * H2F(x[i].d), lanes);
    }
    return ck_sum_lanes8(acc);
}

static float dot_iq4_xs(int n, const ck_block_iq4_xs *x, const ck_block_q8_K *y) {
    float acc[8] = {0};
    for (int i = 0; i < n / CK_QK_K; i++) {
        int8_t levels[CK_QK_K];
        int scale16[16];
        ck_levels_iq4_xs(&x[i], levels, scale16);
        int32_t lanes[8] = {0};
        add_scaled_lanes(lanes, levels, y[i].qs, scale16, 8);
        fma_lanes8(acc, y[i].d * H2F(x[i].d), lanes);
    }
    return ck_sum_lanes8(acc);
}

/// IQ4_NL · Q8_0: one run of 32 per block, unscaled in the integer part; the block's float scale is the
/// product of the two half scales.
static float dot_iq4_nl(int n, const ck_block_iq4_nl *x, const ck_block_q8_0 *y) {
    static const int unit[2] = {1, 1};
    float acc[8] = {0};
    for (int i = 0; i < n / CK_QK; i++) {
        int8_t levels[CK_QK];
        ck_levels_iq4(x[i].qs, levels);
        int32_t lanes[8] = {0};
        add_scaled_lanes(lanes, levels, y[i].qs, unit, 1);
        fma_lanes8(acc, H2F(x[i].d) * H2F(y[i].d), lanes);
    }
    return ck_sum_lanes8(acc);
}

float ck_vec_dot_low_ref(int type, int n, const void *x, const void *y) {
    switch (type) {
    case CK_TYPE_Q2_K: return dot_q2_K(n, x, y);
    case CK_TYPE_Q3_K: return dot_q3_K(n, x, y);
    case CK_TYPE_IQ4_XS: return dot_iq4_xs(n, x, y);
    case CK_TYPE_IQ4_NL: return dot_iq4_nl(n, x, y);
    default: return 0;
    }
}
