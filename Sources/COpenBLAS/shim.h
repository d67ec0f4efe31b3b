// OpenBLAS, seen from Swift only through the Inference target. cblas.h also declares
// openblas_get_config() and openblas_{get,set}_num_threads().
#include <cblas.h>
