"""AppTest of the Attention explorer: a typed sentence gives the tokenizer's tokens and the
model's own attention in the charts; layer/head/mean/[CLS]-[SEP] controls reach the heatmap;
the step-by-step tab shows the hand computation agreeing with the model; every other tab
renders; bad text is reported, never a traceback. Also the figure builders: labels escaped,
one trace for all 72 heads, line opacity equal to the weights."""
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages.attention.state import MEAN, head_view, toy_arrays
from engine.attention.self_attention import run_encoder
from engine.core.pretrained import load_minilm
from viz.attention import attention_heatmap_figure, head_grid_figure, line_view_figure, safe_label

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "attention" / "page.py")
TYPED = "My dog chased the ball into the garden"


def open_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at: AppTest) -> list[dict]:
    import json
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def decode(value) -> np.ndarray:
    """A plotly array from the figure's JSON: a list, or NumPy data sent as typed binary."""
    if isinstance(value, dict):
        import base64
        shape = [int(n) for n in str(value["shape"]).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.asarray(value)


def heatmap_z(at: AppTest) -> np.ndarray:
    return decode(charts(at)[0]["data"][0]["z"]).astype(np.float64)


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


def test_typed_sentence_gives_tokens_and_the_models_attention(minilm):
    tokenizer, model = minilm
    at = open_page()
    at.text_input(key="att_text").set_value(TYPED).run()
    assert not at.exception
    tokens = ["[CLS]"] + tokenizer.tokenize(TYPED) + ["[SEP]"]
    assert at.code[0].value == "  ".join(tokens)
    assert len(charts(at)) == 3   # heatmap, line view, all heads
    assert charts(at)[0]["layout"]["meta"]["tokens"] == tokens
    expected = run_encoder(tokenizer, model, TYPED).attentions
    np.testing.assert_allclose(heatmap_z(at), expected[0, 0], atol=1e-6)

    at.selectbox(key="att_layer").set_value(3).run()
    at.selectbox(key="att_head").set_value(7).run()
    np.testing.assert_allclose(heatmap_z(at), expected[3, 7], atol=1e-6)
    at.selectbox(key="att_head").set_value(MEAN).run()
    np.testing.assert_allclose(heatmap_z(at), expected[3].mean(0), atol=1e-6)
    at.toggle(key="att_hide_special").set_value(True).run()
    z = heatmap_z(at)
    assert z.shape == (len(tokens) - 2,) * 2 and charts(at)[0]["layout"]["meta"]["tokens"] == tokens[1:-1]
    np.testing.assert_allclose(z.sum(1), 1.0, atol=1e-6)
    at.selectbox(key="att_from").set_value(4).run()
    assert not at.exception and any(f"where “{tokens[4]}” looks" in m.value for m in at.markdown)


def test_step_by_step_agrees_with_the_model():
    at = open_page()
    at.session_state["att_tab"] = "Step by step"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: float(m.value) for m in at.metric}
    assert len(metrics) == 3 and all(v < 1e-5 for v in metrics.values())
    assert len(charts(at)) == 8   # X, Q, K, V, scores, scaled, softmax, A·V
    at.selectbox(key="att_layer").set_value(5).run()
    at.selectbox(key="att_head").set_value(11).run()
    assert not at.exception and all(float(m.value) < 1e-5 for m in at.metric)


def test_positions_similarity_and_toy_tabs_render():
    at = open_page()
    at.session_state["att_tab"] = "Positions"
    at.run()
    assert not at.exception and len(charts(at)) == 3
    at.slider(key="att_positions").set_value(512).run()
    assert not at.exception and decode(charts(at)[0]["data"][0]["z"]).shape == (512, 384)

    at.session_state["att_tab"] = "Sentence similarity"
    at.run()
    assert not at.exception and len(charts(at)) == 1
    at.text_area(key="att_sentences").set_value("only one").run()
    assert any("at least two" in i.value for i in at.info)

    at.session_state["att_tab"] = "Toy attention"
    at.run()
    assert not at.exception and len(charts(at)) == 2
    before = float(at.metric[0].value.split()[0])
    at.slider(key="att_scale").set_value(8.0).run()
    after = float(at.metric[0].value.split()[0])
    assert after < before   # softmax sharpens: lower entropy


def test_bad_text_is_reported_not_raised():
    at = open_page()
    at.text_input(key="att_text").set_value("").run()
    assert not at.exception and any("empty" in i.value for i in at.info) and not charts(at)
    at.text_input(key="att_text").set_value("x" * 5 + " word" * 2000).run()   # 10,000 characters
    assert not at.exception and any("only the first 512" in w.value for w in at.warning)
    assert len(charts(at)) == 3
    at.text_input(key="att_text").set_value("<script>alert('hi')</script> 😀 مرحبا").run()
    assert not at.exception
    assert "script" in at.code[0].value and "[UNK]" in at.code[0].value   # shown as text, as tokens
    at.session_state["att_tab"] = "Toy attention"
    at.run()
    assert not at.exception


def test_head_view_hides_special_tokens_and_renormalises(minilm):
    run = run_encoder(*minilm, "Hello there")
    w, toks, keep = head_view(run, 0, 0, hide_special=False)
    np.testing.assert_array_equal(w, run.attentions[0, 0])
    w, toks, keep = head_view(run, 2, MEAN, hide_special=True)
    assert toks == ["hello", "there"] and keep == [1, 2]
    sub = run.attentions[2].mean(0)[np.ix_(keep, keep)]
    np.testing.assert_allclose(w, sub / sub.sum(1, keepdims=True), atol=1e-6)


def test_toy_table_is_checked():
    rows = [{"token": "a", "q1": 1, "q2": 0, "k1": 1, "k2": 0}, {"token": None, "q1": None, "q2": None,
                                                                   "k1": None, "k2": None},
            {"token": "b", "q1": 0, "q2": 1, "k1": 0, "k2": 1}]
    toks, q, k = toy_arrays(rows)   # the blank new row is skipped
    assert toks == ["a", "b"] and q.shape == (2, 2)
    with pytest.raises(ValueError, match="row 1"):
        toy_arrays([{"token": "a", "q1": "x", "q2": 0, "k1": 0, "k2": 0}, rows[2]])


def test_figures_escape_labels_draw_one_grid_trace_and_weight_the_lines():
    tokens = ["[CLS]", "<b>", "hi", "[SEP]"]
    rng = np.random.default_rng(0)
    a = rng.random((6, 12, 4, 4))
    a /= a.sum(-1, keepdims=True)
    fig = attention_heatmap_figure(a[0, 0], tokens)
    assert "&lt;b&gt;" in fig.layout.xaxis.ticktext and "<b>" not in fig.layout.xaxis.ticktext
    assert safe_label("a & <i>") == "a &amp; &lt;i&gt;"
    grid = head_grid_figure(a, tokens, selected=(2, 3))
    assert [t.type for t in grid.data] == ["image", "scatter"] and len(grid.data[1].x) == 72
    assert grid.data[1].customdata.tolist()[2 * 12 + 3] == [2, 3]
    lines = line_view_figure(a[1, 2], tokens, selected=1)
    np.testing.assert_allclose([s.opacity for s in lines.layout.shapes], a[1, 2, 1][a[1, 2, 1] >= 0.005])
    with pytest.raises(ValueError, match=r"\(layers, heads, T, T\)"):
        head_grid_figure(a[0], tokens)
