/* Internal to src/nn: helpers shared by the layer files. */
#ifndef VKN_NN_INTERNAL_H
#define VKN_NN_INTERNAL_H

#include <stdlib.h>
#include <string.h>
#include "graph/graph_internal.h"
#include "vkn/nn.h"

#define T(v) vkn_graph_tensor(g, (v))

/* Find "<layer>.<what>" in the store or create it; its shape must match. Returns the graph value. */
vkn_val vkn_nn_param(vkn_nn *m, const char *layer, const char *what, int ndim, const int64_t *shape, vkn_init init,
                     float scale, int64_t fan_in, int64_t fan_out);

/* float host array <-> double scratch for the double references */
double *vkn_nn_to_double(const float *x, int64_t n);
void vkn_nn_to_float(const double *x, float *y, int64_t n);

/* Scale a gradient contribution by the upstream gradient of a scalar loss, unless that is the
 * backward's seed (exactly 1), the common case. */
vkn_val vkn_nn_scale_by_upstream(vkn_graph *g, vkn_val grad, vkn_val dloss);

#endif
