// CKernels: Enclave's own SIMD kernels for the inference engine.
//
// Every fast kernel here has a portable scalar twin; the SIMD variant (AVX2/FMA on x86-64) is chosen
// once at run time from the CPU's features, so one binary runs on any x86-64 or arm64 machine (NEON on
// arm64, with SDOT when the CPU has dotprod). Only the Inference target imports this module.
//
// Quantized blocks follow ggml's layouts bit for bit (ggml-common.h), so GGUF tensor bytes are used
// in place. A weight row of `n` elements is n/32 consecutive blocks.
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
    CK_CPU_DOTPROD = 1u << 5,  // Armv8.2 SDOT/UDOT
    CK_CPU_AVX512VL = 1u << 6,
    CK_CPU_AVX512VNNI = 1u << 7,
    CK_CPU_AVX512BW = 1u << 8,
};

/// The SIMD features of the running CPU (a bit set of CK_CPU_*): cpuid on x86-64, HWCAP on arm64.
uint32_t ck_cpu_features(void);

// MARK: Block layouts (ggml-common.h). `d`, `m`, `s` are IEEE half floats stored as uint16_t.

#define CK_QK 32

typedef struct { uint16_t d; uint8_t qs[CK_QK / 2]; } ck_block_q4_0;                 // 18 bytes
typedef struct { uint16_t d; uint16_t m; uint8_t qs[CK_QK / 2]; } ck_block_q4_1;     // 20 bytes
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[CK_QK / 2]; } ck_block_q5_0;  // 22 bytes
typedef struct { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[CK_QK / 2]; } ck_block_q5_1;  // 24
typedef struct { uint16_t d; int8_t qs[CK_QK]; } ck_block_q8_0;                      // 34 bytes
typedef struct { uint16_t d; uint16_t s; int8_t qs[CK_QK]; } ck_block_q8_1;          // 36 bytes; s = d * sum(qs)

// K-quants: super-blocks of 256 elements in 8 (Q4_K, Q5_K) or 16 (Q6_K) sub-blocks with their own
// scales. Q4_K/Q5_K pack eight 6-bit scales and eight 6-bit mins into `scales[12]`; Q8_K is the
// activation format their dot products take (an f32 scale and the sums of each 16 codes).
#define CK_QK_K 256

typedef struct { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qs[CK_QK_K / 2]; } ck_block_q4_K;  // 144
typedef struct {
    uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qh[CK_QK_K / 8]; uint8_t qs[CK_QK_K / 2];
} ck_block_q5_K;  // 176 bytes
typedef struct {
    uint8_t ql[CK_QK_K / 2]; uint8_t qh[CK_QK_K / 4]; int8_t scales[CK_QK_K / 16]; uint16_t d;
} ck_block_q6_K;  // 210 bytes
typedef struct { float d; int8_t qs[CK_QK_K]; int16_t bsums[CK_QK_K / 16]; } ck_block_q8_K;  // 292 bytes

// The low-bit K-quants: sixteen 16-element sub-blocks, 2-bit codes. Q2_K packs a 4-bit scale and a 4-bit
// min per sub-block into each `scales` byte; Q3_K adds a high bit per element (`hmask`) and packs sixteen
// 6-bit signed scales (stored +32) into `scales[12]`.
typedef struct {
    uint8_t scales[CK_QK_K / 16]; uint8_t qs[CK_QK_K / 4]; uint16_t d; uint16_t dmin;
} ck_block_q2_K;  // 84 bytes
typedef struct {
    uint8_t hmask[CK_QK_K / 8]; uint8_t qs[CK_QK_K / 4]; uint8_t scales[12]; uint16_t d;
} ck_block_q3_K;  // 110 bytes
// The non-linear 4-bit types: each nibble indexes a fixed table of sixteen int8 levels (ck_iq4_levels).
// IQ4_NL is one 32-element block with one scale; IQ4_XS a super-block of eight 32-element sub-blocks with
// 6-bit signed scales (stored +32): low nibbles in `scales_l`, top two bits in `scales_h`.
typedef struct { uint16_t d; uint8_t qs[CK_QK / 2]; } ck_block_iq4_nl;  // 18 bytes
typedef struct {
    uint16_t d; uint16_t scales_h; uint8_t scales_l[CK_QK_K / 64]; uint8_t qs[CK_QK_K / 2];
} ck_block_iq4_xs;  // 136 bytes

