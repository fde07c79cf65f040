"""PyTorch modules of vknorm's normalization methods (pure PyTorch; import only where torch is).

Each module follows shared/NORMS.md and vknorm's C reference (src/ops/norm_ref_*.c) term by term:
same statistics sets, eps placement, running-statistics rule (PyTorch's momentum convention,
unbiased running variances), the same inference switch (infer = "running" | "batch" | "learned"),
and gradients by autograd through the same expressions (the references' closed forms are these
expressions' derivatives; MN's posteriors and weights are EM outputs, held constant as in vknorm).
state_dict() names and shapes are vknorm's slot names and shapes, so a vknorm checkpoint's tensors
load with load_state_dict and a module's state_dict writes back to one.

    import vknorm.torch as vt
    cn = vt.CN(8, contexts=3).double()
    y = cn(x, ctx)                       # x [N, C] or [N, C, H, W], ctx int64/int32 [N]

Option names are vkn-op norm's (and vknorm.Norm's): affine, eps, momentum, infer, contexts, priors,
prior_scale, embedder, components, var_floor, threshold, batch_stats_above, dropout, hidden_std,
hidden_rescale. eps=None takes the method's default (vkn_norm_eps).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BN", "LN", "IN", "GN", "CBN", "CN", "CNX", "ACN", "MN", "BCN", "UBN", "AFN", "make",
           "DEFAULT_EPS", "CGANGenerator", "cgan_generator", "save_cgan_checkpoint"]

DEFAULT_EPS = {"bn": 1e-5, "ln": 1e-5, "in": 1e-5, "gn": 1e-5, "cbn": 1e-5, "mn": 1e-5, "bcn": 1e-5,
               "ubn": 1e-5, "cn": 1e-3, "cnx": 1e-3, "acn": 1e-3, "afn": 1e-6}
_INFER = ("running", "batch", "learned")


def _ncp(x, C, who):
    if x.dim() < 2 or x.shape[1] != C:
        raise ValueError(f"{who}: x has shape {tuple(x.shape)}, dimension 1 must be channels={C}")
    return x.reshape(x.shape[0], C, -1)


def _ema(run_mean, run_var, mean, var_b, bessel, m):
    """run = (1-m) run + m batch, the variance unbiased (bessel = M/(M-1) or the weighted form)."""
    with torch.no_grad():
        run_mean.mul_(1 - m).add_(m * mean.detach())
        run_var.mul_(1 - m).add_(m * var_b.detach() * bessel)


def _moments(x3, dims):
    """Two-pass mean and biased variance over dims (never E[x^2] - E[x]^2)."""
    mean = x3.mean(dim=dims, keepdim=True)
    var = ((x3 - mean) ** 2).mean(dim=dims, keepdim=True)
    return mean, var


class _Norm(nn.Module):
    kind = "?"
    has_affine_default = True

    def __init__(self, channels, affine=None, eps=None, momentum=0.1, infer="running"):
        super().__init__()
        if infer not in _INFER:
            raise ValueError(f"{self.kind}: infer={infer!r} (valid: running, batch, learned)")
        if infer == "learned" and self.kind != "acn":
            raise ValueError(f"{self.kind}: infer='learned' is for acn only")
        self.channels = int(channels)
        self.affine = self.has_affine_default if affine is None else bool(affine)
        self.eps = DEFAULT_EPS[self.kind] if eps is None or eps == 0 else float(eps)
        self.momentum = float(momentum)
        self.infer = infer

    def _affine(self, shape):
        if self.affine:
            self.gamma = nn.Parameter(torch.ones(shape))
            self.beta = nn.Parameter(torch.zeros(shape))
        else:
            self.gamma = self.beta = None

    def _running(self, shape):
        self.register_buffer("running_mean", torch.zeros(shape))
        self.register_buffer("running_var", torch.ones(shape))

    def _use_batch(self):
        return self.training or self.infer == "batch"

    def extra_repr(self):
        return f"{self.channels}, affine={self.affine}, eps={self.eps}"


# ------------------------------------------------------------------------------------------------
# BN, LN, IN, GN: y = gamma_c (x - mu_s) / sqrt(var_s + eps) + beta_c  (NORMS.md section 2)
# ------------------------------------------------------------------------------------------------
class _Segment(_Norm):
    def _apply_affine(self, xh, aff_index=None):
        if not self.affine and aff_index is None:
            return xh
        g, b = self.gamma, self.beta
        if aff_index is not None:
            g, b = g[aff_index], b[aff_index]          # [N, C]
            return g.unsqueeze(-1) * xh + b.unsqueeze(-1)
        return g.view(1, -1, 1) * xh + b.view(1, -1, 1)


class BN(_Segment):
    """Batch norm: statistics per channel over (N, P); running statistics for inference."""
    kind = "bn"

    def __init__(self, channels, **kw):
        super().__init__(channels, **kw)
        self._affine(self.channels)
        self._running(self.channels)

    def _stats(self, x3, update):
        N, C, P = x3.shape
        M = N * P
        if self._use_batch() and not getattr(self, "_skip_batch", False):
            if update and M < 2:
                raise ValueError(f"{self.kind}: training needs at least 2 values per channel (N*H*W={M})")
            mean, var = _moments(x3, (0, 2))
            if update:
                _ema(self.running_mean, self.running_var, mean.view(-1), var.view(-1), M / (M - 1),
                     self.momentum)
            return mean, var
        return self.running_mean.detach().view(1, -1, 1), self.running_var.detach().view(1, -1, 1)

    def forward(self, x, ctx=None):
        x3 = _ncp(x, self.channels, self.kind)
        mean, var = self._stats(x3, self.training)
        xh = (x3 - mean) / torch.sqrt(var + self.eps)
        return self._apply_affine(xh).reshape(x.shape)


class _PerSample(_Segment):
    groups_of = None

    def forward(self, x, ctx=None):
        x3 = _ncp(x, self.channels, self.kind)
        N, C, P = x3.shape
        G = self.groups_of(C)
        xg = x3.reshape(N, G, (C // G) * P)
        mean, var = _moments(xg, (2,))
        xh = ((xg - mean) / torch.sqrt(var + self.eps)).reshape(N, C, P)
        return self._apply_affine(xh).reshape(x.shape)


class LN(_PerSample):
    """Layer norm: per sample over (C, P); per-channel affine."""
    kind = "ln"

    def __init__(self, channels, **kw):
        super().__init__(channels, **kw)
        self._affine(self.channels)
        self.groups_of = lambda C: 1


class IN(_PerSample):
    """Instance norm: per (sample, channel) over P."""
    kind = "in"

    def __init__(self, channels, **kw):
        super().__init__(channels, **kw)
        self._affine(self.channels)
        self.groups_of = lambda C: C


def _default_groups(C):
    return max(g for g in range(1, min(C, 32) + 1) if C % g == 0)


class GN(_PerSample):
    """Group norm: per (sample, group of C/G channels)."""
    kind = "gn"

    def __init__(self, channels, groups=None, **kw):
        super().__init__(channels, **kw)
        self.groups = _default_groups(self.channels) if groups is None else int(groups)
        if self.channels % self.groups:
            raise ValueError(f"gn: groups={self.groups} must divide channels={self.channels}")
        self._affine(self.channels)
        self.groups_of = lambda C: self.groups


class CBN(BN):
    """Conditional BN: shared batch statistics per channel, per-class gamma/beta [K, C]."""
    kind = "cbn"

    def __init__(self, channels, contexts=1, **kw):
        kw.setdefault("affine", True)
        if not kw["affine"]:
            raise ValueError("cbn: affine must be on (its per-class gamma/beta are the method)")
        _Norm.__init__(self, channels, **kw)
        self.contexts = int(contexts)
        self._affine((self.contexts, self.channels))
        self._running(self.channels)

    def forward(self, x, ctx):
        x3 = _ncp(x, self.channels, self.kind)
        ctx = _ids(ctx, x3.shape[0], self.contexts, self.kind)
        mean, var = self._stats(x3, self.training)
        xh = (x3 - mean) / torch.sqrt(var + self.eps)
        return self._apply_affine(xh, ctx).reshape(x.shape)


class UBN(BN):
    """UBN (feature-condensation threshold), NORMS.md 8.2: BN whose statistics step is skipped when the
    samples' mean pairwise cosine similarity exceeds `threshold` (then the running statistics
    normalize, or with batch_stats_above=1 the batch's, and the EMA is not updated).
    The last training step's similarity is in `.similarity`, whether it was above in `.above`."""
    kind = "ubn"

    def __init__(self, channels, threshold=0.9, batch_stats_above=0, **kw):
        super().__init__(channels, **kw)
        self.threshold = float(threshold)
        self.batch_stats_above = int(batch_stats_above)
        self.similarity, self.above = 0.0, False

    @staticmethod
    def cosine_similarity(x):
        """(||sum_n u_n||^2 - N') / (N' (N'-1)), u_n = x_n / ||x_n|| over the N' nonzero samples."""
        with torch.no_grad():
            v = x.reshape(x.shape[0], -1).double()
            nrm = v.norm(dim=1)
            u = v[nrm > 0] / nrm[nrm > 0].unsqueeze(1)
            n = u.shape[0]
            if n < 2:
                return 0.0
            return float(((u.sum(0) ** 2).sum() - n) / (n * (n - 1)))

    def forward(self, x, ctx=None):
        x3 = _ncp(x, self.channels, self.kind)
        update, self._skip_batch = self.training, False
        if self.training:
            self.similarity = self.cosine_similarity(x3)
            self.above = self.similarity > self.threshold
            if self.above:
                update = False
                self._skip_batch = not self.batch_stats_above
        mean, var = self._stats(x3, update)
        self._skip_batch = False
        xh = (x3 - mean) / torch.sqrt(var + self.eps)
        return self._apply_affine(xh).reshape(x.shape)


