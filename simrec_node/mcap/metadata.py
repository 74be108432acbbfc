"""Names of the Metadata records simrec writes, for its writers and readers alike."""

RECORDING = "simrec.recording"  # how the recording was made: command line, host, domain, mode
USER = "simrec.meta"  # the user's own key/values (``--meta``, ``Recorder(meta=...)``)
TOPIC_STATS = "simrec.topic_stats"  # topic -> JSON counters (received, written, *_dropped)
SPLIT = "simrec.split"  # one file of a split recording: its index and the recording's name

KNOWN = frozenset({RECORDING, USER, TOPIC_STATS})  # what `simrec info` reads and shows
