"""A real publisher process for tests: publishes numbered messages on the simrec graph.

Prints ``ready`` once a subscriber matches, then ``published N (K through the shared-memory
pool)`` when done. ``--type custom``
publishes a message type built at run time, so the receiving side has no code for it.
``--pause-after K`` publishes K messages, prints ``paused`` and waits for a line on stdin before
the rest (a test lets a viewer subscribe to the topic those first messages made known).
"""

from __future__ import annotations

import argparse
import sys
import time

from google.protobuf import descriptor_pb2

from simrec_node.graph import Node, TypeInfo
from simrec_node.graph.session import shared_memory_pool
from simrec_node.msgs import Clock, Scalars


def custom_type() -> TypeInfo:
    """``test.Custom {string label = 1; repeated double values = 2;}`` with no generated code."""
    proto = descriptor_pb2.FileDescriptorProto(name="test/custom.proto", package="test", syntax="proto3")
    message = proto.message_type.add(name="Custom")
    message.field.add(name="label", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING, label=1)
    message.field.add(name="values", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE, label=3)
    return TypeInfo("test.Custom", descriptor_pb2.FileDescriptorSet(file=[proto]).SerializeToString())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topic", default="/test/data")
    parser.add_argument("--type", choices=["clock", "scalars", "custom"], default="scalars")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.0, help="messages/s; 0 = as fast as possible")
    parser.add_argument("--size", type=int, default=0, help="extra payload bytes (custom type label)")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a subscriber")
    parser.add_argument("--linger", type=float, default=1.0, help="seconds to stay up after the last message")
    parser.add_argument("--pause-after", type=int, default=None, help="wait for stdin after K messages")
    args = parser.parse_args()

    with Node("test_publisher") as node:
        if args.type == "custom":
            type_info = custom_type()
            make = lambda i: type_info.message_class(label="x" * args.size, values=[float(i)])  # noqa: E731
        elif args.type == "clock":
            type_info = TypeInfo.of(Clock)
            make = lambda i: Clock(step=i)  # noqa: E731
        else:
            type_info = TypeInfo.of(Scalars)
            make = lambda i: Scalars(step=i, values={"i": float(i)})  # noqa: E731
        publisher = node.create_publisher(type_info, args.topic)
        if not args.no_wait and not publisher.wait_for_subscribers(20.0):
            sys.exit("no subscriber appeared")
        print("ready", flush=True)
        period = 1.0 / args.rate if args.rate > 0 else 0.0
        next_time = time.monotonic()
        for i in range(args.count):
            if i == args.pause_after:
                print("paused", flush=True)
                sys.stdin.readline()
                next_time = time.monotonic()
            publisher.publish(make(i))
            if period:
                next_time += period
                time.sleep(max(0.0, next_time - time.monotonic()))
        pool = shared_memory_pool()
        shared = pool.shared if pool is not None else 0
        print(f"published {args.count} ({shared} through the shared-memory pool)", flush=True)
        time.sleep(args.linger)


if __name__ == "__main__":
    main()