def _ids(ctx, N, K, who):
    if ctx is None:
        raise ValueError(f"{who}: context ids [N] are required")
    ctx = torch.as_tensor(ctx).long().reshape(-1)
    if ctx.numel() != N:
        raise ValueError(f"{who}: {ctx.numel()} ids for N={N} samples")
    bad = ((ctx < 0) | (ctx >= K)).nonzero()
    if bad.numel():
        i = int(bad[0, 0])
        raise ValueError(f"{who}: ctx[{i}]={int(ctx[i])} is outside 0..{K - 1}")
    return ctx


# ------------------------------------------------------------------------------------------------
# CN (NORMS.md section 3): per-(context, channel) batch norm, per-context affine, / sqrt(prior_k)
# ------------------------------------------------------------------------------------------------
class CN(_Norm):
    """Context normalization (v3). A context with fewer than 2 values per channel in the batch (or
    any context at inference with infer='running') is normalized with its running statistics, held
    constant, and skips its running update; absent contexts are untouched."""
    kind = "cn"

    def __init__(self, channels, contexts=1, priors=None, prior_scale=1, **kw):
        super().__init__(channels, **kw)
        self.contexts, K = int(contexts), int(contexts)
        self.prior_scale = int(prior_scale)
        self._affine((K, self.channels))
        self._running((K, self.channels))
        p = torch.full((K,), 1.0 / K) if priors is None else torch.as_tensor(priors, dtype=torch.float32)
        if p.numel() != K or not bool((p > 0).all()):
            raise ValueError(f"cn: priors must be {K} values > 0")
        self.register_buffer("priors", p.reshape(K).clone())

    def forward(self, x, ctx):
        x3 = _ncp(x, self.channels, self.kind)
        N, C, P = x3.shape
        K = self.contexts
        ctx = _ids(ctx, N, K, self.kind)
        oh = F.one_hot(ctx, K).to(x3.dtype)                          # [N, K]
        Mk = oh.sum(0) * P                                            # [K] values per channel
        Ms = Mk.clamp(min=1).unsqueeze(1)
        mean_b = torch.einsum("nk,ncp->kc", oh, x3) / Ms              # [K, C]
        d = x3 - mean_b[ctx].unsqueeze(-1)
        var_b = torch.einsum("nk,ncp->kc", oh, d * d) / Ms
        batch = (Mk >= 2).unsqueeze(1).expand(K, C) & self._use_batch()
        mean = torch.where(batch, mean_b, self.running_mean.detach())
        var = torch.where(batch, var_b, self.running_var.detach())
        if self.training:
            with torch.no_grad():
                upd = batch.clone()
                bessel = Mk.unsqueeze(1) / (Mk.unsqueeze(1) - 1).clamp(min=1)
                m = self.momentum
                self.running_mean.copy_(torch.where(upd, (1 - m) * self.running_mean + m * mean_b,
                                                    self.running_mean))
                self.running_var.copy_(torch.where(upd, (1 - m) * self.running_var + m * var_b * bessel,
                                                   self.running_var))
        xh = (x3 - mean[ctx].unsqueeze(-1)) / torch.sqrt(var[ctx].unsqueeze(-1) + self.eps)
        if self.affine:
            xh = self.gamma[ctx].unsqueeze(-1) * xh + self.beta[ctx].unsqueeze(-1)
        if self.prior_scale:
            xh = xh / torch.sqrt(self.priors[ctx]).view(N, 1, 1)
        return xh.reshape(x.shape)


