// CKernels: Enclave's own SIMD kernels for the inference engine.
//
// Every fast kernel here has a portable scalar twin; the SIMD variant (AVX2/FMA on x86-64,
// NEON on arm64) is chosen once at run time from the CPU's features, so one binary runs on
// any x86-64 or arm64 machine. Only the Inference target imports this module.
#ifndef ENCLAVE_CKERNELS_H
#define ENCLAVE_CKERNELS_H

#include <stdint.h>
#include <stddef.h>

/// CPU features that select kernel variants, as bits of ck_cpu_features().
enum {
    CK_CPU_AVX2 = 1u << 0,
    CK_CPU_FMA = 1u << 1,
    CK_CPU_F16C = 1u << 2,
    CK_CPU_NEON = 1u << 3,
    CK_CPU_AVX512F = 1u << 4,
};

/// The SIMD features of the running CPU (a bit set of CK_CPU_*), read once with cpuid.
uint32_t ck_cpu_features(void);

#endif
