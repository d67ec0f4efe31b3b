// AVX2/FMA kernels: the fast twins of quants_ref.c, compiled per function with target("avx2,fma,f16c")
// so the rest of the binary stays baseline x86-64; dispatch.c calls them only when cpuid says so.
// The integer trick is ggml's: maddubs multiplies unsigned by signed bytes into int16 pairs, madd
// widens to int32; the per-block scale is applied in float with FMA.
#include "ckernels.h"
#include "fp16.h"
#include "gemm.h"
#include "lowbit.h"
#include "prefetch.h"
#if defined(__x86_64__)
#include "kquants_avx2.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>

AVX2 static inline float hsum8(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/// 32 bits → 32 bytes of 0xFF where the bit is set (where it is clear, when `clear`), else 0x00. Byte j is
/// qh's byte j / 8 with every bit but bit j % 8 set: all ones exactly when qh's bit j is set, and equal to
/// that mask exactly when it is clear.
AVX2 static inline __m256i bits32(const uint8_t *qh, int clear) {
    uint32_t x;
    memcpy(&x, qh, 4);
    const __m256i shuffle = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    __m256i bytes = _mm256_or_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuffle), others);
    return _mm256_cmpeq_epi8(bytes, clear ? others : _mm256_set1_epi64x(-1));
}

/// Sum of products of unsigned bytes `ux` and signed bytes `sy`, as 8 floats.
AVX2 static inline __m256 dot_us8(__m256i ux, __m256i sy) {
    __m256i d16 = _mm256_maddubs_epi16(ux, sy);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(d16, _mm256_set1_epi16(1)));
}

/// dot_us8 in one instruction: vpdpbusd sums each four u8 × s8 products into an int32 lane exactly, the
/// sums maddubs and madd form when no int16 pair saturates (none can here: |x| ≤ 128, |y| ≤ 127).
VNNI static inline __m256 dot_us8_vnni(__m256i ux, __m256i sy) {
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), ux, sy));
}
/// dot_us8 or dot_us8_vnni: the eight int32 lane sums of unsigned × signed bytes, as floats.
typedef __m256 (*us8_fn)(__m256i ux, __m256i sy);

/// A Q4_1/Q5_1 block's scale product and min term from its (d, m) and the Q8_1 block's (d, s), each pair side
/// by side in memory and converted at once: returns dx · dy in all lanes, and adds m · s (fused, as the Q4_1
/// tiles add it) to lane 1 of `mins`.
AVX2 static inline __m256 scale_and_min(const void *dm, const void *ds, __m128 *mins) {
    uint32_t x, y;
    memcpy(&x, dm, 4);
    memcpy(&y, ds, 4);
    __m128 wx = ck_h2f_pair(x), wy = ck_h2f_pair(y);
    *mins = _mm_fmadd_ps(wx, wy, *mins);
    return _mm256_broadcastss_ps(_mm_mul_ss(wx, wy));
}

/// One block's term: acc + d · Σ qx·qy (d the block's scale product), with qx signed bytes (multiplied as |qx|
/// against qy carrying qx's sign) or unsigned when `unsigned_x`.
AVX2 static inline __attribute__((always_inline)) __m256 add_block(__m256 acc, __m256 d, __m256i qx,
                                                                    const int8_t *qy, int unsigned_x, us8_fn dot) {
    __m256i y = _mm256_loadu_si256((const __m256i *)qy);
    return _mm256_fmadd_ps(d, unsigned_x ? dot(qx, y) : dot(_mm256_sign_epi8(qx, qx), _mm256_sign_epi8(y, qx)), acc);
}

/// 5-bit codes as bytes: nibble | fifth bit << 4, or that minus 16 when `centred` (q5_0): where the fifth
/// bit is clear, a top nibble of 0xF makes the byte (q - 16) in two's complement.
AVX2 static inline __m256i codes5(const uint8_t *qs, const uint8_t *qh, int centred) {
    __m256i hi = _mm256_and_si256(bits32(qh, centred), _mm256_set1_epi8(centred ? (char)0xF0 : 0x10));
    return _mm256_or_si256(nibbles32(qs), hi);
}

/// codes5 with AVX512-BW: bit j of qh is the mask bit of element j, so one masked byte operation adds the
/// fifth bit (16 where it is set; for Q5_0, -16 where it is clear) in place of bits32 and the merge.
VNNI static inline __m256i codes5_masked(const uint8_t *qs, const uint8_t *qh, int centred) {
    uint32_t bits;
    memcpy(&bits, qh, 4);
    __m256i n = nibbles32(qs);
    return centred ? _mm256_mask_sub_epi8(n, (__mmask32)~bits, n, _mm256_set1_epi8(16))
                   : _mm256_mask_add_epi8(n, (__mmask32)bits, n, _mm256_set1_epi8(16));
}
/// codes5 or codes5_masked.
typedef __m256i (*codes5_fn)(const uint8_t *qs, const uint8_t *qh, int centred);

