// Run-time kernel choice: the AVX2/FMA variants when an x86-64 CPU has them, NEON on arm64 (SDOT kernels
// when it has dotprod), else the portable scalar references (also when tests force them). Decided per
// call from one cached flag.
#include "ckernels.h"
#include "gemm.h"
#include <stdatomic.h>

#if defined(__x86_64__)
float ck_avx2_dot_f32(int n, const float *x, const float *y);
void ck_avx2_quantize_row_q8(int with_sum, const float *x, void *y, int n);
void ck_avx2_quantize_row_q8_K(const float *x, void *y, int n);
void ck_avx2_axpy_f32(int n, float a, const float *x, float *y);
int ck_avx2_dequantize_row(int type, const void *x, float *y, int n);
int ck_avx2_dequantize_row_k(int type, const void *x, float *y, int n);
ck_dot_fn ck_avx2_dot_function(int type, int vnni);
ck_dot_fn ck_avx2_dot_function_k(int type);
ck_dot_fn ck_avx2_dot_function_low(int type, int vnni);
void ck_avx2_ksums_k(int type, int n, const void *x, const void *y, int parts, int32_t *dot, int32_t *mins);
void ck_avx2_ksums_low(int type, int n, const void *x, const void *y, int parts, int32_t *dot, int32_t *mins);
int ck_avx2_dequantize_row_low(int type, const void *x, float *y, int n);
float ck_avx2_dot_lanes(int n, const float *x, const float *y);
float ck_avx2_dot_quad(int n, const float *x, const float *y);
void ck_avx2_softmax(float *x, int n, int lead);
void ck_avx2_swiglu(float *gate, const float *up, int n);
void ck_fma_rope(float *x, int heads, int head_dim, int rope_dims, int neox, const float *table);
#endif
#if defined(__aarch64__)
ck_dot_fn ck_neon_dot_function(int type, int dotprod);
ck_dot_fn ck_neon_dot_function_k(int type, int dotprod);
ck_dot_fn ck_neon_dot_function_low(int type, int dotprod);
ck_dot_fn ck_neon_blocks_function(int type, int dotprod);
void ck_neon_ksums_k(int type, int n, const void *x, const void *y, int parts, int32_t *dot, int32_t *mins);
float ck_neon_dot_f32(int n, const float *x, const float *y);
void ck_neon_quantize_row_q8(int with_sum, const float *x, void *y, int n);
#endif

static _Atomic int use_avx2 = -1;  // -1: not yet decided
static _Atomic int forced_scalar = 0;
static _Atomic int forced_no_vnni = 0;

/// Whether the CPU has every feature in `wanted` (unless `forced_off`), probed once into `cache`.
static int have_features(_Atomic int *cache, const _Atomic int *forced_off, uint32_t wanted) {
    if (atomic_load_explicit(forced_off, memory_order_relaxed)) return 0;
    int v = atomic_load_explicit(cache, memory_order_relaxed);
    if (v < 0) {
        v = (ck_cpu_features() & wanted) == wanted;
        atomic_store_explicit(cache, v, memory_order_relaxed);
    }
    return v;
}

static int have_avx2(void) { return have_features(&use_avx2, &forced_scalar, CK_CPU_AVX2 | CK_CPU_FMA | CK_CPU_F16C); }

int ck_have_avx2(void) { return have_avx2(); }

#if defined(__x86_64__)
static _Atomic int use_vnni = -1;

/// 256-bit VNNI (AVX512-VL and AVX512-VNNI; the compiler's probe counts them only when the OS saves AVX-512
/// state), for the batched tiles and the low-bit dot kernels, with AVX512-BW's byte masks (every CPU with
/// AVX512-VNNI has BW).
static int have_vnni(void) {
    return have_features(&use_vnni, &forced_no_vnni, CK_CPU_AVX512VL | CK_CPU_AVX512VNNI | CK_CPU_AVX512BW);
}
#endif

void ck_force_no_vnni(int on) { atomic_store(&forced_no_vnni, on ? 1 : 0); }

void ck_force_scalar(int on) { atomic_store(&forced_scalar, on ? 1 : 0); }

#if defined(__aarch64__)
static _Atomic int use_dotprod = -1;

/// NEON is baseline on AArch64: only a test forcing the references turns it off.
static int have_neon(void) { return !atomic_load_explicit(&forced_scalar, memory_order_relaxed); }

static int have_dotprod(void) {
    int v = atomic_load_explicit(&use_dotprod, memory_order_relaxed);
    if (v < 0) {
        v = (ck_cpu_features() & CK_CPU_DOTPROD) != 0;
        atomic_store_explicit(&use_dotprod, v, memory_order_relaxed);
    }
    return v;
}
#endif

