"""Names of the Metadata records simrec writes, for its writers and readers alike."""

RECORDING = "simrec.recording"  # how the recording was made: command line, host, domain, mode
USER = "simrec.meta"  # the user's own key/values (``--meta``, ``Recorder(meta=...)``)
TOPIC_STATS = "simrec.topic_stats"  # topic -> JSON counters (received, written, *_dropped)
SPLIT = "simrec.split"  # one file of a split recording: its index and the recording's name
CLIP = "simrec.clip"  # one video clip of a Gymnasium wrapper: its name, topic, frames and fps

KNOWN = frozenset({RECORDING, USER, TOPIC_STATS, CLIP})  # what `simrec info` reads
