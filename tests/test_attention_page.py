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


# ---------- the address ----------
def test_the_address_round_trips_the_defaults_and_a_custom_setup(minilm):
    import re

    from app_pages.attention.state import (MODEL_HEADS, MODEL_LAYERS, TOY_DEFAULT, URL_PARAMS, default_widgets,
                                           widgets_from_query, widgets_to_query)
    model = minilm[1]
    assert (MODEL_LAYERS, MODEL_HEADS) == (model.config.num_hidden_layers, model.config.num_attention_heads)
    names, keys = [p.name for p in URL_PARAMS], [p.key for p in URL_PARAMS]
    assert len(set(names)) == len(names) and all(re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)?", n) and len(n) <= 24
                                                 for n in names)
    assert not {"embed", "embed_options"} & set(names)  # Streamlit's own parameters: a page cannot set them
    assert set(keys) - {"att_from"} <= set(default_widgets())  # the line view's first token depends on the sentence
    defaults = default_widgets()
    tokens = ["[CLS]"] + minilm[0].tokenize(defaults["att_text"]) + ["[SEP]"]
    assert widgets_to_query(defaults, 0) == {"train.seed": "0"}  # a plain visit: a short address
    assert widgets_to_query({**defaults, "att_from": tokens.index("it")}, 0, tokens) == {"train.seed": "0"}
    # a token past the sentence's end, or [CLS] while it is hidden, is not written (the Heads tab replaces it)
    assert widgets_to_query({**defaults, "att_from": len(tokens)}, 0, tokens) == {"train.seed": "0"}
    assert widgets_to_query({**defaults, "att_from": 0, "att_hide_special": True}, 0, tokens) == {
        "heads.hide_special": "true", "train.seed": "0"}
    table = [dict(row) for row in TOY_DEFAULT[:3]] + [{"token": "dog", "q1": -1.5, "q2": 0.25, "k1": 2.0, "k2": 0.0}]
    values = {**defaults, "att_text": " Le chat & the dog?", "att_pair": "It slept.", "att_tab": "Step by step",
              "att_layer": 2, "att_head": MEAN, "att_hide_special": True, "att_from": 3, "att_positions": 256,
              "att_sentences": "one\ntwo", "att_toy_table": table, "att_scale": 2.5, "att_toy_query": 3}
    query = widgets_to_query(values, 7, ["[CLS]", "le", "chat", "&", "the", "dog", "?", "[SEP]", "it", "slept", "."])
    assert query == {"text": " Le chat & the dog?", "pair": "It slept.", "tab": "steps", "layer": "3", "head": "mean",
                     "heads.hide_special": "true", "heads.from": "3", "positions.shown": "256",
                     "similarity.text": "one\ntwo", "toy.table": "the,0.3,0.3,0.2,0.1;cat,0.1,1,1,0.2;sat,1,0,0.1,1;"
                                                                 "dog,-1.5,0.25,2,0", "toy.scale": "2.5",
                     "toy.query": "3", "train.seed": "7"}
    restored, problems = widgets_from_query(query)
    assert not problems and {**defaults, **restored} == values
    assert widgets_from_query({"head": "12", "layer": "6"}) == ({"att_head": 11, "att_layer": 5}, [])
    # Texts too long for an address, and a table it cannot write, are left out (the page says so), and with
    # another sentence the line view's token means nothing.
    long = {**values, "att_text": "word " * 101, "att_sentences": "x" * 501,
            "att_toy_table": [{**row, "token": "a,b"} for row in table]}
    assert not {"text", "similarity.text", "toy.table", "heads.from"} & set(widgets_to_query(long, 7, tokens))


