// Private: the tiles of a batched product (ck_matvec over many tokens). A tile multiplies up to four weight rows
// (a wide tile eight, a row in each lane) with up to 64 tokens' activations: each row's block is unpacked once
// and used for every token of the tile, and each token's block once for every row, where the per-row dot
// kernel unpacks a row again for each token. Every output keeps the dot kernel's own float accumulation (the
// same lanes, blocks in the same order, the same final reduction), and the integer sums inside a block are
// exact whatever their order, so a tile's outputs are bit-equal to ck_dot_function(type) for each row and
// token: a prompt and a decoding step compute a row the same way.
#ifndef ENCLAVE_CKERNELS_GEMM_H
#define ENCLAVE_CKERNELS_GEMM_H
#include "ckernels.h"

/// Whether `type` is a K-quant of super-blocks of 256 (Q2_K..Q6_K, IQ4_XS), multiplied with Q8_K activations.
static inline int ck_is_k_quant(int type) {
    return type == CK_TYPE_Q2_K || type == CK_TYPE_Q3_K || type == CK_TYPE_Q4_K || type == CK_TYPE_Q5_K ||
           type == CK_TYPE_Q6_K || type == CK_TYPE_IQ4_XS;
}

/// One super-block's step of a K-quant product in `order` (TILED, GEMV or GEMM, ck_ordered_product): its exact
/// integers (`parts` of each: 4 for GEMM, else 1), the weights' d and dmin and the activation's d, into the
/// sums acc and accm (the output is acc − accm). Inlined where it is used, so fmaf is the CPU's own there.
static inline __attribute__((always_inline)) void ck_order_step(int order, const int32_t *dot, const int32_t *mins,
                                                                float d, float dmin, float ad, float *acc,
                                                                float *accm) {
    if (order == CK_ORDER_TILED) {
        *acc = __builtin_fmaf(__builtin_fmaf(-dmin, (float)mins[0], d * (float)dot[0]), ad, *acc);
        return;
    }
    float dd = d * ad, dm = dmin * ad;
    for (int part = 0; part < (order == CK_ORDER_GEMM ? 4 : 1); part++) {
        *acc = __builtin_fmaf((float)dot[part], dd, *acc);
        *accm = __builtin_fmaf((float)mins[part], dm, *accm);
    }
}

/// The largest tile: rows × tokens. A block of four rows stays in registers while it meets every token's
/// block; the tokens' accumulators (4 × 64 vectors, 8 KB) stay in L1. 64 tokens of activations (44 KB at
/// 640 columns in Q8_0, 75 KB at 2,048 in Q8_K) stay in L2 while a thread's rows stream past them.
#define CK_GEMM_ROWS 4
#define CK_GEMM_TOKENS 64

/// Writes out[t][r] (+ bias[r]) for rows r0..<r0 + rm and tokens t0..<t0 + rn of `job`, with
/// 1 ≤ rm ≤ CK_GEMM_ROWS and 1 ≤ rn ≤ CK_GEMM_TOKENS.
typedef void (*ck_tile_fn)(const ck_matvec_job *job, int r0, int rm, int t0, int rn);

/// The rows of a wide tile (ck_wide_tile_function), whose float sums hold a row in each lane: a row's sums are
/// those of the four-row tiles and dot kernels, or of its order (ck_sum_order), lane for lane and step for
/// step, only eight rows take each step at once; the activations' bytes are broadcast to every row. rm is
/// always CK_GEMM_WIDE_ROWS.
#define CK_GEMM_WIDE_ROWS 8
/// The wide tile for `job`, or NULL: Q4_0, Q5_0 and Q8_0 summed as their dot kernels; Q4_0 and IQ4_NL (BLOCKS)
/// and Q4_K (GEMM, GEMV) in llama.cpp's repacked orders; Q2_K..Q6_K and IQ4_XS in its tiled one (TILED). Each
/// of these orders holds for every token of a product or none.
ck_tile_fn ck_wide_tile_function(const ck_matvec_job *job);

/// Defines tile `name` (a ck_tile_fn with the attributes `target`) as `CALL(RM)` specialised for each number
/// of rows, so RM is a constant in every copy; CALL sees the parameters job, r0, t0 and rn.
#define CK_TILE_SHAPES(name, target, CALL)                                                                    \
    target static void name(const ck_matvec_job *job, int r0, int rm, int t0, int rn) {                        \
        switch (rm) {                                                                                          \
        case 4: CALL(4); break;                                                                                \
        case 3: CALL(3); break;                                                                                \
        case 2: CALL(2); break;                                                                                \
        default: CALL(1); break;                                                                               \
        }                                                                                                      \
    }

