#!/bin/sh
# Proves the NEON kernels (Sources/CKernels/quants_neon.c) on an x86-64 machine: cross-compiles CKernels
# for aarch64 with clang, links a static harness and runs it under qemu-user. The harness compares every
# NEON dot kernel (plain and SDOT) and the NEON activation quantizer against the scalar reference twins
# (the K-quant and low-bit kernels bit for bit, the K-quants' other orders of sums, gemm.h, and Q4_0's and
# IQ4_NL's repacked order).
# Needs the Debian packages gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user (not part of CI).
# Usage: deploy/check-neon.sh
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/Sources/CKernels"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/harness.c" <<'C'
#include "ckernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ck_dot_fn ck_neon_dot_function(int type, int dotprod);
ck_dot_fn ck_neon_dot_function_k(int type, int dotprod);
ck_dot_fn ck_neon_dot_function_low(int type, int dotprod);
ck_dot_fn ck_neon_blocks_function(int type, int dotprod);
ck_dot_fn ck_blocks_function(int type);

/// The NEON kernel of a K-quant or low-bit type.
static ck_dot_fn kfn(int type, int dotprod) {
    ck_dot_fn f = ck_neon_dot_function_k(type, dotprod);
    return f ? f : ck_neon_dot_function_low(type, dotprod);
}

static unsigned long long state = 42;
static float uniform(void) {  // xorshift64*, in [-1, 1)
    state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
    return (float)((state * 2685821657736338717ull) >> 40) / (float)(1 << 23) - 1.0f;
}

static int failures;
static void check(const char *what, float got, float want, float scale) {
    if (!(fabsf(got - want) <= 1e-5f * scale + 1e-6f)) {
        printf("FAIL %s: %.8g vs reference %.8g\n", what, got, want);
        failures++;
    }
}

