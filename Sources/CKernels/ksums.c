// The exact integers of K-quant products (gemm.h, ckernels.h): each super-block's header (sub-block scales, the
// multipliers of the activation's block sums, d and dmin) as the references unpack it, for the wide tiles and
// the portable twin alike, and the twin's integer sums, from which orders.c forms every order's floats.
#include "ckernels.h"
#include "fp16.h"
#include "gemm.h"
#include "kquants.h"
#include "lowbit.h"
#include <string.h>

void ck_k_header(int type, const void *block, ck_k_header_row *row) {
    row->dmin = 0;
    switch (type) {
    case CK_TYPE_Q2_K: {
        const ck_block_q2_K *b = block;
        for (int k = 0; k < 16; k++) row->scales[k] = b->scales[k] & 0xF, row->pairs[k] = (int16_t)(b->scales[k] >> 4);
        row->d = CK_H2F(b->d), row->dmin = CK_H2F(b->dmin);
        break;
    }
    case CK_TYPE_Q3_K: {
        const ck_block_q3_K *b = block;
        int scales[16];
        ck_unpack_scales_q3_K(b->scales, scales);
        for (int k = 0; k < 16; k++) row->scales[k] = row->pairs[k] = (int16_t)scales[k];
        row->d = CK_H2F(b->d);
        break;
    }
    case CK_TYPE_IQ4_XS: {
        const ck_block_iq4_xs *b = block;
        int scales[8];
        ck_unpack_scales_iq4_xs(b, scales);
        for (int k = 0; k < 8; k++) row->scales[k] = row->pairs[2 * k] = row->pairs[2 * k + 1] = (int16_t)scales[k];
        row->d = CK_H2F(b->d);
        break;
    }
    case CK_TYPE_Q6_K: {
        const ck_block_q6_K *b = block;
        for (int k = 0; k < 16; k++) row->scales[k] = row->pairs[k] = b->scales[k];
        row->d = CK_H2F(b->d);
        break;
    }
    default: {
        const ck_block_q4_K *b = block;  // d, dmin and scales sit at the same offsets in Q5_K
        uint8_t scales[8], mins[8];
        ck_unpack_scales_k4(b->scales, scales, mins);
        for (int k = 0; k < 8; k++) row->scales[k] = scales[k], row->pairs[2 * k] = row->pairs[2 * k + 1] = mins[k];
        row->d = CK_H2F(b->d), row->dmin = CK_H2F(b->dmin);
        break;
    }
    }
}

/// One row's super-block for the K-quant twin: its unsigned codes (as the wide tiles multiply them: Q3_K's
/// +4, Q6_K's +32, IQ4_XS's levels +128), from the references' decoders, and its header.
static void unpack_k_ref(int type, const void *block, int codes[CK_QK_K], ck_k_header_row *header) {
    int8_t signed_codes[CK_QK_K];
    int scale16[16];
    switch (type) {
    case CK_TYPE_Q2_K:
        ck_codes_2bit(((const ck_block_q2_K *)block)->qs, signed_codes);
        for (int e = 0; e < CK_QK_K; e++) codes[e] = signed_codes[e];
        break;
    case CK_TYPE_Q3_K:
        ck_codes_q3_K(block, signed_codes);
        for (int e = 0; e < CK_QK_K; e++) codes[e] = signed_codes[e] + 4;
        break;
    case CK_TYPE_IQ4_XS:
        ck_levels_iq4_xs(block, signed_codes, scale16);
        for (int e = 0; e < CK_QK_K; e++) codes[e] = signed_codes[e] + 128;
        break;
    case CK_TYPE_Q6_K:
        ck_codes_q6_K(block, signed_codes);
        for (int e = 0; e < CK_QK_K; e++) codes[e] = signed_codes[e] + 32;
        break;
    default: {
        uint8_t unsigned_codes[CK_QK_K];
        ck_codes_k(type, block, unsigned_codes);
        for (int e = 0; e < CK_QK_K; e++) codes[e] = unsigned_codes[e];
        break;
    }
    }
    ck_k_header(type, block, header);
}

void ck_ksums_ref(int type, int n, const void *vx, const void *vy, int parts, int32_t *dot, int32_t *mins) {
    const char *row = vx;
    const ck_block_q8_K *a = vy;
    size_t block_bytes = ck_row_bytes(type, CK_QK_K);
    const int sub = ck_k_in_sixteens(type) ? 16 : 32, shift = ck_k_offset_shift(type);
    const int subs = CK_QK_K / sub, per_part = subs / parts, pairs_per_part = 16 / parts;
    for (int i = 0; i < n / CK_QK_K; i++) {
        int codes[CK_QK_K];
        ck_k_header_row h;
        unpack_k_ref(type, row + (size_t)i * block_bytes, codes, &h);
        for (int part = 0; part < parts; part++) {
            int32_t d = 0, m = 0;
            for (int k = part * per_part; k < (part + 1) * per_part; k++) {
                int32_t sum = 0;
                for (int e = sub * k; e < sub * (k + 1); e++) sum += codes[e] * a[i].qs[e];
                d += h.scales[k] * sum;
            }
            for (int k = part * pairs_per_part; k < (part + 1) * pairs_per_part; k++) m += h.pairs[k] * a[i].bsums[k];
            // Q3_K, Q6_K and IQ4_XS: the pairs are the scales, whose sums times the codes' offset come off.
            if (shift) d -= m * (1 << shift), m = 0;
            dot[i * parts + part] = d;
            mins[i * parts + part] = m;
        }
    }
}
