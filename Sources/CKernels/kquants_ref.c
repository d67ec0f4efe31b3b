// Scalar references for the K-quants (Q4_K, Q5_K, Q6_K) and their activation format Q8_K.
//
// Dequantization follows ggml's dequantize_row_*_K term for term (the `gguf` Python package computes the
// same float products, and the tests compare against it). The dot products are the scalar twins of
// kquants_avx2.c: the integer part is exact whatever the order, so each one keeps the same eight int32
// lanes per super-block, applies the scales with the same fused multiply-adds and reduces the lanes in
// the same order — the fast kernels must equal these bit for bit.
#include "ckernels.h"
#include "kquants.h"
#include <math.h>
#include <string.h>

// No contraction into FMA: the dequantizers must round each product as ggml (and numpy) do.
#pragma clang fp contract(off)

_Static_assert(sizeof(ck_block_q4_K) == 144, "q4_K block size");
_Static_assert(sizeof(ck_block_q5_K) == 176, "q5_K block size");
_Static_assert(sizeof(ck_block_q6_K) == 210, "q6_K block size");
_Static_assert(sizeof(ck_block_q8_K) == 292, "q8_K block size");

#define H2F ck_fp16_to_fp32

/// The 256 unsigned codes (0..15 for Q4_K, 0..31 for Q5_K) of one block, in element order.
void ck_codes_k(int type, const void *block, uint8_t *codes) {
    const uint8_t *qs = type == CK_TYPE_Q4_K ? ((const ck_block_q4_K *)block)->qs : ((const ck_block_q5_K *)block)->qs;
    for (int j = 0; j < 4; j++) {  // 64 elements per step: 32 low nibbles, then the same bytes' high nibbles
        for (int l = 0; l < 32; l++) {
            codes[64 * j + l] = qs[32 * j + l] & 0xF;
            codes[64 * j + 32 + l] = qs[32 * j + l] >> 4;
        }
    }
    if (type == CK_TYPE_Q5_K) {  // fifth bits: bit 2j of qh[l] for element 64j + l, bit 2j+1 for 64j + 32 + l
        const uint8_t *qh = ((const ck_block_q5_K *)block)->qh;
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 32; l++) {
                codes[64 * j + l] |= ((qh[l] >> (2 * j)) & 1) << 4;
                codes[64 * j + 32 + l] |= ((qh[l] >> (2 * j + 1)) & 1) << 4;
            }
        }
    }
}