#if defined(__x86_64__)
/// The AVX2 tiles for Q4_0, Q4_1, Q5_0 and Q8_0 (quants_avx2.c), or NULL; with `vnni`, the same tiles
/// with the 256-bit VNNI instruction (AVX512-VL and VNNI) in place of maddubs and madd.
ck_tile_fn ck_avx2_tile_function(int type, int vnni);
/// The AVX2 wide tiles for Q4_0, Q5_0 and Q8_0 summed as their dot kernels, and for Q4_0 and IQ4_NL in the
/// BLOCKS `order` (quants_avx2.c; with `vnni` as above), or NULL.
ck_tile_fn ck_avx2_wide_tile_function(int type, int order, int vnni);
/// The AVX2 tiles for Q4_K, Q5_K and Q6_K (kquants_avx2.c), or NULL.
ck_tile_fn ck_avx2_tile_function_k(int type);
/// The AVX2 wide tile for `type` in `order` (ck_sum_order: Q4_K in GEMM and GEMV, Q2_K..Q6_K and IQ4_XS in
/// TILED), or NULL.
ck_tile_fn ck_avx2_wide_tile_function_k(int type, int order);
#endif

/// A panel of ck_panel_matmul: CK_PANEL_ROWS weight rows, block by block. Each block holds the rows' codes as
/// unsigned bytes (signed codes + 128; Q4_1/Q5_1's as they are) in eight groups of four elements, each group
/// interleaved over the rows (group g: row 0's elements 4g..4g+3, then row 1's, ...), then the rows' scales
/// and (Q4_1/Q5_1) mins as floats; rows past the matrix's end are zero codes with scale 0.
#define CK_PANEL_ROWS 16
#define CK_PANEL_BLOCK_BYTES (CK_PANEL_ROWS * CK_QK + 2 * CK_PANEL_ROWS * 4)
/// Tokens whose accumulators stay in registers while a panel's block meets them.
#define CK_PANEL_TOKENS 8

/// A K-quant panel (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS) per super-block of 256: the rows' unsigned codes
/// (Q3_K's and Q6_K's as stored, offset by 4 and 32; IQ4_XS's levels + 128) in eight runs of 32 elements,
/// each in eight groups of four interleaved over the rows as above (CK_PANEL_K_CODES bytes), then int32
/// vectors of sixteen rows: the sub-block scales (8 of 32 elements for Q4_K/Q5_K/IQ4_XS, 16 of 16 for the
/// others), and pairs of int16 that multiply a pair of Q8_K block sums (the mins; Q3_K/Q6_K/IQ4_XS: the
/// scales, for the offset), then the rows' d and dmin as floats.
#define CK_PANEL_K_CODES (CK_PANEL_ROWS * 256)
#define CK_PANEL_K_SCALES CK_PANEL_K_CODES
#define CK_PANEL_K_PAIRS(scales) (CK_PANEL_K_SCALES + (scales) * CK_PANEL_ROWS * 4)
#define CK_PANEL_K_D(scales) (CK_PANEL_K_PAIRS(scales) + 8 * CK_PANEL_ROWS * 4)
#define CK_PANEL_K_BYTES (CK_PANEL_K_D(16) + 2 * CK_PANEL_ROWS * 4)

/// One row's super-block, unpacked for a K-quant panel: its codes in runs of 32 elements, its sub-block
/// scales, the multipliers of its Q8_K block sums 0..15, d and dmin.
typedef struct {
    uint8_t runs[8][32];
    int32_t scales[16];
    int16_t pairs[16];
    float d, dmin;
} ck_panel_k_row;
/// Writes `row` as row r of the panel's super-block (`scales` of them: 8 or 16), in the layout above.
void ck_store_panel_k_row(uint8_t *superblock, int r, int scales, const ck_panel_k_row *row);
/// Fills row's scales, pairs, d and dmin from one super-block of `type` (panels.c), as the references unpack
/// them: for the AVX2 packers and the portable twin alike.
void ck_panel_k_header(int type, const void *block, ck_panel_k_row *row);

#if defined(__x86_64__)
/// Writes the panel of `rm` ≤ CK_PANEL_ROWS rows of Q4_K, Q5_K or Q6_K (kquants_avx2.c), or of Q2_K, Q3_K or
/// IQ4_XS (lowbit_avx2.c), with AVX2.
void ck_avx2_pack_panel_k(int type, const void *rows, size_t row_bytes, int rm, int superblocks, uint8_t *panel);
void ck_avx2_pack_panel_low(int type, const void *rows, size_t row_bytes, int rm, int superblocks, uint8_t *panel);
/// Writes the panel of `rm` ≤ CK_PANEL_ROWS rows of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 or IQ4_NL (`row_bytes` apart)
/// with AVX2.
void ck_avx2_pack_panel(int type, const void *rows, size_t row_bytes, int rm, int blocks, uint8_t *panel);
/// The 512-bit VNNI product (panels.c), for ck_panel_available's types.
void ck_avx512_panel_matmul(ck_pool *pool, const ck_panel_job *job);
#endif

/// The tile kernel for `type` on this CPU, or NULL where there is none (no AVX2, NEON, forced scalar):
/// then the product takes the per-row dot kernel, which gives the same bits.
ck_tile_fn ck_tile_function(int type);

#endif