# ------------------------------------------------------------------------------------------------
# CN-X (section 4): y = (x - mu_kc) / (exp(s_kc) + eps); CN-emb: mu, s from Dense layers on one-hot k
# ------------------------------------------------------------------------------------------------
class CNX(_Norm):
    """Context normalization extended: a learned per-context mean and log-std table (embedder=1:
    CN-emb, the two Dense layers on the one-hot id). The log-std is clamped to [-20, 20]."""
    kind = "cnx"
    has_affine_default = False

    def __init__(self, channels, contexts=1, embedder=0, **kw):
        if kw.get("affine"):
            raise ValueError("cnx: no affine (affine must be 0)")
        kw["affine"] = False
        super().__init__(channels, **kw)
        K, C = int(contexts), self.channels
        self.contexts, self.embedder = K, int(embedder)
        a = math.sqrt(6.0 / (K + C))
        u = lambda *s: nn.Parameter(torch.empty(*s).uniform_(-a, a))
        if not self.embedder:
            self.mu_table, self.logstd_table = u(K, C), u(K, C)
        else:
            self.emb_mu_w, self.emb_mu_b = u(C, K), nn.Parameter(torch.zeros(C))
            self.emb_logstd_w, self.emb_logstd_b = u(C, K), nn.Parameter(torch.zeros(C))

    def tables(self):
        """The per-context (mean, log-std) tables [K, C] (CN-emb: W[:, k] + b)."""
        if not self.embedder:
            return self.mu_table, self.logstd_table
        return (self.emb_mu_w.t() + self.emb_mu_b, self.emb_logstd_w.t() + self.emb_logstd_b)

    def forward(self, x, ctx):
        x3 = _ncp(x, self.channels, self.kind)
        ctx = _ids(ctx, x3.shape[0], self.contexts, self.kind)
        mu, ls = self.tables()
        q = 1.0 / (torch.exp(torch.clamp(ls, -20.0, 20.0)) + self.eps)
        return ((x3 - mu[ctx].unsqueeze(-1)) * q[ctx].unsqueeze(-1)).reshape(x.shape)


