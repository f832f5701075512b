"""The code cells of the Reservoirs exports that do the work: each trainer's loop, written as the notebook
runs it (one JSON line per step, equal to the trainer's snapshot), and the page's main plots. The
notebook's pieces around them, and the markdown, are in take_home.py."""
from __future__ import annotations

from ..core.take_home import DARK, ORANGE, source_of
from ..mlp.data import grid_points


def elm_loop() -> list[str]:
    return [
        "def accuracy(scores, y):",
        "    return float((scores.argmax(1) == y).double().mean())", "", "",
        "@torch.no_grad()",
        "def train(steps=STEPS):",
        '    """The page\'s ELM, then the first `steps` widths of the sweep; one JSON line each."""',
        "    model = make_elm()",
        "    targets = nn.functional.one_hot(y_train, N_CLASSES).double()",
        "    readout, model.readout_bias = fit_ridge(model.hidden(x_train, MODEL_HIDDEN), targets, MODEL_RIDGE)",
        "    model.readout = torch.zeros_like(model.readout)",
        "    model.readout[:, :MODEL_HIDDEN] = readout  # zero for the units beyond its width",
        '    print(json.dumps({"step": 0, "hidden": MODEL_HIDDEN, "train_accuracy": accuracy(model(x_train), y_train),',
        '                      "test_accuracy": accuracy(model(x_test), y_test),',
        '                      "readout_norm": float(model.readout.norm())}), flush=True)',
        '    sweep = {"sweep_widths": [], "sweep_train_accuracy": [], "sweep_test_accuracy": []}',
        "    for step, width in enumerate(TRAIN_SWEEP[:steps], 1):",
        "        w, b = fit_ridge(model.hidden(x_train, width), targets, MODEL_RIDGE)",
        '        sweep["sweep_widths"].append(width)',
        '        sweep["sweep_train_accuracy"].append(accuracy(model.hidden(x_train, width) @ w.T + b, y_train))',
        '        sweep["sweep_test_accuracy"].append(accuracy(model.hidden(x_test, width) @ w.T + b, y_test))',
        '        print(json.dumps({"step": step, **sweep}), flush=True)',
        "    return sweep, model"]


def elm_plot() -> list[str]:
    return [
        "import plotly.graph_objects as go", "",
        "fig = go.Figure()",
        f'for key, name, color in [("sweep_train_accuracy", "Train", "{DARK}"), ("sweep_test_accuracy", "Test", '
        f'"{ORANGE}")]:',
        '    fig.add_scatter(x=sweep["sweep_widths"], y=sweep[key], name=name, mode="lines+markers",',
        '                    line={"color": color, "width": 2})',
        "fig.add_scatter(x=[len(y_train)] * 2, y=[0, 1], mode=\"lines\", name=\"as many units as training points\",",
        '                line={"color": "#999999", "dash": "dot", "width": 1})',
        'fig.update_layout(xaxis={"title": "hidden units", "type": "log"}, yaxis={"title": "accuracy", '
        '"tickformat": ".0%", "range": [0, 1.02]},',
        '                  template="plotly_white", height=380, legend={"orientation": "h", "y": 1.12})',
        'show(fig, "elm_sweep")']


def elm_boundary() -> list[str]:
    return [
        source_of(grid_points), "", "",
        "resolution = 60",
        "with torch.no_grad():",
        "    scores = model(torch.from_numpy(grid_points(resolution)).double())",
        "plane = torch.softmax(scores, 1)[:, 1] if N_CLASSES == 2 else scores.argmax(1).double()",
        "axis = np.linspace(-DOMAIN, DOMAIN, resolution)",
        "# two classes: P(class 1), orange to blue; more: the winning class",
        f'colors = [[0, "{ORANGE}"], [0.5, "#e8eaeb" if N_CLASSES == 2 else "#8e6bbf"], [1, "#0877bd"]]',
        "top = 1 if N_CLASSES == 2 else N_CLASSES - 1",
        "fig = go.Figure(go.Heatmap(x=axis, y=axis, z=plane.numpy().reshape(resolution, resolution), zmin=0, zmax=top,",
        '                           colorscale=colors, showscale=False, opacity=0.55))',
        'for x, labels, symbol in [(x_train, y_train, "circle"), (x_test, y_test, "circle-open")]:',
        "    fig.add_scatter(x=x[:, 0].numpy(), y=x[:, 1].numpy(), mode=\"markers\", showlegend=False,",
        '                    marker={"color": labels.numpy(), "colorscale": colors, "cmin": 0, "cmax": top,',
        '                            "symbol": symbol, "size": 7})',
        'fig.update_xaxes(range=[-DOMAIN, DOMAIN])',
        'fig.update_yaxes(range=[-DOMAIN, DOMAIN], scaleanchor="x")',
        'fig.update_layout(title=f"The ELM of {MODEL_HIDDEN} units (filled: training points, open: test)",',
        '                  template="plotly_white", height=460, width=480)',
        'show(fig, "elm_boundary")']