/// The products of `rows` consecutive rows of `type` (Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0; row_bytes apart) with one
/// activation row, into out[0..rows): each in ggml's vec_dot order, one eight-lane accumulator per row fused block
/// by block (and Q4_1/Q5_1's min term in a lane of its own), the same steps whatever `rows` is, so each output has
/// the bits of the one-row kernel. A row's accumulator waits on its FMA every block (Q4_1: about 5 cycles of a
/// block's 6 on Zen 2), so rows taken together (CK_DOT_ROWS) keep several chains in flight and share the
/// activation's loads; the per-row call and reduction is spread over them too, which short rows feel most. They
/// walk in step, so each asks for the block the next group of rows reads (ck_prefetch_rows_below), as the tiles do.
AVX2 static inline __attribute__((always_inline)) void rows_body(int type, int rows, int n, const void *vx,
                                                                 size_t row_bytes, const void *vy, float *out,
                                                                 us8_fn dot, codes5_fn codes_of, scale_fn scale) {
    const int with_min = type == CK_TYPE_Q4_1 || type == CK_TYPE_Q5_1;
    const size_t x_bytes = type == CK_TYPE_Q4_0   ? sizeof(ck_block_q4_0)
                           : type == CK_TYPE_Q4_1 ? sizeof(ck_block_q4_1)
                           : type == CK_TYPE_Q5_0 ? sizeof(ck_block_q5_0)
                           : type == CK_TYPE_Q5_1 ? sizeof(ck_block_q5_1)
                                                  : sizeof(ck_block_q8_0);  // constants, as `type` is in each kernel
    const size_t y_bytes = with_min ? sizeof(ck_block_q8_1) : sizeof(ck_block_q8_0);
    __m256 acc[CK_DOT_ROWS];
    __m128 mins[CK_DOT_ROWS];
    for (int r = 0; r < rows; r++) acc[r] = _mm256_setzero_ps(), mins[r] = _mm_setzero_ps();
    for (int i = 0; i < n / 32; i++) {
        const void *yb = (const char *)vy + i * y_bytes;
        const ck_block_q8_0 *y0 = yb;
        const ck_block_q8_1 *y1 = yb;
        const int8_t *qy = with_min ? y1->qs : y0->qs;
        for (int r = 0; r < rows; r++) {
            const void *xb = (const char *)vx + r * row_bytes + i * x_bytes;
            if (rows == 1) {
                ck_prefetch_ahead(xb, (int)x_bytes);
            } else {
                ck_prefetch_rows_below(xb, row_bytes, rows, (int)x_bytes);
            }
            const ck_block_q4_0 *q4_0 = xb;
            const ck_block_q4_1 *q4_1 = xb;
            const ck_block_q5_0 *q5_0 = xb;
            const ck_block_q5_1 *q5_1 = xb;
            const ck_block_q8_0 *q8_0 = xb;
            switch (type) {
            case CK_TYPE_Q4_0: {
                __m256i codes = _mm256_sub_epi8(nibbles32(q4_0->qs), _mm256_set1_epi8(8));
                acc[r] = add_block(acc[r], scale(q4_0->d, y0->d), codes, qy, 0, dot);
                break;
            }
            case CK_TYPE_Q4_1:
                acc[r] = add_block(acc[r], scale_and_min(&q4_1->d, &y1->d, &mins[r]), nibbles32(q4_1->qs), qy, 1, dot);
                break;
            case CK_TYPE_Q5_0:
                acc[r] = add_block(acc[r], scale(q5_0->d, y0->d), codes_of(q5_0->qs, q5_0->qh, 1), qy, 0, dot);
                break;
            case CK_TYPE_Q5_1: {
                __m256 d = scale_and_min(&q5_1->d, &y1->d, &mins[r]);
                acc[r] = add_block(acc[r], d, codes_of(q5_1->qs, q5_1->qh, 0), qy, 1, dot);
                break;
            }
            default:
                acc[r] = add_block(acc[r], scale(q8_0->d, y0->d), _mm256_loadu_si256((const __m256i *)q8_0->qs), qy, 0,
                                   dot);
                break;
            }
        }
    }
    // Without a min term the sum stays as it is (adding 0 would turn -0 into +0).
    for (int r = 0; r < rows; r++) {
        out[r] = with_min ? hsum8(acc[r]) + _mm_cvtss_f32(_mm_movehdup_ps(mins[r])) : hsum8(acc[r]);
    }
}

AVX2 float ck_avx2_dot_f32(int n, const float *x, const float *y) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    float s = hsum8(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

AVX2 static float dot_f16(int n, const void *vx, const void *vy) {
    const uint16_t *x = vx;
    const float *y = vy;
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 w = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        acc = _mm256_fmadd_ps(w, _mm256_loadu_ps(y + i), acc);
    }
    float s = hsum8(acc);
    for (; i < n; i++) s += H2F(x[i]) * y[i];
    return s;
}

AVX2 static float dot_bf16(int n, const void *vx, const void *vy) {
    const uint16_t *x = vx;
    const float *y = vy;
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w16 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
        __m256 w = _mm256_castsi256_ps(_mm256_slli_epi32(w16, 16));
        acc = _mm256_fmadd_ps(w, _mm256_loadu_ps(y + i), acc);
    }
    float s = hsum8(acc);
    for (; i < n; i++) s += ck_bf16_to_fp32(x[i]) * y[i];
    return s;
}

