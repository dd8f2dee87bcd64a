"""A Wechaty puppet service on 127.0.0.1 that the real python-wechaty client talks to, for tests.

It speaks the same gRPC (grpclib + the ``wechaty-grpc`` stubs wechaty ships with) as a real gateway, so tests go
through the client's whole path: Stop/Start, the Event server stream with JSON payloads, payload look-ups,
``MessageSendText``. Every RPC the stubs define is registered; the ones not modelled answer UNIMPLEMENTED (a clear
error instead of a hang). Like a real service it re-announces the login to each new Event stream.

    server = PuppetServer(self_id="wxid_clone", self_name="林小夏")
    await server.start()                       # server.endpoint == "127.0.0.1:PORT"
    server.add_contact("wxid_alice", "Alice"); server.add_room("r1@chatroom", "家人", ["wxid_alice"])
    ...start a Wechaty client on server.endpoint...
    await server.login()
    server.push_message("wxid_alice", "在吗")   # a text message event
    sent = await server.wait_sent(1)           # what the client sent: Sent(conversation_id, text, ...)
    await server.restart()                     # same port; Event streams end (abrupt=True: connections cut)
    server.fail("MessageSendText", 2)          # the next 2 sends fail (UNAVAILABLE, or the status given)
    await server.stop()
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import json
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpclib.const
import grpclib.server
from grpclib.const import Cardinality, Status
from grpclib.exceptions import GRPCError
from wechaty_grpc.wechaty import PuppetStub
from wechaty_grpc.wechaty import puppet as pb

# Message type as the TS puppets number it (the Python client remaps it to its enum, where Text is 6).
TS_MESSAGE_TEXT = 7
_NO_OP = {"Start", "Stop", "DirtyPayload"}


@dataclass(frozen=True)
class Sent:
    """One MessageSendText call."""

    conversation_id: str
    text: str
    mention_ids: tuple[str, ...]
    message_id: str


class PuppetServer:
    """Contacts, rooms and messages in memory; events go to every open Event stream."""

    def __init__(self, self_id: str = "wxid_clone", self_name: str = "林小夏", *, echo_sent: bool = False):
        """``echo_sent``: also emit a message event for each message the client sends, as some puppets do."""
        self.self_id = self_id
        self.echo_sent = echo_sent
        self.dong = True  # False: Ding is accepted but no Dong comes back (a gateway whose event stream is stuck)
        self.sent: list[Sent] = []
        self.calls: list[str] = []  # RPC names in the order they arrived
        self.call_times: list[tuple[str, float]] = []  # (RPC name, time.monotonic() on arrival) for each of calls
        self._faults: dict[str, list[Status]] = {}  # RPC name -> the statuses its next calls fail with
        self._contacts = {self_id: self_name}
        self._rooms: dict[str, tuple[str, list[str]]] = {}
        self._messages: dict[str, pb.MessagePayloadResponse] = {}
        self._id_prefix = secrets.token_hex(3)  # wechaty drops ids it saw before, process-wide
        self._logged_in = False
        self._streams: list[asyncio.Queue[pb.EventResponse | None]] = []
        self._changed = asyncio.Event()
        self._grpc: _GrpcServer | None = None
        self._port = 0
        self._rpcs: dict[str, Callable[[Any], Any]] = {
            "ContactPayload": self._contact_payload,
            "ContactList": lambda _: pb.ContactListResponse(ids=[*self._contacts]),
            "RoomPayload": self._room_payload, "RoomList": lambda _: pb.RoomListResponse(ids=[*self._rooms]),
            "RoomMemberList": lambda req: pb.RoomMemberListResponse(member_ids=self._room(req.id)[1]),
            "RoomMemberPayload": self._room_member_payload, "MessagePayload": self._message_payload,
            "MessageSendText": self._message_send_text, "Ding": self._ding, "Logout": self._logout,
            "Version": lambda _: pb.VersionResponse(version="tests-puppet-server"),
        }

    # ---- test API -------------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self._port}"

    def add_contact(self, contact_id: str, name: str) -> None:
        self._contacts[contact_id] = name

    def add_room(self, room_id: str, topic: str, member_ids: Iterable[str]) -> None:
        """A group the logged-in account is in (it is added to the members); members must be contacts."""
        members = [self.self_id, *(m for m in member_ids if m != self.self_id)]
        self._require(members, self._contacts, "contact")
        self._rooms[room_id] = (topic, members)

    async def login(self, timeout: float = 5.0) -> None:
        """Log the account in once a client listens; later Event streams get the login on connect."""
        await self._until(lambda: bool(self._streams), timeout, "client listening to the Event stream")
        self._logged_in = True
        self._emit(pb.EventType.EVENT_TYPE_LOGIN, {"contactId": self.self_id})

    async def scan(self, qrcode: str, status: int = 2, timeout: float = 5.0) -> None:
        """A scan event once a client listens (status as wechaty's ScanStatus: 2 waiting, 3 scanned, 4 confirmed)."""
        await self._until(lambda: bool(self._streams), timeout, "client listening to the Event stream")
        self._emit(pb.EventType.EVENT_TYPE_SCAN, {"status": status, "qrcode": qrcode})

    def push_heartbeat(self, data: str = "heartbeat") -> None:
        self._emit(pb.EventType.EVENT_TYPE_HEARTBEAT, {"data": data})

    def push_message(self, talker_id: str, text: str, *, room_id: str | None = None,
                     mention_ids: Iterable[str] = (), self_message: bool = False, sent_at: int | None = None) -> str:
        """Deliver a text message; returns its id. ``text`` is used as is (group mentions read ``@Name\\u2005``).

        ``self_message``: the logged-in account wrote it (the owner typing on their phone). The talker is then the
        account itself and ``talker_id`` names the private chat's other side (ignored in a room).
        """
        self._require([talker_id, *mention_ids], self._contacts, "contact")
        if room_id is not None:
            self._require([room_id], self._rooms, "room")
        talker = self.self_id if self_message else talker_id
        listener = "" if room_id else (talker_id if self_message else self.self_id)
        message_id = self._store_message(talker, text, room_id=room_id or "", to_id=listener, mention_ids=mention_ids,
                                         sent_at=sent_at)
        self._emit(pb.EventType.EVENT_TYPE_MESSAGE, {"messageId": message_id})
        return message_id

    def fail(self, rpc: str, times: int, status: Status = Status.UNAVAILABLE) -> None:
        """The next ``times`` calls of ``rpc`` fail with ``status`` and do nothing (UNAVAILABLE: the gateway lost
        WeChat; INTERNAL: it broke; NOT_FOUND: no such chat)."""
        self._faults.setdefault(rpc, []).extend([status] * times)

    async def wait_calls(self, rpc: str, n: int, timeout: float = 5.0) -> None:
        """Until ``rpc`` was called ``n`` times, failed calls included."""
        await self._until(lambda: self.calls.count(rpc) >= n, timeout, f"{n} {rpc} call(s)")

    async def wait_sent(self, n: int, timeout: float = 5.0) -> list[Sent]:
        """The first ``n`` messages the client sent, once there are that many."""
        await self._until(lambda: len(self.sent) >= n, timeout, f"{n} sent message(s) (got {len(self.sent)})")
        return self.sent[:n]

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a free port the first time, the same port after that)."""
        # IPPROTO_TCP explicitly: grpclib only sets TCP_NODELAY on such sockets (else ~45 ms per RPC)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # rebinding right after a restart
        sock.bind(("127.0.0.1", self._port))
        self._port = sock.getsockname()[1]
        self._grpc = _GrpcServer([self])
        await self._grpc.start(sock=sock)

    async def stop(self, *, abrupt: bool = False) -> None:
        """Shut down (no-op when not running). Gracefully, each Event stream first ends with status OK;
        ``abrupt`` just cuts the connections, as when the service process dies."""
        if self._grpc is None:
            return
        if not abrupt:
            for outbox in self._streams:
                outbox.put_nowait(None)
            await self._until(lambda: not self._streams, 5.0, "Event streams ending")
        server, self._grpc = self._grpc, None
        server.close()
        for transport in server.transports:
            transport.abort() if abrupt else transport.close()
        await server.wait_closed()

    async def restart(self, *, abrupt: bool = False) -> None:
        """Stop and start again on the same port; contacts, rooms, messages and the login survive."""
        await self.stop(abrupt=abrupt)
        await self.start()

    # ---- gRPC -----------------------------------------------------------------------------------------------

    def __mapping__(self) -> dict[str, grpclib.const.Handler]:
        return {route: grpclib.const.Handler(self._handler(route.rsplit("/", 1)[1], reply), card, request, reply)
                for route, (card, request, reply) in _routes().items()}

    def _handler(self, name: str, reply_type: type) -> Callable[[Any], Any]:
        if name == "Event":
            return self._event
        rpc = self._rpcs.get(name)
        if rpc is None and name in _NO_OP:
            rpc = lambda _: reply_type()  # noqa: E731

        async def handle(stream: grpclib.server.Stream) -> None:
            request = await stream.recv_message()
            self.calls.append(name)
            self.call_times.append((name, time.monotonic()))
            self._notify()
            if self._faults.get(name):
                raise GRPCError(self._faults[name].pop(0), f"tests/puppet_server.py: {name} failed as asked")
            if rpc is None:
                raise GRPCError(Status.UNIMPLEMENTED, f"tests/puppet_server.py does not implement {name}")
            try:
                reply = rpc(request)
            except KeyError as unknown:
                raise GRPCError(Status.NOT_FOUND, unknown.args[0]) from None
            await stream.send_message(reply)

        return handle

    async def _event(self, stream: grpclib.server.Stream) -> None:
        await stream.recv_message()
        self.calls.append("Event")
        outbox: asyncio.Queue[pb.EventResponse | None] = asyncio.Queue()
        if self._logged_in:
            outbox.put_nowait(_event(pb.EventType.EVENT_TYPE_LOGIN, {"contactId": self.self_id}))
        self._streams.append(outbox)
        self._notify()
        try:
            while (event := await outbox.get()) is not None:
                await stream.send_message(event)
            await stream.send_trailing_metadata()  # the stream ends with OK before the connection goes
        finally:
            self._streams.remove(outbox)
            self._notify()

    def _contact_payload(self, req: pb.ContactPayloadRequest) -> pb.ContactPayloadResponse:
        name = self._require([req.id], self._contacts, "contact")[0]
        return pb.ContactPayloadResponse(id=req.id, name=name, type=pb.ContactType.CONTACT_TYPE_PERSONAL,
                                         friend=req.id != self.self_id)

    def _room(self, room_id: str) -> tuple[str, list[str]]:
        return self._require([room_id], self._rooms, "room")[0]

    def _room_payload(self, req: pb.RoomPayloadRequest) -> pb.RoomPayloadResponse:
        topic, members = self._room(req.id)
        return pb.RoomPayloadResponse(id=req.id, topic=topic, member_ids=members)

    def _room_member_payload(self, req: pb.RoomMemberPayloadRequest) -> pb.RoomMemberPayloadResponse:
        if req.member_id not in self._room(req.id)[1]:
            raise KeyError(f"PuppetServer: {req.member_id} is not in room {req.id}")
        return pb.RoomMemberPayloadResponse(id=req.member_id, name=self._contacts[req.member_id])

    def _message_payload(self, req: pb.MessagePayloadRequest) -> pb.MessagePayloadResponse:
        return self._require([req.id], self._messages, "message")[0]

    def _message_send_text(self, req: pb.MessageSendTextRequest) -> pb.MessageSendTextResponse:
        conversation = req.conversation_id
        in_room = conversation in self._rooms
        if not in_room:
            self._require([conversation], self._contacts, "conversation")
        message_id = self._store_message(self.self_id, req.text, room_id=conversation if in_room else "",
                                         to_id="" if in_room else conversation, mention_ids=req.mentonal_ids)
        self.sent.append(Sent(conversation, req.text, tuple(req.mentonal_ids), message_id))
        self._notify()
        if self.echo_sent:
            self._emit(pb.EventType.EVENT_TYPE_MESSAGE, {"messageId": message_id})
        return pb.MessageSendTextResponse(id=message_id)

    def _ding(self, req: pb.DingRequest) -> pb.DingResponse:
        if self.dong:
            self._emit(pb.EventType.EVENT_TYPE_DONG, {"data": req.data})
        return pb.DingResponse()

    def _logout(self, _: pb.LogoutRequest) -> pb.LogoutResponse:
        self._logged_in = False
        self._emit(pb.EventType.EVENT_TYPE_LOGOUT, {"contactId": self.self_id, "data": "logout"})
        return pb.LogoutResponse()

    # ---- helpers --------------------------------------------------------------------------------------------

    def _store_message(self, talker: str, text: str, *, room_id: str, to_id: str, mention_ids: Iterable[str],
                       sent_at: int | None = None) -> str:
        message_id = f"{self._id_prefix}-{len(self._messages) + 1}"
        self._messages[message_id] = pb.MessagePayloadResponse(
            id=message_id, text=text, timestamp=sent_at or int(time.time()), type=TS_MESSAGE_TEXT, from_id=talker,
            room_id=room_id, to_id=to_id, mention_ids=list(mention_ids))
        return message_id

    def _emit(self, kind: pb.EventType, payload: dict[str, Any]) -> None:
        if not self._streams:
            raise RuntimeError("PuppetServer: no Wechaty client is listening to the Event stream")
        for outbox in self._streams:
            outbox.put_nowait(_event(kind, payload))

    def _require(self, ids: Iterable[str], known: dict[str, Any], what: str) -> list[Any]:
        missing = [i for i in ids if i not in known]
        if missing:
            raise KeyError(f"PuppetServer: unknown {what} {missing}")
        return [known[i] for i in ids]

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not ready():
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"PuppetServer: no {what} within {timeout} s; RPCs so far: {self.calls}") from None


def _event(kind: pb.EventType, payload: dict[str, Any]) -> pb.EventResponse:
    return pb.EventResponse(type=kind, payload=json.dumps(payload, ensure_ascii=False))


class _GrpcServer(grpclib.server.Server):
    """Remembers its connections so that stop() can close them, as a service that goes away does."""

    def __init__(self, handlers: list[Any]):
        super().__init__(handlers)
        self.transports: list[asyncio.BaseTransport] = []

    def _protocol_factory(self) -> Any:
        protocol = super()._protocol_factory()
        made = protocol.connection_made

        def connection_made(transport: asyncio.BaseTransport) -> None:
            self.transports.append(transport)
            made(transport)

        protocol.connection_made = connection_made
        return protocol


class _Route(Exception):
    def __init__(self, route: str, cardinality: Cardinality, request: type, reply: type):
        super().__init__(route)
        self.route, self.spec = route, (cardinality, request, reply)


class _RouteProbe(PuppetStub):
    """A stub whose calls raise _Route with what they would send where, without any network."""

    def __init__(self) -> None:
        super().__init__(channel=None)

    async def _unary_unary(self, route, request, reply, **_):  # type: ignore[override]
        raise _Route(route, Cardinality.UNARY_UNARY, type(request), reply)

    async def _unary_stream(self, route, request, reply, **_):  # type: ignore[override]
        raise _Route(route, Cardinality.UNARY_STREAM, type(request), reply)
        yield  # an async generator, as the stub iterates it

    async def _stream_unary(self, route, _requests, request, reply, **_):
        raise _Route(route, Cardinality.STREAM_UNARY, request, reply)


@functools.cache
def _routes() -> dict[str, tuple[Cardinality, type, type]]:
    """Every RPC of the stubs, found by calling each stub method once against _RouteProbe."""
    routes = {}
    probe = _RouteProbe()
    for name, method in inspect.getmembers(probe, inspect.ismethod):
        if name.startswith("_"):
            continue
        positional = [None for p in inspect.signature(method).parameters.values()
                      if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
        call = method(*positional)
        try:
            (call.__anext__() if inspect.isasyncgen(call) else call).send(None)
        except _Route as found:
            routes[found.route] = found.spec
    return routes