/// ggml type ids the kernels understand (same numbers as GGMLType).
enum {
    CK_TYPE_F32 = 0, CK_TYPE_F16 = 1, CK_TYPE_Q4_0 = 2, CK_TYPE_Q4_1 = 3, CK_TYPE_Q5_0 = 6,
    CK_TYPE_Q5_1 = 7, CK_TYPE_Q8_0 = 8, CK_TYPE_Q8_1 = 9, CK_TYPE_Q4_K = 12, CK_TYPE_Q5_K = 13,
    CK_TYPE_Q6_K = 14, CK_TYPE_Q8_K = 15, CK_TYPE_BF16 = 30,
    CK_TYPE_Q2_K = 10, CK_TYPE_Q3_K = 11, CK_TYPE_IQ4_NL = 20, CK_TYPE_IQ4_XS = 23,
};

// MARK: Half and bfloat16 conversion.

float ck_fp16_to_fp32(uint16_t h);
uint16_t ck_fp32_to_fp16(float f);
float ck_bf16_to_fp32(uint16_t h);
uint16_t ck_fp32_to_bf16(float f);

// MARK: Scalar references (the twins every fast kernel is tested against).

/// Quantizes `n` floats (a multiple of 32) to Q8_0 / Q8_1 blocks, as ggml's *_ref functions do.
void ck_quantize_row_q8_0_ref(const float *x, void *y, int n);
void ck_quantize_row_q8_1_ref(const float *x, void *y, int n);
/// Quantizes `n` floats (a multiple of 256) to Q8_K as llama.cpp does for every CPU (quantize_row_q8_K_ref).
void ck_quantize_row_q8_K_ref(const float *x, void *y, int n);
/// Quantizes to Q4_0/Q4_1/Q5_0/Q5_1 (used by tests to build weights), or to the activation formats.
void ck_quantize_row_ref(int type, const float *x, void *y, int n);
/// Expands a row of `n` elements of `type` to floats.
void ck_dequantize_row_ref(int type, const void *x, float *y, int n);
/// Dot product of a weight row of `type` with activations in the matching format
/// (ck_activation_type(type)): Q8_0 for q4_0/q5_0/q8_0/iq4_nl, Q8_1 for q4_1/q5_1, Q8_K for the K-quants and iq4_xs,
/// f32 for f32/f16/bf16.
float ck_vec_dot_ref(int type, int n, const void *x, const void *y);
/// The K-quant references (kquants_ref.c), reached through the two functions above.
void ck_dequantize_row_k_ref(int type, const void *x, float *y, int n);
float ck_vec_dot_k_ref(int type, int n, const void *x, const void *y);
/// The Q2_K, Q3_K, IQ4_NL and IQ4_XS references (lowbit_ref.c), reached the same way.
void ck_dequantize_row_low_ref(int type, const void *x, float *y, int n);
float ck_vec_dot_low_ref(int type, int n, const void *x, const void *y);

/// The activation format a weight type's dot product expects (CK_TYPE_Q8_0, Q8_1, Q8_K or F32).
int ck_activation_type(int weight_type);
/// Bytes of one row of `n` elements in `type`.
size_t ck_row_bytes(int type, int n);

// MARK: Dispatched kernels (fastest variant for this CPU).

void ck_quantize_row(int activation_type, const float *x, void *y, int n);
void ck_dequantize_row(int type, const void *x, float *y, int n);
float ck_vec_dot(int type, int n, const void *x, const void *y);
float ck_dot_f32(int n, const float *x, const float *y);
/// A dot kernel for one weight type, resolved once (for loops over many rows).
typedef float (*ck_dot_fn)(int n, const void *x, const void *y);
ck_dot_fn ck_dot_function(int type);
/// y += a * x
void ck_axpy_f32(int n, float a, const float *x, float *y);
/// The name of the variant in use: "avx2", "neon-dotprod", "neon" or "scalar".
const char *ck_kernel_variant(void);
/// Forces the scalar variant (tests compare both); pass 0 to restore automatic choice.
void ck_force_scalar(int on);
/// Keeps the kernels to AVX2 where the CPU also has VNNI (tests check both); pass 0 to restore.
void ck_force_no_vnni(int on);

// MARK: Small ops (f32), in llama.cpp's order of operations (lanes.h explains why).

