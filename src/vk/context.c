/* Instance and device choice through volk, the capability line, the validation messenger. */
#define VOLK_IMPLEMENTATION
#include "vk/vk_internal.h"

#include <stdlib.h>
#include <string.h>

int vkn_env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

vkn_status vkn_vk_check(VkResult r, const char *what)
{
    switch (r) {
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        return vkn_status_set(VKN_ERR_DEVICE_OOM, "%s: out of device memory", what);
    case VK_ERROR_OUT_OF_HOST_MEMORY:
        return vkn_status_set(VKN_ERR_HOST_OOM, "%s: out of host memory", what);
    case VK_ERROR_DEVICE_LOST:
        return vkn_status_set(VKN_ERR_DEVICE_LOST, "%s: device lost", what);
    default:
        return vkn_status_set(VKN_ERR_VULKAN, "%s failed with VkResult %d", what, (int)r);
    }
}

int vkn_vk_memory_type(const vkn_context *ctx, uint32_t bits, VkMemoryPropertyFlags want)
{
    for (uint32_t i = 0; i < ctx->memprops.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (ctx->memprops.memoryTypes[i].propertyFlags & want) == want)
            return (int)i;
    return -1;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    vkn_context *ctx = user;
    if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        ctx->validation_count++;
        if (data->pMessageIdName && strncmp(data->pMessageIdName, "SYNC-", 5) == 0) ctx->sync_hazard_count++;
        /* a message raised while a dispatch is recorded names it: the layer knows only handles */
        fprintf(stderr, "vknorm: validation %s%s%s%s: %s\n",
                severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning",
                ctx->dispatch_label ? " (recording dispatch '" : "", ctx->dispatch_label ? ctx->dispatch_label : "",
                ctx->dispatch_label ? "')" : "", data->pMessage ? data->pMessage : "(no message)");
    }
    (void)type;
    return VK_FALSE;
}

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static int type_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static int has_layer(const char *name)
{
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, NULL);
    VkLayerProperties *p = calloc(n ? n : 1, sizeof *p);
    if (!p) return 0;
    vkEnumerateInstanceLayerProperties(&n, p);
    int found = 0;
    for (uint32_t i = 0; i < n; i++) found |= strcmp(p[i].layerName, name) == 0;
    free(p);
    return found;
}

static int layer_has_ext(const char *layer, const char *name)
{
    uint32_t n = 0;
    vkEnumerateInstanceExtensionProperties(layer, &n, NULL);
    VkExtensionProperties *p = calloc(n ? n : 1, sizeof *p);
    if (!p) return 0;
    vkEnumerateInstanceExtensionProperties(layer, &n, p);
    int found = 0;
    for (uint32_t i = 0; i < n; i++) found |= strcmp(p[i].extensionName, name) == 0;
    free(p);
    return found;
}

/* VKN_VALIDATE: a comma-separated list; "sync" turns on the layer with synchronization validation,
 * any other word but "0" the layer alone. A list lets the test environment append its "1" to a
 * value given outside (VKN_VALIDATE=sync meson test gives "sync,1"). 0: off, 1: on, 2: with sync. */
static int env_validate(void)
{
    const char *v = getenv("VKN_VALIDATE");
    int level = 0;
    while (v && *v) {
        size_t n = strcspn(v, ",");
        if (n == 4 && strncmp(v, "sync", 4) == 0) level = 2;
        else if (n && !(n == 1 && v[0] == '0') && level < 1) level = 1;
        v += n + (v[n] == ',');
    }
    return level;
}

static int has_device_ext(VkPhysicalDevice pd, const char *name)
{
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL);
    VkExtensionProperties *p = calloc(n ? n : 1, sizeof *p);
    if (!p) return 0;
    vkEnumerateDeviceExtensionProperties(pd, NULL, &n, p);
    int found = 0;
    for (uint32_t i = 0; i < n; i++) found |= strcmp(p[i].extensionName, name) == 0;
    free(p);
    return found;
}

