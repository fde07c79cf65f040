/* vknorm: training with normalization on any Vulkan device. The umbrella header. */
#ifndef VKN_H
#define VKN_H
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
#endif
