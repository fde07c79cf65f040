/* Plain-C references of the training ops (vkn/loss.h, vkn/optim.h, vkn/random.h): the definitions
 * the shaders are tested against. Accumulation in double. */
#ifndef VKN_OPS_REF_TRAIN_H
#define VKN_OPS_REF_TRAIN_H

#include <stdint.h>
#include "vkn/loss.h"
#include "vkn/optim.h"
#include "vkn/random.h"

/* one element's loss l(x, t), and dl/dx into *grad (may be NULL) */
double vkn_ref_loss1(vkn_loss_kind kind, double x, double t, double *grad);
/* returns scale * mean l; dx (may be NULL) = scale/n * dl/dx; t NULL: every target is tval */
double vkn_ref_loss(vkn_loss_kind kind, const float *x, const float *t, float tval, int64_t n, double scale, float *dx);
/* returns scale * mean over rows; dx (may be NULL) [n, k] */
double vkn_ref_softmax_ce(const float *x, const int32_t *labels, int64_t n, int64_t k, double smoothing, double scale,
                          float *dx);
/* returns the fraction of rows whose argmax is the label (labels may be NULL: 0); idx may be NULL */
double vkn_ref_accuracy(const float *x, const int32_t *labels, int64_t n, int64_t k, int32_t *idx);

/* one update in place, in double from float state (as vkn_op_optim_step); t, lr: the step tensor's
 * values; clip_norm: the norm clip_norm would hold (used when o->clip_norm is set) */
void vkn_ref_optim_step(const vkn_optim_opts *o, double t, double lr, double clip_norm, float *p, const float *g,
                        float *s1, float *s2, int64_t n);

double vkn_ref_sumsq(const float *x, int64_t n);
int vkn_ref_any_nonfinite(const float *x, int64_t n);

/* the raw Philox words of element 0..n-1 for (seed, stream, step counter) */
void vkn_ref_rand_bits(uint64_t seed, uint32_t stream, uint32_t counter, uint32_t *bits, int64_t n);
void vkn_ref_rand_uniform(uint64_t seed, uint32_t stream, uint32_t counter, float lo, float hi, float *y, int64_t n);
void vkn_ref_rand_normal(uint64_t seed, uint32_t stream, uint32_t counter, float mean, float std, float *y, int64_t n);
void vkn_ref_rand_bernoulli(uint64_t seed, uint32_t stream, uint32_t counter, float p, float *mask, int64_t n);
void vkn_ref_rand_labels(uint64_t seed, uint32_t stream, uint32_t counter, int32_t k, int32_t *y, int64_t n);

#endif