# ------------------------------------------------------------------------------------------------
# ACN (ACN-R, section 5.3) and MN (section 6): per-channel 1-D Gaussian mixtures
# ------------------------------------------------------------------------------------------------
def _posterior(x3, lb, m, s):
    """tau [K, N, C, P] = softmax_k(lb_kc - (x - m_kc)^2 / (2 s_kc)) (log-sum-exp)."""
    d = x3.unsqueeze(0) - m[:, None, :, None]
    return torch.softmax(lb[:, None, :, None] - d * d / (2 * s[:, None, :, None]), dim=0)


def _weighted(x3, tau):
    """S_kc, mu_kc, v_kc: the posterior mass and posterior-weighted mean and (biased) variance."""
    S = tau.sum(dim=(1, 3))                                           # [K, C]
    w = tau / S.clamp(min=1e-300)[:, None, :, None]
    mu = (w * x3.unsqueeze(0)).sum(dim=(1, 3))
    d = x3.unsqueeze(0) - mu[:, None, :, None]
    var = (w * d * d).sum(dim=(1, 3))
    return S, mu, var


def _mix_ema(mod, tau, S, mu, var):
    """Running statistics with the unbiased weighted variance v V1^2 / (V1^2 - V2), skipped where the
    mass sits on one element. Returns the mask of updated (k, c)."""
    with torch.no_grad():
        V1, V2 = S, (tau * tau).sum(dim=(1, 3))
        den = V1 * V1 - V2
        ok = (V1 > 1e-12) & (den > 1e-12 * V1 * V1)
        bessel = torch.where(ok, V1 * V1 / torch.where(ok, den, torch.ones_like(den)), torch.ones_like(den))
        m = mod.momentum
        mod.running_mean.copy_(torch.where(ok, (1 - m) * mod.running_mean + m * mu, mod.running_mean))
        mod.running_var.copy_(torch.where(ok, (1 - m) * mod.running_var + m * var * bessel, mod.running_var))
    return V1 > 1e-12