def esn_series_loop() -> list[str]:
    return [
        "@torch.no_grad()",
        "def free_run(x, steps):",
        '    """The network\'s own continuation from state x: each output is the next input."""',
        "    out = np.empty(steps)",
        "    for k in range(steps):",
        "        y = model.read(x)",
        "        out[k] = float(y)",
        "        if not math.isfinite(out[k]):",
        "            out[k:] = np.nan",
        "            break",
        "        x = model.update(x, y)",
        "    return out", "", "",
        "def train(steps=STEPS):",
        "    start = max(0, TEST_START - max(DATA_WASHOUT, 1))",
        "    test_states = model.drive(u_all[start:TEST_START + DATA_TEST_LENGTH])[TEST_START - start:, 0]",
        "    test_truth = SERIES[TEST_START + 1:TEST_START + 1 + DATA_TEST_LENGTH]",
        "    free_truth = SERIES[TEST_START + 1:TEST_START + 1 + DATA_FREE_RUN]",
        "    sums = RidgeAccumulator(MODEL_SIZE, 1, torch.float64, torch.device(\"cpu\"))",
        "    state, kept, targets_kept, history = torch.zeros(1, MODEL_SIZE, dtype=torch.float64), [], [], []",
        "    n_train = DATA_WASHOUT + DATA_TRAIN_LENGTH",
        "    for step, lo in enumerate(range(0, n_train, TRAIN_SAMPLES_PER_STEP)[:steps], 1):",
        "        hi = min(lo + TRAIN_SAMPLES_PER_STEP, n_train)",
        "        driven = model.drive(u_all[lo:hi], state)[:, 0]  # the states after inputs lo..hi-1",
        "        state = driven[-1:].clone()",
        "        keep = max(0, DATA_WASHOUT - lo)  # the washout's states are not used",
        "        if len(driven[keep:]):",
        "            targets = torch.from_numpy(SERIES[lo + keep + 1:hi + 1])[:, None]  # the next value",
        "            sums.add(driven[keep:], targets)",
        "            kept.append(driven[keep:])",
        "            targets_kept.append(targets)",
        "        model.readout, model.readout_bias = sums.fit(MODEL_RIDGE)",
        "        row = {\"step\": step, \"samples_seen\": sums.n, \"train_nrmse\": None, \"test_nrmse\": None,",
        "               \"free_run_nrmse\": None, \"spectral_radius\": radius}",
        "        if sums.n:",
        "            with torch.no_grad():",
        "                train_out = model.read(torch.cat(kept)).numpy()[:, 0]",
        "                row[\"test_nrmse\"] = nrmse(model.read(test_states).numpy()[:, 0], test_truth)",
        "            row[\"train_nrmse\"] = nrmse(train_out, torch.cat(targets_kept).numpy()[:, 0])",
        "            free = nrmse(free_run(test_states[:1], DATA_FREE_RUN), free_truth)",
        "            row[\"free_run_nrmse\"] = free if math.isfinite(free) else None",
        "        history.append(row)",
        "        print(json.dumps(row), flush=True)",
        "    return history, test_states"]


def esn_digits_loop() -> list[str]:
    return [
        "def final_states(rows):",
        '    """The state after the last row of each digit (N, 8, 8) -> (N, size), from zero."""',
        "    return model.drive(rows.transpose(0, 1))[-1]", "", "",
        "@torch.no_grad()",
        "def train(steps=STEPS):",
        "    test_states, test_truth = final_states(test_rows), np.eye(N_CLASSES)[y_test]",
        "    sums = RidgeAccumulator(MODEL_SIZE, N_CLASSES, torch.float64, torch.device(\"cpu\"))",
        "    kept, targets_kept, history = [], [], []",
        "    for step, lo in enumerate(range(0, len(y_train), TRAIN_SAMPLES_PER_STEP)[:steps], 1):",
        "        hi = min(lo + TRAIN_SAMPLES_PER_STEP, len(y_train))",
        "        states = final_states(train_rows[lo:hi])",
        "        targets = nn.functional.one_hot(torch.from_numpy(y_train[lo:hi]), N_CLASSES).double()",
        "        sums.add(states, targets)",
        "        kept.append(states)",
        "        targets_kept.append(targets)",
        "        model.readout, model.readout_bias = sums.fit(MODEL_RIDGE)",
        "        test_out, train_out = model.read(test_states).numpy(), model.read(torch.cat(kept)).numpy()",
        "        truth = torch.cat(targets_kept).numpy()",
        "        row = {\"step\": step, \"samples_seen\": sums.n, \"train_nrmse\": nrmse(train_out, truth),",
        "               \"test_nrmse\": nrmse(test_out, test_truth), \"train_accuracy\": float((train_out.argmax(1) ==",
        "               truth.argmax(1)).mean()), \"test_accuracy\": float((test_out.argmax(1) == y_test).mean()),",
        "               \"spectral_radius\": radius}",
        "        history.append(row)",
        "        print(json.dumps(row), flush=True)",
        "    return history"]


