// Scalar reference kernels: quantize, dequantize and dot products for ggml's 32-element block types,
// written for clarity (the K-quants' are in kquants_ref.c). Every fast kernel in quants_avx2.c is tested against these.
#include "ckernels.h"
#include "lowbit.h"
#include "quants.h"
#include <math.h>
#include <string.h>

#define H2F ck_fp16_to_fp32
#define F2H ck_fp32_to_fp16

_Static_assert(sizeof(ck_block_q4_0) == 18, "q4_0 block size");
_Static_assert(sizeof(ck_block_q4_1) == 20, "q4_1 block size");
_Static_assert(sizeof(ck_block_q5_0) == 22, "q5_0 block size");
_Static_assert(sizeof(ck_block_q5_1) == 24, "q5_1 block size");
_Static_assert(sizeof(ck_block_q8_0) == 34, "q8_0 block size");
_Static_assert(sizeof(ck_block_q8_1) == 36, "q8_1 block size");

int ck_activation_type(int t) {
    switch (t) {
    case CK_TYPE_Q4_0: case CK_TYPE_Q5_0: case CK_TYPE_Q8_0: case CK_TYPE_IQ4_NL: return CK_TYPE_Q8_0;
    case CK_TYPE_Q4_1: case CK_TYPE_Q5_1: return CK_TYPE_Q8_1;
    case CK_TYPE_Q2_K: case CK_TYPE_Q3_K: case CK_TYPE_Q4_K: case CK_TYPE_Q5_K: case CK_TYPE_Q6_K:
    case CK_TYPE_IQ4_XS: return CK_TYPE_Q8_K;
    default: return CK_TYPE_F32;
    }
}

size_t ck_row_bytes(int t, int n) {
    switch (t) {
    case CK_TYPE_F32: return (size_t)n * 4;
    case CK_TYPE_F16: case CK_TYPE_BF16: return (size_t)n * 2;
    case CK_TYPE_Q4_0: return (size_t)n / 32 * 18;
    case CK_TYPE_Q4_1: return (size_t)n / 32 * 20;
    case CK_TYPE_Q5_0: return (size_t)n / 32 * 22;
    case CK_TYPE_Q5_1: return (size_t)n / 32 * 24;
    case CK_TYPE_Q8_0: return (size_t)n / 32 * 34;
    case CK_TYPE_Q8_1: return (size_t)n / 32 * 36;
    case CK_TYPE_Q4_K: return (size_t)n / CK_QK_K * sizeof(ck_block_q4_K);
    case CK_TYPE_Q5_K: return (size_t)n / CK_QK_K * sizeof(ck_block_q5_K);
    case CK_TYPE_Q6_K: return (size_t)n / CK_QK_K * sizeof(ck_block_q6_K);
    case CK_TYPE_Q8_K: return (size_t)n / CK_QK_K * sizeof(ck_block_q8_K);
    case CK_TYPE_Q2_K: return (size_t)n / CK_QK_K * sizeof(ck_block_q2_K);
    case CK_TYPE_Q3_K: return (size_t)n / CK_QK_K * sizeof(ck_block_q3_K);
    case CK_TYPE_IQ4_NL: return (size_t)n / CK_QK * sizeof(ck_block_iq4_nl);
    case CK_TYPE_IQ4_XS: return (size_t)n / CK_QK_K * sizeof(ck_block_iq4_xs);
    default: return 0;
    }
}

// Activation quantizers, as ggml's SIMD paths (AVX2, NEON) compute them, since those are what llama.cpp
// runs: id = 127/amax and round half to even. (ggml's scalar *_ref uses 1/d and roundf, which flips
// some codes and moves logits by up to ~0.01 per layer.)
void ck_quantize_row_q8_0_ref(const float *x, void *vy, int n) {
    ck_block_q8_0 *y = vy;
    for (int i = 0; i < n / CK_QK; i++) {
        float amax = 0;
        for (int j = 0; j < CK_QK; j++) amax = fmaxf(amax, fabsf(x[i * CK_QK + j]));
        float d = amax / 127.0f, id = amax != 0 ? 127.0f / amax : 0.0f;
        y[i].d = F2H(d);
        for (int j = 0; j < CK_QK; j++) y[i].qs[j] = (int8_t)nearbyintf(x[i * CK_QK + j] * id);
    }
}

