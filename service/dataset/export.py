"""Export: the chosen images, with the curator's corrected labels, as the manifest `faceage train` reads."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from service.database import Database
from service.dataset.stored_images import effective_labels
from service.models import DatasetFlag, DatasetImage, DatasetImageStatus

MANIFEST_COLUMNS = ("path", "age", "gender", "race")  # what aging_model.data.read_manifest reads


@dataclass(frozen=True)
class ExportSummary:
    written: int
    without_labels: int  # chosen, but with neither labels nor corrections: left out


def export_manifest(
    db: Database, out: str | Path, pending_unless_flagged: Iterable[str] | None = None
) -> ExportSummary:
    """Write the accepted images (and, if asked, analysed pending images free of the given flags) as a manifest.

    The CSV is what `faceage train --manifest` reads (`path,age,gender,race`), with the curator's corrected
    labels; paths are absolute, so the manifest can live anywhere. `pending_unless_flagged` (flag names) adds
    the pending images that were analysed and carry none of those flags: `ALL_FLAGS` adds the unflagged ones.
    """
    chosen = DatasetImage.status == DatasetImageStatus.accepted
    if pending_unless_flagged is not None:
        blocking = DatasetImage.flags.any(DatasetFlag.name.in_(list(pending_unless_flagged)))
        clean_pending = (
            (DatasetImage.status == DatasetImageStatus.pending) & ~blocking & DatasetImage.analysed_at.is_not(None)
        )
        chosen = chosen | clean_pending
    written = skipped = 0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with db.session() as session, open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        for image in session.scalars(select(DatasetImage).where(chosen).order_by(DatasetImage.id)):
            labels = effective_labels(image)
            if not labels.labelled:
                skipped += 1
                continue
            writer.writerow([image.source_path, labels.age, labels.gender, "" if labels.race is None else labels.race])
            written += 1
    return ExportSummary(written=written, without_labels=skipped)
