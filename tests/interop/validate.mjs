// Validate an MCAP file with the official TypeScript reader (@mcap/core).
// Usage: node validate.mjs FILE  -> prints JSON {messageCount, topics: {topic: count}, ...}
// Exits non-zero (with the reader's error on stderr) if the file is invalid.
import { open, readFile } from "node:fs/promises";

import { crc32 } from "@foxglove/crc";
import { McapIndexedReader, McapStreamReader } from "@mcap/core";
import { loadDecompressHandlers } from "@mcap/support";

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs FILE");
  process.exit(2);
}

const decompressHandlers = await loadDecompressHandlers();

// 1) Indexed read: footer, summary (with summary CRC), chunk indexes, every chunk's CRC.
const handle = await open(path, "r");
let indexed;
try {
  const size = BigInt((await handle.stat()).size);
  const readable = {
    size: async () => size,
    read: async (offset, length) => {
      const buf = new Uint8Array(Number(length));
      const { bytesRead } = await handle.read(buf, 0, buf.length, Number(offset));
      if (bytesRead !== buf.length) throw new Error(`short read at ${offset}`);
      return buf;
    },
  };
  const reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
  const topics = {};
  let messageCount = 0;
  let lastLogTime = -1n;
  let ordered = true;
  for await (const msg of reader.readMessages({ validateCrcs: true })) {
    const topic = reader.channelsById.get(msg.channelId).topic;
    topics[topic] = (topics[topic] ?? 0) + 1;
    messageCount++;
    if (msg.logTime < lastLogTime) ordered = false;
    lastLogTime = msg.logTime;
  }
  let metadataCount = 0;
  for await (const _ of reader.readMetadata()) metadataCount++;
  indexed = {
    messageCount,
    topics,
    ordered,
    metadataCount,
    chunkCount: reader.chunkIndexes.length,
    statisticsMessageCount: Number(reader.statistics?.messageCount ?? -1n),
    dataEndOffset: reader.dataEndOffset,
    dataSectionCrc: reader.dataSectionCrc,
  };
} finally {
  await handle.close();
}

// 2) Streaming read of the whole file (magic, every record, chunk CRCs) and the data-section CRC.
const bytes = new Uint8Array(await readFile(path));
const stream = new McapStreamReader({ decompressHandlers, validateCrcs: true });
stream.append(bytes);
let streamMessageCount = 0;
let record;
while ((record = stream.nextRecord())) {
  if (record.type === "Message") streamMessageCount++;
}
if (!stream.done()) throw new Error("stream reader did not reach the closing magic");

let dataSectionCrcOk = null; // null: writer stored 0 ("not computed")
if (indexed.dataSectionCrc !== undefined) {
  dataSectionCrcOk = crc32(bytes.subarray(0, Number(indexed.dataEndOffset))) === indexed.dataSectionCrc;
}

console.log(
  JSON.stringify({
    messageCount: indexed.messageCount,
    topics: indexed.topics,
    ordered: indexed.ordered,
    metadataCount: indexed.metadataCount,
    chunkCount: indexed.chunkCount,
    statisticsMessageCount: indexed.statisticsMessageCount,
    streamMessageCount,
    dataSectionCrcOk,
  }),
);
