"""facenet-pytorch's MTCNN, imported without torchvision.

facenet-pytorch takes two functions from torchvision: `batched_nms` (its detector's non-maximum suppression)
and `to_tensor` (in `extract_face`, which Faceage does not call). Importing torchvision imports its whole model
zoo and, through `torchvision.ops.roi_align`, `torch._dynamo` and the compiler stack: about 3 s of every cold
start on this 2-core machine (`python -X importtime -c "import facenet_pytorch"`), for one NMS. So while
facenet-pytorch is imported, stand-ins for those two functions are what `torchvision` holds, and they are taken
away afterwards: a real `import torchvision` later in the process gets the real package. Where torchvision is
already imported, it is used as it is. tests/preprocessing/test_mtcnn.py checks that the stand-in keeps the
same boxes as torchvision's.
"""

from __future__ import annotations

import sys
import types

import cv2
import numpy as np

_STAND_INS = (
    "torchvision",
    "torchvision.ops",
    "torchvision.ops.boxes",
    "torchvision.transforms",
    "torchvision.transforms.functional",
)


def mtcnn_class():
    """facenet_pytorch.MTCNN."""
    if "facenet_pytorch" not in sys.modules and "torchvision" not in sys.modules:
        _import_facenet_with_stand_ins()
    from facenet_pytorch import MTCNN

    return MTCNN


def batched_nms(boxes, scores, idxs, iou_threshold: float):
    """torchvision.ops.batched_nms: indices of the boxes kept, by decreasing score; boxes (N, 4) as x1, y1, x2,
    y2 compete only with boxes of the same `idxs` (image or class). OpenCV's NMS does the work in C++."""
    import torch

    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    # torchvision's own trick: move each group's boxes so far apart that groups cannot overlap.
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    shifted = (boxes + offsets[:, None]).detach().cpu().double().numpy()
    rects = np.column_stack(
        [shifted[:, 0], shifted[:, 1], shifted[:, 2] - shifted[:, 0], shifted[:, 3] - shifted[:, 1]]
    )
    # OpenCV keeps only scores above a threshold >= 0; scores replaced by their rank (n for the best, 1 for the
    # worst) keep every box and the same order.
    order = torch.argsort(scores.detach().cpu(), descending=True, stable=True)
    ranks = torch.empty(len(order), dtype=torch.float64)
    ranks[order] = torch.arange(len(order), 0, -1, dtype=torch.float64)
    kept = cv2.dnn.NMSBoxes(rects.tolist(), ranks.tolist(), 0.0, iou_threshold)
    return torch.as_tensor(np.asarray(kept, dtype=np.int64).reshape(-1), device=boxes.device)


def _to_tensor(picture):
    raise NotImplementedError("facenet_pytorch.extract_face needs torchvision; Faceage aligns faces itself")


def _import_facenet_with_stand_ins() -> None:
    modules = {name: types.ModuleType(name) for name in _STAND_INS}
    modules["torchvision"].ops = modules["torchvision.ops"]
    modules["torchvision"].transforms = modules["torchvision.transforms"]
    modules["torchvision.ops"].boxes = modules["torchvision.ops.boxes"]
    modules["torchvision.ops.boxes"].batched_nms = batched_nms
    modules["torchvision.transforms"].functional = modules["torchvision.transforms.functional"]
    modules["torchvision.transforms.functional"].to_tensor = _to_tensor
    sys.modules.update(modules)
    try:
        import facenet_pytorch  # noqa: F401
    finally:
        for name, module in modules.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