int main(void) {
    enum { N = 512, ROWS = 64 };
    const int types[] = {CK_TYPE_Q4_0, CK_TYPE_Q4_1, CK_TYPE_Q5_0, CK_TYPE_Q5_1, CK_TYPE_Q8_0};
    const char *names[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0"};
    static float w[ROWS][N], x[N];
    static unsigned char wq[ROWS][N * 2], xq[N * 2], xq_ref[N * 2];
    int dotprod = (ck_cpu_features() & CK_CPU_DOTPROD) != 0;
    printf("variant: %s (dotprod %s)\n", ck_kernel_variant(), dotprod ? "yes" : "no");
    for (int i = 0; i < N; i++) x[i] = uniform() * (i % 7 == 0 ? 4.0f : 1.0f);
    for (int r = 0; r < ROWS; r++) for (int i = 0; i < N; i++) w[r][i] = uniform() * 0.5f;
    for (int t = 0; t < 5; t++) {
        int type = types[t], act = ck_activation_type(type);
        ck_quantize_row(act, x, xq, N);
        if (act == CK_TYPE_Q8_1) ck_quantize_row_q8_1_ref(x, xq_ref, N); else ck_quantize_row_q8_0_ref(x, xq_ref, N);
        if (memcmp(xq, xq_ref, ck_row_bytes(act, N)) != 0) {
            printf("FAIL %s activation bytes\n", names[t]);
            failures++;
        }
        for (int r = 0; r < ROWS; r++) {
            ck_quantize_row_ref(type, w[r], wq[r], N);
            float want = ck_vec_dot_ref(type, N, wq[r], xq_ref), scale = 0;
            float wd[N];
            ck_dequantize_row_ref(type, wq[r], wd, N);
            for (int i = 0; i < N; i++) scale += fabsf(wd[i] * x[i]);
            char what[64];
            snprintf(what, sizeof what, "%s row %d plain", names[t], r);
            check(what, ck_neon_dot_function(type, 0)(N, wq[r], xq), want, scale);
            if (ck_cpu_features() & CK_CPU_DOTPROD) {
                snprintf(what, sizeof what, "%s row %d sdot", names[t], r);
                check(what, ck_neon_dot_function(type, 1)(N, wq[r], xq), want, scale);
            }
            snprintf(what, sizeof what, "%s row %d dispatched", names[t], r);
            check(what, ck_vec_dot(type, N, wq[r], xq), want, scale);
        }
        printf("%s: %d rows checked\n", names[t], ROWS);
    }
    static unsigned short h[N], b[N];
    float scale = 0;
    for (int i = 0; i < N; i++) {
        h[i] = ck_fp32_to_fp16(w[0][i]);
        b[i] = ck_fp32_to_bf16(w[0][i]);
        scale += fabsf(w[0][i] * x[i]);
    }
    check("f32", ck_vec_dot(CK_TYPE_F32, N, w[0], x), ck_vec_dot_ref(CK_TYPE_F32, N, w[0], x), scale);
    check("f16", ck_vec_dot(CK_TYPE_F16, N, h, x), ck_vec_dot_ref(CK_TYPE_F16, N, h, x), scale);
    check("bf16", ck_vec_dot(CK_TYPE_BF16, N, b, x), ck_vec_dot_ref(CK_TYPE_BF16, N, b, x), scale);
    // K-quants and the low-bit types: random blocks (any bytes but the half scales are valid), activations
    // in each type's format; these kernels must equal their scalar twins bit for bit, with and without SDOT.
    enum { NK = 2048 };
    const int ktypes[] = {CK_TYPE_Q4_K, CK_TYPE_Q5_K, CK_TYPE_Q6_K, CK_TYPE_Q2_K, CK_TYPE_Q3_K, CK_TYPE_IQ4_XS,
                          CK_TYPE_IQ4_NL};
    const int half_offsets[][2] = {{0, 2}, {0, 2}, {208, 208}, {80, 82}, {108, 108}, {0, 0}, {0, 0}};
    static float xk[NK];
    static unsigned char wk[NK], ak[NK * 2];
    for (int i = 0; i < NK; i++) xk[i] = uniform() * (i % 5 == 0 ? 3.0f : 1.0f);
    for (int t = 0; t < 7; t++) {
        int type = ktypes[t], per = type == CK_TYPE_IQ4_NL ? 32 : 256, block = (int)ck_row_bytes(type, per), bad = 0;
        ck_quantize_row_ref(ck_activation_type(type), xk, ak, NK);
        for (int r = 0; r < ROWS; r++) {
            for (size_t i = 0; i < ck_row_bytes(type, NK); i++) wk[i] = (unsigned char)(uniform() * 128 + 128);
            for (int b = 0; b < NK / per; b++) {
                for (int k = 0; k < 2; k++) {
                    unsigned short h = ck_fp32_to_fp16(uniform() * 0.01f);
                    memcpy(wk + b * block + half_offsets[t][k], &h, 2);
                }
            }
            float want = ck_vec_dot_ref(type, NK, wk, ak);
            float plain = kfn(type, 0)(NK, wk, ak), dispatched = ck_vec_dot(type, NK, wk, ak);
            float sdot = dotprod ? kfn(type, 1)(NK, wk, ak) : want;
            if (memcmp(&plain, &want, 4) || memcmp(&sdot, &want, 4) || memcmp(&dispatched, &want, 4)) {
                if (bad++ < 3) printf("FAIL k-quant %d row %d: %.9g %.9g %.9g vs %.9g\n", type, r, plain, sdot, dispatched, want);
            }
            // llama.cpp's other orders, from the NEON integers and from the twin's.
            for (int order = CK_ORDER_TILED; per == 256 && order <= CK_ORDER_GEMM; order++) {
                if (order == CK_ORDER_GEMM && type != CK_TYPE_Q4_K && type != CK_TYPE_Q5_K) continue;
                float fast = ck_ordered_product(type, order, NK, wk, ak, ck_ksums_function(type));
                float twin = ck_ordered_product(type, order, NK, wk, ak, ck_ksums_ref);
                if (memcmp(&fast, &twin, 4) && bad++ < 3) printf("FAIL k-quant %d order %d row %d\n", type, order, r);
            }
        }
        failures += bad;
        printf("k-quant type %d: %d rows checked bit for bit\n", type, ROWS);
    }
    // Q4_0 and IQ4_NL in llama.cpp's repacked order (BLOCKS): the NEON kernels, plain and SDOT, and the one
    // dispatched, against the portable twin, bit for bit.
    const int btypes[] = {CK_TYPE_Q4_0, CK_TYPE_IQ4_NL};
    for (int t = 0; t < 2; t++) {
        int type = btypes[t], block = (int)ck_row_bytes(type, 32), bad = 0;
        ck_quantize_row_ref(CK_TYPE_Q8_0, xk, ak, NK);
        for (int r = 0; r < ROWS; r++) {
            for (size_t i = 0; i < ck_row_bytes(type, NK); i++) wk[i] = (unsigned char)(uniform() * 128 + 128);
            for (int b = 0; b < NK / 32; b++) {
                unsigned short h = ck_fp32_to_fp16(uniform() * 0.01f);
                memcpy(wk + b * block, &h, 2);
            }
            float want = ck_ordered_product(type, CK_ORDER_BLOCKS, NK, wk, ak, ck_ksums_ref);
            float plain = ck_neon_blocks_function(type, 0)(NK, wk, ak);
            float sdot = dotprod ? ck_neon_blocks_function(type, 1)(NK, wk, ak) : want;
            float dispatched = ck_blocks_function(type)(NK, wk, ak);
            if (memcmp(&plain, &want, 4) || memcmp(&sdot, &want, 4) || memcmp(&dispatched, &want, 4)) {
                if (bad++ < 3) {
                    printf("FAIL blocks %d row %d: %.9g %.9g %.9g vs %.9g\n", type, r, plain, sdot, dispatched, want);
                }
            }
        }
        // A matrix of 8 rows (so llama.cpp's order is BLOCKS) through ck_matvec, one token: each output the twin's.
        static unsigned char wm[8 * NK];
        float out[8];
        for (size_t i = 0; i < sizeof wm; i++) wm[i] = (unsigned char)(uniform() * 128 + 128);
        size_t row_bytes = ck_row_bytes(type, NK);
        for (int b = 0; b < 8 * NK / 32; b++) {
            unsigned short h = ck_fp32_to_fp16(uniform() * 0.01f);
            memcpy(wm + b * block, &h, 2);
        }
        ck_matvec_job job = {wm, type, 8, NK, 1, ak, 0, 0, out, 8, 0, 0, 0};
        ck_matvec(0, &job);
        for (int r = 0; r < 8; r++) {
            float want = ck_ordered_product(type, CK_ORDER_BLOCKS, NK, wm + r * row_bytes, ak, ck_ksums_ref);
            if (memcmp(&out[r], &want, 4) && bad++ < 3) printf("FAIL blocks %d matvec row %d\n", type, r);
        }
        failures += bad;
        printf("blocks order, type %d: %d rows and a matrix checked bit for bit\n", type, ROWS);
    }
    printf(failures ? "NEON kernels: %d failures\n" : "NEON kernels match the references\n", failures);
    return failures != 0;
}
C

cd "$work"
for f in "$src"/*.c harness.c; do
    clang --target=aarch64-linux-gnu -O3 -fno-math-errno -Wall -I"$src/include" -c "$f" -o "$(basename "$f" .c).o"
done
clang --target=aarch64-linux-gnu -fuse-ld=bfd -static -o harness ./*.o -lm -lpthread
qemu-aarch64 -cpu max ./harness
echo "--- without dotprod (cortex-a53) ---"
qemu-aarch64 -cpu cortex-a53 ./harness
