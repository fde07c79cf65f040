/* include/vkn/dist.h in a build without MPI: vkn_dist_init refuses, everything else sees NULL. */
#include "vkn/dist.h"

#include <string.h>

int vkn_dist_available(void) { return 0; }

vkn_status vkn_dist_init(int *argc, char ***argv, vkn_dist **out)
{
    *out = NULL;
    return vkn_status_set(VKN_ERR_UNSUPPORTED, "vknorm was built without MPI: install libopenmpi-dev "
                                               "(scripts/install-deps) and rebuild for data-parallel training");
}
void vkn_dist_finalize(vkn_dist *d) {}
int vkn_dist_rank(const vkn_dist *d) { return 0; }
int vkn_dist_size(const vkn_dist *d) { return 1; }
int vkn_dist_local_rank(const vkn_dist *d) { return 0; }
const char *vkn_dist_device(vkn_dist *d) { return NULL; }
static vkn_status none(void) { return vkn_status_set(VKN_ERR_UNSUPPORTED, "vknorm was built without MPI"); }
vkn_status vkn_dist_check(vkn_dist *d, const char *label, const void *what, size_t n) { return none(); }
vkn_status vkn_dist_broadcast_params(vkn_dist *d, vkn_params *p) { return none(); }
vkn_status vkn_dist_attach(vkn_dist *d, vkn_graph *g, const vkn_dist_graph_opts *opts) { return none(); }
vkn_dist_stats vkn_dist_get_stats(const vkn_dist *d)
{
    vkn_dist_stats s;
    memset(&s, 0, sizeof s);
    return s;
}
void vkn_dist_step_begin(vkn_dist *d, int64_t step) {}
void vkn_dist_step_end(vkn_dist *d) {}
vkn_status vkn_dist_allreduce_sum(vkn_dist *d, float *x, int64_t n) { return none(); }
int vkn_dist_same(vkn_dist *d, const void *buf, size_t n) { return 0; }
