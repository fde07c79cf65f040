/* Fashion-MNIST from Debian's dataset-fashion-mnist package: four IDX .gz files in one folder. */
#include "data/data_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FASHION_FIX "install Debian's dataset-fashion-mnist: sudo apt-get install dataset-fashion-mnist, " \
                    "or run scripts/install-deps; or set VKN_FASHION_DIR to a folder with the IDX files"

/* path = dir/stem.gz when present, else dir/stem (an unpacked copy); 0 when neither exists */
static int find(char *path, size_t cap, const char *dir, const char *stem)
{
    if (vkn_data_path(path, cap, "%s/%s", dir, stem) == VKN_OK && access(path, R_OK) == 0) return 1;
    if (vkn_data_path(path, cap, "%s/%s.gz", dir, stem) == VKN_OK && access(path, R_OK) == 0) return 1;
    return 0;  /* path names the .gz file, for the message */
}

vkn_status vkn_data_fashion_load(vkn_dataset *ds, const char *dir, vkn_split split)
{
    memset(ds, 0, sizeof *ds);
    if (!dir) dir = getenv("VKN_FASHION_DIR");
    char own[4200];  /* a copy in the data folder (`vkn-data install`) comes before the system's */
    if ((!dir || !*dir) && vkn_data_path(own, sizeof own, "%s/fashion-mnist", vkn_data_dir()) == VKN_OK &&
        access(own, R_OK) == 0)
        dir = own;
    if (!dir || !*dir) dir = "/usr/share/datasets/fashion-mnist";
    const char *pre = split == VKN_SPLIT_TRAIN ? "train" : "t10k";
    char ip[4200], lp[4200], stem[64];
    snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", pre);
    if (!find(ip, sizeof ip, dir, stem))
        return vkn_status_set(VKN_ERR_IO, "fashion-mnist: %s: not found (%s)", ip, FASHION_FIX);
    snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", pre);
    if (!find(lp, sizeof lp, dir, stem))
        return vkn_status_set(VKN_ERR_IO, "fashion-mnist: %s: not found (%s)", lp, FASHION_FIX);
    VKN_TRY(vkn_data_idx_load(ds, ip, lp, 10));
    snprintf(ds->name, sizeof ds->name, "fashion-mnist/%s", split == VKN_SPLIT_TRAIN ? "train" : "test");
    return VKN_OK;
}
