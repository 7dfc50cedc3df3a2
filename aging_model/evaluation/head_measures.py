"""What an aged face does to the head around it, measured in CIE Lab with the input's 68 landmarks.

- Face against neck: the lightness (L) of the cheeks minus that of the neck below the chin. A renderer that
  darkens or lightens the face alone leaves a grey or white mask on an unchanged neck, so what counts is how
  much this difference changes between the input and the aged face.
- Hair: lightness and chroma (colourfulness, sqrt(a² + b²)) of the pixels above the brows that are not skin
  (hair, where there is any): greying hair gets lighter and less colourful.
- Skin: the cheeks' chroma and lightness; old skin may get paler, but it must not turn grey.

All regions come from the input's landmarks, so the same pixels are compared before and after; they are
measured in the frame of the padded crop (the face with a margin of the photo around it), on the photo as the
pipeline serves it (the aged face pasted back, and whatever else the pipeline changes around it).
"""

from __future__ import annotations

import cv2
import numpy as np

# dlib's 68 points: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67 (image left first).
_LEFT_CHEEK = (1, 2, 3, 48, 31, 41)  # jaw, mouth corner, nostril, lower lid
_RIGHT_CHEEK = (15, 14, 13, 54, 35, 46)
_CHEEK_SHRINK = 0.6  # towards the polygon's centre: away from the jaw line, the nose and a beard's edge
_NECK_BELOW_CHIN = (0.05, 0.2)  # of the eyes-to-chin distance: from just below the chin, down
_NECK_WIDTH = 0.3  # of the jaw's width
_HAIR_ABOVE_BROWS = (0.6, 0.05)  # of the eyes-to-chin distance: from this high above the brows down to this
_HAIR_BROWS = slice(19, 25)  # the brows' middle: the patch spans their width
_SKIN_DISTANCE = 3.0  # Mahalanobis distance in Lab to the cheeks' colour within which a pixel counts as skin
MIN_REGION_PIXELS = 40  # fewer pixels of hair (bald, cut off) or of neck (below the chip): none to measure


