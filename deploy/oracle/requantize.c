// Requantizes a GGUF file through llama.cpp's public C API (llama_model_quantize in llama.h), with the
// settings deploy/make-quant-models.sh gives llama-quantize: --allow-requantize --pure, 2 threads. It needs
// only libllama, not the llama-quantize tool, whose command-line library (common) doubles the C++ build;
// the output is the same file byte for byte, as the SHA-256 pins in test-models.env check.
// Arguments: INPUT OUTPUT TYPE, where TYPE is one of Q2_K, Q3_K (llama-quantize's name for Q3_K_M),
// IQ4_NL, IQ4_XS.
#include "llama.h"
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    static const struct { const char *name; enum llama_ftype ftype; } types[] = {
        {"Q2_K", LLAMA_FTYPE_MOSTLY_Q2_K},
        {"Q3_K", LLAMA_FTYPE_MOSTLY_Q3_K_M},
        {"IQ4_NL", LLAMA_FTYPE_MOSTLY_IQ4_NL},
        {"IQ4_XS", LLAMA_FTYPE_MOSTLY_IQ4_XS},
    };
    if (argc != 4) {
        fprintf(stderr, "usage: %s INPUT OUTPUT Q2_K|Q3_K|IQ4_NL|IQ4_XS\n", argv[0]);
        return 2;
    }
    struct llama_model_quantize_params params = llama_model_quantize_default_params();
    int known = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(argv[3], types[i].name) == 0) {
            params.ftype = types[i].ftype;
            known = 1;
        }
    }
    if (!known) {
        fprintf(stderr, "requantize: unknown type %s\n", argv[3]);
        return 2;
    }
    params.nthread = 2;
    params.allow_requantize = true;
    params.pure = true;
    llama_backend_init();
    uint32_t failed = llama_model_quantize(argv[1], argv[2], &params);
    llama_backend_free();
    if (failed) fprintf(stderr, "requantize: llama_model_quantize failed for %s\n", argv[3]);
    return failed ? 1 : 0;
}
