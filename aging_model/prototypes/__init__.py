"""The default renderer: age prototypes (mean shape, skin and colour per age group and gender) and the ager that
moves a photo's own face from its age's prototype towards the target's.

May import: aging_model's top-level basics (age_groups, data, weights_io) and preprocessing; never caae,
evaluation, explore, media, nor the pipeline.
"""
