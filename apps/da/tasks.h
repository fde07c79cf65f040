/* vkn-da's tasks: which labelled source domain adapts to which unlabelled target domain, and the
 * datasets behind them (train and test split of each domain, 28x28). */
#ifndef VKN_DA_TASKS_H
#define VKN_DA_TASKS_H

#include <stdint.h>

#include "vkn/data.h"

typedef enum da_task {
    DA_TASK_MNIST_TEXTURED = 0,   /* MNIST -> textured MNIST (the MNIST-M-style domain); default */
    DA_TASK_SYN_MNIST,            /* synthetic digits -> MNIST */
    DA_TASK_MNIST_SYN,            /* MNIST -> synthetic digits */
    DA_TASK_COUNT
} da_task;

const char *da_task_name(da_task t);     /* "mnist-textured", ... */
int da_task_parse(const char *s);        /* -1 when unknown */
const char *da_task_list(void);          /* "mnist-textured, syn-mnist, mnist-syn" */

typedef struct da_data {
    da_task task;
    vkn_dataset src_train, src_test, tgt_train, tgt_test;
    char src_name[32], tgt_name[32];     /* "MNIST", "textured MNIST", "synthetic digits" */
} da_data;

/* Load or generate the four splits. The domains are fixed (their generators use fixed seeds), so runs
 * with different seeds see the same data. train_n / test_n > 0 keep the first images of each split.
 * A missing MNIST package names scripts/install-deps. */
vkn_status da_data_load(da_data *d, da_task task, int32_t train_n, int32_t test_n);
void da_data_free(da_data *d);

#endif
