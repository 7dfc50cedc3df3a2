"""The CAAE of Zhang, Song & Qi (CVPR 2017): encoder, generator and discriminators, their training and the
serving model (`inference.AgingModel`), which also drives the explorer and the `caae` renderer.

May import: aging_model's top-level basics (age_groups, data, weights_io), media.sheets (training sheets) and
preprocessing; never prototypes, evaluation, explore, nor the pipeline.
"""
