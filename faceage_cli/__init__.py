"""The `faceage` command line: parses options, calls into the packages, maps user errors to exit codes.

One module per command group: `aging` (age, prototypes), `training` (train, train-estimator, train-age-judge, evaluate),
`serving` (serve, worker, db, apikey, reviewer, batch), `curating` (dataset) and `exploring` (explore).
Errors a user can cause end with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging

import click

from faceage_cli import aging, curating, exploring, serving, training


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more detail.")
def main(verbose: bool) -> None:
    """Faceage: see a face at 5, 20, 40, 60 and 80 (CAAE face aging)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


for command in (
    aging.age,
    aging.morph,
    aging.prototypes,
    training.train,
    training.train_estimator,
    training.train_age_judge,
    training.evaluate,
    serving.serve,
    serving.worker_command,
    serving.db,
    serving.apikey,
    serving.reviewer,
    serving.batch,
    curating.dataset,
    exploring.explore,
):
    main.add_command(command)

__all__ = ["main"]
