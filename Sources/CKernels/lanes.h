// Private: llama.cpp's CPU order of floating-point operations, as portable inline C.
//
// Greedy decoding is chaotic: one activation that rounds to another 8-bit code flips logits by tenths
// later on. So the f32 parts of the forward pass follow what llama.cpp's AVX2 build computes, operation
// for operation: dot products in eight FMA lanes (lane i % 8) summed pairwise at the end (tinyBLAS's
// hsum, used for batches) or in 32 lanes (ggml_vec_dot_f16, used for one token), its vectorised expf
// approximation (an ARM optimized-routines polynomial), rotary embeddings with the first product fused.
// Every fused step is an explicit fmaf, so these bodies give the same bits on any IEEE machine; the AVX2
// twins in math_avx2.c are only faster.
#ifndef ENCLAVE_CKERNELS_LANES_H
#define ENCLAVE_CKERNELS_LANES_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define CK_INLINE static inline __attribute__((always_inline))

CK_INLINE uint32_t ck_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

CK_INLINE float ck_float(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/// The eight lanes of a vector accumulator summed as an AVX hsum does: (hi + lo), then halves, then pairs.
CK_INLINE float ck_lanes_sum(const float l[8]) {
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

/// x · y with element i fused into lane i % 8.
CK_INLINE float ck_dot_lanes_body(int n, const float *x, const float *y) {
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < n; i++) l[i % 8] = fmaf(x[i], y[i], l[i % 8]);
    return ck_lanes_sum(l);
}

/// The 32 accumulators of ggml_vec_dot_f16 (four vectors of eight lanes) reduced as it does: vectors
/// (0+2) + (1+3), then lanes ((0+4) + (1+5)) + ((2+6) + (3+7)).
CK_INLINE float ck_quad_sum(const float a[32]) {
    float l[8];
    for (int j = 0; j < 8; j++) l[j] = (a[j] + a[16 + j]) + (a[8 + j] + a[24 + j]);
    return ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
}

/// x · y as ggml_vec_dot_f16 sums it (llama.cpp's product for a single token): element i fused into
/// accumulator i % 32 for whole groups of 32, the rest added in double after the reduction.
CK_INLINE float ck_dot_quad_body(int n, const float *x, const float *y) {
    float a[32];
    for (int j = 0; j < 32; j++) a[j] = 0;
    int whole = n & ~31;
    for (int i = 0; i < whole; i++) a[i % 32] = fmaf(x[i], y[i], a[i % 32]);
    double sum = ck_quad_sum(a);
    for (int i = whole; i < n; i++) sum += (double)(x[i] * y[i]);
    return (float)sum;
}

/// e^x to within ~1.5 ulp: x = n·ln2 + b, 2^n from the exponent bits, e^b from a degree-5 polynomial;
/// |n| > 126 is scaled in two steps, |n| > 192 saturates to 0 or infinity.
CK_INLINE float ck_expf_body(float x) {
    const float shift = 0x1.8p23f;
    float z = fmaf(x, 0x1.715476p+0f, shift);
    float n = z - shift;
    float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    uint32_t e = ck_bits(z) << 23;
    float k = ck_float(e + ck_bits(1.0f));
    float u = b * b;
    float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                   0x1.ffffecp-1f * b);
    if (!(fabsf(n) > 126)) return fmaf(j, k, k);
    uint32_t g = n <= 0 ? 0x82000000u : 0;
    float s1 = ck_float(g + 0x7f000000u);
    float s2 = ck_float(e - g);
    if (fabsf(n) > 192) return s1 * s1;
    return fmaf(s2, j, s2) * s1;
}

/// Rotates pairs (x[a], x[b]) of `heads` vectors of `head_dim` by cos/sin pairs in `table`
/// (adjacent pairs, or halves when `neox`); the first product of each output is fused.
CK_INLINE void ck_rope_body(float *x, int heads, int head_dim, int rope_dims, int neox, const float *table) {
    int half = rope_dims / 2;
    for (int h = 0; h < heads; h++) {
        float *v = x + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            float c = table[2 * i], s = table[2 * i + 1];
            int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = fmaf(x0, c, -(x1 * s));
            v[b] = fmaf(x0, s, x1 * c);
        }
    }
}

/// y = fma(a, x, y) element-wise.
CK_INLINE void ck_fma_axpy_body(int n, float a, const float *x, float *y) {
    for (int i = 0; i < n; i++) y[i] = fmaf(a, x[i], y[i]);
}

#endif
