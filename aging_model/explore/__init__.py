"""The latent explorer: codes in the CAAE's z space, named directions through it, realism ranking of samples,
and the building of those directions from held-out faces.

May import: caae, estimator, the top-level basics and preprocessing; never evaluation nor the pipeline.
"""
