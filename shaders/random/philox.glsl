// Philox-4x32-10 (Salmon et al. 2011): 10 rounds of two 32x32->64 multiplies, key bumped by the
// Weyl constants between rounds. Matches vkn_philox4x32_10 on the host bit for bit.
uvec4 philox4x32_10(uvec4 c, uvec2 k)
{
    [[unroll]] for (int r = 0; r < 10; r++) {
        if (r > 0) k += uvec2(0x9E3779B9u, 0xBB67AE85u);
        uint hi0, lo0, hi1, lo1;
        umulExtended(0xD2511F53u, c.x, hi0, lo0);
        umulExtended(0xCD9E8D57u, c.z, hi1, lo1);
        c = uvec4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

// 24 random bits -> [0, 1), exactly as vkn_u01 on the host
vec4 philox_u01(uvec4 b) { return vec4(b >> 8u) * (1.0 / 16777216.0); }
