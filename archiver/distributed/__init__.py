"""Archiving on several machines: the run's work enqueued by host on a Redis broker
(Dramatiq), fetched by `archiver worker` processes under one global per-host politeness kept
in Redis, and merged back into the collection (`archiver merge`)."""
