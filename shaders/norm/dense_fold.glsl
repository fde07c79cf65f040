// The forward's statistics fold of dense_stats.comp, shared with dense_sums.comp so that cn's backward
// recomputes a context's (mean, M2) from x bit for bit instead of reading a per-(context, channel)
// seg table (which would be 16 bytes per segment written and read again: at 10 contexts and 64
// samples that is more traffic than x itself). Include after X, KORD and W are declared.

// the block w of the invocation: first channel, clamped to the last block (a block past C repeats
// the last block's loads and writes nothing)
uint blk(uint c0, uint w) { return min(c0 + 4u * w, 4u * (p.ncb - 1u)); }

// Welford over positions j0..j1-1 (of kord when ctx, else the samples themselves) of x - S, the
// shift S = the first position's x (norm.glsl SHIFT: the mean is S + mean, split by split4)
void fold(uint c0, uint j0, uint j1, bool ctx, out vec4 mean[W], out vec4 m2[W], out float cnt, out vec4 S[W])
{
    [[unroll]] for (uint w = 0u; w < W; w++) { mean[w] = vec4(0.0); m2[w] = vec4(0.0); S[w] = vec4(0.0); }
    cnt = 0.0;
    if (j1 > j0) {
        uint n = ctx ? uint(texelFetch(KORD, int(j0)).x) : j0;
        [[unroll]] for (uint w = 0u; w < W; w++) S[w] = ldc(X, n, blk(c0, w));
    }
    for (uint j = j0; j < j1; j++) {
        uint n = ctx ? uint(texelFetch(KORD, int(j)).x) : j;
        cnt += 1.0;
        float r = 1.0 / cnt;
        [[unroll]] for (uint w = 0u; w < W; w++) {
            vec4 x = ldc(X, n, blk(c0, w)) - S[w];
            vec4 d = x - mean[w];
            mean[w] += d * r;
            m2[w] += d * (x - mean[w]);
        }
    }
}

// (M, Mlo) with M + Mlo = S + ms exactly, lane-wise (norm.glsl split_mean)
void split4(vec4 S, vec4 ms, out vec4 M, out vec4 lo)
{
    precise vec4 h = S + ms;
    precise vec4 l = (S - h) + ms;
    M = h;
    lo = l;
}
