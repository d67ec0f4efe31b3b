// Private: the 32-element references' (quants_ref.c) one block's codes, decoded once for the dequantization,
// the dot product and the BLOCKS order's twin (orders.c) alike.
#ifndef ENCLAVE_CKERNELS_QUANTS_H
#define ENCLAVE_CKERNELS_QUANTS_H

#include "ckernels.h"

/// Block i of a Q4_0, Q5_0, Q8_0, Q8_1 or IQ4_NL row as 32 signed codes in element order (IQ4_NL: its
/// levels), or of a Q4_1 or Q5_1 row as 32 unsigned codes and its min (`m`, left alone for the others);
/// returns the block's scale.
float ck_block_codes_ref(int type, const void *row, int i, int codes[CK_QK], float *m);

#endif
