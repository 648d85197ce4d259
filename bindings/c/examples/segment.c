/* segment.c: segments an 8- or 16-bit binary PGM (P5) with emunet's shipped model (or the weights
 * file given with --weights) and prints its clusters as `emunet segment` writes them
 * (<stem>.clusters.csv): the same header, the same rows, the same digits.
 *
 *   cc -O2 -Ibindings/c/include bindings/c/examples/segment.c -Ltarget/release -lemunet -o segment
 *   ./segment [--weights W.safetensors] frame.pgm > frame.clusters.csv
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emunet.h"

/* Reads a binary PGM: 8-bit when maxval < 256, else 16-bit big-endian. Returns 0 on success. */
static int read_pgm(const char *path, unsigned *w, unsigned *h, unsigned *maxval, unsigned char **data) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "error: cannot open %s\n", path);
        return -1;
    }
    char magic[3] = {0};
    if (fscanf(f, "%2s", magic) != 1 || strcmp(magic, "P5") != 0) {
        fprintf(stderr, "error: %s is not a binary PGM (P5)\n", path);
        fclose(f);
        return -1;
    }
    unsigned v[3];
    for (int i = 0; i < 3; i++) {
        int c;
        /* Skip white space and comments. */
        while ((c = fgetc(f)) != EOF && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#')) {
            if (c == '#')
                while ((c = fgetc(f)) != EOF && c != '\n') {
                }
        }
        ungetc(c, f);
        if (fscanf(f, "%u", &v[i]) != 1) {
            fprintf(stderr, "error: %s: bad PGM header\n", path);
            fclose(f);
            return -1;
        }
    }
    fgetc(f); /* the single white-space byte before the pixels */
    *w = v[0];
    *h = v[1];
    *maxval = v[2];
    if (*w == 0 || *h == 0 || *maxval == 0 || *maxval > 65535) {
        fprintf(stderr, "error: %s: bad PGM size or maxval\n", path);
        fclose(f);
        return -1;
    }
    size_t bytes = (size_t)*w * *h * (*maxval < 256 ? 1 : 2);
    *data = malloc(bytes);
    if (!*data || fread(*data, 1, bytes, f) != bytes) {
        fprintf(stderr, "error: %s: truncated PGM\n", path);
        free(*data);
        *data = NULL;
        fclose(f);
        return -1;
    }
    fclose(f);
    if (*maxval >= 256) {
        /* PGM stores 16-bit samples big-endian. */
        uint16_t *p = (uint16_t *)*data;
        for (size_t i = 0; i < bytes / 2; i++) {
            unsigned char *b = *data + 2 * i;
            p[i] = (uint16_t)((b[0] << 8) | b[1]);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *weights = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--weights") == 0 && i + 1 < argc)
            weights = argv[++i];
        else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: %s [--weights W.safetensors] frame.pgm\n", argv[0]);
        return 2;
    }
    unsigned w, h, maxval;
    unsigned char *pixels = NULL;
    if (read_pgm(path, &w, &h, &maxval, &pixels) != 0)
        return 1;

    emunet_engine *engine = NULL;
    if (emunet_engine_new(weights, &engine) != EMUNET_OK) {
        fprintf(stderr, "error: %s\n", emunet_last_error());
        free(pixels);
        return 1;
    }
    /* Ask with a small array first; on EMUNET_ERR_CAPACITY n holds the count needed. */
    size_t capacity = 64, n = 0;
    emunet_cluster *clusters = malloc(capacity * sizeof *clusters);
    int rc;
    for (;;) {
        if (maxval < 256)
            rc = emunet_segment_u8(engine, pixels, w, h, w, NULL, NULL, clusters, capacity, &n);
        else
            rc = emunet_segment_u16(engine, (const uint16_t *)pixels, w, h, 2 * (size_t)w, NULL, NULL,
                                    clusters, capacity, &n);
        if (rc != EMUNET_ERR_CAPACITY)
            break;
        capacity = n;
        free(clusters);
        clusters = malloc(capacity * sizeof *clusters);
    }
    if (rc != EMUNET_OK) {
        fprintf(stderr, "error: %s\n", emunet_last_error());
        free(clusters);
        free(pixels);
        emunet_engine_free(engine);
        return 1;
    }
    printf("id,x,y,area,volume,cog_x,cog_y,peak,peak_x,peak_y,x0,y0,x1,y1,mxx,mxy,myy\n");
    for (size_t i = 0; i < n; i++) {
        const emunet_cluster *c = &clusters[i];
        printf("%zu,%.4f,%.4f,%u,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%u,%u,%u,%u,%.4f,%.4f,%.4f\n", i, c->x, c->y,
               c->area, c->volume, c->cog_x, c->cog_y, c->peak, c->peak_x, c->peak_y, c->x0, c->y0, c->x1,
               c->y1, c->mxx, c->mxy, c->myy);
    }
    free(clusters);
    free(pixels);
    emunet_engine_free(engine);
    return 0;
}
