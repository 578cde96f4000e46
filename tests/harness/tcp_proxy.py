"""A TCP proxy in front of the API server that a test can make misbehave: a real fault injector.

Bytes pass through untouched, TLS included, so a client behind the proxy still talks TLS with the
API server itself and sees what it would see from a real server or network in that state:

- ``pause()``: nothing is forwarded either way, every connection stays open, new ones are
  accepted and stay silent too: a server that went silent without closing (half-open);
- ``blackhole()``: new connections are accepted and never answered (existing ones go on);
- ``cut()``: every open connection is reset, as by a restarting server or a middlebox;
- ``slow(seconds)``: each chunk is held that long before it is passed on;
- ``cut_off()``: both of ``cut()`` and ``blackhole()``: the server unreachable (gone from the
  network, or a restart that takes long), every request failing until ``resume()``;
- ``resume()``: back to a plain proxy.

The proxy runs its own event loop in a daemon thread, so it keeps forwarding while a test's
thread blocks in a synchronous call or runs an event loop of its own. ``write_kubeconfig_through``
copies a kubeconfig to point at the proxy. Standard library only (and PyYAML for the kubeconfig).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

#: How much one read takes from a socket before passing it on.
CHUNK_BYTES = 64 * 1024
#: How long a test waits for the proxy's thread to carry out a change.
CONTROL_TIMEOUT_SECONDS = 10.0


class _Link:
    """One accepted connection and, unless blackholed, its connection to the target."""

    def __init__(self, client: asyncio.StreamWriter, task: asyncio.Task) -> None:
        self.writers = [client]
        self.task = task

    def reset(self) -> None:
        """Reset both connections at once (RST), whatever is still unsent."""
        for writer in self.writers:
            writer.transport.abort()
        self.task.cancel()


class TcpProxy:
    """Forward ``listen_host:<free port>`` to ``target_host:target_port``, faults on demand.

    :param target_host: where connections are forwarded to.
    :param target_port: the target's port.
    :param listen_host: the address to listen on (a free port is chosen).
    """

    def __init__(self, target_host: str, target_port: int, *, listen_host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = listen_host
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"tcp-proxy-{target_port}", daemon=True)
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._flowing: asyncio.Event | None = None
        self._blackholed = False
        self._delay_seconds = 0.0

    def start(self) -> TcpProxy:
        """Listen and forward; return the proxy."""
        self._thread.start()
        self._call(self._listen())
        return self

    def close(self) -> None:
        """Reset every connection, stop listening and end the proxy's thread."""
        if not self._thread.is_alive():
            return
        self._call(self._shut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CONTROL_TIMEOUT_SECONDS)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._links)

    def pause(self) -> None:
        """Forward nothing either way, keeping every connection open (new ones too): a silent server."""
        self._call(self._set(flowing=False))

    def blackhole(self) -> None:
        """Accept new connections and never answer them; the open ones go on as they were."""
        self._call(self._set(blackholed=True))

    def slow(self, seconds: float) -> None:
        """Hold each chunk ``seconds`` before passing it on, both ways."""
        self._call(self._set(delay_seconds=seconds))

    def resume(self) -> None:
        """Forward again at full speed (what was held flows on) and answer new connections."""
        self._call(self._set(flowing=True, blackholed=False, delay_seconds=0.0))

    def cut(self) -> int:
        """Reset every open connection; return how many there were."""
        return self._call(self._reset_all())

    def cut_off(self) -> int:
        """Leave new connections unanswered, then reset the open ones: unreachable until ``resume()``."""
        self.blackhole()
        return self.cut()

    # --- in the proxy's thread -------------------------------------------------------------

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CONTROL_TIMEOUT_SECONDS)

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _set(
        self, *, flowing: bool | None = None, blackholed: bool | None = None, delay_seconds: float | None = None
    ) -> None:
        if flowing is True:
            self._flowing.set()
        elif flowing is False:
            self._flowing.clear()
        if blackholed is not None:
            self._blackholed = blackholed
        if delay_seconds is not None:
            self._delay_seconds = delay_seconds

    async def _reset_all(self) -> int:
        links = list(self._links)
        for link in links:
            link.reset()
        return len(links)

    async def _shut(self) -> None:
        tasks = [link.task for link in self._links]
        await self._reset_all()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer, asyncio.current_task())
        self._links.add(link)
        try:
            if self._blackholed:
                while await reader.read(CHUNK_BYTES):  # swallowed until the client gives up
                    pass
                return
            await self._flowing.wait()  # a paused proxy does not reach out either
            target_reader, target_writer = await asyncio.open_connection(self.target_host, self.target_port)
            link.writers.append(target_writer)
            await asyncio.gather(self._pipe(reader, target_writer, link), self._pipe(target_reader, writer, link))
        except (OSError, asyncio.CancelledError):
            # Ended quietly: a reset cancels this task, and asyncio's stream server would report
            # the cancellation as an error of its own.
            pass
        finally:
            self._links.discard(link)
            for each in link.writers:
                each.close()  # after what is still buffered; a reset link was aborted already

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link) -> None:
        try:
            while data := await reader.read(CHUNK_BYTES):
                await self._flowing.wait()
                if self._delay_seconds:
                    await asyncio.sleep(self._delay_seconds)
                    await self._flowing.wait()
                writer.write(data)
                await writer.drain()
            await self._flowing.wait()
            if writer.can_write_eof():
                writer.write_eof()  # one side finished sending: pass its FIN on, the other may go on
        except OSError:
            link.reset()


def write_kubeconfig_through(proxy: TcpProxy, kubeconfig: Path, output: Path) -> Path:
    """Copy ``kubeconfig`` to ``output`` with every cluster's server at the proxy; return ``output``.

    TLS is not touched: the client checks the API server's own certificate, so the name it checks
    must be one the certificate holds. The local cluster's holds ``IP:127.0.0.1`` (and
    ``DNS:localhost``; cluster/localcluster/pki.py), where the proxy listens, so the name is
    kept; a proxy elsewhere gets ``tls-server-name`` set to the original server's name.
    """
    import yaml  # kubeconfigs may be YAML; JSON is YAML too

    config = yaml.safe_load(kubeconfig.read_text())
    for entry in config["clusters"]:
        cluster = entry["cluster"]
        original = urlsplit(cluster["server"])
        cluster["server"] = f"{original.scheme}://{proxy.host}:{proxy.port}"
        if original.hostname != proxy.host:
            cluster["tls-server-name"] = original.hostname
    output.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        output.unlink()
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the identity's token
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent=2)
    return output
