"""The capacity bench's students (bench/students.py): the values they send back are the ones a browser
holds for each widget the server drew, and one student on the real server opens the Playground,
presses Play, sees its epochs climb with the live view ticking, and has its Pause answered."""
import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import streamlit_server
from streamlit.proto.Element_pb2 import Element

from bench.students import Student, widget_value


def element(kind: str, **fields) -> tuple[str, object]:
    el = Element()
    proto = getattr(el, kind)
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(proto, name)[:] = value
        else:
            setattr(proto, name, value)
    return kind, proto


def test_each_widget_sends_back_what_the_browser_holds():
    kind, proto = element("selectbox", id="s", options=["a", "b", "c"], default=1)
    assert widget_value(kind, proto).string_value == "b"
    kind, proto = element("selectbox", id="s", options=["a", "b"], default=0, raw_value="b", set_value=True)
    assert widget_value(kind, proto).string_value == "b"  # a value the server set wins over the default
    kind, proto = element("slider", id="n", default=[0.5], value=[0.7], set_value=False)
    assert list(widget_value(kind, proto).double_array_value.data) == [0.5]
    kind, proto = element("slider", id="q", options=["0.01", "0.03", "0.1"], default=[1.0])  # a select_slider
    assert list(widget_value(kind, proto).string_array_value.data) == ["0.03"]
    kind, proto = element("number_input", id="seed", default=0.0, value=7.0, set_value=True)
    assert widget_value(kind, proto).double_value == 7.0
    kind, proto = element("checkbox", id="t", default=True)
    assert widget_value(kind, proto).bool_value is True
    kind, proto = element("multiselect", id="m", options=["x", "y", "z"], default=[0, 2])
    assert list(widget_value(kind, proto).string_array_value.data) == ["x", "z"]
    assert widget_value("markdown", Element().markdown) is None


@pytest.mark.timeout(180)
def test_a_student_plays_the_playground_and_is_answered():
    async def lesson(base_url: str) -> tuple[int, int, float]:
        student = Student(base_url, "playground", "train.seed=3")
        await student.open()
        await student.wait_finished(120)
        assert student.metrics["Epoch"] == "0" and "▶ Play" in student.buttons
        await student.answered("▶ Play", "⏸ Pause")
        await asyncio.sleep(3)
        first = int(student.metrics["Epoch"].replace(",", ""))
        await asyncio.sleep(2)
        second = int(student.metrics["Epoch"].replace(",", ""))
        pause = await student.answered("⏸ Pause", "▶ Play")
        errors = student.errors
        await student.close()
        assert errors == []
        return first, second, pause

    with streamlit_server() as base_url, ThreadPoolExecutor(1) as thread:
        # A thread of its own: in a test process where Playwright's sync API has run, this thread's
        # event loop counts as running, and asyncio.run refuses to start another in it.
        first, second, pause = thread.submit(asyncio.run, lesson(base_url)).result()
    assert 0 < first < second  # the live view ticks on the interval the server asked for, and trains
    assert pause < 30
