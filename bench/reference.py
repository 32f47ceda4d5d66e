"""The reference the fetch benchmark compares with: a minimal script using httpx (16 requests
in flight) and warcio's gzip WARC writer, as a careful user would write it in an afternoon.

    python bench/reference.py urls.txt out.warc.gz        fetch and write a WARC
    python bench/reference.py urls.txt --no-write         fetch only
"""

from __future__ import annotations

import argparse
import asyncio
import io
import threading
from pathlib import Path

import httpx
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


async def fetch_all(urls: list[str], writer: WARCWriter | None) -> None:
    lock = threading.Lock()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(limits=limits, timeout=60, trust_env=False) as client:

        async def worker() -> None:
            while not queue.empty():
                url = queue.get_nowait()
                response = await client.get(url)
                if writer is None:
                    continue
                headers = [
                    (k, v) for k, v in response.headers.items() if k.lower() != "transfer-encoding"
                ]
                http = StatusAndHeaders(
                    f"{response.status_code} {response.reason_phrase}", headers, protocol="HTTP/1.1"
                )
                record = writer.create_warc_record(
                    url, "response", payload=io.BytesIO(response.content), http_headers=http
                )
                await asyncio.to_thread(_write, writer, record, lock)

        await asyncio.gather(*(worker() for _ in range(16)))


def _write(writer: WARCWriter, record: object, lock: threading.Lock) -> None:
    with lock:
        writer.write_record(record)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls")
    parser.add_argument("warc", nargs="?")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    urls = Path(args.urls).read_text().split()
    if args.no_write:
        asyncio.run(fetch_all(urls, None))
        return
    with Path(args.warc).open("wb") as out:
        asyncio.run(fetch_all(urls, WARCWriter(out, gzip=True)))


if __name__ == "__main__":
    main()
