// A 2-D window's geometry as specialization constants (constant_id 0..4), so every division and modulo
// by a size compiles to a multiply and shift (llvmpipe has no vector integer divide). Packed into 16-
// and 8-bit fields (the launcher checks the ranges):
//   0 CH = channels, 1 IMG = H | W << 16, 2 KS = kh | kw << 8 | sh << 16 | sw << 24,
//   3 PAD = ph | pw << 16, 4 OUT = Ho | Wo << 16
layout(constant_id = 0) const uint CH = 1u;
layout(constant_id = 1) const uint IMG = 0x10001u;
layout(constant_id = 2) const uint KS = 0x01010101u;
layout(constant_id = 3) const uint PAD = 0u;
layout(constant_id = 4) const uint OUT = 0x10001u;
const uint IH = IMG & 0xFFFFu, IW = IMG >> 16;
const uint KH = KS & 0xFFu, KW = (KS >> 8) & 0xFFu, SH = (KS >> 16) & 0xFFu, SW = KS >> 24;
const uint PH = PAD & 0xFFFFu, PW = PAD >> 16;
const uint OH = OUT & 0xFFFFu, OW = OUT >> 16;
