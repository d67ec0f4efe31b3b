// A native llama.cpp as a logits oracle, through its public C API (llama.h), for gemma_spread.py and
// gemma_perplexity.py: reads prompts (token ids, one prompt per line) on stdin and prints, per prompt, the
// top-20 logits at the first and last position of one batch evaluation as a JSON line, or with "nll" the
// negative log-likelihood of each token of the prompt's second half (as llama-perplexity scores a chunk:
// positions n/2 .. n-2 predicting the next) summed in double, and their count. Arguments: the GGUF file,
// 0 to turn llama.cpp's weight repacking off (use_extra_bufts) or 1 (the default) to keep it, "nll" or
// "logits" (the default), and the context length (2048 by default; it picks LongRoPE's factors).
#include "llama.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void top20(const float *l, int n, int *ids, float *vals) {
    for (int k = 0; k < 20; k++) { ids[k] = -1; vals[k] = -1e30f; }
    for (int i = 0; i < n; i++) {
        if (l[i] <= vals[19]) continue;
        int k = 19;
        while (k > 0 && vals[k - 1] < l[i]) { vals[k] = vals[k - 1]; ids[k] = ids[k - 1]; k--; }
        vals[k] = l[i]; ids[k] = i;
    }
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int repack = argc > 2 ? atoi(argv[2]) : 1;
    int nll = argc > 3 && strcmp(argv[3], "nll") == 0;
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.use_extra_bufts = repack;
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    struct llama_context_params cp = llama_context_default_params();
    int n_ctx = argc > 4 ? atoi(argv[4]) : 2048;
    cp.n_ctx = n_ctx; cp.n_batch = n_ctx; cp.n_ubatch = n_ctx; cp.n_threads = 2; cp.n_threads_batch = 2;
    // As the Python binding's goldens were taken (its default) and as our engine computes: attention over the
    // f16 cache without flash attention, which llama.cpp's default ("auto") turns on for the CPU.
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    int nv = llama_vocab_n_tokens(llama_model_get_vocab(model));
    static char line[1 << 20];
    while (fgets(line, sizeof line, stdin)) {
        int tokens[4096], n = 0;
        for (char *p = strtok(line, " \n"); p && n < 4096; p = strtok(NULL, " \n")) tokens[n++] = atoi(p);
        if (!n) continue;
        llama_memory_clear(llama_get_memory(ctx), 1);
        struct llama_batch b = llama_batch_init(n, 0, 1);
        for (int i = 0; i < n; i++) {
            b.token[i] = tokens[i]; b.pos[i] = i; b.n_seq_id[i] = 1; b.seq_id[i][0] = 0; b.logits[i] = 1;
        }
        b.n_tokens = n;
        if (llama_decode(ctx, b) != 0) return 3;
        if (nll) {
            double sum = 0;
            int count = 0;
            for (int j = n / 2; j < n - 1; j++, count++) {
                const float *l = llama_get_logits_ith(ctx, j);
                double max = l[0], total = 0;
                for (int i = 1; i < nv; i++) max = l[i] > max ? l[i] : max;
                for (int i = 0; i < nv; i++) total += exp(l[i] - max);
                sum += max + log(total) - l[tokens[j + 1]];
            }
            printf("%.17g %d\n", sum, count);
            fflush(stdout);
            llama_batch_free(b);
            continue;
        }
        int ids[20]; float vals[20];
        printf("{\"first\":[");
        top20(llama_get_logits_ith(ctx, 0), nv, ids, vals);
        for (int k = 0; k < 20; k++) printf("%s[%d,%.6f]", k ? "," : "", ids[k], vals[k]);
        printf("],\"last\":[");
        top20(llama_get_logits_ith(ctx, n - 1), nv, ids, vals);
        for (int k = 0; k < 20; k++) printf("%s[%d,%.6f]", k ? "," : "", ids[k], vals[k]);
        printf("]}\n");
        fflush(stdout);
        llama_batch_free(b);
    }
    return 0;
}