/// A type's dot kernel (one row) from rows_body with the given helpers.
#define DOT_KERNEL(NAME, TARGET, TYPE, DOT, CODES, SCALE)                                                           \
    TARGET static float NAME(int n, const void *x, const void *y) {                                            \
        float out;                                                                                             \
        rows_body(TYPE, 1, n, x, 0, y, &out, DOT, CODES, SCALE);                                               \
        return out;                                                                                            \
    }
/// The dot kernel and the kernel of CK_DOT_ROWS rows (NAME_rows), the same steps for each row.
#define DOT_AND_ROWS_KERNELS(NAME, TARGET, TYPE, DOT, CODES, SCALE)                                                 \
    DOT_KERNEL(NAME, TARGET, TYPE, DOT, CODES, SCALE)                                                          \
    TARGET static void NAME##_rows(int n, const void *x, size_t row_bytes, const void *y, float *out) {       \
        rows_body(TYPE, CK_DOT_ROWS, n, x, row_bytes, y, out, DOT, CODES, SCALE);                              \
    }
DOT_AND_ROWS_KERNELS(dot_q4_0, AVX2, CK_TYPE_Q4_0, dot_us8, codes5, scale_from_table)
DOT_AND_ROWS_KERNELS(dot_q4_1, AVX2, CK_TYPE_Q4_1, dot_us8, codes5, scale_from_table)
DOT_AND_ROWS_KERNELS(dot_q5_0, AVX2, CK_TYPE_Q5_0, dot_us8, codes5, scale_from_table)
DOT_KERNEL(dot_q5_1, AVX2, CK_TYPE_Q5_1, dot_us8, codes5, scale_from_table)
DOT_KERNEL(dot_q8_0, AVX2, CK_TYPE_Q8_0, dot_us8, codes5, scale_from_table)
DOT_AND_ROWS_KERNELS(dot_q4_0_vnni, VNNI, CK_TYPE_Q4_0, dot_us8_vnni, codes5_masked, scale_f16c)
DOT_AND_ROWS_KERNELS(dot_q4_1_vnni, VNNI, CK_TYPE_Q4_1, dot_us8_vnni, codes5_masked, scale_f16c)
DOT_AND_ROWS_KERNELS(dot_q5_0_vnni, VNNI, CK_TYPE_Q5_0, dot_us8_vnni, codes5_masked, scale_f16c)
DOT_KERNEL(dot_q5_1_vnni, VNNI, CK_TYPE_Q5_1, dot_us8_vnni, codes5_masked, scale_f16c)
DOT_KERNEL(dot_q8_0_vnni, VNNI, CK_TYPE_Q8_0, dot_us8_vnni, codes5_masked, scale_f16c)

typedef float (*ck_dot_fn)(int n, const void *x, const void *y);

static float dot_f32_any(int n, const void *x, const void *y) { return ck_avx2_dot_f32(n, x, y); }

/// The AVX2 dot kernel for `type` (with VNNI when `vnni`: the caller has checked AVX512-VL and VNNI),
/// resolved once per matrix product rather than once per row; NULL for types these kernels do not cover.
ck_dot_fn ck_avx2_dot_function(int type, int vnni) {
    switch (type) {
    case CK_TYPE_F32: return dot_f32_any;
    case CK_TYPE_F16: return dot_f16;
    case CK_TYPE_BF16: return dot_bf16;
    case CK_TYPE_Q4_0: return vnni ? dot_q4_0_vnni : dot_q4_0;
    case CK_TYPE_Q4_1: return vnni ? dot_q4_1_vnni : dot_q4_1;
    case CK_TYPE_Q5_0: return vnni ? dot_q5_0_vnni : dot_q5_0;
    case CK_TYPE_Q5_1: return vnni ? dot_q5_1_vnni : dot_q5_1;
    case CK_TYPE_Q8_0: return vnni ? dot_q8_0_vnni : dot_q8_0;
    default: return 0;
    }
}

/// The AVX2 kernel of CK_DOT_ROWS rows for `type` (with VNNI when `vnni`), or NULL (gemm.h's ck_dot_rows_fn).
/// Q8_0 and Q5_1 have none: four rows in step were no faster (Q8_0's one-row kernel streams near the read
/// bandwidth) or slower (Q5_1, 2 threads from memory on Zen 2).
ck_dot_rows_fn ck_avx2_dot_rows_function(int type, int vnni) {
    switch (type) {
    case CK_TYPE_Q4_0: return vnni ? dot_q4_0_vnni_rows : dot_q4_0_rows;
    case CK_TYPE_Q4_1: return vnni ? dot_q4_1_vnni_rows : dot_q4_1_rows;
    case CK_TYPE_Q5_0: return vnni ? dot_q5_0_vnni_rows : dot_q5_0_rows;
    default: return 0;
    }
}

