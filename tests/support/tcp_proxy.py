"""A TCP proxy a test can cut: the way to take a broker or a database "down" for one
process without touching the server every other test and session relies on."""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from devsupport.network import free_port


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def through(self, url: str) -> str:
        """``url`` (of the target) with the proxy's port instead of the target's."""
        return url.replace(f":{self.target[1]}", f":{self.port}", 1)

    async def start(self) -> None:
        """Accept connections and forward them to the target."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Drop every open connection and refuse new ones until :meth:`start`."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(sink)
            with contextlib.suppress(Exception):
                sink.transport.abort()


@contextlib.asynccontextmanager
async def rabbitmq_proxy() -> AsyncIterator[TcpProxy]:
    """A started proxy in front of the test broker (``RABBITMQ_URL``), cut when the block
    ends; :meth:`TcpProxy.through` gives the URL that goes through it."""
    broker = urlsplit(os.environ["RABBITMQ_URL"])
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.cut()
