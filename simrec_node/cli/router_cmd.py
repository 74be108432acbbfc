"""``simrec router``: the Zenoh router of one host, so that a graph spans machines.

One per host, as ``rmw_zenoh`` lays ROS 2 out: the host's processes reach it over loopback,
and it reaches the other hosts' routers (``--connect``), which listen on an address of theirs
(``--listen``). A pip install is all a host needs: this is eclipse-zenoh's router mode.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from simrec_node.graph.zenoh_config import ROUTER_LISTEN, RouterSettings, router_config

from .signals import install_stop_handlers

PASSWORD_ENV = "SIMREC_ZENOH_PASSWORD"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "router",
        help="run this host's Zenoh router, so that the graph spans machines",
        description=(
            "Run a Zenoh router (eclipse-zenoh's router mode): the processes of this host join it "
            "over loopback, and it joins the routers of other hosts. It prints where it listens and "
            "each router or peer that comes or goes. Ctrl-C (or SIGTERM) stops it."
        ),
    )
    parser.add_argument(
        "--listen",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help=f"where to listen, repeatable (default {ROUTER_LISTEN}: this host only); "
        "e.g. tcp/192.168.1.10:7447 or tls/0.0.0.0:7447 for other hosts",
    )
    parser.add_argument(
        "--connect",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="another host's router, repeatable (e.g. tcp/192.168.1.11:7447)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a full Zenoh JSON5 config; --listen/--connect and the options below override its values",
    )
    tls = parser.add_argument_group("TLS (for tls/ endpoints)")
    tls.add_argument("--tls-certificate", type=Path, metavar="PEM", help="this router's certificate chain")
    tls.add_argument("--tls-key", type=Path, metavar="PEM", help="the private key of --tls-certificate")
    tls.add_argument("--tls-root-ca", type=Path, metavar="PEM", help="the CA that signed the other routers'")
    auth = parser.add_argument_group("user/password authentication")
    auth.add_argument("--users", type=Path, metavar="FILE", help="'user:password' lines this router accepts")
    auth.add_argument(
        "--user",
        metavar="NAME",
        help=f"the user this router connects as; the password is read from ${PASSWORD_ENV}",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from simrec_node.graph.router import Router

    settings = RouterSettings(
        listen=args.listen,
        connect=args.connect,
        config_file=args.config,
        tls_certificate=args.tls_certificate,
        tls_key=args.tls_key,
        tls_root_ca=args.tls_root_ca,
        users_file=args.users,
        user=args.user,
        password=os.environ.get(PASSWORD_ENV) if args.user else None,
    )
    config = router_config(settings)
    stop = install_stop_handlers()
    router = Router(config, on_change=_say)
    try:
        _say(f"{router.zid} listening on {', '.join(router.listening()) or 'nothing'}")
        connect = router.connecting_to()
        if connect:
            _say(f"connecting to {', '.join(connect)} (retried until they answer)")
        router.watch()
        stop.wait()
        neighbours = router.neighbours()
    finally:
        closed = router.close()
    routers, peers = len(neighbours["routers"]), len(neighbours["peers"])
    how = (
        "" if closed else "; some links did not answer its goodbye (unreachable), so it left without waiting"
    )
    _say(f"stopped ({routers} routers, {peers} peers connected at the end){how}")
    return 0


def _say(line: str) -> None:
    print(f"router: {line}", file=sys.stdout, flush=True)
