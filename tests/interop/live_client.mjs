// A real Foxglove WebSocket client (@foxglove/ws-protocol over `ws`, subprotocol
// "foxglove.sdk.v1") for the live-view interop tests. Prints one JSON object per line:
//   {"event":"serverInfo", name, capabilities}
//   {"event":"advertise", topic, encoding, schemaName, schemaEncoding}   (one per channel)
//   {"event":"subscribed", topic}
//   {"event":"graph", publishedTopics, subscribedTopics, advertisedServices}
//   {"event":"message", topic, schemaName, logTime, at, message}  (decoded with the advertised
//                                                   FileDescriptorSet; bytes -> length; at: ms)
//   {"event":"time", time}                                 (the server's clock, when it has one)
//   {"event":"stalled"} / {"event":"done"} / {"event":"error", message}
//
// Usage: node live_client.mjs URL [--topic T]... [--count N] [--timeout S] [--graph T] [--stall]
//        [--protocol TOKEN]... [--ca FILE]
//   --topic T   subscribe to T once advertised (default: every channel, as advertised)
//   --count N   exit 0 after N messages on every wanted topic (default 5)
//   --timeout S exit 1 if that has not happened after S seconds (default 30)
//   --graph T   subscribe to connection graph updates, print them, and do not finish before
//               one lists a publisher of T
//   --stall     after subscribing, stop reading the socket and idle until killed
//   --no-decode count messages without decoding or printing them (benchmarks)
//   --protocol  a subprotocol to offer, in order (default: foxglove.sdk.v1 alone)
//   --ca FILE   trust this PEM certificate for wss:// (a self-signed server)
//   A refused handshake prints {"event":"error", message, status, body} with the HTTP answer.
import wsProtocol from "@foxglove/ws-protocol";
import { protobufFromBinaryDescriptor } from "@mcap/support";
import { readFileSync } from "node:fs";
import WebSocket from "ws";

const { FoxgloveClient } = wsProtocol;

function parseArgs(argv) {
  const opts = { url: undefined, topics: [], count: 5, timeout: 30, graph: undefined, stall: false, decode: true, protocols: [], ca: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--topic") opts.topics.push(argv[++i]);
    else if (arg === "--count") opts.count = Number(argv[++i]);
    else if (arg === "--timeout") opts.timeout = Number(argv[++i]);
    else if (arg === "--graph") opts.graph = argv[++i];
    else if (arg === "--stall") opts.stall = true;
    else if (arg === "--no-decode") opts.decode = false;
    else if (arg === "--protocol") opts.protocols.push(argv[++i]);
    else if (arg === "--ca") opts.ca = readFileSync(argv[++i]);
    else if (opts.url === undefined) opts.url = arg;
    else throw new Error(`unexpected argument ${arg}`);
  }
  if (!opts.url) throw new Error("usage: node live_client.mjs URL [--topic T]... [--count N]");
  return opts;
}

function emit(obj) {
  process.stdout.write(
    JSON.stringify(obj, function (key, value) {
      const raw = this[key]; // before toJSON: Buffers would arrive as {type, data}
      if (typeof raw === "bigint") return raw.toString();
      if (raw instanceof Uint8Array) return { bytes: raw.length };
      return value;
    }) + "\n",
  );
}

const opts = parseArgs(process.argv.slice(2));
const protocols = opts.protocols.length ? opts.protocols : ["foxglove.sdk.v1"];
const ws = new WebSocket(opts.url, protocols, opts.ca ? { ca: opts.ca } : {});
ws.on("unexpected-response", (_req, res) => {
  let body = "";
  res.on("data", (chunk) => (body += chunk));
  res.on("end", () => {
    emit({ event: "error", message: `handshake refused (HTTP ${res.statusCode})`, status: res.statusCode, body });
    process.exit(1);
  });
});
// foxglove.sdk.v1.1 advertises schemas apart from channels (a channel names its schemaId);
// ws-protocol 0.8 passes on only the channels, so the schemas are read here, before it runs.
const schemas = new Map(); // schema id -> {name, encoding, data}
ws.on("message", (data, isBinary) => {
  if (isBinary) return;
  const message = JSON.parse(data.toString());
  if (message.op === "advertise") for (const schema of message.schemas ?? []) schemas.set(schema.id, schema);
});
const client = new FoxgloveClient({ ws });
const channels = new Map(); // channel id -> {topic, schemaName, type}
const subscriptions = new Map(); // subscription id -> channel id
const counts = new Map(); // topic -> messages decoded
let stalled = false;
let graphSeen = false; // a graph update named a publisher of opts.graph

