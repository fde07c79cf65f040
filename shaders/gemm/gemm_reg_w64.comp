#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
// Register-blocked GEMM for CPU-class devices (see gemm_reg.glsl), C stored as 64-bit words (half
// the per-component stores on llvmpipe); needs shaderInt64.
#define VKN_W64 1
#include "gemm_reg.glsl"
