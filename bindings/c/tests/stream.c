/* stream.c: the streaming pair (emunet_submit_u8 / emunet_poll) returns every frame once, in
 * submission order, with the clusters emunet_segment_u8 gives; a full ring is refused with
 * EMUNET_ERR_BUSY, an empty one polls EMUNET_NOT_READY, and a too-small capacity keeps the result
 * for the next poll. Run under AddressSanitizer/LeakSanitizer by bindings/c/check.sh.
 * Usage: stream frame.pgm (an 8-bit PGM). Exit status 0 when every expectation holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emunet.h"

#define CAP 4096

static int failures = 0;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "FAIL %s (%s)\n", what, emunet_last_error());
        failures++;
    }
}

static int same(const emunet_cluster *a, const emunet_cluster *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i].x != b[i].x || a[i].y != b[i].y || a[i].cog_x != b[i].cog_x || a[i].cog_y != b[i].cog_y ||
            a[i].area != b[i].area || a[i].volume != b[i].volume || a[i].x0 != b[i].x0 || a[i].y1 != b[i].y1)
            return 0;
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    FILE *f = fopen(argv[1], "rb");
    unsigned w, h, maxval;
    if (!f || fscanf(f, "P5 %u %u %u", &w, &h, &maxval) != 3 || maxval > 255)
        return 2;
    fgetc(f);
    unsigned char *frames[2];
    frames[0] = malloc((size_t)w * h);
    if (fread(frames[0], 1, (size_t)w * h, f) != (size_t)w * h)
        return 2;
    fclose(f);
    /* A second frame: the first mirrored left to right. */
    frames[1] = malloc((size_t)w * h);
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++)
            frames[1][(size_t)y * w + x] = frames[0][(size_t)y * w + (w - 1 - x)];

    emunet_engine *e = NULL;
    check(emunet_engine_new(NULL, &e) == EMUNET_OK, "engine");
    emunet_cluster *expected[2], *got = malloc(CAP * sizeof *got);
    size_t n_expected[2], n = 0;
    for (int k = 0; k < 2; k++) {
        expected[k] = malloc(CAP * sizeof(emunet_cluster));
        check(emunet_segment_u8(e, frames[k], w, h, w, NULL, NULL, expected[k], CAP, &n_expected[k]) == EMUNET_OK,
              "segment");
    }
    uint64_t ticket = 99;
    check(emunet_poll(e, 1, &ticket, NULL, NULL, got, CAP, &n) == EMUNET_NOT_READY, "poll with nothing in flight");

    size_t max = emunet_max_in_flight(e);
    check(max >= 1, "max in flight");
    const int total = 7;
    int submitted = 0, polled = 0;
    while (polled < total) {
        if (submitted < total && emunet_in_flight(e) < max) {
            check(emunet_submit_u8(e, frames[submitted % 2], w, h, w, &ticket) == EMUNET_OK, "submit");
            check(ticket == (uint64_t)submitted, "tickets number submissions");
            submitted++;
            if (submitted == (int)max) /* the ring is full now */
                check(emunet_submit_u8(e, frames[0], w, h, w, NULL) == EMUNET_ERR_BUSY, "full ring refused");
            continue;
        }
        if (polled == 1) {
            /* Too small a capacity keeps the result for the next poll. */
            check(emunet_poll(e, 1, &ticket, NULL, NULL, got, 1, &n) == EMUNET_ERR_CAPACITY, "small capacity");
            check(n == n_expected[polled % 2], "count needed");
        }
        int rc = emunet_poll(e, 1, &ticket, NULL, NULL, got, CAP, &n);
        check(rc == EMUNET_OK, "poll");
        check(ticket == (uint64_t)polled, "results in submission order");
        check(n == n_expected[polled % 2] && same(got, expected[polled % 2], n), "streamed clusters equal segment's");
        polled++;
    }
    check(emunet_in_flight(e) == 0, "nothing left in flight");
    check(emunet_poll(e, 0, NULL, NULL, NULL, NULL, 0, &n) == EMUNET_NOT_READY, "empty after draining");
    check(emunet_submit_u8(NULL, frames[0], w, h, w, NULL) == EMUNET_ERR_INVALID_ARGUMENT, "NULL engine");
    check(emunet_submit_u8(e, frames[0], w, h, w - 1, NULL) == EMUNET_ERR_INVALID_ARGUMENT, "short stride");
    emunet_engine_free(e);
    for (int k = 0; k < 2; k++) {
        free(expected[k]);
        free(frames[k]);
    }
    free(got);
    printf("%s: %d frames streamed, %d failure(s)\n", failures ? "FAIL" : "ok", total, failures);
    return failures ? 1 : 0;
}