/// out = x / rms(x) * w (f32 squares summed in double, as ggml does).
void ck_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
/// In place softmax over n values (ggml's expf approximation, sums of eight in double). The groups of eight
/// are those of llama.cpp's row of cached positions: the first starts `lead` (0..7) masked positions before x.
void ck_softmax(float *x, int n, int lead);
/// Rounds each value to the nearest IEEE half (llama.cpp keeps its KV cache in f16).
void ck_round_f16(float *x, int n);
/// gate = silu(gate) * up, with ggml's expf approximation.
void ck_swiglu(float *gate, const float *up, int n);
/// gate = gelu(gate) * up with GELU's tanh form, as ggml's CPU backend computes it: inside (-10, 10) the
/// input is rounded to f16 and the result read as f16 (its lookup table), outside it is 0 or x.
void ck_geglu(float *gate, const float *up, int n);
/// x · y accumulated in eight FMA lanes (element i in lane i % 8), lanes summed pairwise (tinyBLAS).
float ck_dot_lanes(int n, const float *x, const float *y);
/// x · y as ggml_vec_dot_f16 sums it: 32 FMA lanes (element i in lane i % 32), reduced as it does.
float ck_dot_quad(int n, const float *x, const float *y);
/// y = fma(a, x, y) element-wise.
void ck_fma_axpy(int n, float a, const float *x, float *y);
/// Rotary embedding of `heads` vectors of `head_dim` floats by the cos/sin pairs in `table`
/// (rope_dims / 2 pairs): adjacent pairs, or halves when `neox` is non-zero.
void ck_rope(float *x, int heads, int head_dim, int rope_dims, int neox, const float *table);
/// The portable references of the above (tests compare the dispatched variants against them).
float ck_dot_lanes_ref(int n, const float *x, const float *y);
float ck_dot_quad_ref(int n, const float *x, const float *y);
float ck_expf_ref(float x);
void ck_softmax_ref(float *x, int n, int lead);
void ck_swiglu_ref(float *gate, const float *up, int n);
void ck_rope_ref(float *x, int heads, int head_dim, int rope_dims, int neox, const float *table);
void ck_fma_axpy_ref(int n, float a, const float *x, float *y);

// MARK: Thread pool: persistent workers that spin briefly, then sleep, between jobs.

typedef struct ck_pool ck_pool;
typedef void (*ck_task_fn)(void *context, int ith, int nth);
/// A pool of `threads` participants (the caller counts as one, so threads-1 workers start).
ck_pool *ck_pool_create(int threads);
void ck_pool_destroy(ck_pool *pool);
int ck_pool_size(const ck_pool *pool);
/// Runs fn(context, i, n) for i in 0..<n concurrently (i == 0 on the caller) and returns when all finish;
/// without a pool (NULL), fn(context, 0, 1) on the caller.
void ck_pool_run(ck_pool *pool, ck_task_fn fn, void *context);

/// ck_rmsnorm of each of `rows` rows of `width` floats (x → out, in place when they are equal), and
/// ck_geglu (`gelu`) or ck_swiglu of each row of `gate` with the same row of `up`, the rows shared out over
/// the pool when there are several (a prompt): each row's values are what the single-row call gives.
void ck_rmsnorm_rows(ck_pool *pool, float *out, const float *x, const float *w, int rows, int width, float eps);
void ck_gated_rows(ck_pool *pool, int gelu, float *gate, const float *up, int rows, int width);

// MARK: Matrix products and attention over the pool.

/// For each token t and row r: out[t*out_stride + r] = dot(row r of w, activation t) (+ bias[r]).
/// Rows are split across the pool; each weight row is read once for all tokens.
typedef struct {
    const void *weights;  // rows × ck_row_bytes(type, cols)
    int type;
    int rows;
    int cols;
    int tokens;
    const void *activation;    // tokens × activation_stride bytes, each in ck_activation_type(type)
    size_t activation_stride;  // bytes between tokens' activations
    const float *bias;         // rows, or NULL
    float *out;                // tokens × out_stride
    int out_stride;
    int sessions;              // 1: each token is another session's (a decoding step), computed as if alone
    int batch_tokens;          // the tokens of the product llama.cpp would run (0: `tokens`), and this job's
    int batch_first;           // first token's place in it: they choose K-quants' order of sums (gemm.h)
} ck_matvec_job;
void ck_matvec(ck_pool *pool, const ck_matvec_job *job);