static int compute_queue_family(VkPhysicalDevice pd)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties q[16];
    if (n > 16) n = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
    int any = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!(q[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
        if (!(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) return (int)i; /* a compute-only family first */
        if (any < 0) any = (int)i;
    }
    return any;
}

/* Pick the physical device: `want` (index or name substring) if given, else the best type. */
static vkn_status choose_device(VkInstance inst, const char *want, VkPhysicalDevice *out)
{
    uint32_t n = 0;
    VKN_VK(vkEnumeratePhysicalDevices(inst, &n, NULL), "vkEnumeratePhysicalDevices");
    if (n == 0)
        return vkn_status_set(VKN_ERR_NO_DEVICE, "the Vulkan loader found no device: install a driver "
                              "(scripts/install-deps installs mesa-vulkan-drivers for the lavapipe CPU device)");
    VkPhysicalDevice pds[16];
    if (n > 16) n = 16;
    VKN_VK(vkEnumeratePhysicalDevices(inst, &n, pds), "vkEnumeratePhysicalDevices");
    if (want && *want) {
        char *end = NULL;
        long idx = strtol(want, &end, 10);
        for (uint32_t i = 0; i < n; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(pds[i], &p);
            int match = (end && *end == 0) ? (long)i == idx : strcasestr(p.deviceName, want) != NULL;
            if (match) {
                if (p.apiVersion < VK_API_VERSION_1_2 || compute_queue_family(pds[i]) < 0)
                    return vkn_status_set(VKN_ERR_UNSUPPORTED, "device %u (%s) lacks Vulkan 1.2 or a compute queue",
                                          i, p.deviceName);
                *out = pds[i];
                return VKN_OK;
            }
        }
        char list[1024] = "";
        for (uint32_t i = 0; i < n; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(pds[i], &p);
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%u: %s", i ? "; " : "", i, p.deviceName);
        }
        return vkn_status_set(VKN_ERR_BAD_DEVICE, "VKN_DEVICE='%s' matches no device (index or name substring); "
                              "devices: %s", want, list);
    }
    int best = -1, best_rank = -1;
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pds[i], &p);
        if (p.apiVersion < VK_API_VERSION_1_2 || compute_queue_family(pds[i]) < 0) continue;
        int r = type_rank(p.deviceType);
        if (r > best_rank) { best = (int)i; best_rank = r; }
    }
    if (best < 0)
        return vkn_status_set(VKN_ERR_NO_DEVICE, "no Vulkan 1.2 device with a compute queue "
                              "(%u device(s) listed; update the driver or install mesa-vulkan-drivers)", n);
    *out = pds[best];
    return VKN_OK;
}

static vkn_status create_instance(vkn_context *ctx, int validate)
{
    uint32_t api = 0;
    if (!vkEnumerateInstanceVersion || vkEnumerateInstanceVersion(&api) != VK_SUCCESS || api < VK_API_VERSION_1_2)
        return vkn_status_set(VKN_ERR_NO_DEVICE, "the Vulkan loader is older than 1.2: update libvulkan1");
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "vknorm",
        .pEngineName = "vknorm", .apiVersion = VK_API_VERSION_1_2,
    };
    const char *layers[1] = {"VK_LAYER_KHRONOS_validation"};
    const char *exts[2] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME};
    if (validate && !has_layer(layers[0]))
        return vkn_status_set(VKN_ERR_UNSUPPORTED, "VKN_VALIDATE=1 but VK_LAYER_KHRONOS_validation is not installed "
                              "(apt-get install vulkan-validationlayers, or scripts/install-deps)");
    int sync = validate >= 2;
    if (sync && !layer_has_ext(layers[0], exts[1]))
        return vkn_status_set(VKN_ERR_UNSUPPORTED, "VKN_VALIDATE=sync but the validation layer lacks %s "
                              "(update vulkan-validationlayers)", exts[1]);
    /* synchronization validation: the layer reports every read/write hazard between dispatches that no
     * barrier orders, so a launcher's wrong write mask (the tracker places barriers from it) shows */
    VkValidationFeatureEnableEXT enables[1] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkValidationFeaturesEXT features = {.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
                                        .enabledValidationFeatureCount = 1, .pEnabledValidationFeatures = enables};
    VkDebugUtilsMessengerCreateInfoEXT dbg = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_debug_message, .pUserData = ctx, .pNext = sync ? &features : NULL,
    };
    VkInstanceCreateInfo ici = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app,
        .enabledLayerCount = validate ? 1 : 0, .ppEnabledLayerNames = layers,
        .enabledExtensionCount = validate ? 1u + (uint32_t)sync : 0, .ppEnabledExtensionNames = exts,
        .pNext = validate ? &dbg : NULL,
    };
    VkResult r = vkCreateInstance(&ici, NULL, &ctx->instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        return vkn_status_set(VKN_ERR_NO_DEVICE, "no Vulkan driver is installed (install mesa-vulkan-drivers or your GPU's driver)");
    VKN_VK(r, "vkCreateInstance");
    /* Load every function through the loader's trampolines, which dispatch on the handle: several
     * contexts (and a validated one beside a plain one) can then live in one process. */
    volkLoadInstance(ctx->instance);
    if (validate) {
        ctx->destroy_messenger = (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            ctx->instance, "vkDestroyDebugUtilsMessengerEXT");
        dbg.pNext = NULL;
        VKN_VK(vkCreateDebugUtilsMessengerEXT(ctx->instance, &dbg, NULL, &ctx->messenger), "vkCreateDebugUtilsMessengerEXT");
    }
    ctx->validation_level = validate;
    return VKN_OK;
}