void ck_quantize_row_q8_1_ref(const float *x, void *vy, int n) {
    ck_block_q8_1 *y = vy;
    for (int i = 0; i < n / CK_QK; i++) {
        float amax = 0;
        for (int j = 0; j < CK_QK; j++) amax = fmaxf(amax, fabsf(x[i * CK_QK + j]));
        float d = amax / 127.0f, id = amax != 0 ? 127.0f / amax : 0.0f;
        y[i].d = F2H(d);
        int sum = 0;
        for (int j = 0; j < CK_QK; j++) {
            y[i].qs[j] = (int8_t)nearbyintf(x[i * CK_QK + j] * id);
            sum += y[i].qs[j];
        }
        y[i].s = F2H((float)sum * d);
    }
}

// Weight quantizers (ggml's quantize_row_q4_0_ref & co.), used by the tests to build tiny models.
static void quantize_q4_0(const float *x, ck_block_q4_0 *y, int n) {
    for (int i = 0; i < n / CK_QK; i++) {
        float amax = 0, max = 0;
        for (int j = 0; j < CK_QK; j++) {
            float v = x[i * CK_QK + j];
            if (fabsf(v) > amax) { amax = fabsf(v); max = v; }
        }
        float d = max / -8, id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        for (int j = 0; j < CK_QK / 2; j++) {
            int a = (int)fminf(15, x[i * CK_QK + j] * id + 8.5f);
            int b = (int)fminf(15, x[i * CK_QK + CK_QK / 2 + j] * id + 8.5f);
            y[i].qs[j] = (uint8_t)(a | (b << 4));
        }
    }
}

static void quantize_q4_1(const float *x, ck_block_q4_1 *y, int n) {
    for (int i = 0; i < n / CK_QK; i++) {
        float lo = INFINITY, hi = -INFINITY;
        for (int j = 0; j < CK_QK; j++) { lo = fminf(lo, x[i * CK_QK + j]); hi = fmaxf(hi, x[i * CK_QK + j]); }
        float d = (hi - lo) / 15, id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        y[i].m = F2H(lo);
        for (int j = 0; j < CK_QK / 2; j++) {
            int a = (int)fminf(15, (x[i * CK_QK + j] - lo) * id + 0.5f);
            int b = (int)fminf(15, (x[i * CK_QK + CK_QK / 2 + j] - lo) * id + 0.5f);
            y[i].qs[j] = (uint8_t)(a | (b << 4));
        }
    }
}

