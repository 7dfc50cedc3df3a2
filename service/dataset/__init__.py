"""The dataset being curated, in the database: import files, run the curation passes, list, review, export.

Shared by the CLI, the workers and the review page. Knows nothing of Flask or Celery; the
judging itself is `curation/`'s. Image files stay where the dataset lives: the database keeps their path,
content hash, labels, a thumbnail, and what the curation passes found.

One module per step, in the order a dataset goes through them: `importing` (files in), `flagging` (the
per-image and dataset-wide passes), `label_check` (the out-of-fold label check's faces and flags), `listing`
(for the command line), `decisions`, `review_queue` and `similar` (the review page), `export` (the training manifest);
`stored_images` reads an image back for any of them. Callers use the names below, from `service.dataset`.
"""

from service.dataset.decisions import (
    MAX_AGE,
    REVIEW_ACTIONS,
    REVIEWED_FIELDS,
    UNDO_ACTION,
    ImageNotFound,
    InvalidReview,
    NothingToUndo,
    ReviewError,
    ReviewTarget,
    StaleImage,
    decide,
    review_detail,
    review_image,
    review_view,
    undo_last_decision,
)
from service.dataset.export import MANIFEST_COLUMNS, ExportSummary, export_manifest
from service.dataset.flagging import (
    analyse_chunk,
    analysis_progress,
    pending_analysis,
    replace_flags,
    split_twins_of,
    store_group_flags,
)
from service.dataset.importing import (
    IMPORT_BATCH,
    ImportedFile,
    ImportSummary,
    dataset_files,
    import_files,
    read_dataset_file,
    register_file,
)
from service.dataset.label_check import LabelCheckFaces, label_check_faces, store_label_check
from service.dataset.listing import describe, flag_counts, flag_population, list_images, top_flagged
from service.dataset.review_queue import ReviewFilters, review_facets, review_queue, thumbnail_of
from service.dataset.similar import similar_images
from service.dataset.stored_images import effective_labels

__all__ = [
    "IMPORT_BATCH",
    "MANIFEST_COLUMNS",
    "MAX_AGE",
    "REVIEWED_FIELDS",
    "REVIEW_ACTIONS",
    "UNDO_ACTION",
    "ExportSummary",
    "ImageNotFound",
    "ImportSummary",
    "ImportedFile",
    "InvalidReview",
    "LabelCheckFaces",
    "NothingToUndo",
    "ReviewError",
    "ReviewFilters",
    "ReviewTarget",
    "StaleImage",
    "analyse_chunk",
    "analysis_progress",
    "dataset_files",
    "decide",
    "describe",
    "effective_labels",
    "export_manifest",
    "flag_counts",
    "flag_population",
    "import_files",
    "label_check_faces",
    "list_images",
    "pending_analysis",
    "read_dataset_file",
    "register_file",
    "replace_flags",
    "review_detail",
    "review_facets",
    "review_image",
    "review_queue",
    "review_view",
    "similar_images",
    "split_twins_of",
    "store_group_flags",
    "store_label_check",
    "thumbnail_of",
    "top_flagged",
    "undo_last_decision",
]
