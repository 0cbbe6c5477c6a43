"""Audiograms: choosing clips (``clips``), word-timed captions (``captions``) and rendering the videos (``audiogram``)."""
