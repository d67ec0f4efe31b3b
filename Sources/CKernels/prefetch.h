// Private: software prefetch for the dot kernels and the tiles. Decoding streams each weight row once, and a
// row of a small model is short (576-2048 columns: a few hundred bytes to a few KiB), so the hardware
// prefetcher, which needs a run of misses before it starts, keeps restarting. Asking for the bytes a fixed
// distance ahead of the block being multiplied keeps the loads in flight across row ends. Measured on the
// development machine (AMD EPYC, 2 threads): Gemma 3 270M decoding 73-78 -> 80-88 tokens/s; 512 bytes
// ahead helped less, 2048 no more.
#ifndef ENCLAVE_CKERNELS_PREFETCH_H
#define ENCLAVE_CKERNELS_PREFETCH_H

/// How far ahead of the current block the weights are requested.
#define CK_PREFETCH_DISTANCE 1024

/// Requests the cache lines of the `bytes` bytes that lie CK_PREFETCH_DISTANCE beyond `block`. Only a hint:
/// prefetching past the end of the weights never faults.
static inline __attribute__((always_inline)) void ck_prefetch_ahead(const void *block, int bytes) {
    for (int offset = 0; offset < bytes; offset += 64) {
        __builtin_prefetch((const char *)block + CK_PREFETCH_DISTANCE + offset, 0, 3);
    }
}

/// Requests the cache lines of the `bytes` bytes (none for 0) at `block`, `rows` rows of `row_bytes` further
/// down: for the kernels that walk several rows together block by block (the tiles, and the one-token kernels of
/// CK_DOT_ROWS rows). There a fixed distance ahead of each row lands in rows being read already, and the next
/// group's lines would arrive late; the same block of the row that many rows below is what the next group reads.
/// Only a hint, like ck_prefetch_ahead.
static inline __attribute__((always_inline)) void ck_prefetch_rows_below(const void *block, size_t row_bytes, int rows,
                                                                         int bytes) {
    const char *below = (const char *)block + (size_t)rows * row_bytes;
    for (int offset = 0; offset < bytes; offset += 64) __builtin_prefetch(below + offset, 0, 3);
}

#endif
