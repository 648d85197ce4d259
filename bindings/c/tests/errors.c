/* errors.c: every error path of the C ABI returns its code and a message, leaks nothing and never
 * crashes (run under AddressSanitizer/LeakSanitizer by bindings/c/check.sh). Exit status 0 when
 * every expectation holds. Usage: errors frame.pgm (an 8-bit PGM with clusters). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emunet.h"

static int failures = 0;

/* Field by field (the struct has padding, which memcmp would read). */
static int same_clusters(const emunet_cluster *a, const emunet_cluster *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const emunet_cluster *p = &a[i], *q = &b[i];
        if (p->x != q->x || p->y != q->y || p->cog_x != q->cog_x || p->cog_y != q->cog_y ||
            p->area != q->area || p->volume != q->volume || p->peak != q->peak || p->x0 != q->x0 ||
            p->y0 != q->y0 || p->x1 != q->x1 || p->y1 != q->y1 || p->mxx != q->mxx || p->mxy != q->mxy ||
            p->myy != q->myy || p->peak_x != q->peak_x || p->peak_y != q->peak_y)
            return 0;
    }
    return 1;
}

static void expect(int got, int want, const char *what) {
    const char *msg = emunet_last_error();
    if (got != want) {
        fprintf(stderr, "FAIL %s: got %d, want %d (%s)\n", what, got, want, msg);
        failures++;
    } else if (want != EMUNET_OK && (msg == NULL || msg[0] == '\0')) {
        fprintf(stderr, "FAIL %s: no message\n", what);
        failures++;
    } else {
        printf("ok   %s%s%s\n", what, want != EMUNET_OK ? ": " : "", want != EMUNET_OK ? msg : "");
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s frame.pgm\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    unsigned w, h, maxval;
    if (!f || fscanf(f, "P5 %u %u %u", &w, &h, &maxval) != 3 || maxval > 255) {
        fprintf(stderr, "cannot read %s as an 8-bit PGM\n", argv[1]);
        return 2;
    }
    fgetc(f);
    unsigned char *pixels = malloc((size_t)w * h);
    if (fread(pixels, 1, (size_t)w * h, f) != (size_t)w * h) {
        fprintf(stderr, "truncated %s\n", argv[1]);
        return 2;
    }
    fclose(f);

    if (strlen(emunet_version()) == 0) {
        fprintf(stderr, "FAIL empty version\n");
        failures++;
    }
    emunet_engine *e = (emunet_engine *)0x1;
    expect(emunet_engine_new("/nonexistent/w.safetensors", &e), EMUNET_ERR_BAD_WEIGHTS, "bad weights path");
    if (e != NULL) {
        fprintf(stderr, "FAIL out not NULL after a failure\n");
        failures++;
    }
    expect(emunet_engine_new(argv[1], &e), EMUNET_ERR_BAD_WEIGHTS, "a PGM as weights");
    expect(emunet_engine_new(NULL, NULL), EMUNET_ERR_INVALID_ARGUMENT, "NULL out");
    expect(emunet_engine_new(NULL, &e), EMUNET_OK, "default model");

    size_t n = 12345;
    emunet_cluster few[4];
    unsigned char *mask = malloc((size_t)w * h);
    float *prob = malloc((size_t)w * h * sizeof *prob);
    expect(emunet_segment_u8(NULL, pixels, w, h, w, NULL, NULL, few, 4, &n), EMUNET_ERR_INVALID_ARGUMENT, "NULL engine");
    expect(emunet_segment_u8(e, NULL, w, h, w, NULL, NULL, few, 4, &n), EMUNET_ERR_INVALID_ARGUMENT, "NULL pixels");
    expect(emunet_segment_u8(e, pixels, w, h, w, NULL, NULL, few, 4, NULL), EMUNET_ERR_INVALID_ARGUMENT, "NULL n_clusters");
    expect(emunet_segment_u8(e, pixels, w, h, w, NULL, NULL, NULL, 4, &n), EMUNET_ERR_INVALID_ARGUMENT, "NULL clusters with capacity");
    expect(emunet_segment_u8(e, pixels, 0, h, w, NULL, NULL, few, 4, &n), EMUNET_ERR_INVALID_ARGUMENT, "zero width");
    expect(emunet_segment_u8(e, pixels, w, 0, w, NULL, NULL, few, 4, &n), EMUNET_ERR_INVALID_ARGUMENT, "zero height");
    expect(emunet_segment_u8(e, pixels, w, h, w - 1, NULL, NULL, few, 4, &n), EMUNET_ERR_INVALID_ARGUMENT, "stride shorter than a row");
    expect(emunet_segment_u8(e, pixels, 3, 3, 3, NULL, NULL, few, 4, &n), EMUNET_ERR_INVALID_ARGUMENT, "frame smaller than 2^depth");
    expect(emunet_segment_u16(e, (const uint16_t *)pixels, w / 2, h, w - 1, NULL, NULL, few, 4, &n), EMUNET_ERR_INVALID_ARGUMENT, "odd 16-bit stride");
    n = 0;
    expect(emunet_segment_u8(e, pixels, w, h, w, mask, prob, NULL, 0, &n), EMUNET_ERR_CAPACITY, "capacity 0");
    if (n < 5) {
        fprintf(stderr, "FAIL capacity error without the count needed (%zu)\n", n);
        failures++;
    }
    size_t needed = n;
    expect(emunet_segment_u8(e, pixels, w, h, w, NULL, NULL, few, 4, &n), EMUNET_ERR_CAPACITY, "capacity 4");
    emunet_cluster *all = malloc(needed * sizeof *all);
    expect(emunet_segment_u8(e, pixels, w, h, w, mask, prob, all, needed, &n), EMUNET_OK, "enough capacity");
    if (n != needed) {
        fprintf(stderr, "FAIL %zu clusters, %zu before\n", n, needed);
        failures++;
    }
    /* A strided view: the frame inside a wider buffer gives the same clusters. */
    size_t stride = (size_t)w + 7;
    unsigned char *wide = calloc(stride * h, 1);
    for (unsigned y = 0; y < h; y++)
        memcpy(wide + y * stride, pixels + (size_t)y * w, w);
    emunet_cluster *again = malloc(needed * sizeof *again);
    size_t m = 0;
    expect(emunet_segment_u8(e, wide, w, h, stride, NULL, NULL, again, needed, &m), EMUNET_OK, "strided rows");
    if (m != n || !same_clusters(all, again, n)) {
        fprintf(stderr, "FAIL strided rows give other clusters\n");
        failures++;
    }
    /* 16-bit: the same frame scaled by 257 gives the same clusters' count. */
    uint16_t *deep = malloc((size_t)w * h * sizeof *deep);
    for (size_t i = 0; i < (size_t)w * h; i++)
        deep[i] = (uint16_t)(pixels[i] * 257);
    expect(emunet_segment_u16(e, deep, w, h, 2 * (size_t)w, NULL, NULL, again, needed, &m), EMUNET_OK, "16-bit frame");
    /* u8 probabilities (emunet_set_prob_format): on the 1/255 grid, within 1/510 of the f32 ones,
     * the same mask and clusters; unknown formats and a NULL engine refused. */
    expect(emunet_set_prob_format(NULL, EMUNET_PROB_U8), EMUNET_ERR_INVALID_ARGUMENT, "prob format, NULL engine");
    expect(emunet_set_prob_format(e, 7), EMUNET_ERR_INVALID_ARGUMENT, "prob format 7");
    expect(emunet_set_prob_format(e, EMUNET_PROB_U8), EMUNET_OK, "u8 probabilities");
    unsigned char *mask8 = malloc((size_t)w * h);
    float *prob8 = malloc((size_t)w * h * sizeof *prob8);
    expect(emunet_segment_u8(e, pixels, w, h, w, mask8, prob8, again, needed, &m), EMUNET_OK, "segment, u8 probabilities");
    size_t off_grid = 0, far = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        float q = prob8[i] * 255.0f;
        if (q - (float)(int)(q + 0.5f) > 1e-3f || (float)(int)(q + 0.5f) - q > 1e-3f)
            off_grid++;
        if (prob8[i] - prob[i] > 1.0f / 510 + 1e-6f || prob[i] - prob8[i] > 1.0f / 510 + 1e-6f)
            far++;
    }
    if (off_grid || far || memcmp(mask, mask8, (size_t)w * h) != 0 || m != n || !same_clusters(all, again, n)) {
        fprintf(stderr, "FAIL u8 probabilities: %zu off the grid, %zu beyond 1/510, mask or clusters differ\n", off_grid, far);
        failures++;
    }
    free(prob8);
    free(mask8);
    expect(emunet_set_prob_format(e, EMUNET_PROB_F32), EMUNET_OK, "f32 probabilities again");
    /* Another pixel size (emunet_set_pixel_um): the mask and probabilities stay the frame's size
     * and in range, clusters found; bad sizes and a NULL engine refused; 0 restores the model's
     * scale and the same clusters as before. */
    expect(emunet_set_pixel_um(NULL, 0.2), EMUNET_ERR_INVALID_ARGUMENT, "pixel size, NULL engine");
    expect(emunet_set_pixel_um(e, -0.3), EMUNET_ERR_INVALID_ARGUMENT, "negative pixel size");
    expect(emunet_set_pixel_um(e, NAN), EMUNET_ERR_INVALID_ARGUMENT, "NaN pixel size");
    expect(emunet_set_pixel_um(e, 0.21), EMUNET_OK, "0.21 µm pixels");
    for (size_t i = 0; i < (size_t)w * h; i++)
        prob[i] = -1.0f;
    size_t scaled = 0;
    expect(emunet_segment_u8(e, pixels, w, h, w, NULL, NULL, NULL, 0, &scaled), EMUNET_ERR_CAPACITY, "count at 0.21 µm");
    emunet_cluster *fine = malloc((scaled + 1) * sizeof *fine);
    expect(emunet_segment_u8(e, pixels, w, h, w, mask, prob, fine, scaled + 1, &scaled), EMUNET_OK, "segment at 0.21 µm");
    free(fine);
    size_t out_of_range = 0;
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (!(prob[i] >= 0.0f && prob[i] <= 1.0f) || (mask[i] != 0 && mask[i] != 255))
            out_of_range++;
    if (out_of_range || scaled == 0) {
        fprintf(stderr, "FAIL 0.21 µm pixels: %zu pixels unwritten or out of range, %zu clusters\n", out_of_range, scaled);
        failures++;
    }
    expect(emunet_set_pixel_um(e, 0.0), EMUNET_OK, "the model's scale again");
    /* A border cut (emunet_set_border): nothing on within 4 px of an edge; 0 restores it. */
    expect(emunet_set_border(NULL, 4), EMUNET_ERR_INVALID_ARGUMENT, "border, NULL engine");
    expect(emunet_set_border(e, 4), EMUNET_OK, "border 4");
    size_t inside = 0;
    emunet_segment_u8(e, pixels, w, h, w, NULL, NULL, NULL, 0, &inside);
    emunet_cluster *kept = malloc((inside + 1) * sizeof *kept);
    expect(emunet_segment_u8(e, pixels, w, h, w, mask, prob, kept, inside + 1, &inside), EMUNET_OK, "segment, border 4");
    free(kept);
    size_t near_edge = 0;
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++)
            if ((x < 4 || y < 4 || x + 4 >= w || y + 4 >= h) && (mask[(size_t)y * w + x] || prob[(size_t)y * w + x] != 0.0f))
                near_edge++;
    if (near_edge) {
        fprintf(stderr, "FAIL border 4: %zu pixels on near the edges\n", near_edge);
        failures++;
    }
    expect(emunet_set_border(e, 0), EMUNET_OK, "border 0");
    expect(emunet_segment_u8(e, pixels, w, h, w, NULL, NULL, again, needed, &m), EMUNET_OK, "segment at the model's scale");
    if (m != n || !same_clusters(all, again, n)) {
        fprintf(stderr, "FAIL pixel size 0 does not restore the model's scale\n");
        failures++;
    }
    /* The engine's own time of the last call: positive after a success, 0 for NULL. */
    if (!(emunet_last_elapsed(e) > 0.0) || emunet_last_elapsed(NULL) != 0.0) {
        fprintf(stderr, "FAIL emunet_last_elapsed\n");
        failures++;
    }
    emunet_engine_free(e);
    emunet_engine_free(NULL);
    /* A GPU that does not answer within EMUNET_GPU_TIMEOUT is taken to be hung: that call and
     * every later one on the engine fail with EMUNET_ERR_DEVICE_LOST. */
    setenv("EMUNET_GPU_TIMEOUT", "0.001", 1);
    emunet_engine *hung = NULL;
    expect(emunet_engine_new(NULL, &hung), EMUNET_OK, "engine with a 1 ms GPU timeout");
    unsetenv("EMUNET_GPU_TIMEOUT");
    expect(emunet_segment_u8(hung, pixels, w, h, w, NULL, NULL, all, needed, &n), EMUNET_ERR_DEVICE_LOST, "hung device");
    expect(emunet_segment_u8(hung, pixels, w, h, w, NULL, NULL, all, needed, &n), EMUNET_ERR_DEVICE_LOST, "hung device, next call");
    emunet_engine_free(hung);
    free(deep);
    free(again);
    free(wide);
    free(all);
    free(prob);
    free(mask);
    free(pixels);
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}
