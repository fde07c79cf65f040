#version 450
#extension GL_GOOGLE_include_directive : require
// AFN (shared/NORMS.md 9; reference src/ops/norm_ref_fused.c): everything between the per-channel
// batch statistics (finalize.comp: seg[c] = (mean, unbiased or running variance, count, fixd)) and
// the element-wise passes (apply.comp), as small barrier-free kernels, one invocation per output
// unit, every sum serial in a fixed order. The learned slots arrive packed in one array (PRM, a texel
// view, afn_pack.comp); gradients leave packed (gpk) and are scattered by afn_pack.comp.
//   STAGE 0  encoders: dropout masks (counter hash of (seed, step, index)), muB, sdB; hidden units
//            a_mu, a_sd (standardization encoder), b_r, c_r (rescaling encoder)
//   STAGE 1  decoders, gates, ftab[c] = (muB, gamma / sd, beta, mu - muB); bumps the step counter
//   STAGE 2  backward per channel: dbeta, dgamma (from the row sums), dmu, dsd and the decoder
//            output gradients; bias gradients of the decoders, d b_beta, d b_gamma
//   STAGE 3  decoder weight gradients, hidden-unit gradients, the four gate gradients
//   STAGE 4  encoder weight / bias gradients; dmuB, dsdB -> btab[c] = (muB, alpha, beta, gamma) so
//            that dx = alpha g + beta (x - muB) + gamma (apply.comp)
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint STAGE = 0u;

layout(push_constant) uniform PC {
    uint C, HS, HR, N;
    uint P, nchunk, train, raw;
    float eps, pdrop, M, pad0;
    uint seed_lo, seed_hi, nout, pad1;
} p;

layout(binding = 8) uniform samplerBuffer PRM;    // packed learned slots (R32F)
layout(binding = 9) uniform samplerBuffer SEG4;   // stage 0: seg (vec4); stage 2: row partials (vec4)
layout(binding = 10) uniform samplerBuffer X1;    // stage 2, raw (P = 1): x
layout(binding = 11) uniform samplerBuffer G1;    // stage 2, raw: dy
layout(std430, binding = 0) buffer Aux { float aux[]; };
layout(std430, binding = 0) buffer AuxU { uint auxu[]; };   // the step counter, as bits
layout(std430, binding = 1) buffer Tab { vec4 tab[]; };    // stage 1: ftab; 2: ftab (read); 4: btab
layout(std430, binding = 2) writeonly buffer Gpk { float gpk[]; };

// ---- packed slot offsets (slot order of vkn_norm_slots) ----
uint oWE() { return 0u; }
uint oBE() { return p.HS * p.C; }
uint oWMU() { return oBE() + p.HS; }
uint oBMU() { return oWMU() + p.C * p.HS; }
uint oWSD() { return oBMU() + p.C; }
uint oBSD() { return oWSD() + p.C * p.HS; }
uint oWR() { return oBSD() + p.C; }
uint oBR() { return oWR() + p.HR * p.C; }
uint oWB() { return oBR() + p.HR; }
uint oBB() { return oWB() + p.C * p.HR; }
uint oWG() { return oBB() + p.C; }
uint oBG() { return oWG() + p.C * p.HR; }
uint oT() { return oBG() + p.C; }
uint oBBETA() { return oT() + 4u; }
uint oBGAM() { return oBBETA() + p.C; }

float prm(uint i) { return texelFetch(PRM, int(i)).x; }

// ---- aux layout (norm_afn.c allocates afn_aux_floats) ----
// [0, 2C) keep flags (mu, then sigma); [2C] step counter (uint bits); then C-arrays and hidden arrays
uint aMASK() { return 0u; }
uint aSTEP() { return 2u * p.C; }
uint aC(uint k) { return 2u * p.C + 4u + k * p.C; }        // k-th per-channel array
const uint MUB = 0u, SDB = 1u, SDU = 2u, MSM = 3u, MSS = 4u, MUT = 5u, PRES = 6u, PREB = 7u, PREG = 8u,
           MU = 9u, SD = 10u, BETA = 11u, GAM = 12u, DMU = 13u, DSD = 14u, DMUT = 15u, DSDT = 16u,
           DPREB = 17u, DPREG = 18u, DBETA = 19u, DGAM = 20u, NCARR = 21u;
