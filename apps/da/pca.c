/* 2-D PCA on the host for the feature scatter (run.h: da_pca2). With n points (a few hundred) of
 * dimension d (768), the n x n Gram matrix of the centred points is small: its top two eigenvectors
 * u_k (subspace iteration) give the projections u_k * sqrt(eigenvalue_k) = the coordinates of the
 * points on the top principal axes. */
#include "run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void orthonormalize(double *v0, double *v1, int n)
{
    double a = 0, b = 0;
    for (int i = 0; i < n; i++) a += v0[i] * v0[i];
    a = a > 0 ? 1.0 / sqrt(a) : 0;
    for (int i = 0; i < n; i++) v0[i] *= a;
    for (int i = 0; i < n; i++) b += v0[i] * v1[i];
    for (int i = 0; i < n; i++) v1[i] -= b * v0[i];
    b = 0;
    for (int i = 0; i < n; i++) b += v1[i] * v1[i];
    b = b > 0 ? 1.0 / sqrt(b) : 0;
    for (int i = 0; i < n; i++) v1[i] *= b;
}

vkn_status da_pca2(const float *x, int n, int d, const float *prev, float *xy)
{
    if (n < 2 || d < 1) return vkn_status_set(VKN_ERR_ARG, "pca: %d points of dimension %d", n, d);
    double *c = malloc((size_t)n * d * sizeof *c), *g = malloc((size_t)n * n * sizeof *g);
    double *mean = calloc((size_t)d, sizeof *mean), *v = malloc((size_t)4 * n * sizeof *v);
    if (!c || !g || !mean || !v) {
        free(c), free(g), free(mean), free(v);
        return vkn_status_set(VKN_ERR_HOST_OOM, "pca: %d x %d", n, d);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mean[j] += x[(size_t)i * d + j];
    for (int j = 0; j < d; j++) mean[j] /= n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) c[(size_t)i * d + j] = x[(size_t)i * d + j] - mean[j];
    for (int i = 0; i < n; i++)
        for (int k = i; k < n; k++) {
            const double *a = c + (size_t)i * d, *b = c + (size_t)k * d;
            double s = 0;
            for (int j = 0; j < d; j++) s += a[j] * b[j];
            g[(size_t)i * n + k] = g[(size_t)k * n + i] = s;
        }
    double *v0 = v, *v1 = v + n, *w0 = v + 2 * n, *w1 = v + 3 * n;
    for (int i = 0; i < n; i++) {   /* a fixed, generic start */
        v0[i] = 1.0 + 0.01 * (i % 7);
        v1[i] = (i % 2 ? 1.0 : -1.0) + 0.013 * (i % 5);
    }
    orthonormalize(v0, v1, n);
    for (int it = 0; it < 300; it++) {
        for (int i = 0; i < n; i++) {
            double s0 = 0, s1 = 0;
            const double *row = g + (size_t)i * n;
            for (int k = 0; k < n; k++) s0 += row[k] * v0[k], s1 += row[k] * v1[k];
            w0[i] = s0, w1[i] = s1;
        }
        orthonormalize(w0, w1, n);
        double change = 0;
        for (int i = 0; i < n; i++) change += fabs(w0[i] - v0[i]) + fabs(w1[i] - v1[i]);
        memcpy(v0, w0, (size_t)n * sizeof *v0);
        memcpy(v1, w1, (size_t)n * sizeof *v1);
        if (change < 1e-9 * n) break;
    }
    double *vk[2] = {v0, v1};
    for (int k = 0; k < 2; k++) {
        double lam = 0;   /* Rayleigh quotient */
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < n; j++) s += g[(size_t)i * n + j] * vk[k][j];
            lam += vk[k][i] * s;
        }
        double scale = sqrt(lam > 0 ? lam : 0);
        double sign = 0;
        for (int i = 0; i < n; i++)
            sign += prev ? vk[k][i] * prev[2 * i + k] : vk[k][i] * vk[k][i] * vk[k][i];
        if (sign < 0) scale = -scale;
        for (int i = 0; i < n; i++) xy[2 * i + k] = (float)(vk[k][i] * scale);
    }
    free(c), free(g), free(mean), free(v);
    return VKN_OK;
}
