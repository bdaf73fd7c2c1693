#!/usr/bin/env python3
"""A client written the way the python-websockets tutorial writes one, with its token in a bare
Authorization header. The e2e suite runs it against the gateway to show that the tutorial's own
client works unchanged.

usage: tutorial_client.py URI TOKEN [--pushes N] [MESSAGE ...]

Sends each MESSAGE and prints the reply (">>> sent", "<<< received"), then waits for N more
frames (pushes from other clients). Exit status: 0 done, 2 handshake refused, 3 closed early.
"""
import asyncio
import sys

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode


def connect(uri, token):
    # websockets 14 renamed the keyword; Debian 12 ships 10.4.
    major = int(websockets.__version__.split(".")[0])
    headers = {"Authorization": token}
    if major >= 14:
        return websockets.connect(uri, additional_headers=headers)
    return websockets.connect(uri, extra_headers=headers)


async def hello(uri, token, pushes, messages):
    try:
        async with connect(uri, token) as websocket:
            print("connected", flush=True)
            for message in messages:
                await websocket.send(message)
                print(f">>> {message}", flush=True)
                reply = await websocket.recv()
                print(f"<<< {reply}", flush=True)
            for _ in range(pushes):
                print(f"<<< {await websocket.recv()}", flush=True)
    except InvalidStatusCode as exc:
        print(f"rejected: HTTP {exc.status_code}", file=sys.stderr, flush=True)
        return 2
    except ConnectionClosed as exc:
        print(f"closed: {exc.code} {exc.reason}", file=sys.stderr, flush=True)
        return 3
    return 0


def main(argv):
    uri, token, rest = argv[0], argv[1], argv[2:]
    pushes = 0
    if rest[:1] == ["--pushes"]:
        pushes, rest = int(rest[1]), rest[2:]
    return asyncio.run(hello(uri, token, pushes, rest))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
