/* vkn-da's command line: the options of a run, their defaults, parsing with messages that list the
 * valid values, and the help text. */
#ifndef VKN_DA_OPTS_H
#define VKN_DA_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "runfolder.h"
#include "tasks.h"

typedef enum da_sched { DA_SCHED_DANN = 0, DA_SCHED_CONSTANT, DA_SCHED_COSINE, DA_SCHED_COUNT } da_sched;

typedef struct da_opts {
    da_task task;
    da_setting set[2];        /* set[1] only in compare mode */
    int nset;
    float lr;
    da_sched sched;
    da_optim optim;
    float momentum, weight_decay;
    float lambda_max;         /* the GRL schedule is lambda_max * (2/(1+exp(-10p)) - 1) */
    int batch, eval_batch;
    uint64_t seed;
    int64_t steps;
    int64_t stop_at;          /* > 0: stop (with a checkpoint) after this many steps, as a user would */
    int64_t eval_every, ckpt_every, pca_every, view_every, png_every;
    int32_t eval_n, train_n;  /* 0: all */
    bool resume, headless;
    char out_dir[512];
    const char *screenshot;   /* save the window here at the end and exit */
    int width, height;
    vkn_run_cli cli;          /* --resume, --overwrite, --override, the options given */
    /* set by main before the run: */
    const char *commit;       /* the build's commit (run.json) */
    int nchanges;             /* on --resume: options that differ from the run's */
    vkn_run_change changes[16];
} da_opts;

/* Defaults (the values --help shows). */
void da_opts_default(da_opts *o);
/* 0: ready; 1: --help was printed to out (exit 0); 2: a bad option, explained on err (exit 2). */
int da_opts_parse(da_opts *o, int argc, char **argv, FILE *out, FILE *err);
void da_opts_usage(FILE *f);
const char *da_sched_name(da_sched s);
/* Every option of o, canonical, with how it may change on --resume. */
void da_opts_describe(const da_opts *o, vkn_runopts *l);
/* The files vkn-da writes in its run folder dir. */
vkn_run_folder da_run_folder(const char *dir);
/* lr and lambda of a step under the options' schedules (p = step / steps). */
float da_opts_lr(const da_opts *o, int64_t step);
float da_opts_lambda(const da_opts *o, const da_setting *s, int64_t step);

#endif
