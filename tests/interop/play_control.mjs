// Drive `simrec play --serve` as the Foxglove app's timeline does, with the real
// @foxglove/ws-protocol client over `ws` (subprotocol foxglove.sdk.v1).
// ws-protocol 0.8 has no playback-control helpers, so the PlaybackControlRequest (client binary
// opcode 3) is encoded here and PlaybackState (server binary opcode 5) decoded here, per the
// foxglove-sdk layouts. Prints one JSON object: serverInfo, channels, and every event in order.
//
// usage: node play_control.mjs ws://127.0.0.1:PORT SEEK_NS
import wsProtocol from "@foxglove/ws-protocol";
import WebSocket from "ws";

const { FoxgloveClient } = wsProtocol;

const [url, seekArg] = process.argv.slice(2);
const seekTime = BigInt(seekArg);
const ws = new WebSocket(url, ["foxglove.sdk.v1"]);
const client = new FoxgloveClient({ ws });
const out = { protocol: null, serverInfo: null, channels: [], events: [] };
const channelsById = new Map();
const subscriptionTopic = new Map();
const waiters = [];
let nextRequest = 0;

function encodeRequest(command, speed, seek, requestId) {
  const id = Buffer.from(requestId, "utf8");
  const buf = Buffer.alloc(1 + 1 + 4 + 1 + 8 + 4 + id.length);
  let o = buf.writeUInt8(3, 0); // PlaybackControlRequest
  o = buf.writeUInt8(command === "play" ? 0 : 1, o);
  o = buf.writeFloatLE(speed, o);
  o = buf.writeUInt8(seek === null ? 0 : 1, o);
  o = buf.writeBigUInt64LE(seek === null ? 0n : seek, o);
  o = buf.writeUInt32LE(id.length, o);
  id.copy(buf, o);
  return buf;
}

function decodeState(view) {
  const status = ["playing", "paused", "buffering", "ended"][view.readUInt8(1)];
  const currentTime = view.readBigUInt64LE(2).toString();
  const speed = view.readFloatLE(10);
  const didSeek = view.readUInt8(14) !== 0;
  const len = view.readUInt32LE(15);
  const requestId = len ? view.subarray(19, 19 + len).toString("utf8") : null;
  return { kind: "state", status, currentTime, speed, didSeek, requestId };
}

function push(event) {
  out.events.push(event);
  for (const w of [...waiters]) {
    if (w.match(event)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(event);
    }
  }
}

function waitFor(match, ms, what) {
  return new Promise((resolve, reject) => {
    const w = { match, resolve };
    waiters.push(w);
    setTimeout(() => {
      if (waiters.includes(w)) {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, ms);
  });
}

function request(command, speed, seek = null) {
  const requestId = `req-${nextRequest++}`;
  const reply = waitFor((e) => e.kind === "state" && e.requestId === requestId, 5000, requestId);
  push({ kind: "request", command, speed, seek: seek === null ? null : seek.toString(), requestId });
  ws.send(encodeRequest(command, speed, seek, requestId));
  return reply;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

ws.on("message", (data, isBinary) => {
  const bytes = Buffer.from(data); // an ArrayBuffer: FoxgloveClient sets binaryType
  if (isBinary && bytes[0] === 5) push(decodeState(bytes));
});
client.on("error", (err) => {
  if (!String(err).includes("opcode in binary message: 5")) push({ kind: "error", error: String(err) });
});
client.on("serverInfo", (info) => {
  out.protocol = ws.protocol;
  out.serverInfo = info;
});
client.on("advertise", (channels) => {
  for (const ch of channels) {
    channelsById.set(ch.id, ch);
    out.channels.push(ch);
    subscriptionTopic.set(client.subscribe(ch.id), ch.topic);
  }
});
client.on("time", ({ timestamp }) => push({ kind: "time", t: timestamp.toString() }));
client.on("message", ({ subscriptionId, timestamp, data }) => {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  push({ kind: "message", topic: subscriptionTopic.get(subscriptionId), logTime: timestamp.toString(), data: bytes.toString("hex") });
});

async function main() {
  await new Promise((resolve, reject) => {
    client.on("open", resolve);
    client.on("close", () => reject(new Error("closed before open")));
  });
  while (out.channels.length === 0) await sleep(20);
  await sleep(200); // subscriptions settle
  await request("play", 1.0);
  await sleep(300);
  await request("pause", 1.0);
  await sleep(100);
  await request("pause", 1.0, seekTime);
  await sleep(400);
  await request("play", 2.0);
  await waitFor((e) => e.kind === "state" && e.status === "ended", 10000, "ended");
  await sleep(100);
  // Backwards seek after the end, then play again: the timeline goes back.
  await request("pause", 1.0, BigInt(out.serverInfo.dataStartTime.sec) * 1000000000n + BigInt(out.serverInfo.dataStartTime.nsec));
  await sleep(200);
}

main()
  .then(() => {
    client.close();
    // exit once written: a pipe takes 64 KiB at a time, and exit() would cut the rest
    process.stdout.write(JSON.stringify(out), () => process.exit(0));
  })
  .catch((err) => {
    process.stderr.write(String(err) + "\n");
    process.stdout.write(JSON.stringify(out), () => process.exit(1));
  });