static void fill_info(vkn_context *ctx, int push_desc_ext, vkn_path forced)
{
    vkn_device_info *in = &ctx->info;
    VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &m3};
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES, .pNext = &sg};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &drv};
    vkGetPhysicalDeviceProperties2(ctx->phys, &p2);
    ctx->props = p2.properties;
    ctx->max_allocation = m3.maxMemoryAllocationSize;
    vkGetPhysicalDeviceMemoryProperties(ctx->phys, &ctx->memprops);

    VkPhysicalDevice16BitStorageFeatures s16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, .pNext = &s16};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f16};
    vkGetPhysicalDeviceFeatures2(ctx->phys, &f2);

    snprintf(in->name, sizeof in->name, "%s", ctx->props.deviceName);
    snprintf(in->driver, sizeof in->driver, "%s %s", drv.driverName, drv.driverInfo);
    snprintf(in->type, sizeof in->type, "%s", type_name(ctx->props.deviceType));
    in->vendor_id = ctx->props.vendorID;
    in->device_id = ctx->props.deviceID;
    in->api_version = ctx->props.apiVersion;
    in->subgroup_size = sg.subgroupSize;
    in->max_shared_bytes = ctx->props.limits.maxComputeSharedMemorySize;
    in->max_workgroup_invocations = ctx->props.limits.maxComputeWorkGroupInvocations;
    for (int i = 0; i < 3; i++) in->max_workgroup_count[i] = ctx->props.limits.maxComputeWorkGroupCount[i];
    in->max_storage_range = ctx->props.limits.maxStorageBufferRange;
    in->fp16 = f16.shaderFloat16 && s16.storageBuffer16BitAccess;
    in->push_descriptors = push_desc_ext && !vkn_env_flag("VKN_NO_PUSH_DESCRIPTOR");
    in->subgroup_arith = !vkn_env_flag("VKN_NO_SUBGROUP") && (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                         (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    in->timestamps = ctx->props.limits.timestampComputeAndGraphics;
    in->timestamp_period_ns = ctx->props.limits.timestampPeriod;
    for (uint32_t h = 0; h < ctx->memprops.memoryHeapCount; h++)
        if (ctx->memprops.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            in->device_local_bytes += ctx->memprops.memoryHeaps[h].size;
    if (forced == VKN_PATH_AUTO) {
        const char *e = getenv("VKN_PATH");
        if (e && strcmp(e, "cpu") == 0) forced = VKN_PATH_CPU;
        else if (e && strcmp(e, "gpu") == 0) forced = VKN_PATH_GPU;
    }
    in->path = forced != VKN_PATH_AUTO ? forced
             : ctx->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? VKN_PATH_CPU : VKN_PATH_GPU;
}

/* Arenas use a memory type that is device-local and host-visible when its heap is large (unified
 * memory, resizable BAR, CPU devices): then tensors are mapped once and need no staging. A small
 * BAR window (256 MiB on many discrete GPUs) is not used for arenas. */
static void choose_memory(vkn_context *ctx)
{
    const VkMemoryPropertyFlags dl = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    const VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    VkDeviceSize largest_dl = 0;
    for (uint32_t h = 0; h < ctx->memprops.memoryHeapCount; h++)
        if ((ctx->memprops.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            ctx->memprops.memoryHeaps[h].size > largest_dl)
            largest_dl = ctx->memprops.memoryHeaps[h].size;
    int both = vkn_vk_memory_type(ctx, ~0u, dl | hv);
    if (both >= 0 && !vkn_env_flag("VKN_NO_HOST_VISIBLE") &&
        ctx->memprops.memoryHeaps[ctx->memprops.memoryTypes[both].heapIndex].size * 2 >= largest_dl) {
        ctx->mem_type_device = (uint32_t)both;
        ctx->device_mem_mapped = 1;
    } else {
        int d = vkn_vk_memory_type(ctx, ~0u, dl);
        ctx->mem_type_device = (uint32_t)(d >= 0 ? d : 0);
        ctx->device_mem_mapped = 0;
    }
    ctx->info.host_visible_device_memory = ctx->device_mem_mapped;
}

static vkn_status create_device(vkn_context *ctx)
{
    int qf = compute_queue_family(ctx->phys);
    ctx->queue_family = (uint32_t)qf;
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = ctx->queue_family,
        .queueCount = 1, .pQueuePriorities = &prio,
    };
    VkPhysicalDeviceVulkan12Features v12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features v11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, .pNext = &v12};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &v11};
    vkGetPhysicalDeviceFeatures2(ctx->phys, &f2);
    if (!v12.timelineSemaphore)
        return vkn_status_set(VKN_ERR_UNSUPPORTED, "%s lacks timeline semaphores (Vulkan 1.2 core)", ctx->info.name);
    /* enable only what we use */
    VkPhysicalDeviceVulkan12Features e12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .timelineSemaphore = VK_TRUE, .shaderFloat16 = v12.shaderFloat16 && ctx->info.fp16,
        .storageBuffer8BitAccess = v12.storageBuffer8BitAccess, .shaderInt8 = v12.shaderInt8};
    VkPhysicalDeviceVulkan11Features e11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
        .pNext = &e12, .storageBuffer16BitAccess = v11.storageBuffer16BitAccess && ctx->info.fp16};
    VkPhysicalDeviceFeatures2 e2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &e11};
    e2.features.shaderInt64 = f2.features.shaderInt64;
    const char *exts[2];
    uint32_t next = 0;
    if (ctx->info.push_descriptors) exts[next++] = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
    VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = &e2, .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qci, .enabledExtensionCount = next, .ppEnabledExtensionNames = exts,
    };
    VKN_VK(vkCreateDevice(ctx->phys, &dci, NULL, &ctx->dev), "vkCreateDevice");
    vkGetDeviceQueue(ctx->dev, ctx->queue_family, 0, &ctx->queue);

    VkDescriptorSetLayoutBinding b[VKN_NUM_BINDINGS];
    for (uint32_t i = 0; i < VKN_NUM_BINDINGS; i++)
        b[i] = (VkDescriptorSetLayoutBinding){.binding = i, .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
                                              .descriptorType = i < VKN_MAX_BINDINGS ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                                                                                     : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER};
    VkDescriptorSetLayoutCreateInfo dslci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = VKN_NUM_BINDINGS,
        .pBindings = b,
        .flags = ctx->info.push_descriptors ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0,
    };
    VKN_VK(vkCreateDescriptorSetLayout(ctx->dev, &dslci, NULL, &ctx->dsl), "vkCreateDescriptorSetLayout");
    VkPushConstantRange pcr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = VKN_PUSH_BYTES};
    VkPipelineLayoutCreateInfo plci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1, .pSetLayouts = &ctx->dsl,
        .pushConstantRangeCount = 1, .pPushConstantRanges = &pcr,
    };
    VKN_VK(vkCreatePipelineLayout(ctx->dev, &plci, NULL, &ctx->layout), "vkCreatePipelineLayout");
    VkCommandPoolCreateInfo cpci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, .queueFamilyIndex = ctx->queue_family,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
    };
    VKN_VK(vkCreateCommandPool(ctx->dev, &cpci, NULL, &ctx->pool), "vkCreateCommandPool");
    VkPipelineCacheCreateInfo pcci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    VKN_VK(vkCreatePipelineCache(ctx->dev, &pcci, NULL, &ctx->cache), "vkCreatePipelineCache");
    return VKN_OK;
}