uint aH(uint k)   // hidden arrays: 0 a_mu, 1 a_sd (HS); 2 b_r, 3 c_r (HR); 4 dh_mu, 5 dh_sd (HS); 6 dh_b, 7 dh_g (HR)
{
    uint base = aC(NCARR), hs = p.HS, hr = p.HR;
    uint off[8] = uint[8](0u, hs, 2u * hs, 2u * hs + hr, 2u * hs + 2u * hr, 3u * hs + 2u * hr, 4u * hs + 2u * hr,
                          4u * hs + 3u * hr);
    return base + off[k];
}

float sigm(float v) { return 1.0 / (1.0 + exp(-v)); }
float relu(float v) { return max(v, 0.0); }
float gate(uint k) { return sigm(prm(oT() + k)); }

uint lowbias32(uint x)
{
    x ^= x >> 16; x *= 0x7feb352du;
    x ^= x >> 15; x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}
// dropout keep flag of entry i (0..2C-1) at this step: 1 with probability 1 - pdrop
float keep(uint i, uint step)
{
    uint h = lowbias32(i + lowbias32(step + lowbias32(p.seed_hi + lowbias32(p.seed_lo))));
    return float(h >> 8) * (1.0 / 16777216.0) >= p.pdrop ? 1.0 : 0.0;
}
bool dropping() { return p.train != 0u && p.pdrop > 0.0; }

// batch (or running) statistics of channel i: (muB, sdB, sdu = sdB - eps)
vec3 stats(uint i)
{
    vec4 s = texelFetch(SEG4, int(i));
    float sdu = sqrt(max(s.y, 0.0));
    return vec3(s.x, sdu + p.eps, sdu);
}

void stage0(uint t)
{
    uint step = auxu[aSTEP()];
    float inv = 1.0 / (1.0 - p.pdrop);
    bool drop = dropping();
    if (t < p.C) {
        vec3 s = stats(t);
        float km = drop ? keep(t, step) : 1.0, ks = drop ? keep(p.C + t, step) : 1.0;
        aux[aMASK() + t] = km;
        aux[aMASK() + p.C + t] = ks;
        aux[aC(MUB) + t] = s.x;
        aux[aC(SDB) + t] = s.y;
        aux[aC(SDU) + t] = s.z;
        aux[aC(MSM) + t] = drop ? km * inv : 1.0;
        aux[aC(MSS) + t] = drop ? ks * inv : 1.0;
    }
    uint u = t;
    if (u < 2u * p.HS) {   // standardization encoder on drop(muB) (u < HS) or drop(sdB)
        bool sdp = u >= p.HS;
        uint j = sdp ? u - p.HS : u;
        float acc = prm(oBE() + j);
        for (uint i = 0u; i < p.C; i++) {
            vec3 s = stats(i);
            float v = sdp ? s.y : s.x;
            if (drop) v *= keep(sdp ? p.C + i : i, step) * inv;
            acc += prm(oWE() + j * p.C + i) * v;
        }
        aux[aH(sdp ? 1u : 0u) + j] = acc;
        return;
    }
    u -= 2u * p.HS;
    if (u < 2u * p.HR) {   // rescaling encoder on muB (u < HR) or sdB
        bool sdp = u >= p.HR;
        uint j = sdp ? u - p.HR : u;
        float acc = prm(oBR() + j);
        for (uint i = 0u; i < p.C; i++) {
            vec3 s = stats(i);
            acc += prm(oWR() + j * p.C + i) * (sdp ? s.y : s.x);
        }
        aux[aH(sdp ? 3u : 2u) + j] = acc;
    }
}

