"""Viewers publishing onto the graph (``--allow-publish``): a Teleop or Publish panel drives a sim.

A client's advertised channel becomes a graph publisher of its topic. ``protobuf`` channels
carry their own schema (a ``FileDescriptorSet``) and their bytes go out as they are; ``json``
channels name a protobuf type (``schemaName``) that the graph or simrec's own messages know,
and each message is parsed into it. A channel neither can serve is refused with a status
message the viewer shows, and a warning here. Off unless asked for: the server then does not
offer ``clientPublish`` and the SDK refuses clients' channels.
"""

from __future__ import annotations

import logging
import threading

import foxglove
from foxglove.websocket import Client, ClientChannel, ServerListener
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.message import Message

from simrec_node.graph import Node, Publisher, TypeInfo
from simrec_node.msgs.schema import message_class_for

from .parameters import GraphParameters
from .server import LiveServer

log = logging.getLogger("simrec.live")


class ClientPublishing(ServerListener):
    """A foxglove-sdk ``ServerListener`` that turns clients' channels into graph publishers."""

    def __init__(self) -> None:
        self.node: Node | None = None  # set once the bridge joined the graph
        self.server: LiveServer | None = None
        self.published = 0
        self._channels: dict[tuple[int, int], tuple[Publisher, type[Message] | None]] = {}
        self._lock = threading.Lock()

    # ServerListener ----------------------------------------------------------------------
    def on_client_advertise(self, client: Client, channel: ClientChannel) -> None:
        try:
            publisher, parse = self._open(channel)
        except ValueError as exc:
            self._refuse(client, channel, str(exc))
            return
        with self._lock:
            self._channels[client.id, channel.id] = (publisher, parse)
        log.info("live view: a viewer publishes %s (%s)", channel.topic, channel.encoding)

    def on_message_data(self, client: Client, client_channel_id: int, data: bytes) -> None:
        entry = self._channels.get((client.id, client_channel_id))
        if entry is None:
            return
        publisher, parse = entry
        if parse is not None:
            try:
                data = json_format.Parse(data, parse()).SerializeToString()
            except (json_format.ParseError, UnicodeDecodeError) as exc:
                log.warning(
                    "live view: a viewer's message on %s is not a %s: %s",
                    publisher.topic,
                    parse.DESCRIPTOR.full_name,
                    exc,
                )
                return
        publisher.publish(data)
        self.published += 1

    def on_client_unadvertise(self, client: Client, client_channel_id: int) -> None:
        with self._lock:
            entry = self._channels.pop((client.id, client_channel_id), None)
        if entry is not None:
            entry[0].close()

    def close(self) -> None:
        with self._lock:
            entries = list(self._channels.values())
            self._channels.clear()
        for publisher, _ in entries:
            publisher.close()

    # ------------------------------------------------------------------------------------
    def _open(self, channel: ClientChannel) -> tuple[Publisher, type[Message] | None]:
        if self.node is None:
            raise ValueError("the server is still joining the graph; advertise again")
        if channel.encoding == "protobuf":
            if channel.schema_encoding not in (None, "protobuf") or not channel.schema:
                raise ValueError(
                    "a protobuf channel needs its schema: a FileDescriptorSet (schemaEncoding protobuf)"
                )
            type_info = TypeInfo(channel.schema_name, bytes(channel.schema))
            message_class_for(type_info.name, type_info.descriptor_set)  # refuses a schema without the type
            return self.node.create_publisher(type_info, channel.topic), None
        if channel.encoding == "json":
            type_info = self._known_type(channel.schema_name)
            parse = message_class_for(type_info.name, type_info.descriptor_set)
            return self.node.create_publisher(type_info, channel.topic), parse
        raise ValueError(f"encoding {channel.encoding!r} cannot go onto the graph: use protobuf or json")

    def _known_type(self, name: str) -> TypeInfo:
        """A protobuf type by name: one of simrec's own messages, or one a graph node publishes."""
        import simrec_node.msgs  # noqa: F401  (registers simrec's and Foxglove's types)

        try:
            descriptor = descriptor_pool.Default().FindMessageTypeByName(name)
        except KeyError:
            found = self.node.lookup_type(name) if name else None
            if found is None:
                raise ValueError(
                    f"no protobuf type {name!r} is known here or on the graph: a json channel's schemaName "
                    "must name one (e.g. simrec.Scalars)"
                ) from None
            return found
        return TypeInfo.of(message_factory.GetMessageClass(descriptor))

    def _refuse(self, client: Client, channel: ClientChannel, reason: str) -> None:
        message = f"cannot publish {channel.topic} onto the graph: {reason}"
        log.warning("live view: %s", message)
        if self.server is not None:
            self.server.publish_status(message, foxglove.StatusLevel.Error, None)


class BridgeListener(ServerListener):
    """The bridge's one foxglove-sdk ServerListener: nodes' parameters, and (``--allow-publish``)
    clients' channels; every other callback keeps ``ServerListener``'s no-op."""

    def __init__(self, parameters: GraphParameters, publishing: ClientPublishing | None) -> None:
        self.parameters = parameters
        self.publishing = publishing
        self.on_get_parameters = parameters.on_get_parameters
        self.on_set_parameters = parameters.on_set_parameters
        if publishing is not None:
            self.on_client_advertise = publishing.on_client_advertise
            self.on_message_data = publishing.on_message_data
            self.on_client_unadvertise = publishing.on_client_unadvertise

    def joined(self, server: LiveServer, node: Node) -> None:
        """The bridge is on the graph: requests can be served."""
        for part in (self.parameters, self.publishing):
            if part is not None:
                part.server, part.node = server, node