const char *ck_kernel_variant(void) {
#if defined(__aarch64__)
    if (have_neon()) return have_dotprod() ? "neon-dotprod" : "neon";
#endif
    return have_avx2() ? "avx2" : "scalar";
}

void ck_quantize_row(int activation_type, const float *x, void *y, int n) {
#if defined(__x86_64__)
    if (have_avx2() && (activation_type == CK_TYPE_Q8_0 || activation_type == CK_TYPE_Q8_1)) {
        ck_avx2_quantize_row_q8(activation_type == CK_TYPE_Q8_1, x, y, n);
        return;
    }
    if (have_avx2() && activation_type == CK_TYPE_Q8_K) {
        ck_avx2_quantize_row_q8_K(x, y, n);
        return;
    }
#elif defined(__aarch64__)
    if (have_neon() && (activation_type == CK_TYPE_Q8_0 || activation_type == CK_TYPE_Q8_1)) {
        ck_neon_quantize_row_q8(activation_type == CK_TYPE_Q8_1, x, y, n);
        return;
    }
#endif
    ck_quantize_row_ref(activation_type, x, y, n);
}

void ck_dequantize_row(int type, const void *x, float *y, int n) {
#if defined(__x86_64__)
    if (have_avx2() && (ck_avx2_dequantize_row(type, x, y, n) || ck_avx2_dequantize_row_k(type, x, y, n) ||
                        ck_avx2_dequantize_row_low(type, x, y, n))) {
        return;
    }
#endif
    ck_dequantize_row_ref(type, x, y, n);
}

float ck_vec_dot(int type, int n, const void *x, const void *y) { return ck_dot_function(type)(n, x, y); }

#define REF_DOT(name, t) static float name(int n, const void *x, const void *y) { return ck_vec_dot_ref(t, n, x, y); }
REF_DOT(ref_f32, CK_TYPE_F32)
REF_DOT(ref_f16, CK_TYPE_F16)
REF_DOT(ref_bf16, CK_TYPE_BF16)
REF_DOT(ref_q4_0, CK_TYPE_Q4_0)
REF_DOT(ref_q4_1, CK_TYPE_Q4_1)
REF_DOT(ref_q5_0, CK_TYPE_Q5_0)
REF_DOT(ref_q5_1, CK_TYPE_Q5_1)
REF_DOT(ref_q8_0, CK_TYPE_Q8_0)
REF_DOT(ref_q4_K, CK_TYPE_Q4_K)
REF_DOT(ref_q5_K, CK_TYPE_Q5_K)
REF_DOT(ref_q6_K, CK_TYPE_Q6_K)
REF_DOT(ref_q2_K, CK_TYPE_Q2_K)
REF_DOT(ref_q3_K, CK_TYPE_Q3_K)
REF_DOT(ref_iq4_nl, CK_TYPE_IQ4_NL)
REF_DOT(ref_iq4_xs, CK_TYPE_IQ4_XS)

ck_dot_fn ck_dot_function(int type) {
#if defined(__x86_64__)
    if (have_avx2()) {
        ck_dot_fn f = ck_avx2_dot_function(type, have_vnni());
        if (!f) f = ck_avx2_dot_function_k(type);
        if (!f) f = ck_avx2_dot_function_low(type, have_vnni());
        if (f) return f;
    }
#elif defined(__aarch64__)
    if (have_neon()) {
        ck_dot_fn f = ck_neon_dot_function(type, have_dotprod());
        if (!f) f = ck_neon_dot_function_k(type, have_dotprod());
        if (!f) f = ck_neon_dot_function_low(type, have_dotprod());
        if (f) return f;
    }
#endif
    switch (type) {
    case CK_TYPE_F32: return ref_f32;
    case CK_TYPE_F16: return ref_f16;
    case CK_TYPE_BF16: return ref_bf16;
    case CK_TYPE_Q4_0: return ref_q4_0;
    case CK_TYPE_Q4_1: return ref_q4_1;
    case CK_TYPE_Q5_0: return ref_q5_0;
    case CK_TYPE_Q5_1: return ref_q5_1;
    case CK_TYPE_Q4_K: return ref_q4_K;
    case CK_TYPE_Q5_K: return ref_q5_K;
    case CK_TYPE_Q6_K: return ref_q6_K;
    case CK_TYPE_Q2_K: return ref_q2_K;
    case CK_TYPE_Q3_K: return ref_q3_K;
    case CK_TYPE_IQ4_NL: return ref_iq4_nl;
    case CK_TYPE_IQ4_XS: return ref_iq4_xs;
    default: return ref_q8_0;
    }
}

