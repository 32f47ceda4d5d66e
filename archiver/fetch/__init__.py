"""URL -> FetchResult, the only network code: the fetcher (fetcher, attempt), its retry policy
(retry), error classes (classify), politeness, robots.txt, the private-address guard, the
httpx client and transport (client, transport, http1, tunnels, trust, decoding), the per-host
loop (hosts) and the event loop (loop)."""