class ACN(_Norm):
    """Adaptive context normalization (ACN-R): a learned per-channel K-component Gaussian mixture
    (means, raw_var -> softplus, prior_logits shared by channels), soft posteriors, the
    posterior-weighted moments; y = sum_k tau_k / sqrt(lambda_k + eps) * (x - mu_k) / sqrt(v_k + eps).
    No affine. Gradients flow through the moments, the posteriors and every mixture parameter."""
    kind = "acn"
    has_affine_default = False

    def __init__(self, channels, components=3, **kw):
        if kw.get("affine"):
            raise ValueError("acn: no affine (affine must be 0)")
        kw["affine"] = False
        super().__init__(channels, **kw)
        K, C = int(components), self.channels
        self.components = K
        self.means = nn.Parameter(torch.empty(K, C).uniform_(-1, 1))
        self.raw_var = nn.Parameter(torch.empty(K, C).uniform_(0.001, 0.01))
        u = torch.empty(K).uniform_(0.01, 0.99)
        self.prior_logits = nn.Parameter(u / u.sum())
        self._running((K, C))

    def forward(self, x, ctx=None):
        x3 = _ncp(x, self.channels, self.kind)
        N, C, P = x3.shape
        if self.training and N * P < 2:
            raise ValueError(f"acn: training needs at least 2 values per channel (N*H*W={N * P})")
        lam = torch.softmax(self.prior_logits, dim=0)                 # [K]
        sv = F.softplus(self.raw_var) + self.eps
        lb = torch.log(lam).unsqueeze(1).expand_as(sv)
        tau = _posterior(x3, lb, self.means, sv)
        if self._use_batch():
            S, mean, var = _weighted(x3, tau)
            if self.training:
                _mix_ema(self, tau, S, mean, var)
        elif self.infer == "learned":
            mean, var = self.means.detach(), F.softplus(self.raw_var.detach())
        else:
            mean, var = self.running_mean.detach(), self.running_var.detach()
        xh = (x3.unsqueeze(0) - mean[:, None, :, None]) / torch.sqrt(var + self.eps)[:, None, :, None]
        a = tau / torch.sqrt(lam + self.eps)[:, None, None, None]
        return (a * xh).sum(0).reshape(x.shape)


class MN(_Norm):
    """Mixture normalization: a per-channel K-component GMM fitted by one warm-started EM iteration
    per training step (E-step = the ACN posterior with log pi - log(v)/2; M-step into gmm_mean,
    gmm_var (+ var_floor), gmm_weight); y = gamma * sum_k tau_k / sqrt(lambda_k) xhat_k + beta with
    lambda_k = S_k / M. tau and lambda are EM outputs: constants for the gradient, as in vknorm."""
    kind = "mn"

    def __init__(self, channels, components=3, var_floor=1e-4, **kw):
        super().__init__(channels, **kw)
        K, C = int(components), self.channels
        self.components, self.var_floor = K, float(var_floor)
        self._affine(C)
        lin = torch.linspace(-1, 1, K) if K > 1 else torch.zeros(1)
        self.register_buffer("gmm_mean", lin.unsqueeze(1).repeat(1, C).contiguous())
        self.register_buffer("gmm_var", torch.ones(K, C))
        self.register_buffer("gmm_weight", torch.full((K, C), 1.0 / K))
        self._running((K, C))

    def forward(self, x, ctx=None):
        x3 = _ncp(x, self.channels, self.kind)
        N, C, P = x3.shape
        M = N * P
        if self.training and M < 2:
            raise ValueError(f"mn: training needs at least 2 values per channel (N*H*W={M})")
        if not bool((self.gmm_var > 0).all()):
            raise ValueError("mn: gmm_var must be > 0")
        with torch.no_grad():
            lb = torch.log(self.gmm_weight.clamp(min=1e-300)) - 0.5 * torch.log(self.gmm_var)
            tau = _posterior(x3.detach(), lb, self.gmm_mean, self.gmm_var)
        if self._use_batch():
            S, mean, var = _weighted(x3, tau)
            lam = (S / M).detach()
        else:
            mean, var = self.running_mean.detach(), self.running_var.detach()
            lam = self.gmm_weight.detach()
        xh = (x3.unsqueeze(0) - mean[:, None, :, None]) / torch.sqrt(var + self.eps)[:, None, :, None]
        a = torch.where((tau > 0) & (lam > 0)[:, None, :, None],
                        tau / torch.sqrt(lam.clamp(min=1e-300))[:, None, :, None], torch.zeros_like(tau))
        y = (a * xh).sum(0)
        if self.affine:
            y = self.gamma.view(1, -1, 1) * y + self.beta.view(1, -1, 1)
        if self.training:
            live = _mix_ema(self, tau, S, mean, var)
            with torch.no_grad():
                ok = live & (var + self.var_floor > 0)
                self.gmm_mean.copy_(torch.where(ok, mean, self.gmm_mean))
                self.gmm_var.copy_(torch.where(ok, var + self.var_floor, self.gmm_var))
                self.gmm_weight.copy_(torch.where(ok, lam, self.gmm_weight))
        return y.reshape(x.shape)