ck_ksums_fn ck_ksums_function(int type) {
#if defined(__x86_64__)
    if (have_avx2()) {
        switch (type) {
        case CK_TYPE_Q4_K: case CK_TYPE_Q5_K: case CK_TYPE_Q6_K: return ck_avx2_ksums_k;
        case CK_TYPE_Q2_K: case CK_TYPE_Q3_K: case CK_TYPE_IQ4_XS: return ck_avx2_ksums_low;
        default: break;
        }
    }
#elif defined(__aarch64__)
    if (have_neon() && (type == CK_TYPE_Q4_K || type == CK_TYPE_Q5_K || type == CK_TYPE_Q6_K)) {
        return ck_neon_ksums_k;
    }
#endif
    (void)type;
    return ck_ksums_ref;
}

ck_dot_rows_fn ck_dot_rows_function(int type) {
#if defined(__x86_64__)
    if (have_avx2()) return ck_avx2_dot_rows_function(type, have_vnni());
#endif
    (void)type;
    return 0;
}

ck_dot_fn ck_blocks_function(int type) {
#if defined(__aarch64__)
    if (have_neon()) return ck_neon_blocks_function(type, have_dotprod());
#endif
    (void)type;
    return 0;
}

ck_tile_fn ck_tile_function(int type) {
#if defined(__x86_64__)
    if (have_avx2()) {
        ck_tile_fn f = ck_avx2_tile_function(type, have_vnni());
        return f ? f : ck_avx2_tile_function_k(type);
    }
#endif
    (void)type;
    return 0;
}

ck_tile_fn ck_wide_tile_function(const ck_matvec_job *job) {
#if defined(__x86_64__)
    if (!have_avx2()) return 0;
    // GEMM or GEMV for one token exactly when for all tokens; TILED and BLOCKS likewise (orders.c).
    int order = ck_sum_order(job, 0);
    ck_tile_fn f = ck_avx2_wide_tile_function(job->type, order, have_vnni());
    return f ? f : ck_avx2_wide_tile_function_k(job->type, order);
#else
    (void)job;
    return 0;
#endif
}


float ck_dot_f32(int n, const float *x, const float *y) {
#if defined(__x86_64__)
    if (have_avx2()) return ck_avx2_dot_f32(n, x, y);
#elif defined(__aarch64__)
    if (have_neon()) return ck_neon_dot_f32(n, x, y);
#endif
    float s = 0;
    for (int i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

void ck_axpy_f32(int n, float a, const float *x, float *y) {
#if defined(__x86_64__)
    if (have_avx2()) {
        ck_avx2_axpy_f32(n, a, x, y);
        return;
    }
#endif
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

float ck_dot_lanes(int n, const float *x, const float *y) {
#if defined(__x86_64__)
    if (have_avx2()) return ck_avx2_dot_lanes(n, x, y);
#endif
    return ck_dot_lanes_ref(n, x, y);
}

float ck_dot_quad(int n, const float *x, const float *y) {
#if defined(__x86_64__)
    if (have_avx2()) return ck_avx2_dot_quad(n, x, y);
#endif
    return ck_dot_quad_ref(n, x, y);
}

void ck_fma_axpy(int n, float a, const float *x, float *y) {
#if defined(__x86_64__)
    if (have_avx2()) {
        ck_avx2_axpy_f32(n, a, x, y);  // fused per element: the same bits as the reference
        return;
    }
#endif
    ck_fma_axpy_ref(n, a, x, y);
}

void ck_softmax(float *x, int n, int lead) {
#if defined(__x86_64__)
    if (have_avx2()) {
        ck_avx2_softmax(x, n, lead);
        return;
    }
#endif
    ck_softmax_ref(x, n, lead);
}

void ck_swiglu(float *gate, const float *up, int n) {
#if defined(__x86_64__)
    if (have_avx2()) {
        ck_avx2_swiglu(gate, up, n);
        return;
    }
#endif
    ck_swiglu_ref(gate, up, n);
}

void ck_rope(float *x, int heads, int head_dim, int rope_dims, int neox, const float *table) {
#if defined(__x86_64__)
    if (have_avx2()) {
        ck_fma_rope(x, heads, head_dim, rope_dims, neox, table);
        return;
    }
#endif
    ck_rope_ref(x, heads, head_dim, rope_dims, neox, table);
}
