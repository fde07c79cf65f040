/* vknorm: training with normalization on any Vulkan device. The umbrella header: every public header
 * except vkn/norm_ref.h (the plain-C reference, included on its own). */
#ifndef VKN_H
#define VKN_H
#include "vkn/version.h"
#include "vkn/status.h"
#include "vkn/device.h"
#include "vkn/tensor.h"
#include "vkn/cmd.h"
#include "vkn/ops.h"
#include "vkn/io.h"
#include "vkn/graph.h"
#include "vkn/nn.h"
#include "vkn/step.h"
#include "vkn/models.h"
#include "vkn/norm.h"
#include "vkn/loss.h"
#include "vkn/optim.h"
#include "vkn/random.h"
#include "vkn/data.h"
#include "vkn/dist.h"
#endif