/// Q8_0/Q8_1 activation quantization; id = 127/amax and round half to even, like the reference.
AVX2 void ck_avx2_quantize_row_q8(int with_sum, const float *x, void *vy, int n) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    for (int i = 0; i < n / 32; i++) {
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + i * 32 + k * 8);
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, v[k]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        float amax_s = _mm_cvtss_f32(m);
        float d = amax_s / 127.0f, id = amax_s != 0 ? 127.0f / amax_s : 0.0f;
        __m256 mul = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            __m256 s = _mm256_round_ps(_mm256_mul_ps(v[k], mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q[k] = _mm256_cvtps_epi32(s);
        }
        __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
        __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        if (with_sum) {
            ck_block_q8_1 *y = (ck_block_q8_1 *)vy + i;
            y->d = ck_fp32_to_fp16(d);
            _mm256_storeu_si256((__m256i *)y->qs, p);
            __m256i s32 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
            s4 = _mm_hadd_epi32(s4, s4);
            s4 = _mm_hadd_epi32(s4, s4);
            y->s = ck_fp32_to_fp16((float)_mm_cvtsi128_si32(s4) * d);
        } else {
            ck_block_q8_0 *y = (ck_block_q8_0 *)vy + i;
            y->d = ck_fp32_to_fp16(d);
            _mm256_storeu_si256((__m256i *)y->qs, p);
        }
    }
}

AVX2 void ck_avx2_axpy_f32(int n, float a, const float *x, float *y) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] = fmaf(a, x[i], y[i]);
}

/// Block i of a row as 32 code bytes (signed, the levels for iq4_nl, or unsigned for q4_1 and q5_1), with its
/// scale and (q4_1, q5_1) its min.
AVX2 static inline __m256i block_codes(int type, const void *row, int i, float *d, float *m) {
    switch (type) {
    case CK_TYPE_Q4_0: {
        const ck_block_q4_0 *b = (const ck_block_q4_0 *)row + i;
        *d = H2F(b->d);
        return _mm256_sub_epi8(nibbles32(b->qs), _mm256_set1_epi8(8));
    }
    case CK_TYPE_Q4_1: {
        const ck_block_q4_1 *b = (const ck_block_q4_1 *)row + i;
        *d = H2F(b->d);
        *m = H2F(b->m);
        return nibbles32(b->qs);
    }
    case CK_TYPE_Q5_0: {
        const ck_block_q5_0 *b = (const ck_block_q5_0 *)row + i;
        *d = H2F(b->d);
        return codes5(b->qs, b->qh, 1);
    }
    case CK_TYPE_IQ4_NL: {
        const ck_block_iq4_nl *b = (const ck_block_iq4_nl *)row + i;
        *d = H2F(b->d);
        return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)ck_iq4_levels)),
                                   nibbles32(b->qs));
    }
    case CK_TYPE_Q5_1: {
        const ck_block_q5_1 *b = (const ck_block_q5_1 *)row + i;
        *d = H2F(b->d);
        *m = H2F(b->m);
        return codes5(b->qs, b->qh, 0);
    }
    default: {
        const ck_block_q8_0 *b = (const ck_block_q8_0 *)row + i;
        *d = H2F(b->d);
        return _mm256_loadu_si256((const __m256i *)b->qs);
    }
    }
}

/// Dequantizes Q4_0, Q4_1, Q5_0 and Q8_0 rows with AVX2 (block_codes above): code · d, or for q4_1
/// code · d + m fused, as the reference computes them; others fall back to the reference.
AVX2 int ck_avx2_dequantize_row(int type, const void *vx, float *y, int n) {
    if (type != CK_TYPE_Q4_0 && type != CK_TYPE_Q4_1 && type != CK_TYPE_Q5_0 && type != CK_TYPE_Q8_0) return 0;
    for (int i = 0; i < n / 32; i++) {
        float d, m = 0;
        __m256i q = block_codes(type, vx, i, &d, &m);
        for (int k = 0; k < 4; k++) {
            __m128i part = k < 2 ? _mm256_castsi256_si128(q) : _mm256_extracti128_si256(q, 1);
            if (k & 1) part = _mm_srli_si128(part, 8);
            __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part));
            __m256 v = type == CK_TYPE_Q4_1 ? _mm256_fmadd_ps(f, _mm256_set1_ps(d), _mm256_set1_ps(m))
                                            : _mm256_mul_ps(f, _mm256_set1_ps(d));
            _mm256_storeu_ps(y + i * 32 + k * 8, v);
        }
    }
    return 1;
}

// MARK: Tiles of a batched product (gemm.h): rows × tokens, each output summed as the dot kernels above.