function finish(code, error) {
  if (error) emit({ event: "error", message: String(error) });
  else emit({ event: "done", counts: Object.fromEntries(counts) });
  process.exit(code);
}

setTimeout(() => finish(1, `timed out after ${opts.timeout} s; counts ${JSON.stringify(Object.fromEntries(counts))}`), opts.timeout * 1000);

client.on("error", (error) => finish(1, error));
client.on("close", (event) => {
  if (!stalled) finish(1, `connection closed (code ${event.code})`);
});
client.on("serverInfo", (info) => {
  emit({ event: "serverInfo", name: info.name, capabilities: info.capabilities, protocol: ws.protocol });
  if (opts.graph !== undefined) client.subscribeConnectionGraph();
});
client.on("connectionGraphUpdate", (update) => {
  emit({
    event: "graph",
    publishedTopics: update.publishedTopics,
    subscribedTopics: update.subscribedTopics,
    advertisedServices: update.advertisedServices,
  });
  graphSeen ||= update.publishedTopics.some((t) => t.name === opts.graph && t.publisherIds.length > 0);
  maybeFinish();
});
client.on("time", ({ timestamp }) => {
  if (!opts.decode) return;
  emit({ event: "time", time: timestamp });
});
client.on("advertise", (advertised) => {
  for (const channel of advertised) {
    const schema = schemas.get(channel.schemaId);
    if (schema !== undefined) Object.assign(channel, { schemaName: schema.name, schemaEncoding: schema.encoding, schema: schema.data });
    emit({
      event: "advertise",
      topic: channel.topic,
      encoding: channel.encoding,
      schemaName: channel.schemaName,
      schemaEncoding: channel.schemaEncoding,
    });
    const wanted = opts.topics.length === 0 || opts.topics.includes(channel.topic);
    if (!wanted || channel.schemaEncoding !== "protobuf") continue;
    const root = protobufFromBinaryDescriptor(Buffer.from(channel.schema, "base64"));
    const type = root.lookupType(channel.schemaName);
    channels.set(channel.id, { topic: channel.topic, schemaName: channel.schemaName, type });
    counts.set(channel.topic, counts.get(channel.topic) ?? 0);
    subscriptions.set(client.subscribe(channel.id), channel.id);
    emit({ event: "subscribed", topic: channel.topic });
  }
  if (opts.stall && opts.topics.every((topic) => counts.has(topic)) && counts.size > 0 && !stalled) {
    stalled = true;
    ws._socket.pause(); // stop reading: the server's queue for us fills, and must not stall anyone
    emit({ event: "stalled" });
  }
});
client.on("message", ({ subscriptionId, timestamp, data }) => {
  const channel = channels.get(subscriptions.get(subscriptionId));
  if (channel === undefined) return;
  if (!opts.decode) {
    counts.set(channel.topic, counts.get(channel.topic) + 1);
    return maybeFinish();
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const decoded = channel.type.toObject(channel.type.decode(bytes), { longs: String, defaults: true });
  const at = performance.now(); // ms since the client started: arrival pacing
  emit({ event: "message", topic: channel.topic, schemaName: channel.schemaName, logTime: timestamp, at, message: decoded });
  counts.set(channel.topic, counts.get(channel.topic) + 1);
  maybeFinish();
});

function maybeFinish() {
  const wanted = opts.topics.length ? opts.topics : [...counts.keys()];
  const enough = wanted.length > 0 && wanted.every((topic) => (counts.get(topic) ?? 0) >= opts.count);
  if (enough && (opts.graph === undefined || graphSeen)) finish(0);
}
