"""The age and gender estimator (a small CNN on the aligned chip): it reads each face's own age and gender,
the baseline every renderer ages from.

May import: aging_model's top-level basics (age_groups, data, weights_io) and media.sheets; never the
renderers, evaluation, explore, nor the pipeline.
"""