void stage1(uint c)
{
    if (c >= p.C) return;
    float mut = prm(oBMU() + c), pres = prm(oBSD() + c), preb = prm(oBB() + c), preg = prm(oBG() + c);
    for (uint j = 0u; j < p.HS; j++) {
        mut += prm(oWMU() + c * p.HS + j) * relu(aux[aH(0u) + j]);
        pres += prm(oWSD() + c * p.HS + j) * relu(aux[aH(1u) + j]);
    }
    for (uint j = 0u; j < p.HR; j++) {
        preb += prm(oWB() + c * p.HR + j) * relu(aux[aH(2u) + j]);
        preg += prm(oWG() + c * p.HR + j) * relu(aux[aH(3u) + j]);
    }
    float lm = gate(0u), ls = gate(1u), lb = gate(2u), lg = gate(3u);
    float muB = aux[aC(MUB) + c], sdB = aux[aC(SDB) + c];
    float mu = lm * mut + (1.0 - lm) * muB;
    float sd = ls * relu(pres) + (1.0 - ls) * sdB;
    float beta = lb * tanh(preb) + prm(oBBETA() + c);
    float gam = lg * sigm(preg) + prm(oBGAM() + c);
    aux[aC(MUT) + c] = mut;
    aux[aC(PRES) + c] = pres;
    aux[aC(PREB) + c] = preb;
    aux[aC(PREG) + c] = preg;
    aux[aC(MU) + c] = mu;
    aux[aC(SD) + c] = sd;
    aux[aC(BETA) + c] = beta;
    aux[aC(GAM) + c] = gam;
    // the forward table as (muB, A, B, d) with d = mu - muB computed small: muB's low part from
    // finalize (ftab[c].w, norm.glsl SHIFT) and lm (mut - muB), so that apply's ((x - muB) - d) keeps
    // the digits a rounded mu ~ |muB| would lose
    float d = lm * (mut - muB) + (1.0 - lm) * tab[c].w;
    tab[c] = vec4(muB, gam / sd, beta, d);
    if (c == 0u && dropping()) auxu[aSTEP()] = auxu[aSTEP()] + 1u;
}

void stage2(uint c)
{
    if (c >= p.C) return;
    float mu = aux[aC(MU) + c], sd = aux[aC(SD) + c], gam = aux[aC(GAM) + c];
    vec2 acc = vec2(0.0);   // (sum g, sum g (x - mu))
    for (uint n = 0u; n < p.N; n++) {
        uint r = n * p.C + c;
        if (p.raw != 0u) {
            float g = texelFetch(G1, int(r)).x;
            acc += vec2(g, g * (texelFetch(X1, int(r)).x - mu));
        } else {
            for (uint q = 0u; q < p.nchunk; q++) acc += texelFetch(SEG4, int(r * p.nchunk + q)).xy;
        }
    }
    float dbeta = acc.x, dgam = acc.y / sd;
    float dmu = -gam * dbeta / sd, dsd = -gam * dgam / sd;
    float lm = gate(0u), ls = gate(1u), lb = gate(2u), lg = gate(3u);
    float dmut = lm * dmu;
    float dsdt = aux[aC(PRES) + c] > 0.0 ? ls * dsd : 0.0;
    float tb = tanh(aux[aC(PREB) + c]), sg = sigm(aux[aC(PREG) + c]);
    float dpreb = lb * dbeta * (1.0 - tb * tb), dpreg = lg * dgam * sg * (1.0 - sg);
    aux[aC(DMU) + c] = dmu;
    aux[aC(DSD) + c] = dsd;
    aux[aC(DMUT) + c] = dmut;
    aux[aC(DSDT) + c] = dsdt;
    aux[aC(DPREB) + c] = dpreb;
    aux[aC(DPREG) + c] = dpreg;
    aux[aC(DBETA) + c] = dbeta;
    aux[aC(DGAM) + c] = dgam;
    gpk[oBMU() + c] = dmut;
    gpk[oBSD() + c] = dsdt;
    gpk[oBB() + c] = dpreb;
    gpk[oBG() + c] = dpreg;
    gpk[oBBETA() + c] = dbeta;
    gpk[oBGAM() + c] = dgam;
}