/// The body of an RM-row tile of `type` (RM and the type constants once inlined, so a block of each row
/// stays in registers) with `rn` tokens, whose accumulators live in L1: each row's block is unpacked once
/// for all the tokens. Signed codes multiply as dot_s8 does, through |x| and sign(y, x); q4_1's unsigned
/// codes as dot_us8, its min term fused per block as dot_q4_1 fuses it. DOT(ux, sy) is the eight int32
/// lane sums of ux · sy as floats: dot_us8, or one VNNI instruction where the CPU has it.
#define TILE_Q_BODY(DOT)                                                                                      \
    const int with_min = type == CK_TYPE_Q4_1;                                                                        \
    size_t row_bytes = ck_row_bytes(type, job->cols);                                                              \
    size_t block_bytes = with_min ? sizeof(ck_block_q8_1) : sizeof(ck_block_q8_0);                               \
    const int row_block = (int)ck_row_bytes(type, 32), fetch = ck_tile_fetch(rn, row_block);                        \
    const char *w = (const char *)job->weights + (size_t)r0 * row_bytes;                                              \
    const char *a = (const char *)job->activation + (size_t)t0 * job->activation_stride;                              \
    __m256 acc[CK_GEMM_TOKENS][CK_GEMM_ROWS];                                                                         \
    float mins[CK_GEMM_TOKENS][CK_GEMM_ROWS];                                                                         \
    for (int t = 0; t < rn; t++) {                                                                                    \
        for (int r = 0; r < RM; r++) {                                                                                \
            acc[t][r] = _mm256_setzero_ps();                                                                          \
            mins[t][r] = 0;                                                                                           \
        }                                                                                                             \
    }                                                                                                                 \
    for (int i = 0; i < job->cols / 32; i++) {                                                                        \
        __m256i x[CK_GEMM_ROWS], ux[CK_GEMM_ROWS];                                                                    \
        float d[CK_GEMM_ROWS] = {0}, mx[CK_GEMM_ROWS];                                                                \
        for (int r = 0; r < RM; r++) {                                                                                \
            ck_prefetch_rows_below(w + r * row_bytes + i * row_block, row_bytes, CK_GEMM_ROWS, fetch);                \
            x[r] = block_codes(type, w + r * row_bytes, i, &d[r], &mx[r]);                                            \
            ux[r] = with_min ? x[r] : _mm256_sign_epi8(x[r], x[r]);                                                   \
        }                                                                                                             \
        __m128 dx = _mm_loadu_ps(d);                                                                                  \
        for (int t = 0; t < rn; t++) {                                                                                \
            const char *block = a + t * job->activation_stride + i * block_bytes;                                     \
            /* dx · dy, the dot kernels' one float product, for the four rows at once; each broadcast by a */         \
            /* shuffle (port 5) rather than a multiply per row on the ports the integer work needs. */                \
            __m256 dxy = _mm256_castps128_ps256(_mm_mul_ps(dx, _mm_set1_ps(H2F(*(const uint16_t *)block))));          \
            float sy = H2F(*(const uint16_t *)(block + 2));                                                           \
            __m256i y = _mm256_loadu_si256((const __m256i *)(block + block_bytes - 32));                              \
            for (int r = 0; r < RM; r++) {                                                                            \
                __m256 p = DOT(ux[r], with_min ? y : _mm256_sign_epi8(y, x[r]));                                      \
                __m256 scale = _mm256_permutevar8x32_ps(dxy, _mm256_set1_epi32(r));                                   \
                acc[t][r] = _mm256_fmadd_ps(scale, p, acc[t][r]);                                                     \
                if (with_min) mins[t][r] = __builtin_fmaf(mx[r], sy, mins[t][r]);                                     \
            }                                                                                                         \
        }                                                                                                             \
    }                                                                                                                 \
    for (int t = 0; t < rn; t++) {                                                                                    \
        float *out = job->out + (size_t)(t0 + t) * job->out_stride + r0;                                              \
        for (int r = 0; r < RM; r++) {                                                                                \
            float v = with_min ? hsum8(acc[t][r]) + mins[t][r] : hsum8(acc[t][r]);                                    \
            out[r] = v + (job->bias ? job->bias[r0 + r] : 0.0f);                                                      \
        }                                                                                                             \
    }                                                                                                                 \

AVX2 static inline __attribute__((always_inline)) void tile_q(const ck_matvec_job *job, int type, int r0, int RM,
                                                              int t0, int rn) {
    TILE_Q_BODY(dot_us8)
}

VNNI static inline __attribute__((always_inline)) void tile_q_vnni(const ck_matvec_job *job, int type, int r0,
                                                                   int RM, int t0, int rn) {
    TILE_Q_BODY(dot_us8_vnni)
}

#define Q4_0_TILE(RM) tile_q(job, CK_TYPE_Q4_0, r0, RM, t0, rn)
#define Q4_1_TILE(RM) tile_q(job, CK_TYPE_Q4_1, r0, RM, t0, rn)
#define Q5_0_TILE(RM) tile_q(job, CK_TYPE_Q5_0, r0, RM, t0, rn)
#define Q8_0_TILE(RM) tile_q(job, CK_TYPE_Q8_0, r0, RM, t0, rn)
#define Q4_0_TILE_VNNI(RM) tile_q_vnni(job, CK_TYPE_Q4_0, r0, RM, t0, rn)
#define Q4_1_TILE_VNNI(RM) tile_q_vnni(job, CK_TYPE_Q4_1, r0, RM, t0, rn)
#define Q5_0_TILE_VNNI(RM) tile_q_vnni(job, CK_TYPE_Q5_0, r0, RM, t0, rn)
#define Q8_0_TILE_VNNI(RM) tile_q_vnni(job, CK_TYPE_Q8_0, r0, RM, t0, rn)
CK_TILE_SHAPES(tile_q4_0, AVX2, Q4_0_TILE)
CK_TILE_SHAPES(tile_q4_1, AVX2, Q4_1_TILE)
CK_TILE_SHAPES(tile_q5_0, AVX2, Q5_0_TILE)
CK_TILE_SHAPES(tile_q8_0, AVX2, Q8_0_TILE)
CK_TILE_SHAPES(tile_q4_0_vnni, VNNI, Q4_0_TILE_VNNI)
CK_TILE_SHAPES(tile_q4_1_vnni, VNNI, Q4_1_TILE_VNNI)
CK_TILE_SHAPES(tile_q5_0_vnni, VNNI, Q5_0_TILE_VNNI)
CK_TILE_SHAPES(tile_q8_0_vnni, VNNI, Q8_0_TILE_VNNI)

