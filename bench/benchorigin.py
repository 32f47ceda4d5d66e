"""The benchmark origin: 20 loopback "sites" (127.0.0.1 to 127.0.0.20; `--hosts N` for up to
254) serving a fixed corpus.

2,000 URLs, about 103 MB: 1,500 images of 16-24 KiB, 400 HTML pages of 2-6 KB, 90 images of
160-240 KiB and 10 files of 5 MiB. Image bytes are random (incompressible, like real JPEGs);
pages are compressible text. Every size and byte is derived from a seed, so runs compare.

Run as a program it serves until killed (`--latency` adds a delay before every response);
imported, it gives the corpus's URL paths.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
from dataclasses import dataclass
from pathlib import Path


def hosts(count: int = 20) -> list[str]:
    """127.0.0.1 to 127.0.0.COUNT: the sites' addresses."""
    return [f"127.0.0.{n}" for n in range(1, count + 1)]


HOSTS = hosts()
KIB = 1024


@dataclass(frozen=True)
class Item:
    path: str
    size: int
    kind: str  # "jpg" or "html"
    seed: int


def corpus(seed: int = 2026) -> list[Item]:
    rng = random.Random(seed)
    plan = (
        [("jpg", rng.randint(16 * KIB, 24 * KIB)) for _ in range(1500)]
        + [("html", rng.randint(2000, 6000)) for _ in range(400)]
        + [("jpg", rng.randint(160 * KIB, 240 * KIB)) for _ in range(90)]
        + [("jpg", 5 * KIB * KIB) for _ in range(10)]
    )
    items = []
    for number, (kind, size) in enumerate(plan):
        if kind == "html":
            path = f"/news/2026/11/{1 + number % 28:02d}/{100000 + number}.html"
        else:
            path = f"/img/{number:05d}.jpg"
        items.append(Item(path, size, kind, seed + number))
    return items


def assign(items: list[Item], sites: list[str] = HOSTS) -> list[tuple[str, Item]]:
    """Each item on one host, round-robin, so every site has the same mix."""
    return [(sites[n % len(sites)], item) for n, item in enumerate(items)]


def content(item: Item) -> bytes:
    if item.kind == "jpg":
        return random.Random(item.seed).randbytes(item.size)
    words = ["档案", "保存", "新闻", "图片", "archive", "news", "page", "text"]
    rng = random.Random(item.seed)
    text = " ".join(rng.choice(words) for _ in range(item.size // 4))
    page = f"<html><head><meta charset='utf-8'><title>{item.path}</title></head><body><p>{text}</p>"
    return (page.encode("utf-8") + b" " * item.size)[: item.size]


BLOCK = random.Random(7).randbytes(1024 * 1024)


def stream_block(size: int) -> list[bytes]:
    """The pieces of the streamed resource: a 1 MiB random block over and over."""
    full, rest = divmod(size, len(BLOCK))
    return [BLOCK] * full + ([BLOCK[:rest]] if rest else [])


async def serve_stream(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, size: int
) -> None:
    """Serve one huge resource (any path but robots.txt) without holding it in memory."""
    head = await reader.readuntil(b"\r\n\r\n")
    if b" /robots.txt " in head:
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    else:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: "
            + str(size).encode()
            + b"\r\n\r\n"
        )
        for piece in stream_block(size):
            writer.write(piece)
            await writer.drain()
    await writer.drain()
    writer.close()


class Site:
    def __init__(self, bodies: dict[str, tuple[bytes, str]], latency: float) -> None:
        self.bodies = bodies
        self.latency = latency

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode("latin-1")
                if self.latency:
                    await asyncio.sleep(self.latency)
                found = self.bodies.get(target)
                data, ctype = found if found else (b"not found", "text/plain")
                status = b"200 OK" if found else b"404 Not Found"
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Type: "
                    + ctype.encode()
                    + b"\r\nContent-Length: "
                    + str(len(data)).encode()
                    + b"\r\n\r\n"
                )
                writer.write(data)
                await writer.drain()
                if b"connection: close" in head.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


async def serve(
    port: int, latency: float, ready: str | None, stream: int = 0, count: int = 20
) -> None:
    if stream:
        servers = [
            await asyncio.start_server(lambda r, w: serve_stream(r, w, stream), HOSTS[0], port)
        ]
    else:
        servers = await _sites(port, latency, hosts(count))
    if ready:
        Path(ready).write_text(str(os.getpid()))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


async def _sites(port: int, latency: float, sites: list[str]) -> list[asyncio.Server]:
    per_host: dict[str, dict[str, tuple[bytes, str]]] = {host: {} for host in sites}
    for host, item in assign(corpus(), sites):
        ctype = "image/jpeg" if item.kind == "jpg" else "text/html; charset=utf-8"
        per_host[host][item.path] = (content(item), ctype)
    return [
        await asyncio.start_server(Site(bodies, latency).handle, host, port, backlog=512)
        for host, bodies in per_host.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--ready", help="file written once every site listens")
    parser.add_argument("--stream", type=int, default=0, help="serve one resource this large")
    parser.add_argument("--hosts", type=int, default=20, help="sites: 127.0.0.1 to 127.0.0.N")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.latency, args.ready, args.stream, args.hosts))


if __name__ == "__main__":
    main()