static void make_describe(vkn_context *ctx)
{
    const vkn_device_info *in = &ctx->info;
    snprintf(ctx->describe, sizeof ctx->describe,
             "vknorm device: %s [%s] | driver %s | Vulkan %u.%u.%u | subgroup %u | shared %u KiB | fp16 %s | "
             "memory %s | push descriptors %s | kernels %s",
             in->name, in->type, in->driver, VK_API_VERSION_MAJOR(in->api_version),
             VK_API_VERSION_MINOR(in->api_version), VK_API_VERSION_PATCH(in->api_version), in->subgroup_size,
             in->max_shared_bytes / 1024, in->fp16 ? "yes" : "no",
             in->host_visible_device_memory ? "device-local+host-visible (mapped)" : "device-local + staging",
             in->push_descriptors ? "yes" : "no", in->path == VKN_PATH_CPU ? "cpu-class" : "gpu-class");
}

vkn_status vkn_context_create(const vkn_context_opts *opts, vkn_context **out)
{
    *out = NULL;
    vkn_context_opts o = {.device = NULL, .validate = -1, .quiet = -1, .path = VKN_PATH_AUTO};
    if (opts) o = *opts;
    const char *want = o.device ? o.device : getenv("VKN_DEVICE");
    int validate = o.validate >= 0 ? o.validate : env_validate();

    if (volkInitialize() != VK_SUCCESS)
        return vkn_status_set(VKN_ERR_NO_LOADER, "libvulkan.so.1 could not be loaded: install libvulkan1 "
                              "(scripts/install-deps) or check LD_LIBRARY_PATH");
    vkn_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn_context_create: out of host memory");
    ctx->quiet = o.quiet >= 0 ? o.quiet : vkn_env_flag("VKN_QUIET");
    ctx->profile = vkn_env_flag("VKN_PROFILE");
    ctx->check_masks = vkn_env_flag("VKN_CHECK_MASKS");
    vkn_status s = create_instance(ctx, validate);
    if (s == VKN_OK) s = choose_device(ctx->instance, want, &ctx->phys);
    if (s == VKN_OK) {
        fill_info(ctx, has_device_ext(ctx->phys, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME), o.path);
        choose_memory(ctx);
        s = create_device(ctx);
    }
    if (s != VKN_OK) {
        vkn_context_destroy(ctx);
        return s;
    }
    make_describe(ctx);
    if (!ctx->quiet) fprintf(stderr, "%s\n", ctx->describe);
    *out = ctx;
    return VKN_OK;
}

