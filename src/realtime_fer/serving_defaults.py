"""The defaults ``realtime-fer serve`` and :func:`realtime_fer.web.create_app` share, written once: the
app's :data:`~realtime_fer.web.DEFAULTS` and the CLI's options both read them. A leaf module, so the
CLI's parser has them without importing Flask and the app."""

SOURCE = "demo"  # the server-side stream: camera index, video file, URL or "demo"
ANALYSIS_QUEUE = 32  # uploads that may wait for analysis (beyond: 503 with Retry-After)
STREAM_MAX_VIEWERS = 8  # each viewer holds a server thread for as long as it watches
