// Private: the f16 → f32 table (fp16.c) read inline by the fast kernels. One load per half beats the
// scalar F16C conversion, which costs a shuffle and a conversion micro-op per value and, on AMD Zen
// cores, made the one-token Q4_1 product run at half the memory bandwidth it reaches with the table.
#ifndef ENCLAVE_CKERNELS_FP16_H
#define ENCLAVE_CKERNELS_FP16_H
#include <stdint.h>

/// ck_fp16_table[h] is the float value of the half with bits `h`, filled before main by fp16.c.
extern float ck_fp16_table[65536];

#define CK_H2F(h) (ck_fp16_table[(uint16_t)(h)])

#endif
