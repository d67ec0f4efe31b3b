// A persistent thread pool for the forward pass. One job per matrix product (hundreds per token), so
// dispatch must cost microseconds: workers spin on a generation counter for a short while after each
// job, then sleep on a condition variable so an idle engine uses no CPU. The caller runs share 0.
#include "ckernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CK_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define CK_PAUSE() __asm__ __volatile__("yield")
#else
#define CK_PAUSE() ((void)0)
#endif

/// Spins before a worker sleeps (~0.3 ms): long enough to bridge the gaps between matrix products.
#define CK_SPIN_ROUNDS (1 << 14)
/// Busy-wait rounds after which a waiting thread yields its core on every round: on an oversubscribed
/// machine the thread we wait for may be descheduled, and spinning would only delay it.
#define CK_YIELD_AFTER 256

struct ck_pool {
    int size;
    pthread_t *threads;
    _Atomic uint64_t generation;
    _Atomic int pending;
    _Atomic int sleepers;
    _Atomic int stopping;
    ck_task_fn fn;
    void *context;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
};

typedef struct { ck_pool *pool; int index; } worker_arg;

static void *worker_main(void *raw) {
    worker_arg arg = *(worker_arg *)raw;
    free(raw);
    ck_pool *p = arg.pool;
    uint64_t seen = 0;
    for (;;) {
        int rounds = 0;
        while (atomic_load(&p->generation) == seen && !atomic_load(&p->stopping) && rounds < CK_SPIN_ROUNDS) {
            if (rounds > CK_YIELD_AFTER) sched_yield(); else CK_PAUSE();
            rounds++;
        }
        if (atomic_load(&p->generation) == seen && !atomic_load(&p->stopping)) {
            pthread_mutex_lock(&p->mutex);
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stopping)) {
                pthread_cond_wait(&p->wake, &p->mutex);
            }
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mutex);
        }
        if (atomic_load(&p->stopping)) return NULL;
        seen = atomic_load(&p->generation);
        p->fn(p->context, arg.index, p->size);
        atomic_fetch_sub(&p->pending, 1);
    }
}

ck_pool *ck_pool_create(int threads) {
    if (threads < 1) threads = 1;
    ck_pool *p = calloc(1, sizeof(ck_pool));
    if (!p) return NULL;
    p->size = threads;
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->threads = calloc((size_t)threads, sizeof(pthread_t));
    for (int i = 1; i < threads; i++) {
        worker_arg *arg = malloc(sizeof(worker_arg));
        arg->pool = p;
        arg->index = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, arg) != 0) {
            free(arg);
            p->size = i;  // run with the workers that did start
            break;
        }
    }
    return p;
}

int ck_pool_size(const ck_pool *p) { return p->size; }

void ck_pool_run(ck_pool *p, ck_task_fn fn, void *context) {
    if (!p || p->size == 1) {
        fn(context, 0, 1);
        return;
    }
    p->fn = fn;
    p->context = context;
    atomic_store(&p->pending, p->size - 1);
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mutex);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
    }
    fn(context, 0, p->size);
    for (int rounds = 0; atomic_load(&p->pending) > 0; rounds++) {
        if (rounds > CK_YIELD_AFTER) sched_yield(); else CK_PAUSE();
    }
}

void ck_pool_destroy(ck_pool *p) {
    if (!p) return;
    atomic_store(&p->stopping, 1);
    pthread_mutex_lock(&p->mutex);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    for (int i = 1; i < p->size; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
}
