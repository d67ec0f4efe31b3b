// Private: the f16 → f32 table (fp16.c) read inline by the fast kernels, and the F16C conversion of two
// halves at once. One load per half beats a scalar F16C conversion of that half, which costs a shuffle and a
// conversion micro-op per value and, on AMD Zen cores, made the one-token Q4_1 product run at half the memory
// bandwidth it reaches with the table. Which of the table and ck_h2f_pair is faster depends on what bounds
// the kernel: on Zen 4 one conversion of two halves beats two table reads; on AVX2-only cores such as Zen 2,
// whose one-token kernels are bound by vector ALU operations, a broadcasting load from the table, which needs
// none, wins (kquants_avx2.h's scale_from_table and scale_f16c).
#ifndef ENCLAVE_CKERNELS_FP16_H
#define ENCLAVE_CKERNELS_FP16_H
#include <stdint.h>

/// ck_fp16_table[h] is the float value of the half with bits `h`, filled before main by fp16.c.
extern float ck_fp16_table[65536];

#define CK_H2F(h) (ck_fp16_table[(uint16_t)(h)])

#if defined(__x86_64__)
#include <immintrin.h>
/// The two halves of `pair` (the low 16 bits first) as floats in lanes 0 and 1, for a block's two scales side
/// by side (a weight's d and m, an activation's d and s) or joined into one word (the weight's and the
/// activation's d). One-token products streamed from memory, one thread, per 32-element block: Q4_1 1.4-2.0
/// ns against 2.3-2.6 with the table, Q8_0 1.9-2.1 against 2.3-2.5; two conversions of one half each were
/// slower than the table (2.6-2.8).
__attribute__((target("f16c"))) static inline __m128 ck_h2f_pair(uint32_t pair) {
    return _mm_cvtph_ps(_mm_cvtsi32_si128((int)pair));
}
#endif

#endif
