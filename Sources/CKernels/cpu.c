// Run-time CPU feature detection for kernel dispatch.
#include "ckernels.h"
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

uint32_t ck_cpu_features(void) {
    uint32_t features = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) features |= CK_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) features |= CK_CPU_FMA;
    if (__builtin_cpu_supports("f16c")) features |= CK_CPU_F16C;
    if (__builtin_cpu_supports("avx512f")) features |= CK_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512vl")) features |= CK_CPU_AVX512VL;
    if (__builtin_cpu_supports("avx512vnni")) features |= CK_CPU_AVX512VNNI;
    if (__builtin_cpu_supports("avx512bw")) features |= CK_CPU_AVX512BW;
#elif defined(__aarch64__)
    features |= CK_CPU_NEON;  // Advanced SIMD is mandatory on AArch64.
#if defined(__linux__)
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) features |= CK_CPU_DOTPROD;
#elif defined(__APPLE__)
    features |= CK_CPU_DOTPROD;  // every Apple arm64 core has it
#endif
#endif
    return features;
}
