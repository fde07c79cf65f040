/* Activation backward for graph ops (relu, leaky ReLU, tanh, sigmoid). */
#include "graph/graph_internal.h"

vkn_status vkn_graph_act_backward(vkn_graph *g, vkn_act act, float alpha, vkn_val x, vkn_val y, vkn_val dy, vkn_val *dx)
{
    (void)act; (void)alpha; (void)x; (void)y; (void)dy; (void)dx;
    return vkn_graph_fail(g, vkn_status_set(VKN_ERR_UNSUPPORTED, "graph: activation backward not available yet"));
}