static void quantize_q5_0(const float *x, ck_block_q5_0 *y, int n) {
    for (int i = 0; i < n / CK_QK; i++) {
        float amax = 0, max = 0;
        for (int j = 0; j < CK_QK; j++) {
            float v = x[i * CK_QK + j];
            if (fabsf(v) > amax) { amax = fabsf(v); max = v; }
        }
        float d = max / -16, id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        uint32_t qh = 0;
        for (int j = 0; j < CK_QK / 2; j++) {
            int a = (int)fminf(31, x[i * CK_QK + j] * id + 16.5f);
            int b = (int)fminf(31, x[i * CK_QK + CK_QK / 2 + j] * id + 16.5f);
            y[i].qs[j] = (uint8_t)((a & 15) | ((b & 15) << 4));
            qh |= ((uint32_t)(a >> 4) & 1) << j;
            qh |= ((uint32_t)(b >> 4) & 1) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void quantize_q5_1(const float *x, ck_block_q5_1 *y, int n) {
    for (int i = 0; i < n / CK_QK; i++) {
        float lo = INFINITY, hi = -INFINITY;
        for (int j = 0; j < CK_QK; j++) { lo = fminf(lo, x[i * CK_QK + j]); hi = fmaxf(hi, x[i * CK_QK + j]); }
        float d = (hi - lo) / 31, id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        y[i].m = F2H(lo);
        uint32_t qh = 0;
        for (int j = 0; j < CK_QK / 2; j++) {
            int a = (int)((x[i * CK_QK + j] - lo) * id + 0.5f);
            int b = (int)((x[i * CK_QK + CK_QK / 2 + j] - lo) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((a & 15) | ((b & 15) << 4));
            qh |= ((uint32_t)(a >> 4) & 1) << j;
            qh |= ((uint32_t)(b >> 4) & 1) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

void ck_quantize_row_ref(int type, const float *x, void *y, int n) {
    switch (type) {
    case CK_TYPE_F32: memcpy(y, x, (size_t)n * 4); break;
    case CK_TYPE_F16: for (int i = 0; i < n; i++) ((uint16_t *)y)[i] = F2H(x[i]); break;
    case CK_TYPE_BF16: for (int i = 0; i < n; i++) ((uint16_t *)y)[i] = ck_fp32_to_bf16(x[i]); break;
    case CK_TYPE_Q4_0: quantize_q4_0(x, y, n); break;
    case CK_TYPE_Q4_1: quantize_q4_1(x, y, n); break;
    case CK_TYPE_Q5_0: quantize_q5_0(x, y, n); break;
    case CK_TYPE_Q5_1: quantize_q5_1(x, y, n); break;
    case CK_TYPE_Q8_0: ck_quantize_row_q8_0_ref(x, y, n); break;
    case CK_TYPE_Q8_1: ck_quantize_row_q8_1_ref(x, y, n); break;
    case CK_TYPE_Q8_K: ck_quantize_row_q8_K_ref(x, y, n); break;
    default: break;
    }
}

float ck_block_codes_ref(int type, const void *row, int i, int codes[CK_QK], float *m) {
    switch (type) {
    case CK_TYPE_Q4_0: case CK_TYPE_Q4_1: {
        const uint8_t *qs =
            type == CK_TYPE_Q4_0 ? ((const ck_block_q4_0 *)row + i)->qs : ((const ck_block_q4_1 *)row + i)->qs;
        int offset = type == CK_TYPE_Q4_0 ? 8 : 0;
        for (int j = 0; j < 16; j++) {
            codes[j] = (qs[j] & 15) - offset;
            codes[j + 16] = (qs[j] >> 4) - offset;
        }
        if (type == CK_TYPE_Q4_0) return H2F(((const ck_block_q4_0 *)row + i)->d);
        *m = H2F(((const ck_block_q4_1 *)row + i)->m);
        return H2F(((const ck_block_q4_1 *)row + i)->d);
    }
    case CK_TYPE_Q5_0: case CK_TYPE_Q5_1: {
        const uint8_t *qs, *qhp;
        float d;
        if (type == CK_TYPE_Q5_0) {
            const ck_block_q5_0 *b = (const ck_block_q5_0 *)row + i;
            qs = b->qs, qhp = b->qh, d = H2F(b->d);
        } else {
            const ck_block_q5_1 *b = (const ck_block_q5_1 *)row + i;
            qs = b->qs, qhp = b->qh, d = H2F(b->d), *m = H2F(b->m);
        }
        int offset = type == CK_TYPE_Q5_0 ? 16 : 0;
        uint32_t qh;
        memcpy(&qh, qhp, 4);
        for (int j = 0; j < 16; j++) {
            codes[j] = (int)((qs[j] & 15) | (((qh >> j) & 1) << 4)) - offset;
            codes[j + 16] = (int)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - offset;
        }
        return d;
    }
    case CK_TYPE_IQ4_NL: {
        const ck_block_iq4_nl *b = (const ck_block_iq4_nl *)row + i;
        int8_t levels[CK_QK];
        ck_levels_iq4(b->qs, levels);
        for (int j = 0; j < CK_QK; j++) codes[j] = levels[j];
        return H2F(b->d);
    }
    case CK_TYPE_Q8_1: {
        const ck_block_q8_1 *b = (const ck_block_q8_1 *)row + i;
        for (int j = 0; j < CK_QK; j++) codes[j] = b->qs[j];
        return H2F(b->d);
    }
    default: {
        const ck_block_q8_0 *b = (const ck_block_q8_0 *)row + i;
        for (int j = 0; j < CK_QK; j++) codes[j] = b->qs[j];
        return H2F(b->d);
    }
    }
}

void ck_dequantize_row_ref(int type, const void *vx, float *y, int n) {
    int nb = n / CK_QK;
    switch (type) {
    case CK_TYPE_Q4_K: case CK_TYPE_Q5_K: case CK_TYPE_Q6_K: case CK_TYPE_Q8_K:
        ck_dequantize_row_k_ref(type, vx, y, n);
        break;
    case CK_TYPE_Q2_K: case CK_TYPE_Q3_K: case CK_TYPE_IQ4_NL: case CK_TYPE_IQ4_XS:
        ck_dequantize_row_low_ref(type, vx, y, n);
        break;
    case CK_TYPE_F32: memcpy(y, vx, (size_t)n * 4); break;
    case CK_TYPE_F16: for (int i = 0; i < n; i++) y[i] = H2F(((const uint16_t *)vx)[i]); break;
    case CK_TYPE_BF16: for (int i = 0; i < n; i++) y[i] = ck_bf16_to_fp32(((const uint16_t *)vx)[i]); break;
    case CK_TYPE_Q4_0: case CK_TYPE_Q5_0: case CK_TYPE_Q8_0: case CK_TYPE_Q8_1:
        for (int i = 0; i < nb; i++) {
            int q[CK_QK];
            float m, d = ck_block_codes_ref(type, vx, i, q, &m);
            for (int j = 0; j < CK_QK; j++) y[i * 32 + j] = q[j] * d;
        }
        break;
    case CK_TYPE_Q4_1: case CK_TYPE_Q5_1:
        for (int i = 0; i < nb; i++) {
            int q[CK_QK];
            float m, d = ck_block_codes_ref(type, vx, i, q, &m);
            for (int j = 0; j < CK_QK; j++) y[i * 32 + j] = q[j] * d + m;
        }
        break;
    default: break;
    }
}

/// The integer dot of one weight block's 32 codes (unpacked to `q`) with a Q8 block's.
static int dot_i32(const int *q, const int8_t *y) {
    int s = 0;
    for (int j = 0; j < 32; j++) s += q[j] * y[j];
    return s;
}

float ck_vec_dot_ref(int type, int n, const void *vx, const void *vy) {
    int nb = n / CK_QK;
    int q[32];
    float sum = 0;
    switch (type) {
    case CK_TYPE_Q4_K: case CK_TYPE_Q5_K: case CK_TYPE_Q6_K: return ck_vec_dot_k_ref(type, n, vx, vy);
    case CK_TYPE_Q2_K: case CK_TYPE_Q3_K: case CK_TYPE_IQ4_NL: case CK_TYPE_IQ4_XS:
        return ck_vec_dot_low_ref(type, n, vx, vy);
    case CK_TYPE_F32: case CK_TYPE_F16: case CK_TYPE_BF16: {
        const float *y = vy;
        double acc = 0;
        for (int i = 0; i < n; i++) {
            float w = type == CK_TYPE_F32 ? ((const float *)vx)[i]
                    : type == CK_TYPE_F16 ? H2F(((const uint16_t *)vx)[i]) : ck_bf16_to_fp32(((const uint16_t *)vx)[i]);
            acc += (double)w * y[i];
        }
        return (float)acc;
    }
    case CK_TYPE_Q4_0: case CK_TYPE_Q5_0: case CK_TYPE_Q8_0: {
        const ck_block_q8_0 *y = vy;
        for (int i = 0; i < nb; i++) {
            float m, d = ck_block_codes_ref(type, vx, i, q, &m);
            sum += dot_i32(q, y[i].qs) * d * H2F(y[i].d);
        }
        return sum;
    }
    case CK_TYPE_Q4_1: case CK_TYPE_Q5_1: {
        const ck_block_q8_1 *y = vy;
        for (int i = 0; i < nb; i++) {
            float m, d = ck_block_codes_ref(type, vx, i, q, &m);
            sum += dot_i32(q, y[i].qs) * d * H2F(y[i].d) + m * H2F(y[i].s);
        }
        return sum;
    }
    default: return 0;
    }
}