def to_lab(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 Lab of an RGB uint8 image: L in 0-100, a and b in their own units."""
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _eyes_to_chin(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[8] - landmarks[36:48].mean(axis=0)))


def cheek_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Both cheeks, between the jaw line and the nose, below the eyes and above the mouth's corners."""
    mask = np.zeros(shape, np.uint8)
    for indices in (_LEFT_CHEEK, _RIGHT_CHEEK):
        polygon = landmarks[list(indices)]
        centre = polygon.mean(axis=0)
        shrunk = centre + _CHEEK_SHRINK * (polygon - centre)
        cv2.fillPoly(mask, [np.round(shrunk).astype(np.int32)], 1)
    return mask.astype(bool)


def neck_mask(landmarks: np.ndarray, shape: tuple[int, int], lowest_chin: float | None = None) -> np.ndarray:
    """A box below the chin (point 8), clipped to the image; below `lowest_chin` (a y) where that is lower, so
    that a chin the aging lowers (a child made old) does not cover the patch."""
    d, chin = _eyes_to_chin(landmarks), landmarks[8]
    half = _NECK_WIDTH * float(np.linalg.norm(landmarks[16] - landmarks[0])) / 2
    below = max(float(chin[1]), lowest_chin if lowest_chin is not None else -np.inf)
    top, bottom = (below + share * d for share in _NECK_BELOW_CHIN)
    return _box_mask(shape, chin[0] - half, chin[0] + half, top, bottom)


def hair_patch(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """(left, right, top, bottom) of the patch above the brows: the width of their middle, from 0.6
    eyes-to-chin distances above them down to just above them. In UTKFace's tight chip framing most of it lies
    above the chip."""
    d = _eyes_to_chin(landmarks)
    brows = landmarks[_HAIR_BROWS]
    top, bottom = (brows[:, 1].min() - share * d for share in _HAIR_ABOVE_BROWS)
    return float(brows[:, 0].min()), float(brows[:, 0].max()), float(top), float(bottom)


def hair_mask(landmarks: np.ndarray, lab: np.ndarray, within: np.ndarray | None = None) -> np.ndarray:
    """The pixels of `hair_patch` (inside the mask `within`, if given) that are not skin, judged by the colour
    of the cheeks in `lab`."""
    patch = _box_mask(lab.shape[:2], *hair_patch(landmarks))
    if within is not None:
        patch &= within
    return patch & ~skin_like(lab, cheek_mask(landmarks, lab.shape[:2]))


def skin_like(lab: np.ndarray, skin_sample: np.ndarray) -> np.ndarray:
    """Pixels within _SKIN_DISTANCE (Mahalanobis, in Lab) of the colour of the `skin_sample` pixels."""
    sample = lab[skin_sample].astype(np.float64)
    if len(sample) < 10:
        return np.zeros(lab.shape[:2], bool)
    mean = sample.mean(axis=0)
    covariance = np.cov(sample, rowvar=False) + np.eye(3) * 4.0  # a floor: evenly lit cheeks are nearly flat
    offsets = lab.reshape(-1, 3) - mean
    distance = np.einsum("ij,jk,ik->i", offsets, np.linalg.inv(covariance), offsets)
    return (np.sqrt(distance) < _SKIN_DISTANCE).reshape(lab.shape[:2])


def _box_mask(shape: tuple[int, int], left: float, right: float, top: float, bottom: float) -> np.ndarray:
    mask = np.zeros(shape, bool)
    height, width = shape
    x0, x1 = int(np.clip(round(left), 0, width)), int(np.clip(round(right), 0, width))
    y0, y1 = int(np.clip(round(top), 0, height)), int(np.clip(round(bottom), 0, height))
    mask[y0:y1, x0:x1] = True
    return mask


def _share_beyond(box: tuple[float, float, float, float], inside: tuple[float, float, float, float]) -> float:
    """The share of the area of `box` that lies outside `inside` (both (left, right, top, bottom))."""
    left, right, top, bottom = box
    area = max(right - left, 0.0) * max(bottom - top, 0.0)
    if area == 0:
        return float("nan")
    overlap_x = max(0.0, min(right, inside[1]) - max(left, inside[0]))
    overlap_y = max(0.0, min(bottom, inside[3]) - max(top, inside[2]))
    return 1.0 - overlap_x * overlap_y / area


def _chroma(lab: np.ndarray) -> np.ndarray:
    return np.hypot(lab[..., 1], lab[..., 2])


def head_measures(
    before: np.ndarray,
    after: np.ndarray,
    landmarks: np.ndarray,
    photo: tuple[int, int, int, int] | None = None,
    after_landmarks: np.ndarray | None = None,
) -> dict:
    """The measures of one face: `before` and `after` (H, W, 3) uint8, the input and the aged photo in the
    same frame (the padded crop), `landmarks` (68, 2) of the input in that frame. NaN where a region is empty.
    With the aged face's own `after_landmarks`, the neck is measured below the lower of the two chins.

    `photo` (left, right, top, bottom) is the part of the frame that shows the photo itself (a tight dataset
    chip ends near the hairline and the chin; beyond it the frame repeats its border): hair and neck are
    measured only there, and the share of the hair patch beyond it is reported."""
    lab_before, lab_after = to_lab(before), to_lab(after)
    shape = before.shape[:2]
    lowest_chin = float(after_landmarks[8, 1]) if after_landmarks is not None else None
    photo = photo or (0, shape[1], 0, shape[0])
    in_photo = _box_mask(shape, *photo)
    cheeks = cheek_mask(landmarks, shape)
    neck = neck_mask(landmarks, shape, lowest_chin) & in_photo
    if neck.sum() < MIN_REGION_PIXELS:  # the chip ends at the chin: a repeated border is no neck
        neck[:] = False
    hair = hair_mask(landmarks, lab_before, within=in_photo)
    has_hair = int(hair.sum()) >= MIN_REGION_PIXELS

    def mean(values: np.ndarray, mask: np.ndarray) -> float:
        return float(values[mask].mean()) if mask.any() else float("nan")

    face_minus_neck = [mean(lab[..., 0], cheeks) - mean(lab[..., 0], neck) for lab in (lab_before, lab_after)]
    return {
        "face_minus_neck_before": face_minus_neck[0],
        "face_minus_neck_change": face_minus_neck[1] - face_minus_neck[0],
        "skin_lightness_change": mean(lab_after[..., 0], cheeks) - mean(lab_before[..., 0], cheeks),
        "skin_chroma_before": mean(_chroma(lab_before), cheeks),
        "skin_chroma_change": mean(_chroma(lab_after), cheeks) - mean(_chroma(lab_before), cheeks),
        "neck_pixels": int(neck.sum()),
        "hair_pixels": int(hair.sum()),
        "hair_patch_beyond_photo_share": _share_beyond(hair_patch(landmarks), photo),
        "hair_lightness_before": mean(lab_before[..., 0], hair) if has_hair else float("nan"),
        "hair_lightness_change": mean(lab_after[..., 0] - lab_before[..., 0], hair) if has_hair else float("nan"),
        "hair_chroma_before": mean(_chroma(lab_before), hair) if has_hair else float("nan"),
        "hair_chroma_change": mean(_chroma(lab_after) - _chroma(lab_before), hair) if has_hair else float("nan"),
    }


def summarise_head_measures(per_face: list[dict], face_neck_goal: float) -> dict:
    """Means over faces (hair and neck over the faces that show them) and the face-against-neck goal."""
    keys = per_face[0].keys() if per_face else ()
    summary = {key: _nanmean([m[key] for m in per_face]) for key in keys if not key.endswith("_pixels")}
    changes = np.abs([m["face_minus_neck_change"] for m in per_face])
    changes = changes[~np.isnan(changes)]
    summary["faces"] = len(per_face)
    summary["faces_with_neck_in_view"] = int(sum(m["neck_pixels"] >= MIN_REGION_PIXELS for m in per_face))
    summary["faces_with_hair_in_view"] = int(sum(m["hair_pixels"] >= MIN_REGION_PIXELS for m in per_face))
    summary["face_minus_neck_mean_abs_change"] = _nanmean(changes)
    summary["face_minus_neck_share_over_goal"] = float(np.mean(changes > face_neck_goal)) if len(changes) else None
    summary["face_minus_neck_goal"] = face_neck_goal
    return summary


def _nanmean(values) -> float | None:
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else None