/// Blocks of a wide tile's rows unpacked at a time: 8 rows × 32 blocks × 64 bytes (16 KB), beside the tokens'
/// lane sums (64 tokens × 8 vectors, 16 KB) in L1.
#define WIDE_BLOCKS 32

/// The body of a wide tile (gemm.h) of a signed-code `type` (Q4_0, Q5_0, Q8_0): eight rows × rn tokens, a row
/// in each lane. Chunk k of a block holds each row's codes of elements 4k..4k+3 (ck_transpose8), so DOT of
/// them with the activation's four bytes of that chunk, broadcast, is lane k of every row's dot_us8: the eight
/// lanes of a row's sum become eight vectors, each updated by the same fused step as in TILE_Q_BODY, and
/// hsum8's reduction is taken vector by vector. The tokens' sums stay in registers over WIDE_BLOCKS blocks.
#define WIDE_Q_BODY(DOT)                                                                                       \
    size_t row_bytes = ck_row_bytes(type, job->cols);                                                          \
    const char *w = (const char *)job->weights + (size_t)r0 * row_bytes;                                       \
    const char *a = (const char *)job->activation + (size_t)t0 * job->activation_stride;                       \
    const int blocks = job->cols / 32, block_bytes = (int)ck_row_bytes(type, 32);                              \
    const int fetch = ck_tile_fetch(rn, block_bytes);                                                          \
    __m256 lanes[CK_GEMM_TOKENS][8];                                                                           \
    __m256i ux[WIDE_BLOCKS][8], sx[WIDE_BLOCKS][8];                                                            \
    __m256 dx[WIDE_BLOCKS];                                                                                    \
    const __m256 bias = job->bias ? _mm256_loadu_ps(job->bias + r0) : _mm256_setzero_ps();                     \
    for (int b0 = 0; b0 < blocks; b0 += WIDE_BLOCKS) {                                                         \
        const int nb = blocks - b0 < WIDE_BLOCKS ? blocks - b0 : WIDE_BLOCKS, last = b0 + nb == blocks;        \
        for (int i = 0; i < nb; i++) {                                                                         \
            __m256i codes[8];                                                                                  \
            float d[8], m;                                                                                     \
            for (int r = 0; r < 8; r++) {                                                                      \
                ck_prefetch_rows_below(w + r * row_bytes + (b0 + i) * block_bytes, row_bytes, 8, fetch);        \
                codes[r] = block_codes(type, w + r * row_bytes, b0 + i, &d[r], &m);                            \
            }                                                                                                  \
            ck_transpose8(codes, sx[i]);                                                                       \
            for (int k = 0; k < 8; k++) ux[i][k] = _mm256_sign_epi8(sx[i][k], sx[i][k]);                       \
            dx[i] = _mm256_loadu_ps(d);                                                                        \
        }                                                                                                      \
        for (int t = 0; t < rn; t++) {                                                                         \
            const ck_block_q8_0 *y = (const ck_block_q8_0 *)(a + t * job->activation_stride) + b0;             \
            __m256 l[8];                                                                                       \
            for (int k = 0; k < 8; k++) l[k] = b0 ? lanes[t][k] : _mm256_setzero_ps();                         \
            for (int i = 0; i < nb; i++) {                                                                     \
                __m256 scale = _mm256_mul_ps(dx[i], _mm256_set1_ps(H2F(y[i].d)));                              \
                for (int k = 0; k < 8; k++) {                                                                  \
                    int32_t four;                                                                              \
                    memcpy(&four, y[i].qs + 4 * k, 4);                                                         \
                    __m256 p = DOT(ux[i][k], _mm256_sign_epi8(_mm256_set1_epi32(four), sx[i][k]));             \
                    l[k] = _mm256_fmadd_ps(scale, p, l[k]);                                                    \
                }                                                                                              \
            }                                                                                                  \
            if (!last) {                                                                                       \
                for (int k = 0; k < 8; k++) lanes[t][k] = l[k];                                                \
                continue;                                                                                      \
            }                                                                                                  \
            __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(l[0], l[4]), _mm256_add_ps(l[2], l[6])),    \
                                       _mm256_add_ps(_mm256_add_ps(l[1], l[5]), _mm256_add_ps(l[3], l[7])));   \
            _mm256_storeu_ps(job->out + (size_t)(t0 + t) * job->out_stride + r0, _mm256_add_ps(sum, bias));    \
        }                                                                                                      \
    }

AVX2 static inline __attribute__((always_inline)) void wide_q(const ck_matvec_job *job, int type, int r0, int t0,
                                                              int rn) {
    WIDE_Q_BODY(dot_us8)
}

VNNI static inline __attribute__((always_inline)) void wide_q_vnni(const ck_matvec_job *job, int type, int r0,
                                                                   int t0, int rn) {
    WIDE_Q_BODY(dot_us8_vnni)
}