# ------------------------------------------------------------------------------------------------
# BCN (section 7) and AFN (section 9)
# ------------------------------------------------------------------------------------------------
class BCN(_Norm):
    """Batch-channel normalization (Khaled et al.): y = gamma (l xB + (1 - l) xL) + beta, xB the BN
    normalization (running statistics at inference), xL the per-sample LN one, l = `blend` (init 1,
    unconstrained)."""
    kind = "bcn"

    def __init__(self, channels, **kw):
        super().__init__(channels, **kw)
        self._affine(self.channels)
        self.blend = nn.Parameter(torch.ones(self.channels))
        self._running(self.channels)

    def forward(self, x, ctx=None):
        x3 = _ncp(x, self.channels, self.kind)
        N, C, P = x3.shape
        M = N * P
        if self.training and M < 2:
            raise ValueError(f"bcn: training needs at least 2 values per channel (N*H*W={M})")
        if self._use_batch():
            mb, vb = _moments(x3, (0, 2))
            if self.training:
                _ema(self.running_mean, self.running_var, mb.view(-1), vb.view(-1), M / (M - 1), self.momentum)
        else:
            mb, vb = self.running_mean.detach().view(1, -1, 1), self.running_var.detach().view(1, -1, 1)
        ml, vl = _moments(x3, (1, 2))
        xb = (x3 - mb) / torch.sqrt(vb + self.eps)
        xl = (x3 - ml) / torch.sqrt(vl + self.eps)
        l = self.blend.view(1, -1, 1)
        y = l * xb + (1 - l) * xl
        if self.affine:
            y = self.gamma.view(1, -1, 1) * y + self.beta.view(1, -1, 1)
        return y.reshape(x.shape)