void stage3(uint t)
{
    uint CH = p.C * p.HS, CR = p.C * p.HR;
    if (t < 2u * CH) {   // dW_mu, dW_sigma: (c, j) = dout_c relu(hidden_j)
        bool sdp = t >= CH;
        uint e = sdp ? t - CH : t, c = e / p.HS, j = e - c * p.HS;
        float d = aux[aC(sdp ? DSDT : DMUT) + c] * relu(aux[aH(sdp ? 1u : 0u) + j]);
        gpk[(sdp ? oWSD() : oWMU()) + e] = d;
        return;
    }
    t -= 2u * CH;
    if (t < 2u * CR) {   // dW_beta, dW_gamma
        bool gp = t >= CR;
        uint e = gp ? t - CR : t, c = e / p.HR, j = e - c * p.HR;
        float d = aux[aC(gp ? DPREG : DPREB) + c] * relu(aux[aH(gp ? 3u : 2u) + j]);
        gpk[(gp ? oWG() : oWB()) + e] = d;
        return;
    }
    t -= 2u * CR;
    if (t < 2u * p.HS + 2u * p.HR) {   // hidden-unit gradients (through the relu)
        uint k, j, nh, wo, dout;
        if (t < 2u * p.HS) { k = t < p.HS ? 0u : 1u; j = t - k * p.HS; nh = p.HS; wo = k == 0u ? oWMU() : oWSD(); dout = k == 0u ? DMUT : DSDT; }
        else { uint u = t - 2u * p.HS; k = u < p.HR ? 2u : 3u; j = u - (k - 2u) * p.HR; nh = p.HR; wo = k == 2u ? oWB() : oWG(); dout = k == 2u ? DPREB : DPREG; }
        float acc = 0.0;
        if (aux[aH(k) + j] > 0.0)
            for (uint c = 0u; c < p.C; c++) acc += prm(wo + c * nh + j) * aux[aC(dout) + c];
        aux[aH(k + 4u) + j] = acc;
        return;
    }
    t -= 2u * p.HS + 2u * p.HR;
    if (t < 4u) {   // gate gradients, theta = logit of the gate
        float acc = 0.0;
        for (uint c = 0u; c < p.C; c++) {
            if (t == 0u) acc += aux[aC(DMU) + c] * (aux[aC(MUT) + c] - aux[aC(MUB) + c]);
            else if (t == 1u) acc += aux[aC(DSD) + c] * (relu(aux[aC(PRES) + c]) - aux[aC(SDB) + c]);
            else if (t == 2u) acc += aux[aC(DBETA) + c] * tanh(aux[aC(PREB) + c]);
            else acc += aux[aC(DGAM) + c] * sigm(aux[aC(PREG) + c]);
        }
        float l = gate(t);
        gpk[oT() + t] = acc * l * (1.0 - l);
    }
}

void stage4(uint t)
{
    uint HC = p.HS * p.C, RC = p.HR * p.C;
    if (t < HC) {   // dW_e (j, i): both paths of the shared encoder
        uint j = t / p.C, i = t - j * p.C;
        float dm = aux[aC(MUB) + i] * aux[aC(MSM) + i], ds = aux[aC(SDB) + i] * aux[aC(MSS) + i];
        gpk[oWE() + t] = aux[aH(4u) + j] * dm + aux[aH(5u) + j] * ds;
        return;
    }
    t -= HC;
    if (t < RC) {   // dW_r (j, i)
        uint j = t / p.C, i = t - j * p.C;
        gpk[oWR() + t] = aux[aH(6u) + j] * aux[aC(MUB) + i] + aux[aH(7u) + j] * aux[aC(SDB) + i];
        return;
    }
    t -= RC;
    if (t < p.HS) { gpk[oBE() + t] = aux[aH(4u) + t] + aux[aH(5u) + t]; return; }
    t -= p.HS;
    if (t < p.HR) { gpk[oBR() + t] = aux[aH(6u) + t] + aux[aH(7u) + t]; return; }
    t -= p.HR;
    if (t >= p.C) return;
    uint c = t;
    float lm = gate(0u), ls = gate(1u);
    float em = 0.0, es = 0.0, rm = 0.0, rs = 0.0;
    for (uint j = 0u; j < p.HS; j++) {
        float w = prm(oWE() + j * p.C + c);
        em += w * aux[aH(4u) + j];
        es += w * aux[aH(5u) + j];
    }
    for (uint j = 0u; j < p.HR; j++) {
        float w = prm(oWR() + j * p.C + c);
        rm += w * aux[aH(6u) + j];
        rs += w * aux[aH(7u) + j];
    }
    float dmuB = (1.0 - lm) * aux[aC(DMU) + c] + em * aux[aC(MSM) + c] + rm;
    float dsdB = (1.0 - ls) * aux[aC(DSD) + c] + es * aux[aC(MSS) + c] + rs;
    float sdu = aux[aC(SDU) + c];
    float bcoef = sdu > 0.0 ? dsdB / ((p.M - 1.0) * sdu) : 0.0;
    tab[c] = vec4(aux[aC(MUB) + c], aux[aC(GAM) + c] / aux[aC(SD) + c], bcoef, dmuB / p.M);
}

void main()
{
    uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
    if (t >= p.nout) return;
    if (STAGE == 0u) stage0(t);
    else if (STAGE == 1u) stage1(t);
    else if (STAGE == 2u) stage2(t);
    else if (STAGE == 3u) stage3(t);
    else stage4(t);
}