#define WIDE_TILE(name, target, call, type)                                                                    \
    target static void name(const ck_matvec_job *job, int r0, int rm, int t0, int rn) {                        \
        (void)rm;                                                                                              \
        call(job, type, r0, t0, rn);                                                                           \
    }
WIDE_TILE(wide_q4_0, AVX2, wide_q, CK_TYPE_Q4_0)
WIDE_TILE(wide_q5_0, AVX2, wide_q, CK_TYPE_Q5_0)
WIDE_TILE(wide_q8_0, AVX2, wide_q, CK_TYPE_Q8_0)
WIDE_TILE(wide_q4_0_vnni, VNNI, wide_q_vnni, CK_TYPE_Q4_0)
WIDE_TILE(wide_q5_0_vnni, VNNI, wide_q_vnni, CK_TYPE_Q5_0)
WIDE_TILE(wide_q8_0_vnni, VNNI, wide_q_vnni, CK_TYPE_Q8_0)

/// wide_blocks for one token (a decoding step), without the transpose (IQ4_NL's blocks are laid out as Q4_0's: a
/// half scale, then 16 bytes of nibbles). Two rows share a register, row 2k in the low 128 bits and row 2k + 1 in
/// the high: a block's low nibbles (elements 0..15) meet the activation's first 16 bytes in both halves, its high
/// nibbles the last 16, and three horizontal adds leave row 2k's dot in lane k and row 2k + 1's in lane 4 + k
/// (exact integers, whatever the grouping). Q4_0 multiplies its stored nibbles (0..15) as they are, at most 2 · 2 ·
/// 15 · 127 = 7620 per int16, and takes the codes' offset, 8 · Σ activation, off the eight dots at once; IQ4_NL's
/// levels take the sign trick and widen half by half (two of their products of up to 127 · 127 would not fit an
/// int16). The eight rows advance together, 18 bytes a step, so a fixed distance ahead of each (ck_prefetch_ahead)
/// lands in rows being read already and the next tile's lines arrive late: each block asks instead for the same
/// block of the row eight below, which the next tile reads (on 2 threads this took the Q4_0 and IQ4_NL products
/// from 14 to 22 GB/s, 47% to 76% of the read bandwidth).
AVX2 static inline __attribute__((always_inline)) void blocks_one_token(int type, int cols, const char *w,
                                                                        size_t row_bytes, const ck_block_q8_0 *y,
                                                                        float *out, __m256 bias) {
    const __m256i ones = _mm256_set1_epi16(1), low4 = _mm256_set1_epi8(0x0F);
    const __m256i levels = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)ck_iq4_levels));
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < cols / 32; i++) {
        __m256i first = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)y[i].qs));
        __m256i last = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(y[i].qs + 16))), pairs[4];
        float d[8];
        for (int k = 0; k < 4; k++) {
            const ck_block_q4_0 *b0 = (const ck_block_q4_0 *)(w + 2 * k * row_bytes) + i;
            const ck_block_q4_0 *b1 = (const ck_block_q4_0 *)(w + (2 * k + 1) * row_bytes) + i;
            ck_prefetch_rows_below(b0, row_bytes, CK_GEMM_WIDE_ROWS, sizeof *b0);
            ck_prefetch_rows_below(b1, row_bytes, CK_GEMM_WIDE_ROWS, sizeof *b1);
            d[k] = H2F(b0->d), d[4 + k] = H2F(b1->d);
            __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)b0->qs)),
                                                _mm_loadu_si128((const __m128i *)b1->qs), 1);
            __m256i lo = _mm256_and_si256(q, low4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            if (type == CK_TYPE_Q4_0) {
                __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, first), _mm256_maddubs_epi16(hi, last));
                pairs[k] = _mm256_madd_epi16(p, ones);
                continue;
            }
            lo = _mm256_shuffle_epi8(levels, lo), hi = _mm256_shuffle_epi8(levels, hi);
            __m256i plo = _mm256_maddubs_epi16(_mm256_sign_epi8(lo, lo), _mm256_sign_epi8(first, lo));
            __m256i phi = _mm256_maddubs_epi16(_mm256_sign_epi8(hi, hi), _mm256_sign_epi8(last, hi));
            pairs[k] = _mm256_add_epi32(_mm256_madd_epi16(plo, ones), _mm256_madd_epi16(phi, ones));
        }
        __m256i dots = _mm256_hadd_epi32(_mm256_hadd_epi32(pairs[0], pairs[1]), _mm256_hadd_epi32(pairs[2], pairs[3]));
        if (type == CK_TYPE_Q4_0) {
            __m256i y32 = _mm256_loadu_si256((const __m256i *)y[i].qs);
            __m256i sum = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), y32), ones);
            dots = _mm256_sub_epi32(dots, _mm256_set1_epi32(8 * hsum_i32(sum)));
        }
        __m256 dxy = _mm256_mul_ps(_mm256_loadu_ps(d), _mm256_set1_ps(H2F(y[i].d)));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dots), dxy, acc);
    }
    // Lane k holds row 2k and lane 4 + k row 2k + 1: back in row order.
    acc = _mm256_permutevar8x32_ps(acc, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_ps(out, _mm256_add_ps(acc, bias));
}

