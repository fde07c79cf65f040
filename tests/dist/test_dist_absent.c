/* A build without MPI (-Dmpi=disabled, or no libopenmpi-dev): the dist API is there and says so. */
#include <stdio.h>
#include <string.h>
#include "vkn/vkn.h"

int main(void)
{
    vkn_dist *d = (vkn_dist *)1;
    vkn_status s = vkn_dist_init(NULL, NULL, &d);
    int ok = !vkn_dist_available() && s == VKN_ERR_UNSUPPORTED && d == NULL &&
             strstr(vkn_status_detail(), "without MPI") && vkn_dist_size(NULL) == 1 && vkn_dist_rank(NULL) == 0;
    printf("vkn_dist_init without MPI: status %d, '%s'\n", (int)s, vkn_status_detail());
    return ok ? 0 : 1;
}
