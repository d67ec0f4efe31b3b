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

/// How a K-quant's super-block sums: in sub-blocks of 16 elements (Q2_K, Q3_K, Q6_K), else of 32; and the
/// offset of its stored codes as a shift (Q3_K: 4, Q6_K: 32, IQ4_XS: 128; 0 where mins take its place).
static inline int ck_k_in_sixteens(int type) {
    return type != CK_TYPE_Q4_K && type != CK_TYPE_Q5_K && type != CK_TYPE_IQ4_XS;
}
static inline int ck_k_offset_shift(int type) {
    return type == CK_TYPE_Q6_K ? 5 : type == CK_TYPE_Q3_K ? 2 : type == CK_TYPE_IQ4_XS ? 7 : 0;
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

/// Tiles of at most this many tokens (a decoding step over several sessions) are bound by memory, not compute: they
/// ask for the next tile's blocks as they go (ck_prefetch_rows_below, prefetch.h). Larger ones, a prompt's, leave it
/// to the hardware; the requests cost them about 1% (Gemma 3 270M pp512).
#define CK_GEMM_FETCH_TOKENS 8
/// The bytes of each `block_bytes`-byte block a tile of rn tokens prefetches (ck_prefetch_rows_below): all of
/// them up to CK_GEMM_FETCH_TOKENS tokens, none beyond.
static inline int ck_tile_fetch(int rn, size_t block_bytes) {
    return rn <= CK_GEMM_FETCH_TOKENS ? (int)block_bytes : 0;
}

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

/// One K-quant super-block's header, as the references unpack it (ksums.c): its sub-block scales (8 of 32
/// elements for Q4_K/Q5_K/IQ4_XS, 16 of 16 for the others), the multipliers of the activation's block sums 0..15
/// (the mins; Q3_K/Q6_K/IQ4_XS: the scales, for the codes' offset), d and dmin (0 without mins).
typedef struct {
    int32_t scales[16];
    int16_t pairs[16];
    float d, dmin;
} ck_k_header_row;
/// Fills `row` from one super-block of `type`: for the wide tiles and the portable twin alike.
void ck_k_header(int type, const void *block, ck_k_header_row *row);

/// Rows a one-token kernel of several rows takes together (ck_dot_rows_fn), and the longest rows it takes: it
/// spreads the per-row call and reduction, which weigh on short rows (SmolLM2's 576 columns: Q4_1 one-token
/// products 18 -> 21 GB/s on 2 threads, Zen 2), while from about 1,536 columns four streams in step read memory no
/// faster, or slower (Q5_0 at 2,048: 19.4 -> 17.6 GB/s), than one row's sequential stream.
#define CK_DOT_ROWS 4
#define CK_DOT_ROWS_MAX_COLUMNS 768
/// The products of CK_DOT_ROWS consecutive rows (row_bytes apart) with one activation row, into out[0..CK_DOT_ROWS),
/// each bit for bit the type's dot kernel's (ck_dot_function), for the types whose one-row kernel waits on its
/// accumulator's latency.
typedef void (*ck_dot_rows_fn)(int n, const void *x, size_t row_bytes, const void *y, float *out);
/// The kernel of CK_DOT_ROWS rows for `type` on this CPU (Q4_0, Q4_1, Q5_0 with AVX2), or NULL.
ck_dot_rows_fn ck_dot_rows_function(int type);
#if defined(__x86_64__)
/// quants_avx2.c's, with VNNI when `vnni`, or NULL.
ck_dot_rows_fn ck_avx2_dot_rows_function(int type, int vnni);
#endif

/// One row's product in the BLOCKS order (Q4_0, IQ4_NL) where this CPU has a kernel for it and no wide tile
/// (NEON; quants_neon.c), bit for bit as the portable twin (ck_ordered_product); else NULL.
ck_dot_fn ck_blocks_function(int type);

/// The tile kernel for `type` on this CPU, or NULL where there is none (no AVX2, NEON, forced scalar):
/// then the product takes the per-row dot kernel, which gives the same bits.
ck_tile_fn ck_tile_function(int type);

#endif