/// Eight Q4_0 or IQ4_NL rows × rn tokens in llama.cpp's repacked order (ck_sum_order BLOCKS; the caller checks):
/// per block, each row's exact integer dot in its lane (chunks of four as in WIDE_Q_BODY), then out += dot ·
/// (d · the activation's d), fused. Q4_0's chunks add in int16 before one madd (at most 8 · 2 · 8 · 127 =
/// 16256); IQ4_NL's levels reach −127, so each chunk widens on its own. One token takes blocks_one_token.
AVX2 static inline __attribute__((always_inline)) void wide_blocks(const ck_matvec_job *job, int type, int r0, int t0,
                                                                   int rn) {
    size_t row_bytes = ck_row_bytes(type, job->cols);
    const char *w = (const char *)job->weights + (size_t)r0 * row_bytes;
    const char *a = (const char *)job->activation + (size_t)t0 * job->activation_stride;
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256 bias = job->bias ? _mm256_loadu_ps(job->bias + r0) : _mm256_setzero_ps();
    if (rn == 1) {
        float *out = job->out + (size_t)t0 * job->out_stride + r0;
        blocks_one_token(type, job->cols, w, row_bytes, (const ck_block_q8_0 *)a, out, bias);
        return;
    }
    __m256 acc[CK_GEMM_TOKENS];
    const int fetch = ck_tile_fetch(rn, sizeof(ck_block_q4_0));
    for (int t = 0; t < rn; t++) acc[t] = _mm256_setzero_ps();
    for (int i = 0; i < job->cols / 32; i++) {
        __m256i codes[8], sx[8], ux[8];
        float d[8], m;
        for (int r = 0; r < 8; r++) {
            ck_prefetch_rows_below(w + r * row_bytes + i * sizeof(ck_block_q4_0), row_bytes, 8, fetch);
            codes[r] = block_codes(type, w + r * row_bytes, i, &d[r], &m);
        }
        ck_transpose8(codes, sx);
        for (int k = 0; k < 8; k++) ux[k] = _mm256_sign_epi8(sx[k], sx[k]);
        const __m256 dx = _mm256_loadu_ps(d);
        for (int t = 0; t < rn; t++) {
            const ck_block_q8_0 *y = (const ck_block_q8_0 *)(a + t * job->activation_stride) + i;
            __m256i dot = _mm256_setzero_si256(), pairs = _mm256_setzero_si256();
            for (int k = 0; k < 8; k++) {
                int32_t four;
                memcpy(&four, y->qs + 4 * k, 4);
                __m256i p = _mm256_maddubs_epi16(ux[k], _mm256_sign_epi8(_mm256_set1_epi32(four), sx[k]));
                if (type == CK_TYPE_Q4_0) pairs = _mm256_add_epi16(pairs, p);
                else dot = _mm256_add_epi32(dot, _mm256_madd_epi16(p, ones));
            }
            if (type == CK_TYPE_Q4_0) dot = _mm256_madd_epi16(pairs, ones);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dx, _mm256_set1_ps(H2F(y->d))), acc[t]);
        }
    }
    for (int t = 0; t < rn; t++) {
        _mm256_storeu_ps(job->out + (size_t)(t0 + t) * job->out_stride + r0, _mm256_add_ps(acc[t], bias));
    }
}
WIDE_TILE(wide_blocks_q4_0, AVX2, wide_blocks, CK_TYPE_Q4_0)
WIDE_TILE(wide_blocks_iq4_nl, AVX2, wide_blocks, CK_TYPE_IQ4_NL)

/// The wide tiles for `type` in `order`: Q4_0 and IQ4_NL in BLOCKS, else Q4_0, Q5_0 and Q8_0 summed as their dot
/// kernels (with VNNI as ck_avx2_tile_function); or NULL.
ck_tile_fn ck_avx2_wide_tile_function(int type, int order, int vnni) {
    if (order == CK_ORDER_BLOCKS) {
        return type == CK_TYPE_Q4_0 ? wide_blocks_q4_0 : type == CK_TYPE_IQ4_NL ? wide_blocks_iq4_nl : 0;
    }
    switch (type) {
    case CK_TYPE_Q4_0: return vnni ? wide_q4_0_vnni : wide_q4_0;
    case CK_TYPE_Q5_0: return vnni ? wide_q5_0_vnni : wide_q5_0;
    case CK_TYPE_Q8_0: return vnni ? wide_q8_0_vnni : wide_q8_0;
    default: return 0;
    }
}

/// The tiles for `type`, with VNNI when `vnni` (the caller has checked AVX512-VL and VNNI), else AVX2 only.
ck_tile_fn ck_avx2_tile_function(int type, int vnni) {
    switch (type) {
    case CK_TYPE_Q4_0: return vnni ? tile_q4_0_vnni : tile_q4_0;
    case CK_TYPE_Q4_1: return vnni ? tile_q4_1_vnni : tile_q4_1;
    case CK_TYPE_Q5_0: return vnni ? tile_q5_0_vnni : tile_q5_0;
    case CK_TYPE_Q8_0: return vnni ? tile_q8_0_vnni : tile_q8_0;
    default: return 0;
    }
}
#endif