void vkn_context_destroy(vkn_context *ctx)
{
    if (!ctx) return;
    if (ctx->dev) {
        vkDeviceWaitIdle(ctx->dev);
        vkn_staging_destroy(ctx);
        vkn_pipeline_destroy_all(ctx);
        if (ctx->cache) vkDestroyPipelineCache(ctx->dev, ctx->cache, NULL);
        if (ctx->pool) vkDestroyCommandPool(ctx->dev, ctx->pool, NULL);
        if (ctx->layout) vkDestroyPipelineLayout(ctx->dev, ctx->layout, NULL);
        if (ctx->dsl) vkDestroyDescriptorSetLayout(ctx->dev, ctx->dsl, NULL);
        vkDestroyDevice(ctx->dev, NULL);
    }
    if (ctx->messenger && ctx->destroy_messenger) ctx->destroy_messenger(ctx->instance, ctx->messenger, NULL);
    if (ctx->instance) vkDestroyInstance(ctx->instance, NULL);
    free(ctx);
}

const vkn_device_info *vkn_context_info(const vkn_context *ctx) { return &ctx->info; }
const char *vkn_context_describe(const vkn_context *ctx) { return ctx->describe; }
uint32_t vkn_context_validation_count(const vkn_context *ctx) { return ctx->validation_count; }

int vkn_context_list_devices(char *buf, int buf_len)
{
    if (volkInitialize() != VK_SUCCESS)
        return -(int)vkn_status_set(VKN_ERR_NO_LOADER, "libvulkan.so.1 could not be loaded: install libvulkan1");
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .apiVersion = VK_API_VERSION_1_2};
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    VkInstance inst;
    if (vkCreateInstance(&ici, NULL, &inst) != VK_SUCCESS)
        return -(int)vkn_status_set(VKN_ERR_NO_DEVICE, "vkCreateInstance failed: no Vulkan driver installed");
    volkLoadInstance(inst);
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(inst, &n, NULL);
    VkPhysicalDevice pds[16];
    if (n > 16) n = 16;
    vkEnumeratePhysicalDevices(inst, &n, pds);
    int len = 0;
    if (buf_len > 0) buf[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pds[i], &p);
        if (len < buf_len)
            len += snprintf(buf + len, (size_t)(buf_len - len), "%u: %s [%s]\n", i, p.deviceName, type_name(p.deviceType));
    }
    vkDestroyInstance(inst, NULL);
    return (int)n;
}
