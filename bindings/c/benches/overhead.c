/* Call overhead of the C ABI against the Rust API: per call of emunet_segment_u8 (mask,
 * probabilities and clusters out), its wall time against emunet_last_elapsed(), the time the
 * same call spent in the engine (the Rust API) inside it; the rest is the binding's own work
 * (copying the pixels in and the results out). Usage: overhead frame.pgm [calls, default 8]
 * (an 8-bit binary PGM); benches/bindings.sh builds and runs it. */
#include "emunet.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s frame.pgm [calls]\n", argv[0]);
        return 2;
    }
    int calls = argc > 2 ? atoi(argv[2]) : 8;
    FILE *f = fopen(argv[1], "rb");
    unsigned w, h, maxval;
    if (!f || fscanf(f, "P5 %u %u %u", &w, &h, &maxval) != 3 || maxval > 255 || fgetc(f) == EOF) {
        fprintf(stderr, "%s: not an 8-bit binary PGM\n", argv[1]);
        return 2;
    }
    size_t pixels_n = (size_t)w * h;
    uint8_t *pixels = malloc(pixels_n), *mask = malloc(pixels_n);
    float *prob = malloc(pixels_n * sizeof *prob);
    size_t capacity = 1 << 16, n = 0;
    emunet_cluster *clusters = malloc(capacity * sizeof *clusters);
    double *wall = malloc(calls * sizeof *wall), *own = malloc(calls * sizeof *own),
           *rel = malloc(calls * sizeof *rel), *inside = malloc(calls * sizeof *inside);
    if (fread(pixels, 1, pixels_n, f) != pixels_n) {
        fprintf(stderr, "%s: truncated\n", argv[1]);
        return 2;
    }
    fclose(f);
    emunet_engine *e = NULL;
    if (emunet_engine_new(NULL, &e) != EMUNET_OK) {
        fprintf(stderr, "%s\n", emunet_last_error());
        return 1;
    }
    double max_rel = 0;
    for (int i = -1; i < calls; i++) { /* call -1 plans the buffers and pipelines */
        double start = now();
        int rc = emunet_segment_u8(e, pixels, w, h, w, mask, prob, clusters, capacity, &n);
        double t = now() - start;
        if (rc != EMUNET_OK) {
            fprintf(stderr, "%s\n", emunet_last_error());
            return 1;
        }
        if (i < 0)
            continue;
        double core = emunet_last_elapsed(e);
        wall[i] = t;
        inside[i] = core;
        own[i] = t - core;
        rel[i] = (t - core) / core;
        if (rel[i] > max_rel)
            max_rel = rel[i];
        fprintf(stderr, "call %d: wall %.1f ms, Rust API %.1f ms, %zu clusters\n", i, t * 1e3, core * 1e3, n);
    }
    printf("C ABI vs Rust API, one %ux%u frame: wall %.1f ms, Rust API %.1f ms (medians); overhead "
           "%.2f ms = %+.3f %% (median of %d calls, max %+.3f %%)\n",
           w, h, median(wall, calls) * 1e3, median(inside, calls) * 1e3, median(own, calls) * 1e3,
           median(rel, calls) * 100, calls, max_rel * 100);
    emunet_engine_free(e);
    free(pixels), free(mask), free(prob), free(clusters), free(wall), free(own), free(rel), free(inside);
    return 0;
}