/// The 256 signed codes (-32..31) of one Q6_K block, in element order: each 128-element half takes its
/// low four bits from 64 bytes of ql and its top two from 32 bytes of qh.
void ck_codes_q6_K(const void *block, int8_t *codes) {
    const ck_block_q6_K *b = block;
    for (int half = 0; half < 2; half++) {
        const uint8_t *ql = b->ql + 64 * half, *qh = b->qh + 32 * half;
        int8_t *q = codes + 128 * half;
        for (int l = 0; l < 32; l++) {
            q[l] = (int8_t)((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
            q[l + 32] = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            q[l + 64] = (int8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            q[l + 96] = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        }
    }
}

void ck_quantize_row_q8_K_ref(const float *x, void *vy, int n) {
    ck_block_q8_K *y = vy;
    for (int i = 0; i < n / CK_QK_K; i++, x += CK_QK_K) {
        // The signed value of largest magnitude (the first, on ties) sets the scale, so it maps to -127... or
        // 127 exactly; llama.cpp rounds the rest half to even through its float trick (nearest_int).
        float amax = 0, max = 0;
        for (int j = 0; j < CK_QK_K; j++) {
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        }
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -127.0f / max;
        for (int j = 0; j < CK_QK_K; j++) {
            int v = (int)nearbyintf(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < CK_QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

void ck_dequantize_row_k_ref(int type, const void *vx, float *y, int n) {
    for (int i = 0; i < n / CK_QK_K; i++, y += CK_QK_K) {
        switch (type) {
        case CK_TYPE_Q4_K: case CK_TYPE_Q5_K: {
            const void *block = type == CK_TYPE_Q4_K ? (const void *)((const ck_block_q4_K *)vx + i)
                                                     : (const void *)((const ck_block_q5_K *)vx + i);
            // d, dmin and scales sit at the same offsets in both layouts.
            const ck_block_q4_K *head = block;
            uint8_t codes[CK_QK_K];
            ck_codes_k(type, block, codes);
            float d = H2F(head->d), dmin = H2F(head->dmin);
            uint8_t scales[8], mins[8];
            ck_unpack_scales_k4(head->scales, scales, mins);
            for (int j = 0; j < 8; j++) {
                float dj = d * scales[j], mj = dmin * mins[j];
                for (int l = 0; l < 32; l++) y[32 * j + l] = dj * codes[32 * j + l] - mj;
            }
            break;
        }
        case CK_TYPE_Q6_K: {
            const ck_block_q6_K *b = (const ck_block_q6_K *)vx + i;
            int8_t codes[CK_QK_K];
            ck_codes_q6_K(b, codes);
            float d = H2F(b->d);
            for (int l = 0; l < CK_QK_K; l++) y[l] = d * b->scales[l / 16] * codes[l];
            break;
        }
        case CK_TYPE_Q8_K: {
            const ck_block_q8_K *b = (const ck_block_q8_K *)vx + i;
            for (int l = 0; l < CK_QK_K; l++) y[l] = b->d * b->qs[l];
            break;
        }
        default: memset(y, 0, CK_QK_K * sizeof *y); break;
        }
    }
}

// The float epilogue of the AVX2 kernels: acc[k] += d · lane[k] fused, then lanes k and k+4 added, then
// pairs (0+2, 1+3), then the two halves.
static inline void fma_lanes(float *acc, float d, const int32_t *lanes, int count) {
    for (int k = 0; k < count; k++) acc[k] = fmaf(d, (float)lanes[k], acc[k]);
}

/// Q4_K/Q5_K · Q8_K. Int32 lane k of a super-block holds, for each 32-element sub-block j, the scaled sum
/// over its elements 4k..4k+3 (where a 256-bit maddubs + madd puts them); the mins term pairs each two
/// sub-blocks' mins with their Q8_K block sums in four lanes (Q4_K), or in one scalar sum, fused (Q5_K), as
/// ggml sums each.
static float dot_q45_K(int type, int n, const void *vx, const void *vy) {
    const ck_block_q8_K *y = vy;
    size_t stride = type == CK_TYPE_Q4_K ? sizeof(ck_block_q4_K) : sizeof(ck_block_q5_K);
    float acc[8] = {0}, acc_m[4] = {0}, summs = 0;
    for (int i = 0; i < n / CK_QK_K; i++) {
        const void *block = (const char *)vx + (size_t)i * stride;
        const ck_block_q4_K *head = block;
        uint8_t codes[CK_QK_K];
        ck_codes_k(type, block, codes);
        uint8_t scales[8], mins[8];
        ck_unpack_scales_k4(head->scales, scales, mins);
        int32_t lanes[8] = {0}, mins_lanes[4];
        for (int j = 0; j < 8; j++) {
            for (int k = 0; k < 8; k++) {
                int s = 0;
                for (int e = 4 * k; e < 4 * k + 4; e++) s += codes[32 * j + e] * y[i].qs[32 * j + e];
                lanes[k] += scales[j] * s;
            }
        }
        for (int l = 0; l < 4; l++) {
            mins_lanes[l] = mins[2 * l] * (y[i].bsums[4 * l] + y[i].bsums[4 * l + 1]) +
                            mins[2 * l + 1] * (y[i].bsums[4 * l + 2] + y[i].bsums[4 * l + 3]);
        }
        fma_lanes(acc, y[i].d * H2F(head->d), lanes, 8);
        if (type == CK_TYPE_Q5_K) {
            int32_t total = mins_lanes[0] + mins_lanes[1] + mins_lanes[2] + mins_lanes[3];
            summs = fmaf(-y[i].d * H2F(head->dmin), (float)total, summs);
        } else {
            fma_lanes(acc_m, -y[i].d * H2F(head->dmin), mins_lanes, 4);
        }
    }
    return type == CK_TYPE_Q5_K ? ck_sum_lanes8(acc) + summs : ck_sum_lanes8(acc) + ck_sum_lanes4(acc_m);
}

/// Q6_K · Q8_K as llama.cpp sums it: lane k holds, for each 32-element group g, the sum over its elements
/// 4k..4k+3 of scale[2g + (k ≥ 4)] · stored code (0..63) · q8, less the codes' offset 32 times the
/// scaled activation sums of the 16-element groups 2k and 2k+1 (which lanes carry the offset decides
/// the float roundings that follow).
static float dot_q6_K(int n, const void *vx, const void *vy) {
    const ck_block_q6_K *x = vx;
    const ck_block_q8_K *y = vy;
    float acc[8] = {0};
    for (int i = 0; i < n / CK_QK_K; i++) {
        int8_t codes[CK_QK_K];
        ck_codes_q6_K(&x[i], codes);
        int32_t lanes[8] = {0};
        for (int g = 0; g < 8; g++) {
            for (int k = 0; k < 8; k++) {
                int s = 0;
                for (int e = 4 * k; e < 4 * k + 4; e++) s += (codes[32 * g + e] + 32) * y[i].qs[32 * g + e];
                lanes[k] += x[i].scales[2 * g + k / 4] * s;
            }
        }
        for (int k = 0; k < 8; k++) {
            lanes[k] -= 32 * (y[i].bsums[2 * k] * x[i].scales[2 * k] + y[i].bsums[2 * k + 1] * x[i].scales[2 * k + 1]);
        }
        fma_lanes(acc, y[i].d * H2F(x[i].d), lanes, 8);
    }
    return ck_sum_lanes8(acc);
}

float ck_vec_dot_k_ref(int type, int n, const void *x, const void *y) {
    switch (type) {
    case CK_TYPE_Q4_K: case CK_TYPE_Q5_K: return dot_q45_K(type, n, x, y);
    case CK_TYPE_Q6_K: return dot_q6_K(n, x, y);
    default: return 0;
    }
}
