"""robots.txt, fetched once per origin and cached, judged by protego (RFC 9309 rules)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx
from protego import Protego

from archiver.models import ErrorInfo

MAX_ROBOTS_BYTES = 512 * 1024
ALLOW_ALL = Protego.parse("")


class RobotsCache:
    """Answers whether a URL may be fetched. 4xx allows all; 5xx disallows the origin for now."""

    def __init__(self, client: httpx.AsyncClient, user_agent: str) -> None:
        self._client = client
        self._agent = user_agent.split("/", maxsplit=1)[0]
        self._rules: dict[str, asyncio.Task[Protego | ErrorInfo]] = {}

    async def check(self, url: str) -> ErrorInfo | None:
        """None if allowed; else the error that keeps the link out (`robots` or `robots-5xx`)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._rules:
            self._rules[origin] = asyncio.ensure_future(self._load(origin))
        rules = await self._rules[origin]
        if isinstance(rules, ErrorInfo):
            return rules
        if rules.can_fetch(url, self._agent):
            return None
        return ErrorInfo("robots", f"disallowed by {origin}/robots.txt")

    async def _load(self, origin: str) -> Protego | ErrorInfo:
        try:
            async with self._client.stream(
                "GET", f"{origin}/robots.txt", follow_redirects=True
            ) as response:
                if response.status_code >= 500:
                    return ErrorInfo(
                        "robots-unavailable",
                        f"{origin}/robots.txt answered {response.status_code}; origin held back",
                    )
                if response.status_code >= 400:
                    return ALLOW_ALL
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= MAX_ROBOTS_BYTES:
                        break
        except Exception:  # the fetch itself will meet and report the same trouble
            return ALLOW_ALL
        return Protego.parse(bytes(body[:MAX_ROBOTS_BYTES]).decode("utf-8", "replace"))
