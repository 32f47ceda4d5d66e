"""archiver: preserve the images, media, sources and related articles that documents cite."""

__version__ = "0.1.0"
