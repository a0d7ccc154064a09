"""What the interop chargers share: errors, time stamps, and the runner that opens the websocket,
drives a station's flow and reports through the exit code (0 done, 1 failed, 2 no connection)."""

import argparse
import asyncio
import base64
import logging
import sys
import traceback
import urllib.parse
from datetime import datetime, timezone

import websockets


class UnexpectedAnswer(Exception):
    """The CSMS answered something the flow does not allow."""


class ConnectionFailed(Exception):
    """The websocket could not be opened."""


def now() -> str:
    """The current UTC time as RFC 3339 with a 'Z' suffix, as OCPP-J timestamps are written."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def expect(condition: bool, what: str, answer) -> None:
    if not condition:
        raise UnexpectedAnswer(f"{what}; got {answer!r}")


async def run(args, subprotocol: str, make_station) -> None:
    # OCPP-J: the station identity is the last path segment of the URL.
    path = urllib.parse.urlsplit(args.url).path
    station_id = urllib.parse.unquote(path.rstrip("/").rsplit("/", 1)[-1])
    headers = {}
    if args.password is not None:
        # Security profile 1: HTTP Basic, the username is the station identity.
        credentials = base64.b64encode(f"{station_id}:{args.password}".encode()).decode()
        headers["Authorization"] = f"Basic {credentials}"

    try:
        connection = await websockets.connect(
            args.url,
            subprotocols=[subprotocol],
            additional_headers=headers,
            proxy=None,
            open_timeout=10,
        )
    except (OSError, websockets.exceptions.InvalidHandshake, asyncio.TimeoutError) as error:
        raise ConnectionFailed(f"cannot open {args.url}: {error!r}") from error

    async with connection:
        expect(
            connection.subprotocol == subprotocol,
            f"the CSMS must select subprotocol {subprotocol}",
            connection.subprotocol,
        )
        station = make_station(station_id, connection, args.id_token)
        reader = asyncio.create_task(station.start())
        flow = asyncio.create_task(station.run())
        try:
            done, _ = await asyncio.wait({reader, flow}, return_when=asyncio.FIRST_COMPLETED)
            if flow not in done:
                error = reader.exception()
                raise UnexpectedAnswer(f"connection ended before the flow finished: {error!r}")
            flow.result()
            print("DONE", flush=True)
        finally:
            reader.cancel()
            flow.cancel()


def main(name: str, description: str, subprotocol: str, make_station) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", required=True, help="ws://HOST:PORT/ocpp/STATION_ID")
    parser.add_argument("--id-token", required=True, help="id token to authorize and charge with")
    parser.add_argument("--password", help="HTTP Basic password; the username is the station id")
    parser.add_argument("--timeout", type=float, default=60, help="overall limit in seconds")
    args = parser.parse_args()

    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )

    async def bounded():
        async with asyncio.timeout(args.timeout):
            await run(args, subprotocol, make_station)

    try:
        asyncio.run(bounded())
    except ConnectionFailed as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2
    except TimeoutError:
        print(f"{name}: flow not finished within {args.timeout:g} s", file=sys.stderr)
        return 1
    except UnexpectedAnswer as error:
        print(f"{name}: unexpected answer: {error}", file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001 - report anything else with its traceback
        traceback.print_exc()
        print(f"{name}: failed", file=sys.stderr)
        return 1
    return 0
