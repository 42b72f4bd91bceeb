"""torchvision names convnp.vision does not provide: using one raises NotImplementedError that
names it and says what to use instead (never a bare AttributeError)."""

from __future__ import annotations

DATASETS = ("LSUN", "ImageNet", "CocoDetection", "CocoCaptions", "VOCDetection",
            "VOCSegmentation", "SVHN", "STL10", "CelebA", "Places365", "Caltech101",
            "Caltech256", "OxfordIIITPet", "Flowers102", "Food101", "StanfordCars", "QMNIST",
            "USPS", "SBDataset", "Cityscapes", "Kinetics", "UCF101", "HMDB51", "INaturalist",
            "DTD", "GTSRB", "EuroSAT", "FER2013", "Omniglot", "PCAM", "SUN397", "FGVCAircraft")
MODELS = ("detection", "segmentation", "video", "optical_flow", "quantization", "densenet121",
          "densenet161", "densenet169", "densenet201", "googlenet", "inception_v3",
          "squeezenet1_0", "squeezenet1_1", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
          "mobilenet_v3_small", "mobilenet_v3_large", "mnasnet0_5", "mnasnet1_0",
          "efficientnet_b0", "efficientnet_b1", "efficientnet_v2_s", "regnet_x_400mf",
          "regnet_y_400mf", "convnext_tiny", "convnext_small", "vit_b_16", "vit_b_32",
          "swin_t", "swin_v2_t", "maxvit_t")
OPS = ("roi_align", "RoIAlign", "roi_pool", "RoIPool", "ps_roi_align", "ps_roi_pool",
       "deform_conv2d", "DeformConv2d", "sigmoid_focal_loss", "generalized_box_iou",
       "distance_box_iou", "complete_box_iou", "masks_to_boxes", "FeaturePyramidNetwork",
       "MultiScaleRoIAlign", "DropBlock2d", "drop_block2d", "FrozenBatchNorm2d")
TRANSFORMS = ("AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix", "RandomInvert",
              "RandomPosterize", "RandomSolarize", "RandomAdjustSharpness",
              "RandomAutocontrast", "RandomEqualize", "FiveCrop", "TenCrop",
              "LinearTransformation", "RandomPerspective", "ElasticTransform")

_HINT = {
    "datasets": "use ImageFolder on the extracted images, or a convnp.data Dataset",
    "models": "build it from convnp.nn layers and load torchvision's state_dict with "
              "model.load_state_dict(convnp.load(path))",
    "ops": "compose it from convnp ops",
    "transforms": "use transforms.Lambda with your own function",
}


def check(module: str, name: str, names: tuple[str, ...]) -> None:
    """Raise NotImplementedError for a known torchvision name, AttributeError otherwise."""
    if name in names:
        raise NotImplementedError(f"torchvision.{module}.{name} is not available in "
                                  f"convnp.vision.{module}; {_HINT[module]}")
    raise AttributeError(f"module 'convnp.vision.{module}' has no attribute {name!r}")
