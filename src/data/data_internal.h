/* Helpers shared by the dataset files: a small seeded RNG, whole-file reading, limits. */
#ifndef VKN_DATA_INTERNAL_H
#define VKN_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vkn/data.h"
#include "vkn/io.h"   /* vkn_io_write_file: atomic writes */

/* Largest decoded IDX payload we accept (bytes). Real datasets are < 200 MB; the cap turns a header
 * claiming absurd dimensions into a clear error instead of a huge allocation. */
#define VKN_DATA_MAX_BYTES ((uint64_t)1 << 31)

/* splitmix64: tiny, seedable, good enough for data augmentation; state advances by a constant. */
typedef struct { uint64_t s; } vkn_data_rng;

static inline uint64_t vkn_data_rng_next(vkn_data_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Uniform in [0, 1). */
static inline double vkn_data_rng_unif(vkn_data_rng *r) { return (vkn_data_rng_next(r) >> 11) * 0x1.0p-53; }
static inline double vkn_data_rng_range(vkn_data_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * vkn_data_rng_unif(r);
}
/* Uniform integer in [0, n), n > 0. */
static inline uint32_t vkn_data_rng_int(vkn_data_rng *r, uint32_t n) { return (uint32_t)(vkn_data_rng_unif(r) * n); }
/* A generator for sample i of a seeded set: depends only on (seed, i), so any count or slice of the
 * set is reproducible. */
static inline vkn_data_rng vkn_data_rng_for(uint64_t seed, uint64_t i)
{
    vkn_data_rng r = { seed ^ 0x6A09E667F3BCC909ull };
    r.s = vkn_data_rng_next(&r) ^ (i * 0xD1B54A32D192ED03ull);
    vkn_data_rng_next(&r);
    return r;
}

/* Read a whole file into a malloc'ed buffer (max_bytes caps its size). `what` and `fix` go into the
 * error message, e.g. what = "idx", fix = "install dataset-fashion-mnist". */
vkn_status vkn_data_read_file(const char *path, uint64_t max_bytes, const char *what, const char *fix,
                              uint8_t **buf, size_t *len);

/* printf into a path buffer; a path that does not fit is an error, never silently cut. */
vkn_status vkn_data_path(char *out, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* mkdir -p for one path (parents included). */
vkn_status vkn_data_mkdirs(const char *dir, const char *what);

#endif
