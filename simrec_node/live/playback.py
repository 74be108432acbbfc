"""Playing a log to Foxglove: a WebSocket server with the timeline (play, pause, seek, speed).

The server advertises ``playback_time_range`` (which implies PlaybackControl) and ``Time``; the
Foxglove app's timeline sends PlaybackControlRequests, which `_Listener` applies to the player's
shared `PlaybackClock`. The SDK buffers and seeks nothing itself: the player re-reads from the
seek time, and this sink re-sends each topic's latest message at or before it so images and 3D
panels show the right frame at once (after the ``did_seek`` state that makes panels clear).
"""

from __future__ import annotations

import threading
from pathlib import Path

import foxglove
from foxglove.websocket import (
    Capability,
    PlaybackCommand,
    PlaybackControlRequest,
    PlaybackState,
    PlaybackStatus,
    ServerListener,
)

from simrec_node.play import ChannelInfo, Item, PlaybackClock
from simrec_node.play.control import apply_command, state_dict

from .server import open_server
from .services import local_player_services

TIME_BROADCAST_S = 0.05


class FoxglovePlayback:
    """A player sink serving ``channels`` of a log over ``host:port`` (0 picks a free port).

    Raises `LiveError` when the address cannot be bound (port in use, bad host).
    """

    wants_latest_on_seek = True

    def __init__(
        self,
        channels: list[ChannelInfo],
        clock: PlaybackClock,
        time_range: tuple[int, int],
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        self._clock = clock
        self._range = time_range
        self._context = foxglove.Context()
        self._channels = {
            c.id: foxglove.Channel(
                c.topic,
                schema=foxglove.Schema(
                    name=c.schema_name, encoding=c.schema_encoding or "protobuf", data=c.schema_data
                ),
                message_encoding=c.message_encoding or "protobuf",
                context=self._context,
            )
            for c in channels
        }
        self._server = open_server(
            host=host,
            port=port,
            context=self._context,
            name="simrec play",
            capabilities=[Capability.Time, Capability.Services],
            supported_encodings=["json"],
            services=local_player_services(self._apply),
            listener=_Listener(self),
            playback_time_range=time_range,
            tls_cert=tls_cert,
            tls_key=tls_key,
            exposes="every message of the log and the player's controls",
        )
        self.host = host
        self.port = self._server.port
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._broadcast_time, name="simrec-play-time", daemon=True)
        self._ticker.start()

    @property
    def url(self) -> str:
        return self._server.url

    # ------------------------------------------------------------------ sink

    def deliver(self, item: Item) -> None:
        self._channels[item.channel.id].log(item.data, log_time=item.log_time)

    def seeked(self, time_ns: int, latest: list[Item], *, announce: bool) -> None:
        if announce:
            self._server.broadcast_playback_state(self.playback_state(did_seek=True))
        self._server.broadcast_time(time_ns)
        for item in latest:
            self.deliver(item)

    def ended(self) -> None:
        self._server.broadcast_time(self._range[1])
        self._server.broadcast_playback_state(self.playback_state())

    def close(self) -> None:
        self._stop.set()
        self._server.stop()

    # ------------------------------------------------------------------ state

    def playback_state(self, *, did_seek: bool = False, request_id: str | None = None) -> PlaybackState:
        state = self._clock.state()
        if state.ended:
            status = PlaybackStatus.Ended
        else:
            status = PlaybackStatus.Paused if state.paused else PlaybackStatus.Playing
        return PlaybackState(status, self._clamp(state.time_ns), state.rate, did_seek, request_id)

    def handle_request(self, request: PlaybackControlRequest) -> PlaybackState:
        """Apply the app's request to the clock and say where playback now stands."""
        clock = self._clock
        did_seek = False
        if request.seek_time is not None:
            clock.seek(self._clamp(request.seek_time))
            did_seek = True
        if request.playback_speed > 0:
            clock.set_rate(min(max(request.playback_speed, 0.01), 100.0))
        if request.playback_command == PlaybackCommand.Play:
            if clock.state().ended:  # play at the end starts over, as a media player does
                clock.seek(self._range[0])
                did_seek = True
            clock.resume()
        else:
            clock.pause()
        return self.playback_state(did_seek=did_seek, request_id=request.request_id)

    def _apply(self, command: str) -> dict:
        """A ``simrec player`` command from the viewer's Service Call panel, as the graph's
        player control applies it; the state after it."""
        start, end = self._range
        apply_command(self._clock, command, start, end)
        return state_dict(self._clock, start, end, "simrec play --serve")

    def _clamp(self, time_ns: int) -> int:
        return min(max(time_ns, self._range[0]), self._range[1])

    def _broadcast_time(self) -> None:
        while not self._stop.wait(TIME_BROADCAST_S):
            state = self._clock.state()
            if not state.paused and not state.ended:
                self._server.broadcast_time(self._clamp(state.time_ns))


class _Listener(ServerListener):
    def __init__(self, playback: FoxglovePlayback) -> None:
        self._playback = playback

    def on_playback_control_request(self, playback_control_request: PlaybackControlRequest) -> PlaybackState:
        return self._playback.handle_request(playback_control_request)
