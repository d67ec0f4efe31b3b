// The f32 steps of the forward pass in llama.cpp's order of operations (see lanes.h): portable
// references, and on x86-64 rope compiled with FMA so each fmaf is one instruction.
#include "ckernels.h"
#include "lanes.h"

float ck_dot_lanes_ref(int n, const float *x, const float *y) { return ck_dot_lanes_body(n, x, y); }
float ck_dot_quad_ref(int n, const float *x, const float *y) { return ck_dot_quad_body(n, x, y); }
float ck_expf_ref(float x) { return ck_expf_body(x); }

void ck_rope_ref(float *x, int heads, int head_dim, int rope_dims, int neox, const float *table) {
    ck_rope_body(x, heads, head_dim, rope_dims, neox, table);
}

void ck_fma_axpy_ref(int n, float a, const float *x, float *y) { ck_fma_axpy_body(n, a, x, y); }

void ck_swiglu_ref(float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + ck_expf_body(0.0f - gate[i])) * up[i];
}

void ck_softmax_ref(float *x, int n, int lead) {
    float max = -INFINITY;
    for (int i = 0; i < n; i++) max = fmaxf(max, x[i]);
    double sum = 0;
    // Eight at a time as llama.cpp's row of every cached position holds them: the first group starts `lead`
    // masked positions before x, the last is padded (its rows are padded to 256), and e^-inf = 0 fills both.
    for (int i = -lead; i < n; i += 8) {
        float l[8];
        for (int j = 0; j < 8; j++) l[j] = i + j >= 0 && i + j < n ? ck_expf_body(x[i + j] - max) : 0.0f;
        for (int j = 0; j < 8; j++) {
            if (i + j >= 0 && i + j < n) x[i + j] = l[j];
        }
        sum += (double)ck_lanes_sum(l);
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

#if defined(__x86_64__)
#define FMA __attribute__((target("avx2,fma")))
FMA void ck_fma_rope(float *x, int heads, int head_dim, int rope_dims, int neox, const float *table) {
    ck_rope_body(x, heads, head_dim, rope_dims, neox, table);
}
#endif
