// Stage 2's per-segment decisions, shared by finalize.comp and the dense kernels (dense_stats.comp):
// post() turns a segment's merged (count, mean, M2) into seg = (mean, rstd, count, fixd), choosing
// batch or running statistics and updating the running ones; write_entry() writes its table entries.
// The includer declares the buffers seg, ftab, gam, bet, rm, rv, aux (names as in finalize.comp).
// acc: of x - S (SHIFT, norm.glsl; else S = 0): the mean is M + post_lo, M in seg and the tables
float post_lo = 0.0;
vec4 post(uint s, vec3 acc, float S)
{
    vec2 ml = split_mean(S, acc.y);
    float cnt = acc.x, mean = ml.x, var = cnt > 0.0 ? acc.z / cnt : 0.0;
    post_lo = ml.y;
    bool fixd = false;
    bool has_run = SEG_C || SEG_CTX;
    if (METHOD == M_BCN && s >= p.C) has_run = false;
    if (has_run) {
        bool batch = p.use_batch != 0u;
        bool update = p.train != 0u;
        if (METHOD == M_UBN && p.train != 0u && aux[1] > 0.5) {
            update = false;
            if ((p.flags & F_UBN_BATCH_ABOVE) == 0u) batch = false;
        }
        if (SEG_CTX && cnt < 2.0) { batch = false; update = false; }
        if (!batch) {
            mean = rm[s];
            var = rv[s];
            post_lo = 0.0;
            fixd = true;
        } else if (update) {
            float m = p.momentum;
            rm[s] = (1.0 - m) * rm[s] + m * mean;
            rv[s] = (1.0 - m) * rv[s] + m * var * (cnt / (cnt - 1.0));
        }
    }
    // afn: the variance itself, unbiased for batch statistics (the running one already is); the
    // standardization statistics are computed by afn_mlp.comp
    if (METHOD == M_AFN) return vec4(mean, fixd ? var : (cnt > 1.0 ? acc.z / (cnt - 1.0) : 0.0), cnt, fixd ? 1.0 : 0.0);
    return vec4(mean, inversesqrt(var + p.eps), cnt, fixd ? 1.0 : 0.0);
}

// table entries of segment s: count, and the j-th as (entry index, affine index, scale)
uint nentries(uint s)
{
    if (METHOD == M_BCN || METHOD == M_AFN) return 0u;
    if (METHOD == M_CBN) return p.K;
    if (SEG_GRP) return p.cw;
    return 1u;
}
void write_entry(uint s, uint j, vec4 st)
{
    uint e, a;
    float sc = 1.0;
    if (METHOD == M_CBN) { e = j * p.C + s; a = e; }
    else if (SEG_GRP) { uint n = s / p.G, g = s - n * p.G; a = g * p.cw + j; e = n * p.C + a; }
    else if (SEG_CTX) {
        e = s; a = s;
        if ((p.flags & F_PRIOR_SCALE) != 0u) sc = inversesqrt(aux[s / p.C]);
    } else { e = s; a = s; }
    bool aff = (p.flags & F_AFFINE) != 0u;
    float g = aff ? gam[a] : 1.0, b = aff ? bet[a] : 0.0;
    ftab[e] = vec4(st.x, sc * g * st.y, sc * b, post_lo);
}
