"""Students without a browser: sessions that speak Streamlit's websocket protocol as the browser does,
so a bench can put dozens of them on a server without dozens of Chromium pages drawing on the same
machine (each student's browser runs on the student's own computer).

A Student opens /_stcore/stream, asks for a page with its address (the BackMsg rerun_script a
browser sends on load), reads what the server sends back (ForwardMsg protobufs: elements, the live
view's auto-rerun timer, script finished), clicks buttons by their label (a trigger value, as a
click sends), and keeps the live view ticking on the interval the server asked for, as the
browser's timer does. It draws nothing: the server does all the work a real session costs it.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates


@dataclass
class Student:
    base_url: str       # http://127.0.0.1:PORT
    page: str           # the page's address path, e.g. "playground"
    query: str = ""     # its address parameters, e.g. "train.seed=3"
    buttons: dict[str, str] = field(default_factory=dict)   # label -> widget id, as last drawn
    widgets: dict[str, WidgetState] = field(default_factory=dict)  # id -> value, as the browser would hold it
    metrics: dict[str, str] = field(default_factory=dict)   # label -> value, as last drawn
    timers: dict[str, list[float]] = field(default_factory=dict)  # live views: fragment id -> [interval, next]
    page_hash: str = ""  # the page's script hash, once the server has named it (the browser then sends it)
    runs_finished: int = 0
    errors: list[str] = field(default_factory=list)

    async def open(self) -> None:
        url = self.base_url.replace("http://", "ws://") + "/_stcore/stream"
        self._ws = await websockets.connect(url, subprotocols=["streamlit"], max_size=None, open_timeout=60)
        self._reader = asyncio.create_task(self._read())
        self._ticker = asyncio.create_task(self._tick())
        self._finished = asyncio.Event()
        await self._rerun()

    async def close(self) -> None:
        for task in (self._reader, self._ticker):
            task.cancel()
        await self._ws.close()

    async def wait_finished(self, timeout: float = 120) -> None:
        """Until the full script run asked for last has finished."""
        await asyncio.wait_for(self._finished.wait(), timeout)

    async def click(self, label: str) -> None:
        """Click the button drawn with `label` (KeyError if none is): every widget's value, as a browser
        sends them with each run, and the button's trigger."""
        state = self._states()
        state.widgets.append(WidgetState(id=self.buttons[label], trigger_value=True))
        await self._rerun(state)

    def _states(self) -> WidgetStates:
        return WidgetStates(widgets=list(self.widgets.values()))

    async def answered(self, label: str, then: str, timeout: float = 120) -> float:
        """Click `label`; seconds until the page has drawn `then` (the button it turns into) and finished."""
        start = time.perf_counter()
        await self.click(label)
        deadline = start + timeout
        while then not in self.buttons or not self._finished.is_set():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{label} was not answered with {then} within {timeout} s")
            await asyncio.sleep(0.01)
        return time.perf_counter() - start

    async def _rerun(self, widgets: WidgetStates | None = None, fragment_id: str = "") -> None:
        msg = BackMsg()
        msg.rerun_script.CopyFrom(ClientState(query_string=self.query, page_name="" if self.page_hash else self.page,
                                              page_script_hash=self.page_hash,
                                              widget_states=widgets or WidgetStates(), fragment_id=fragment_id,
                                              is_auto_rerun=bool(fragment_id)))
        if not fragment_id:
            self._finished.clear()
            self.buttons = {}
        await self._ws.send(msg.SerializeToString())

    async def _tick(self) -> None:
        """The browser's timers for the live views: each a fragment rerun every its interval, whether
        or not the last one has finished (as the browser's setInterval does)."""
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            for fragment_id, timer in list(self.timers.items()):
                if now >= timer[1]:
                    timer[1] = now + timer[0]
                    await self._rerun(self._states(), fragment_id=fragment_id)

    async def _read(self) -> None:
        async for data in self._ws:
            msg = ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                which = element.WhichOneof("type")
                if which == "button":
                    self.buttons[element.button.label] = element.button.id
                elif which == "metric":
                    self.metrics[element.metric.label] = element.metric.body
                elif which == "exception":
                    self.errors.append(element.exception.message[:300])
                else:
                    value = widget_value(which, getattr(element, which))
                    if value is not None:
                        self.widgets[value.id] = value
            elif kind == "new_session" and not msg.metadata.run.fragment_ids:
                self.timers.clear()  # a full run: its live views set their timers anew, as the browser clears them

            elif kind == "navigation" and msg.navigation.page_script_hash:
                self.page_hash = msg.navigation.page_script_hash  # the page st.navigation resolved the address to
            elif kind == "auto_rerun":
                interval = msg.auto_rerun.interval
                if self.timers.get(msg.auto_rerun.fragment_id, [None])[0] != interval:
                    self.timers[msg.auto_rerun.fragment_id] = [interval, time.perf_counter() + interval]
            elif kind == "stop_auto_rerun":
                for fragment_id in msg.stop_auto_rerun.fragment_ids:
                    self.timers.pop(fragment_id, None)
            elif kind == "script_finished":
                self.runs_finished += 1
                if msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                    self._finished.set()


def widget_value(kind: str, proto) -> WidgetState | None:
    """The value a browser holds for a widget the server drew, as it would send it back (the value the
    server set, else the widget's default); None for elements that are not widgets of these kinds."""
    if not getattr(proto, "id", ""):
        return None
    state = WidgetState(id=proto.id)
    chosen = proto.set_value if hasattr(proto, "set_value") else False
    if kind in ("selectbox", "radio"):
        if chosen and proto.HasField("raw_value"):
            state.string_value = proto.raw_value
        elif proto.HasField("default") and proto.options:
            state.string_value = proto.options[proto.default]
        else:
            return None
    elif kind == "slider":
        if proto.options:  # a select_slider: the options' strings
            values = list(proto.raw_value) if chosen and proto.raw_value else [proto.options[int(i)] for i in proto.default]
            state.string_array_value.data[:] = values
        else:
            state.double_array_value.data[:] = list(proto.value) if chosen else list(proto.default)
    elif kind == "number_input":
        value = proto.value if chosen and proto.HasField("value") else proto.default if proto.HasField("default") else None
        if value is None:
            return None
        state.double_value = value
    elif kind == "checkbox":
        state.bool_value = proto.value if chosen else proto.default
    elif kind == "multiselect":
        values = list(proto.raw_values) if chosen else [proto.options[i] for i in proto.default]
        state.string_array_value.data[:] = values
    elif kind == "text_input":
        value = proto.value if chosen and proto.HasField("value") else proto.default if proto.HasField("default") else ""
        state.string_value = value
    else:
        return None
    return state
