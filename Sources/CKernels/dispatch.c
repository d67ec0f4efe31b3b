// Run-time kernel choice: the AVX2/FMA variants when the CPU has them (and tests have not forced the
// scalar path), else the portable scalar references. Decided per call from one cached flag.
#include "ckernels.h"
#include <stdatomic.h>

#if defined(__x86_64__)
float ck_avx2_vec_dot(int type, int n, const void *x, const void *y);
float ck_avx2_dot_f32(int n, const float *x, const float *y);
void ck_avx2_quantize_row_q8(int with_sum, const float *x, void *y, int n);
void ck_avx2_axpy_f32(int n, float a, const float *x, float *y);
int ck_avx2_dequantize_row(int type, const void *x, float *y, int n);
ck_dot_fn ck_avx2_dot_function(int type);
#endif

static _Atomic int use_avx2 = -1;  // -1: not yet decided
static _Atomic int forced_scalar = 0;

static int have_avx2(void) {
    if (atomic_load_explicit(&forced_scalar, memory_order_relaxed)) return 0;
    int v = atomic_load_explicit(&use_avx2, memory_order_relaxed);
    if (v < 0) {
        uint32_t f = ck_cpu_features();
        v = (f & CK_CPU_AVX2) && (f & CK_CPU_FMA) && (f & CK_CPU_F16C);
        atomic_store_explicit(&use_avx2, v, memory_order_relaxed);
    }
    return v;
}

void ck_force_scalar(int on) { atomic_store(&forced_scalar, on ? 1 : 0); }

const char *ck_kernel_variant(void) { return have_avx2() ? "avx2" : "scalar"; }

void ck_quantize_row(int activation_type, const float *x, void *y, int n) {
#if defined(__x86_64__)
    if (have_avx2() && (activation_type == CK_TYPE_Q8_0 || activation_type == CK_TYPE_Q8_1)) {
        ck_avx2_quantize_row_q8(activation_type == CK_TYPE_Q8_1, x, y, n);
        return;
    }
#endif
    ck_quantize_row_ref(activation_type, x, y, n);
}

void ck_dequantize_row(int type, const void *x, float *y, int n) {
#if defined(__x86_64__)
    if (have_avx2() && ck_avx2_dequantize_row(type, x, y, n)) return;
#endif
    ck_dequantize_row_ref(type, x, y, n);
}

float ck_vec_dot(int type, int n, const void *x, const void *y) {
#if defined(__x86_64__)
    if (have_avx2()) return ck_avx2_vec_dot(type, n, x, y);
#endif
    return ck_vec_dot_ref(type, n, x, y);
}

#define REF_DOT(name, t) static float name(int n, const void *x, const void *y) { return ck_vec_dot_ref(t, n, x, y); }
REF_DOT(ref_f32, CK_TYPE_F32)
REF_DOT(ref_f16, CK_TYPE_F16)
REF_DOT(ref_bf16, CK_TYPE_BF16)
REF_DOT(ref_q4_0, CK_TYPE_Q4_0)
REF_DOT(ref_q4_1, CK_TYPE_Q4_1)
REF_DOT(ref_q5_0, CK_TYPE_Q5_0)
REF_DOT(ref_q5_1, CK_TYPE_Q5_1)
REF_DOT(ref_q8_0, CK_TYPE_Q8_0)

ck_dot_fn ck_dot_function(int type) {
#if defined(__x86_64__)
    if (have_avx2()) {
        ck_dot_fn f = ck_avx2_dot_function(type);
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
    default: return ref_q8_0;
    }
}

float ck_dot_f32(int n, const float *x, const float *y) {
#if defined(__x86_64__)
    if (have_avx2()) return ck_avx2_dot_f32(n, x, y);
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