/// How llama.cpp's AVX2 build sums a K-quant product (Q2_K..Q6_K, IQ4_XS), and a Q4_0 or IQ4_NL one, once its
/// integers are exact; a prompt's logits depend on it, since a last-bit difference flips later roundings (see
/// lanes.h):
/// - VEC_DOT: ggml_vec_dot, the type's dot kernel (ck_dot_function): one token, and batches under 8 tokens
///   (every other type: always, its tiles summing as its dot kernel).
/// - TILED: its tiled K-quant product, batches of 8 tokens or more: per super-block r = d·dot − dmin·mins
///   (one fused step), then out += r · the activation's d (fused).
/// - GEMV: Q4_K repacked (matrices of a multiple of 8 rows), one token or the last tokens of a batch: per
///   super-block out += dot · (d · the activation's d) and m += mins · (dmin · the activation's d), each
///   fused, then out − m.
/// - GEMM: the same per 64 elements, for a batch's tokens in whole groups of four from its start.
/// - BLOCKS: Q4_0 and IQ4_NL repacked (matrices of a multiple of 8 rows), every token: per block of 32
///   out += dot · (d · the activation's d), fused.
enum { CK_ORDER_VEC_DOT = 0, CK_ORDER_TILED = 1, CK_ORDER_GEMV = 2, CK_ORDER_GEMM = 3, CK_ORDER_BLOCKS = 4 };

/// The exact integers of a K-quant row (n elements) times Q8_K activations, per super-block (`parts` 1) or
/// per 64 elements (`parts` 4): dot = Σ sub-block scale · Σ code · activation code, with the codes' offset
/// taken off (Q3_K, Q6_K, IQ4_XS), and mins = Σ min · activation block sum (0 for the types without mins).
typedef void (*ck_ksums_fn)(int type, int n, const void *x, const void *y, int parts, int32_t *dot, int32_t *mins);
/// The portable twin (ksums.c).
void ck_ksums_ref(int type, int n, const void *x, const void *y, int parts, int32_t *dot, int32_t *mins);
/// The fastest ck_ksums_fn for `type` on this CPU.
ck_ksums_fn ck_ksums_function(int type);
/// Row · activation summed in `order` (orders.c): a K-quant's in TILED, GEMV or GEMM from the integers `sums`
/// gives, a Q4_0's or IQ4_NL's in BLOCKS from its blocks' exact integers (`sums` unused); VEC_DOT calls the dot
/// kernel.
float ck_ordered_product(int type, int order, int n, const void *x, const void *y, ck_ksums_fn sums);
/// The order of token t of `job`'s product as llama.cpp would sum it (VEC_DOT for the other types).
int ck_sum_order(const ck_matvec_job *job, int t);

/// Causal multi-head attention with grouped KV heads over a cache of f32 keys and values, computed as
/// llama.cpp does with an f16 cache: query and probabilities rounded to f16, Q·K and P·V summed in its
/// order (tinyBLAS's eight lanes for a batch, ggml_vec_dot_f16's 32 for a single token).
/// Token t (0..<tokens) sits at position first_position + t and attends positions 0...that, or only the
/// last `window` of them when window > 0 (a sliding-window layer).
typedef struct {
    const float *q;        // tokens × q_stride (heads × head_dim used)
    int q_stride;
    int tokens;
    int first_position;
    const float *keys;     // positions × kv_stride
    const float *values;   // positions × kv_stride
    int kv_stride;         // kv_heads × head_dim
    int heads;
    int kv_heads;
    int head_dim;
    float scale;           // usually 1/sqrt(head_dim)
    float *scratch;        // pool size × scratch_stride
    int scratch_stride;    // ≥ first_position + tokens
    float *out;            // tokens × out_stride
    int out_stride;
    int window;            // 0: every earlier position; else the last `window` positions only
    float *transposed;     // kv_stride × (first_position + tokens + 7) for a batch's values transposed, or NULL
} ck_attention_job;
/// Rows of scores a batch computes at once per thread (the heads sharing a KV head, for one token or more):
/// with scratch_stride ≥ CK_ATTENTION_ROWS × (first_position + tokens + 7) and `transposed`, each key and
/// value is read once for that many queries.
#define CK_ATTENTION_ROWS 8
void ck_attention(ck_pool *pool, const ck_attention_job *job);
/// The portable variant (one head at a time), which tests compare ck_attention against.
void ck_attention_ref(ck_pool *pool, const ck_attention_job *job);

#endif
