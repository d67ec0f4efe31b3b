// Run-time CPU feature detection for kernel dispatch.
#include "ckernels.h"

uint32_t ck_cpu_features(void) {
    uint32_t features = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) features |= CK_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) features |= CK_CPU_FMA;
    if (__builtin_cpu_supports("f16c")) features |= CK_CPU_F16C;
    if (__builtin_cpu_supports("avx512f")) features |= CK_CPU_AVX512F;
#elif defined(__aarch64__)
    features |= CK_CPU_NEON;  // Advanced SIMD is mandatory on AArch64.
#endif
    return features;
}
