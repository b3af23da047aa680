"""Executes notebooks/*.ipynb top to bottom on CPU with the tiny settings (nbclient)."""

import os
import pathlib

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"


def _execute(name: str, env: dict[str, str], monkeypatch) -> nbformat.NotebookNode:
  """Runs every cell (the kernel inherits `env`); an exception in any cell fails the test."""
  for key, value in {"JAX_PLATFORMS": "cpu", "MPLBACKEND": "agg", **env}.items():
    monkeypatch.setenv(key, value)
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
      [str(NOTEBOOKS.parent)] + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
  notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
  client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                   resources={"metadata": {"path": str(NOTEBOOKS)}})
  client.execute()
  return notebook


def _outputs(notebook, kind: str) -> list:
  """Every output of `kind` ('text' for streams and text/plain, or a MIME type)."""
  found = []
  for cell in notebook.cells:
    for out in cell.get("outputs", []):
      if kind == "text":
        found.append(out.get("text", "") + out.get("data", {}).get("text/plain", ""))
      elif kind in out.get("data", {}):
        found.append(out["data"][kind])
  return found


def test_colab_notebook_trains_evaluates_and_predicts(shared_data_dir, tiny_cache_dir, tmp_path,
                                                      monkeypatch):
  del shared_data_dir  # skips without the data
  workdir = tmp_path / "run"
  notebook = _execute("colab_train_predict.ipynb", {
      "MSFML_NOTEBOOK_TINY": "1", "MSFML_NOTEBOOK_WORKDIR": str(workdir),
      "MSFML_CACHE": str(tiny_cache_dir), "MSFML_STANZA_DIR": str(tmp_path / "no_stanza")},
                      monkeypatch)
  text = "\n".join(_outputs(notebook, "text"))
  assert "backend: cpu" in text and "macro_f1" in text
  assert (workdir / "results.json").is_file() and (workdir / "best").is_dir()
  assert text.count("predicted ") >= 5  # five pre-parsed test records
  assert "Skipping raw-text prediction" in text  # no stanza models here


def test_plot_notebook_shows_curves_confusion_and_model_size(tiny_run, tiny_cache_dir,
                                                             monkeypatch):
  notebook = _execute("plot_run.ipynb", {"MSFML_RUN_WORKDIR": str(tiny_run),
                                         "MSFML_CACHE": str(tiny_cache_dir)}, monkeypatch)
  assert len(_outputs(notebook, "image/png")) == 2  # curves, confusion matrix
  table = "\n".join(_outputs(notebook, "text/markdown"))
  for module in ("embedder", "mscnn", "msgcn", "bilstm", "classifier", "| total |"):
    assert module in table