class AFN(_Norm):
    """Adaptive fusion normalization: BN statistics (muB, unbiased sdB + eps) refined by gated
    encoder-decoder MLPs (gates sigmoid(theta)), y = gamma (x - mu) / sd + beta (NORMS.md 9.1 as in
    src/ops/norm_ref_fused.c). Training with dropout > 0 drops muB and sdB before the
    standardization encoder: forward(x, mask=...) takes the 2*C keep flags (vknorm's "afn_mask"),
    else they are drawn here."""
    kind = "afn"
    has_affine_default = False

    def __init__(self, channels, dropout=0.3, hidden_std=0, hidden_rescale=0, **kw):
        if kw.get("affine"):
            raise ValueError("afn: no affine option (affine must be 0)")
        kw["affine"] = False
        super().__init__(channels, **kw)
        C = self.channels
        self.dropout = float(dropout)
        self.hidden_std = int(hidden_std) or max(1, C // 2)
        self.hidden_rescale = int(hidden_rescale) or max(1, C // 16)

        def linear(wn, bn, out, inp):
            a = 1.0 / math.sqrt(inp)
            setattr(self, wn, nn.Parameter(torch.empty(out, inp).uniform_(-a, a)))
            setattr(self, bn, nn.Parameter(torch.empty(out).uniform_(-a, a)))

        hs, hr = self.hidden_std, self.hidden_rescale
        linear("enc_std_w", "enc_std_b", hs, C)
        linear("dec_mu_w", "dec_mu_b", C, hs)
        linear("dec_sigma_w", "dec_sigma_b", C, hs)
        linear("enc_rescale_w", "enc_rescale_b", hr, C)
        linear("dec_beta_w", "dec_beta_b", C, hr)
        linear("dec_gamma_w", "dec_gamma_b", C, hr)
        for name, v in (("gate_mu", -3.0), ("gate_sigma", -3.0), ("gate_beta", -5.0), ("gate_gamma", -5.0)):
            setattr(self, name, nn.Parameter(torch.full((1,), v)))
        self.beta = nn.Parameter(torch.zeros(C))
        self.gamma = nn.Parameter(torch.ones(C))
        self._running(C)

    def forward(self, x, ctx=None, mask=None):
        x3 = _ncp(x, self.channels, self.kind)
        N, C, P = x3.shape
        M = N * P
        if self._use_batch():
            if M < 2:
                raise ValueError(f"afn: batch statistics need at least 2 values per channel (N*H*W={M})")
            mb, vb = _moments(x3, (0, 2))
            mb, vb = mb.view(-1), vb.view(-1)
            if self.training:
                _ema(self.running_mean, self.running_var, mb, vb, M / (M - 1), self.momentum)
            sdB = torch.sqrt(vb * (M / (M - 1))) + self.eps
        else:
            mb = self.running_mean.detach()
            sdB = torch.sqrt(self.running_var.detach()) + self.eps
        dm = ds = 1.0
        if self.training and self.dropout > 0:
            p = self.dropout
            if mask is None:
                mask = torch.bernoulli(torch.full((2 * C,), 1 - p, dtype=x3.dtype, device=x3.device))
            mask = torch.as_tensor(mask, dtype=x3.dtype, device=x3.device).reshape(2 * C)
            dm, ds = mask[:C] / (1 - p), mask[C:] / (1 - p)
        lin = lambda w, b, v: F.linear(v, w, b)
        amu = lin(self.enc_std_w, self.enc_std_b, mb * dm)
        mut = lin(self.dec_mu_w, self.dec_mu_b, F.relu(amu))
        asd = lin(self.enc_std_w, self.enc_std_b, sdB * ds)
        pres = lin(self.dec_sigma_w, self.dec_sigma_b, F.relu(asd))
        br = lin(self.enc_rescale_w, self.enc_rescale_b, mb)
        preb = lin(self.dec_beta_w, self.dec_beta_b, F.relu(br))
        cr = lin(self.enc_rescale_w, self.enc_rescale_b, sdB)
        preg = lin(self.dec_gamma_w, self.dec_gamma_b, F.relu(cr))
        lm, ls = torch.sigmoid(self.gate_mu), torch.sigmoid(self.gate_sigma)
        lb, lg = torch.sigmoid(self.gate_beta), torch.sigmoid(self.gate_gamma)
        mu = lm * mut + (1 - lm) * mb
        sd = ls * F.relu(pres) + (1 - ls) * sdB
        beta = lb * torch.tanh(preb) + self.beta
        gam = lg * torch.sigmoid(preg) + self.gamma
        y = gam.view(1, -1, 1) * (x3 - mu.view(1, -1, 1)) / sd.view(1, -1, 1) + beta.view(1, -1, 1)
        return y.reshape(x.shape)


_KINDS = {"bn": BN, "ln": LN, "in": IN, "gn": GN, "cbn": CBN, "cn": CN, "cnx": CNX, "cn-x": CNX,
          "cn_x": CNX, "acn": ACN, "mn": MN, "bcn": BCN, "ubn": UBN, "afn": AFN}


def make(kind, channels, **opts):
    """The module of a vknorm method by its name ("cn", "cnx", ...) with vknorm.Norm's options."""
    k = str(kind).lower()
    if k not in _KINDS:
        raise ValueError(f"unknown norm kind {kind!r} (valid: {', '.join(sorted(set(_KINDS) - {'cn-x', 'cn_x'}))})")
    return _KINDS[k](channels, **opts)


# ------------------------------------------------------------------------------------------------
# vkn-cgan's generator (include/vkn/models.h, src/nn/cgan.c) from its checkpoint
# ------------------------------------------------------------------------------------------------
class CGANGenerator(nn.Module):
    """G(z, y): concat(z, onehot(y)) -> Linear -> [w1, 7, 7] -> norm1 -> ReLU -> ConvT(w1->w2, 4, 2, 1)
    -> norm2 -> ReLU -> ConvT(w2->C, 4, 2, 1) -> tanh; cgan-small w1, w2 = 64, 32, cgan-base 128, 64.
    The norms take the class as their context where the method uses one (cbn, cn, cnx)."""

    def __init__(self, model="cgan-small", norm="cn", zdim=64, classes=10, channels=1, components=3):
        super().__init__()
        self.model, self.norm, self.zdim, self.classes = model, norm, zdim, classes
        w1, w2 = (128, 64) if model == "cgan-base" else (64, 32)
        self.w1 = w1
        self.fc = nn.Linear(zdim + classes, w1 * 49)
        self.norm1 = self._norm(norm, w1, classes, components)
        self.convT1 = nn.ConvTranspose2d(w1, w2, 4, 2, 1)
        self.norm2 = self._norm(norm, w2, classes, components)
        self.convT2 = nn.ConvTranspose2d(w2, channels, 4, 2, 1)

    @staticmethod
    def _norm(kind, C, classes, components):
        if kind == "none":
            return None
        o = {}
        if kind == "gn":
            o["groups"] = 8 if C >= 32 else 4 if C >= 8 else 1
        if kind in ("cbn", "cn", "cnx"):
            o["contexts"] = classes
        if kind in ("acn", "mn"):
            o["components"] = components
        return make(kind, C, **o)

    def _apply_norm(self, m, h, y):
        if m is None:
            return h
        return m(h, y) if isinstance(m, (CBN, CN, CNX)) else m(h)

    def forward(self, z, y):
        y = torch.as_tensor(y).long()
        oh = F.one_hot(y, self.classes).to(z.dtype)
        h = self.fc(torch.cat([z, oh], 1)).view(-1, self.w1, 7, 7)
        h = F.relu(self._apply_norm(self.norm1, h, y))
        h = F.relu(self._apply_norm(self.norm2, self.convT1(h), y))
        return torch.tanh(self.convT2(h))

    def load_vknorm(self, tensors):
        """Load the "g.*" tensors of a vkn-cgan checkpoint (dict of arrays); optimizer moments and the
        discriminator are skipped; flat norm slots are reshaped to the slot's shape."""
        own = self.state_dict()
        new = {}
        for name, t in own.items():
            key = "g." + name
            if key not in tensors:
                raise KeyError(f"checkpoint has no tensor {key!r} (needed by {self.model} with norm {self.norm})")
            a = torch.as_tensor(np.asarray(tensors[key]))
            if a.numel() != t.numel():
                raise ValueError(f"{key}: {tuple(a.shape)} in the checkpoint, {tuple(t.shape)} expected")
            new[name] = a.reshape(t.shape).to(t.dtype)
        self.load_state_dict(new)
        return self


def cgan_generator(path, dtype=torch.float32):
    """The generator of a vkn-cgan checkpoint (metadata model and norm_g/norm_d), in eval mode (running
    statistics, as vkn-cgan samples its grids). gen(z, labels) -> images [N, C, 28, 28] in [-1, 1]."""
    from . import io
    t, meta = io.load(path, with_metadata=True)
    model, norms = meta.get("model"), meta.get("norm_g/norm_d", "")
    if model not in ("cgan-small", "cgan-base") or "/" not in norms:
        raise ValueError(f"{path}: not a vkn-cgan checkpoint (model={model}, norm_g/norm_d={norms or None})")
    norm_g = norms.split("/")[0]
    w = t["g.fc.weight"]
    classes = 10
    channels = t["g.convT2.weight"].shape[1]
    comps = 3
    for k in ("g.norm1.means", "g.norm1.gmm_mean"):
        if k in t:
            comps = t[k].size // (128 if model == "cgan-base" else 64)
    g = CGANGenerator(model, norm_g, zdim=w.shape[1] - classes, classes=classes, channels=channels, components=comps)
    g.load_vknorm(t)
    g.meta = meta
    return g.to(dtype).eval()


def save_cgan_checkpoint(gen, path, template):
    """Write generator `gen`'s tensors into a copy of the vkn-cgan checkpoint `template` (its
    discriminator, optimizer state, metadata and tensor shapes kept; format 2's checksums renewed), so that `vkn-cgan --resume`
    continues from a PyTorch-trained or -edited generator."""
    from . import io
    t, meta = io.load(template, with_metadata=True)
    for name, v in gen.state_dict().items():
        key = "g." + name
        if key not in t:
            raise KeyError(f"{template} has no tensor {key!r}: another model or norm ({meta.get('model')}, "
                           f"{meta.get('norm_g/norm_d')})")
        a = v.detach().cpu().double().numpy().astype(t[key].dtype)
        if a.size != t[key].size:
            raise ValueError(f"{key}: {a.shape} from the module, {t[key].shape} in {template}")
        t[key] = a.reshape(t[key].shape)
    # format 2 keeps a CRC-32 of every tensor's bytes in the metadata (docs/CHECKPOINTS.md): renew them
    import zlib
    for name, a in t.items():
        if "crc32:" + name in meta:
            meta["crc32:" + name] = format(zlib.crc32(np.ascontiguousarray(a).tobytes()) & 0xFFFFFFFF, "08x")
    io.save(path, t, meta)