def test_bad_address_parameters_are_each_named_and_the_others_apply():
    from app_pages.attention.state import line_token_problem, widgets_from_query
    query = {"text": "A short one.", "pair": "x" * 501, "tab": "toys", "layer": "0", "head": "13",
             "heads.hide_special": "yes", "heads.from": "-1", "positions.shown": "100", "similarity.text": "a\nb",
             "toy.table": "a,1,2,3;b,1,2,3,4", "toy.scale": "10.05", "toy.query": "7", "node": "LSTM"}
    values, problems = widgets_from_query(query)
    assert values == {"att_text": "A short one.", "att_sentences": "a\nb"}
    assert problems == [
        f"pair='{'x' * 200}…' was ignored: a text of at most 500 characters",
        "tab='toys' was ignored: not one of heads, steps, positions, similarity, toy",
        "layer='0' was ignored: a whole number from 1 to 6",
        "head='13' was ignored: a whole number from 1 to 12 or mean",
        "heads.hide_special='yes' was ignored: not one of true, false",
        "heads.from='-1' was ignored: a whole number from 0 to 511",
        "positions.shown='100' was ignored: a whole number from 8 to 512 in steps of 8",
        "toy.table='a,1,2,3;b,1,2,3,4' was ignored: row 1 is not a token and four numbers (rows token,q1,q2,k1,k2 "
        "separated by ;)",
        "toy.scale='10.05' was ignored: a number from 0 to 10 in steps of 0.1",
        "toy.query='7' was ignored: the toy's table has 5 rows, numbered 0 to 4"]
    assert widgets_from_query({"toy.table": "a,1,0,1,0;b,0,1,0,inf"})[1] == [
        "toy.table='a,1,0,1,0;b,0,1,0,inf' was ignored: row 2: every number must be finite"]
    # The line view's token is checked once the sentence is read: [CLS] hidden, or past the end.
    tokens = ["[CLS]", "hi", "there", "[SEP]"]
    assert line_token_problem({"heads.from": "2"}, {"att_from": 2}, tokens) == []
    assert line_token_problem({"heads.from": "0"}, {"att_from": 0, "att_hide_special": True}, tokens) == [
        "heads.from='0' was ignored: the tokens shown are numbered 1 to 2"]
    assert line_token_problem({"heads.from": "9"}, {"att_from": 9}, tokens) == [
        "heads.from='9' was ignored: the tokens shown are numbered 0 to 3"]
    assert line_token_problem({}, {}, tokens) == []


def test_a_shared_address_opens_its_setup_and_the_address_follows_the_widgets(minilm):
    from app_pages.common.text import md_escape
    tokens = ["[CLS]"] + minilm[0].tokenize(TYPED) + ["[SEP]"]
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params.update({"text": TYPED, "layer": "4", "head": "8", "heads.from": "40", "toy.scale": "3",
                            "positions.shown": "7", "train.seed": "3"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [w.value for w in at.warning] == [
        "The address: " + md_escape("positions.shown='7' was ignored: a whole number from 8 to 512 in steps of 8")
        + ".",
        "The address: " + md_escape(f"heads.from='40' was ignored: the tokens shown are numbered 0 to "
                                    f"{len(tokens) - 1}") + "."]
    assert at.text_input(key="att_text").value == TYPED and at.code[0].value == "  ".join(tokens)
    assert at.selectbox(key="att_layer").value == 3 and at.selectbox(key="att_head").value == 7
    assert any("Attention of layer 4, head 8" in m.value for m in at.markdown)
    expected = run_encoder(*minilm, TYPED).attentions
    np.testing.assert_allclose(heatmap_z(at), expected[3, 7], atol=1e-6)
    assert at.query_params == {"text": TYPED, "layer": "4", "head": "8", "toy.scale": "3", "train.seed": "3"}
    at.selectbox(key="att_head").set_value(MEAN).run()
    at.selectbox(key="att_from").set_value(2).run()
    assert not at.warning  # the warnings are shown once
    assert at.query_params["head"] == "mean" and at.query_params["heads.from"] == "2"
    at.session_state["att_tab"] = "Toy attention"
    at.run()
    assert at.slider(key="att_scale").value == 3.0 and at.query_params["tab"] == "toy"
    at.slider(key="att_scale").set_value(0.5).run()
    assert at.query_params["toy.scale"] == "0.5" and at.query_params["heads.from"] == "2"  # kept off its tab
    at.text_input(key="att_text").set_value("word " * 120).run()
    assert "text" not in at.query_params and "heads.from" not in at.query_params
    assert any("not in the page's address" in c.value for c in at.caption)


def test_an_address_with_a_toy_table_opens_it_and_keeps_it_across_tabs():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params.update({"tab": "toy", "toy.table": "dog,1,0,1,0;bites,0,1,0,1;man,1,1,1,1", "toy.query": "1"})
    at.run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert charts(at)[0]["layout"]["meta"]["tokens"] == ["dog", "bites", "man"]
    assert at.selectbox(key="att_toy_query").value == 1
    at.session_state["att_tab"] = "Heads"
    at.run()
    at.session_state["att_tab"] = "Toy attention"
    at.run()
    assert charts(at)[0]["layout"]["meta"]["tokens"] == ["dog", "bites", "man"]
    assert at.query_params["toy.table"] == "dog,1,0,1,0;bites,0,1,0,1;man,1,1,1,1" and at.query_params["tab"] == "toy"