def esn_series_plot() -> list[str]:
    return [
        "import plotly.graph_objects as go", "",
        "time = np.arange(TEST_START + 1, TEST_START + 1 + DATA_TEST_LENGTH)",
        "with torch.no_grad():",
        "    one_step = model.read(test_states).numpy()[:, 0]",
        "free = free_run(test_states[:1], DATA_FREE_RUN)",
        "fig = go.Figure()",
        f'fig.add_scatter(x=time, y=SERIES[time], name="truth", line={{"color": "{DARK}", "width": 2}})',
        f'fig.add_scatter(x=time, y=one_step, name="one step ahead", line={{"color": "{ORANGE}", "width": 1.5}})',
        'fig.add_scatter(x=time[:DATA_FREE_RUN], y=free, name="free run", line={"color": "#0877bd", "dash": "dot"})',
        'fig.update_layout(xaxis_title="time step", yaxis_title="value", template="plotly_white", height=380,',
        '                  title=f"Test NRMSE {history[-1][\'test_nrmse\']:.4f} one step ahead", '
        'legend={"orientation": "h", "y": 1.12})',
        'show(fig, "esn_prediction")']


def digits_curve(name: str) -> list[str]:
    return [
        "import plotly.graph_objects as go", "",
        "seen = [h[\"samples_seen\"] for h in history]",
        "fig = go.Figure()",
        f'for key, label, color in [("train_accuracy", "Train", "{DARK}"), ("test_accuracy", "Test", "{ORANGE}")]:',
        '    fig.add_scatter(x=seen, y=[h[key] for h in history], name=label, mode="lines+markers",',
        '                    line={"color": color, "width": 2})',
        'fig.update_layout(xaxis_title="training digits seen", yaxis={"title": "accuracy", "tickformat": ".0%"},',
        '                  template="plotly_white", height=360, legend={"orientation": "h", "y": 1.12})',
        f'show(fig, "{name}_accuracy")']


def lsm_loop() -> list[str]:
    return [
        "@torch.no_grad()",
        "def train(steps=STEPS):",
        "    test_spikes = encode(x_test)  # (M, T, 8)",
        "    counts = model.run(test_spikes)",
        "    rate_hz = float(counts.sum((1,)).mean()) / (test_spikes.shape[1] * MODEL_DT_MS / 1000.0)",
        "    test_features = counts.flatten(1)  # (M, neurons x windows)",
        "    sums = RidgeAccumulator(test_features.shape[1], N_CLASSES, torch.float64, torch.device(\"cpu\"))",
        "    kept, history = [], []",
        "    for step, lo in enumerate(range(0, len(y_train), TRAIN_SAMPLES_PER_STEP)[:steps], 1):",
        "        hi = min(lo + TRAIN_SAMPLES_PER_STEP, len(y_train))",
        "        features = model.run(encode(x_train[lo:hi])).flatten(1)",
        "        sums.add(features, nn.functional.one_hot(torch.from_numpy(y_train[lo:hi]), N_CLASSES).double())",
        "        kept.append(features)",
        "        model.readout, model.readout_bias = sums.fit(MODEL_RIDGE)",
        "        train_scores = torch.cat(kept) @ model.readout.T + model.readout_bias",
        "        test_scores = test_features @ model.readout.T + model.readout_bias",
        "        row = {\"step\": step, \"samples_seen\": sums.n,",
        "               \"train_accuracy\": float((train_scores.argmax(1).numpy() == y_train[:hi]).mean()),",
        "               \"test_accuracy\": float((test_scores.argmax(1).numpy() == y_test).mean()), \"rate_hz\": rate_hz}",
        "        history.append(row)",
        "        print(json.dumps(row), flush=True)",
        "    return history, test_spikes"]


def lsm_raster() -> list[str]:
    return [
        "with torch.no_grad():",
        "    _, raster, _ = model.run(test_spikes[:1], record=True)",
        "steps_, neurons = np.nonzero(raster[0].numpy())",
        "inputs_t, inputs_j = np.nonzero(test_spikes[0].numpy())",
        "excite = neurons < n_excitatory",
        "fig = go.Figure()",
        f'for mask, name, color in [(excite, "excitatory", "{DARK}"), (~excite, "inhibitory", "{ORANGE}")]:',
        "    fig.add_scatter(x=steps_[mask] * MODEL_DT_MS, y=neurons[mask], mode=\"markers\", name=name,",
        '                    marker={"color": color, "size": 3, "symbol": "line-ns-open"})',
        "fig.add_scatter(x=inputs_t * MODEL_DT_MS, y=-2 - inputs_j, mode=\"markers\", name=\"input\",",
        '                marker={"color": "#0877bd", "size": 3, "symbol": "line-ns-open"})',
        'fig.update_layout(title=f"Test digit {y_test[0]} through the liquid", xaxis_title="time (ms)",',
        '                  yaxis_title="neuron (inputs below 0)", template="plotly_white", height=420)',
        'show(fig, "lsm_raster")']
