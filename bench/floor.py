"""The floor for bench/fetch: the least a client can do to fetch every URL of urls.txt within
the per-host limit. h11 over asyncio, 2 keep-alive connections per host each asking for its
half of the host's URLs in turn, bodies read and dropped: no robots.txt, no retries, no WARC,
no manifest. Its time is what the origin and the machine allow, with nothing archived.

    python bench/floor.py urls.txt [--per-host 2]
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import h11


async def connection(host: str, port: int, paths: list[str]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    received = 0
    for path in paths:
        state = h11.Connection(h11.CLIENT)
        head = h11.Request(method="GET", target=path, headers=[("Host", f"{host}:{port}")])
        writer.write(state.send(head) + state.send(h11.EndOfMessage()))
        while True:
            event = state.next_event()
            if event is h11.NEED_DATA:
                state.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Data):
                received += len(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
    writer.close()
    return received


async def fetch_all(urls: list[str], per_host: int) -> int:
    by_host: dict[tuple[str, int], list[str]] = defaultdict(list)
    for url in urls:
        parts = urlsplit(url)
        by_host[(parts.hostname or "", parts.port or 80)].append(parts.path)
    jobs = [
        connection(host, port, paths[slot::per_host])
        for (host, port), paths in by_host.items()
        for slot in range(per_host)
    ]
    return sum(await asyncio.gather(*jobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls")
    parser.add_argument("--per-host", type=int, default=2)
    args = parser.parse_args()
    urls = Path(args.urls).read_text(encoding="utf-8").split()
    try:
        from uvloop import new_event_loop
    except ImportError:
        from asyncio import new_event_loop  # type: ignore[assignment]
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        received = runner.run(fetch_all(urls, args.per_host))
    print(f"{len(urls)} URLs, {received} bytes")


if __name__ == "__main__":
    main()
