"""Services as a graph primitive: every server answers, a call can address one node, a
handler's error reaches the caller, and a closed service is silent. Real Zenoh sessions."""

from __future__ import annotations

import subprocess

from simrec_node.graph import Node, ServiceReply

from .conftest import REPO


def test_every_server_answers_and_a_call_can_address_one(domain: str) -> None:
    with Node("left", "/a", domain=domain) as left, Node("right", domain=domain) as right:
        left.create_service("/echo", lambda request: f"left {request}")
        service = right.create_service("/echo", lambda request: f"right {request}")
        with Node("caller", domain=domain) as caller:
            replies = sorted(caller.call_service("/echo", "hi", timeout_s=5), key=lambda r: r.node)
            assert replies == [ServiceReply("/a/left", "left hi"), ServiceReply("/right", "right hi")]
            assert caller.call_service("/echo", "x", node="left") == [ServiceReply("/a/left", "left x")]
            assert caller.call_service("/echo", "x", node="/left", timeout_s=0.5) == []  # not /a/left
            service.close()
            service.close()  # twice is fine
            assert [r.node for r in caller.call_service("/echo", "x", timeout_s=5)] == ["/a/left"]


def test_a_handler_error_reaches_the_caller_and_the_service_goes_on(domain: str) -> None:
    calls = []

    def handler(request: str) -> str:
        calls.append(request)
        if request == "boom":
            raise ValueError("no such thing")
        return "ok"

    with Node("server", domain=domain) as server, Node("caller", domain=domain) as caller:
        server.create_service("relative/name", handler)  # resolved like a topic: /relative/name
        assert caller.call_service("/relative/name", "boom", timeout_s=5) == [
            ServiceReply("/server", error="no such thing")
        ]
        assert caller.call_service("/relative/name", "again", timeout_s=5) == [ServiceReply("/server", "ok")]
    assert calls == ["boom", "again"]


def test_no_zenoh_outside_graph() -> None:
    found = subprocess.run(
        ["grep", "-rlE", r"^\s*(import zenoh|from zenoh)", "simrec_node"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    outside = [path for path in found.stdout.split() if not path.startswith("simrec_node/graph/")]
    assert found.stdout and outside == []
