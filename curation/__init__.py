"""Dataset curation: find what is wrong with a face dataset before the next model trains on it.

Pure functions from images and labels to named, scored flags (higher score = more suspicious), so a curator
can sort the dataset by suspicion and decide. Like `preprocessing/` and `aging_model/`, this package knows
nothing of Flask, Celery or the database; `service/dataset/` stores what it computes.

- `labels.py` — labels from UTKFace-style file names or a CSV; malformed names say what is wrong.
- `images.py` — decoding, the content hash, the perceptual hash and the thumbnail of one image file.
- `flags.py` — the `Flag` record, every flag's name and the thresholds that raise them.
- `analysis.py` — per-image flags (face, image quality, labels) for a batch of images, and the features
  (perceptual hash, identity embedding) that the dataset-wide pass needs.
- `duplicates.py` — the dataset-wide pass: near duplicates and the same person twice.
"""
