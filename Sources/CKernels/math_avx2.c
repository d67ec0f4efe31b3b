// AVX2/FMA twins of ggml_math.c's softmax and SwiGLU: eight exponentials at once with the same
// polynomial and the same fused steps as ck_expf_body, so results are bit-identical to the references.
#include "ckernels.h"
#include "lanes_avx2.h"
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))

/// Eight lanes of ck_expf_body (lanes.h documents the method).
AVX2 static inline __m256 expf8(__m256 x) {
    const __m256 shift = _mm256_set1_ps(0x1.8p23f);
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
    __m256 n = _mm256_sub_ps(z, shift);
    __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
    __m256 u = _mm256_mul_ps(b, b);
    __m256 odd = _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f));
    __m256 even = _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f));
    __m256 j = _mm256_fmadd_ps(_mm256_fmadd_ps(odd, u, even), u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    __m256 normal = _mm256_fmadd_ps(j, k, k);
    __m256 abs_n = _mm256_and_ps(n, abs_mask);
    __m256 big = _mm256_cmp_ps(abs_n, _mm256_set1_ps(126), _CMP_GT_OQ);
    if (!_mm256_movemask_ps(big)) return normal;
    __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                 _mm256_set1_epi32((int)0x82000000u));
    __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    __m256 huge = _mm256_cmp_ps(abs_n, _mm256_set1_ps(192), _CMP_GT_OQ);
    __m256 scaled = _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1);
    __m256 r = _mm256_blendv_ps(normal, scaled, big);
    return _mm256_blendv_ps(r, _mm256_mul_ps(s1, s1), huge);
}

AVX2 float ck_avx2_dot_lanes(int n, const float *x, const float *y) {
    if (n % 8) return ck_dot_lanes_ref(n, x, y);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc);
    return ck_lanes_sum8(acc);
}

AVX2 float ck_avx2_dot_quad(int n, const float *x, const float *y) {
    return n % 32 ? ck_dot_quad_ref(n, x, y) : ck_quad_dot(n, x, y);
}

AVX2 void ck_avx2_softmax(float *x, int n, int lead) {
    float max = -INFINITY;
    for (int i = 0; i < n; i++) max = fmaxf(max, x[i]);
    __m256 vmax = _mm256_set1_ps(max);
    double sum = 0;
    for (int i = -lead; i < n; i += 8) {
        if (i >= 0 && i + 8 <= n) {
            __m256 v = expf8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
            _mm256_storeu_ps(x + i, v);
            sum += (double)ck_lanes_sum8(v);
            continue;
        }
        // A group that starts before x (`lead` masked positions) or runs past its end: -inf (e^-inf = 0)
        // in the positions outside, as in llama.cpp's row.
        float part[8];
        for (int j = 0; j < 8; j++) part[j] = i + j >= 0 && i + j < n ? x[i + j] : -INFINITY;
        __m256 v = expf8(_mm256_sub_ps(_mm256_loadu_ps(part), vmax));
        _mm256_storeu_ps(part, v);
        for (int j = 0; j < 8; j++) {
            if (i + j >= 0 && i + j < n) x[i + j] = part[j];
        }
        sum += (double)ck_lanes_sum8(v);
    }
    __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= (float)(1.0 / sum);
}

AVX2 void ck_avx2_swiglu(float *gate, const float *up, int n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, expf8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    if (i < n) ck_swiglu_ref(gate + i, up + i, n - i);
}
#endif
