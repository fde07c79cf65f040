#version 450
#extension GL_GOOGLE_include_directive : require
// Register-blocked GEMM for CPU-class devices (see gemm_reg.glsl), C stored as vec4.
#include "gemm_reg.glsl"
