"""Pictures made from aged faces: lifespan films (animation), morphs between ages, and sample sheets and strips.

May import: the top-level basics and preprocessing; never the renderers' internals, evaluation nor explore.
"""
