"""A two-sample test of realism: can a simple classifier tell aged faces from real faces of the target age?

Each face becomes a short feature vector that a person could name: dlib's identity descriptor (what the face
looks like as a whole), the energy of its luminance in a few bands of scale (skin smoothness, wrinkles, the
sharpness that resampling costs) and colour statistics in Lab (pallor, redness, grey skin). A logistic
regression is cross-validated on aged against real faces; its accuracy is the measure: 0.5 means it cannot tell
them apart, 1.0 means every aged face gives itself away. Faces shown at their own age against real faces of
that age are the floor: what framing and resampling alone give away.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

FEATURE_SIZE = 128  # faces are measured at this size, whatever their own
BAND_SIGMAS = (0.6, 1.2, 2.4, 4.8, 9.6)  # px at FEATURE_SIZE: four bands between neighbouring blurs
FOLDS = 5
REGULARISATION = 0.1  # the inverse strength C of scikit-learn's L2 penalty: ~150 features for ~100 faces
_INNER = (0.15, 0.75, 0.2, 0.8)  # top, bottom, left, right of the inner face in the chip framing


def band_energies(crops: np.ndarray) -> np.ndarray:
    """(N, 4) log mean squared luminance in each band between neighbouring BAND_SIGMAS, over the inner face."""
    return np.stack([_band_energies(crop) for crop in crops]) if len(crops) else np.zeros((0, len(BAND_SIGMAS) - 1))


def _inner(image: np.ndarray) -> np.ndarray:
    top, bottom, left, right = (round(v * image.shape[0]) for v in _INNER)
    return image[top:bottom, left:right]


def _band_energies(crop: np.ndarray) -> np.ndarray:
    small = cv2.resize(crop, (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA)
    luminance = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    blurred = [cv2.GaussianBlur(luminance, (0, 0), sigma) for sigma in BAND_SIGMAS]
    bands = [fine - coarse for fine, coarse in itertools.pairwise(blurred)]
    return np.array([np.log(np.mean(_inner(band) ** 2) + 1e-3) for band in bands])


def colour_statistics(crops: np.ndarray) -> np.ndarray:
    """(N, 11) Lab statistics of the inner face: mean and spread of L, a, b; L's 10th and 90th percentiles;
    mean chroma and its spread; the correlation of L with b (how shading and yellowness go together)."""
    from aging_model.evaluation.head_measures import to_lab

    rows = []
    for crop in crops:
        small = cv2.resize(crop, (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA)
        lab = _inner(to_lab(small)).reshape(-1, 3).astype(np.float64)
        chroma = np.hypot(lab[:, 1], lab[:, 2])
        correlation = np.corrcoef(lab[:, 0], lab[:, 2])[0, 1] if lab[:, 0].std() > 0 and lab[:, 2].std() > 0 else 0.0
        rows.append(
            [*lab.mean(0), *lab.std(0), *np.percentile(lab[:, 0], [10, 90]), chroma.mean(), chroma.std(), correlation]
        )
    return np.array(rows).reshape(len(crops), 11)


def realism_features(crops: np.ndarray, descriptors: np.ndarray) -> dict[str, np.ndarray]:
    """The feature families of (N, S, S, 3) faces, by name; `descriptors` are their (N, 128) dlib descriptors."""
    return {"descriptor": np.asarray(descriptors), "bands": band_energies(crops), "colour": colour_statistics(crops)}


def two_sample_accuracy(aged: np.ndarray, real: np.ndarray, seed: int = 0) -> float | None:
    """Cross-validated (FOLDS, stratified, seeded) accuracy of a logistic regression telling the rows of
    `aged` (N, F) from those of `real` (M, F); features are standardised inside each fold. None when either
    side has fewer faces than folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if min(len(aged), len(real)) < FOLDS:
        return None
    x = np.concatenate([aged, real]).astype(np.float64)
    y = np.concatenate([np.ones(len(aged)), np.zeros(len(real))])
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=REGULARISATION, max_iter=2000))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    return float(cross_val_score(classifier, x, y, cv=folds, scoring="accuracy").mean())


def realism_test(aged: dict[str, np.ndarray], real: dict[str, np.ndarray], seed: int = 0) -> dict:
    """Accuracy on all feature families together, and on each alone (which of them gives the faces away)."""
    families = list(aged)
    result = {
        "aged_faces": len(aged[families[0]]),
        "real_faces": len(real[families[0]]),
        "accuracy": two_sample_accuracy(
            np.concatenate([aged[f] for f in families], axis=1),
            np.concatenate([real[f] for f in families], axis=1),
            seed,
        ),
    }
    result["by_features"] = {f: two_sample_accuracy(aged[f], real[f], seed) for f in families}
    return result
