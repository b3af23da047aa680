"""tools/report.py: every table from a synthetic results/ tree with hand-computed numbers,
the marked sections of the document, --check, and the committed docs/results.md."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import shutil
import statistics
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _load(name: str):
  spec = importlib.util.spec_from_file_location(f"{name}_tool", REPO / "tools" / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  sys.modules[spec.name] = module  # dataclasses look their module up by name
  spec.loader.exec_module(module)
  return module


report = _load("report")
reproduce = report.reproduce
suites = reproduce.load_suites()

DOC = """# Results

Hand-written text before.

<!-- report:ablation begin -->
<!-- report:ablation end -->

<!-- report:pubmed begin -->
stale text
<!-- report:pubmed end -->

<!-- report:pubmed_probe begin -->
<!-- report:pubmed_probe end -->

<!-- report:semeval_paper begin -->
<!-- report:semeval_paper end -->

<!-- report:semeval_late begin -->
<!-- report:semeval_late end -->

<!-- report:tail_windows begin -->
<!-- report:tail_windows end -->

Hand-written text between.

<!-- report:semeval_sweep begin -->
<!-- report:semeval_sweep end -->

<!-- report:paper_probes begin -->
<!-- report:paper_probes end -->

<!-- report:semeval_probe begin -->
<!-- report:semeval_probe end -->

<!-- report:branch_death begin -->
<!-- report:branch_death end -->

<!-- report:speed begin -->
<!-- report:speed end -->

<!-- report:runs begin -->
<!-- report:runs end -->

Hand-written text after.
"""


def add_run(root: pathlib.Path, suite: str, name: str, config: str, overrides: dict,
            test: dict, best_test: dict | None = None, dead: list[tuple[float, float]] = (),
            wall: float = 100.0, total_wall: float | None = None,
            epoch_f1: dict[str, list[float]] | None = None,
            learning_rate: float | None = None) -> None:
  """results/<suite>/<name>/ as tools/reproduce.py leaves it, with these metrics
  (`epoch_f1`: {split: macro-F1 of each epoch} for the per-epoch evaluation lines;
  `learning_rate`: the rate of every train-epoch line)."""
  run = suites.Run(name, config, overrides)
  cfg = reproduce.expected_config(suites, run)
  folder = root / suite / name
  folder.mkdir(parents=True)
  best = {"metric": "accuracy" if cfg["data"]["task"] == "pubmed" else "macro_f1",
          "split": "dev" if best_test is not None else "test",
          "metrics": {"test": best_test if best_test is not None else test}}
  if best_test is None and "macro_f1" in test:   # SemEval: selected on test, at some epoch
    best.update(value=test["macro_f1"] + 1.0, epoch=cfg["num_epochs"] - 1)
  results = {"task": cfg["data"]["task"], "epochs": cfg["num_epochs"], "wall_seconds": wall,
             **({} if total_wall is None else {"total_wall_seconds": total_wall}),
             "final": {"test": test}, "best": best, "config": cfg}
  (folder / "results.json").write_text(json.dumps(results))
  lines = [{"step": 10 * (i + 1), "epoch": i + 1, "split": "train_epoch",
            "metrics": {"loss": 1.0, "x_dead": x, "y_dead": y,
                        **({} if learning_rate is None else {"learning_rate": learning_rate})}}
           for i, (x, y) in enumerate(dead)]
  lines += [{"step": 10 * (i + 1), "epoch": i + 1, "split": split, "metrics": {"macro_f1": f1}}
            for split, values in (epoch_f1 or {}).items() for i, f1 in enumerate(values)]
  (folder / "metrics.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
  (folder / "command.txt").write_text(
      reproduce.command_text(reproduce.command_args(run, REPO / "runs" / suite / name)) + "\n")


@pytest.fixture
def tree(tmp_path) -> pathlib.Path:
  """A results/ tree with hand-picked numbers (the expected tables are computed by hand)."""
  root = tmp_path / "results"
  base = suites.SEMEVAL_SCHEDULE.config
  for seed, f1, aggcn in ((1, 80.0, 82.0), (2, 81.0, 83.0), (3, 82.0, 84.0)):
    add_run(root, "semeval_ablation", f"M6_seed{seed}", base, {"seed": seed},
            {"macro_f1": f1, "aggcn_macro_f1": aggcn}, dead=[(0.1, 0.2), (0.3, 0.45)])
  for seed, f1 in ((1, 78.0), (2, 80.0)):
    add_run(root, "semeval_ablation", f"M1_seed{seed}", base,
            {"model.mscnn": "none", "seed": seed}, {"macro_f1": f1},
            dead=[(1.0, 0.2), (1.0, 0.4)])
  # PubMed: the best-on-dev epoch's test metrics count, not the last epoch's.
  for fold, acc, single, dead in ((0, 90.0, 85.0, [(0.01, 0.2), (0.02, 0.3)]),
                                   (1, 92.0, 87.0, [(0.0, 0.6), (0.01, 0.5)])):
    add_run(root, "pubmed", f"ternary_multi_fold{fold}", "configs/pubmed.py:ternary,multi",
            {**suites.PRE_CENTRING_PUBMED, "data.fold": fold},
            {"accuracy": 50.0, "accuracy_single": 50.0},
            best_test={"accuracy": acc, "accuracy_single": single, "accuracy_cross": 95.0},
            dead=dead)
  add_run(root, "semeval_paper", "semeval", "configs/semeval.py", {},
          {"macro_f1": 83.25, "aggcn_macro_f1": 84.5}, dead=[(0.2, 0.3)], wall=600.0,
          total_wall=3600.0)
  # A run scored with the moving average (`test`) and with the trained parameters (`test_raw`).
  add_run(root, "semeval_paper", "averaged", "configs/semeval.py", {"optim.ema_decay": 0.999},
          {"macro_f1": 81.0, "aggcn_macro_f1": 81.5}, dead=[(0.2, 0.3)], total_wall=60.0,
          epoch_f1={"test": [70.0 + e for e in range(12)], "test_raw": [60.0 + e for e in range(12)]})
  alpha0, beta0 = suites.sweep_defaults()
  for alpha, beta, f1 in ((0.1, beta0, 70.0), (alpha0, beta0, 75.0), (alpha0, 0.09, 72.0)):
    add_run(root, "semeval_sweep", suites.sweep_point_name(alpha, beta), base,
            {"loss.alpha": alpha, "loss.beta": beta}, {"macro_f1": f1})
  return root


def _section(text: str, name: str) -> str:
  return text.split(f"<!-- report:{name} begin -->\n")[1].split(f"<!-- report:{name} end -->")[0]


def _reported_section(root: pathlib.Path, tmp_path: pathlib.Path, name: str) -> str:
  """Section `name` of the document tools/report.py writes from the results tree `root`."""
  doc = tmp_path / "results.md"
  doc.write_text(DOC)
  report.report(root, doc, tmp_path / "figures")
  return _section(doc.read_text(), name)


def test_tables_from_a_synthetic_tree(tree, tmp_path):
  doc = tmp_path / "results.md"
  doc.write_text(DOC)
  assert report.report(tree, doc, tmp_path / "figures") == 0
  text = doc.read_text()

  ablation = _section(text, "ablation")
  # M6: mean of 80, 81, 82 = 81, sample std 1; AGGCN 82, 83, 84. M1: 78, 80 -> 79 ± 1.41;
  # per-seed differences to M6: 78 - 80 = -2, 80 - 81 = -1 -> -1.50 ± 0.71. Paper: 85.5 - 86.4.
  assert "| M6 full model | 3 | 81.00 ± 1.00 | — | 83.00 ± 1.00 | — | 0.30 | 0.45 | 86.4 | — |" \
      in ablation
  assert "| M1 w/o MSCNN | 2 | 79.00 ± 1.41 | -1.50 ± 0.71 | — | — | removed | 0.40 | 85.5 | " \
      "-0.90 |" in ablation
  assert "| M2 w/o MSGCN | 0 | — | — | — | — | — | — | 85.3 | -1.10 |" in ablation

  pubmed = _section(text, "pubmed")
  # Fold 1 kills more of its MSGCN (0.6) than fold 0 (0.3): the table shows the worst.
  assert "| ternary, multi-class | none | 2 | 0, 1 | 91.00 ± 1.41 | 84.6 | 86.00 ± 1.41 | — | " \
      "95.00 ± 0.00 | 0.02 | 0.60 |" in pubmed
  assert "| binary, binary-class | — | 0 | — | — | 87.5 | — | 87.7 | — | — | — |" in pubmed
  assert "share identical records" in pubmed

  paper_run = _section(text, "semeval_paper")
  assert ("| semeval | 83.25 | 84.50 | — | — | — | 84.25 (epoch 149) | 86.4 | 150 | 0.20 | 0.30 | "
          "3,600 s (60 min) | "
          "`python -m msfml_jax.main --config=configs/semeval.py "
          "--workdir=runs/semeval_paper/semeval` |") in paper_run
  # Last 10 of 70..81: 72..81, mean 76.5; of 60..71: 62..71, mean 66.5, last 71.
  assert "| averaged | 81.00 | 81.50 | 76.50 | 66.50 | 71.00 | 82.00 (epoch 149) |" in paper_run

  alpha0, beta0 = suites.sweep_defaults()
  sweep = _section(text, "semeval_sweep")
  by_alpha, by_beta = sweep.split(f"β at α = {alpha0:g}")
  assert f"α at β = {beta0:g}" in by_alpha
  assert "| 0.1 | 1 | 70.00 | — | — | — |" in by_alpha
  assert f"| {alpha0:g} | 1 | 75.00 | — | — | — |" in by_alpha and "72.00" not in by_alpha
  assert f"| {beta0:g} | 1 | 75.00 |" in by_beta and "| 0.09 | 1 | 72.00 |" in by_beta
  assert "](figures/semeval_sweep.png)" in sweep
  png = (tmp_path / "figures" / "semeval_sweep.png").read_bytes()
  assert png.startswith(PNG_SIGNATURE) and len(png) > 5000

  runs = _section(text, "runs")
  assert runs.count("\n| semeval_ablation/") == 5 and runs.count("\n| ") == 5 + 2 + 2 + 3  # data rows (the header starts the section)
  assert "| pubmed/ternary_multi_fold0 | accuracy | 50.00 |" in runs  # last epoch here
  assert "--config.model.mscnn=none --config.seed=1`" in runs
  # No total_wall_seconds (an older results.json): the last invocation's time, marked.
  assert "| 100 s (2 min) * |" in runs and "| 3,600 s (60 min) |" in runs

  for hand_written in ("Hand-written text before.", "Hand-written text between.",
                       "Hand-written text after."):
    assert hand_written in text
  assert "stale text" not in text


def test_check_fails_on_a_modified_doc_and_passes_after_regeneration(tree, tmp_path, capsys):
  doc, figures = tmp_path / "results.md", tmp_path / "figures"
  doc.write_text(DOC)
  assert report.report(tree, doc, figures, check=True) == 1  # never generated
  assert doc.read_text() == DOC  # --check writes nothing
  assert not figures.exists()
  assert report.report(tree, doc, figures) == 0
  assert report.report(tree, doc, figures, check=True) == 0
  edited = doc.read_text().replace("81.00 ± 1.00", "81.50 ± 1.00")
  doc.write_text(edited)
  capsys.readouterr()
  assert report.report(tree, doc, figures, check=True) == 1
  assert "-| M6 full model | 3 | 81.50" in capsys.readouterr().out
  assert doc.read_text() == edited
  assert report.report(tree, doc, figures) == 0
  assert report.report(tree, doc, figures, check=True) == 0
  # Text outside the sections is not the report's: editing it leaves --check passing.
  doc.write_text(doc.read_text().replace("Hand-written text after.", "Edited by hand."))
  assert report.report(tree, doc, figures, check=True) == 0


def test_empty_results_say_no_runs_yet(tmp_path):
  doc = tmp_path / "results.md"
  doc.write_text(DOC)
  assert report.report(tmp_path / "absent", doc, tmp_path / "figures") == 0
  text = doc.read_text()
  for name in report.SECTIONS:
    assert "No runs yet" in _section(text, name)
  assert "|" not in text and not (tmp_path / "figures").exists()


def test_bad_documents_and_summaries_are_named(tree, tmp_path):
  doc = tmp_path / "results.md"
  doc.write_text(DOC.replace("<!-- report:runs begin -->\n<!-- report:runs end -->\n", ""))
  with pytest.raises(ValueError, match=r"lacks the sections \['runs'\]"):
    report.report(tree, doc, tmp_path / "figures")
  doc.write_text(DOC.replace("<!-- report:runs end -->", ""))
  with pytest.raises(ValueError, match="section 'runs' is never closed"):
    report.report(tree, doc, tmp_path / "figures")
  doc.write_text(DOC)
  (tree / "pubmed" / "ternary_multi_fold1" / "command.txt").unlink()
  with pytest.raises(ValueError, match=r"ternary_multi_fold1/command.txt is missing .*"
                                       r"--suite=pubmed --collect_only"):
    report.report(tree, doc, tmp_path / "figures")


def test_committed_doc_is_up_to_date_with_committed_results():
  """docs/results.md is what `python tools/report.py` writes from results/."""
  result = subprocess.run([sys.executable, "tools/report.py", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_paper_section_averages_runs_that_differ_only_in_their_seed(tmp_path):
  root = tmp_path / "results"
  # configs/semeval.py as it stands with seeds 1, 2 (one trained by hand with kept checkpoints)
  # and another config with seeds 1, 2: one summary row each; a config run once gets none.
  for name, overrides, f1, aggcn, dead in (
      ("current_seed1", {"seed": 1}, 80.0, 81.0, [(0.1, 0.2)]),
      ("current_seed2", {"seed": 2, "keep_checkpoints": 200}, 82.0, 82.0, [(0.3, 0.1)]),
      ("lowdrop_seed1", {"model.input_dropout": 0.3, "seed": 1}, 79.0, 79.0, []),
      ("lowdrop_seed2", {"model.input_dropout": 0.3, "seed": 2}, 79.5, 79.0, []),
      ("once", {"model.input_dropout": 0.4}, 70.0, 70.0, [])):
    add_run(root, "semeval_paper", name, "configs/semeval.py", overrides,
            {"macro_f1": f1, "aggcn_macro_f1": aggcn}, dead=dead,
            epoch_f1={"test": [f1 - 1.0, f1]})
  # current_seed2 was trained before optim.warmup_epochs existed: it ran as its default (0),
  # so it is still configs/semeval.py as it stands.
  saved = root / "semeval_paper" / "current_seed2" / "results.json"
  results = json.loads(saved.read_text())
  del results["config"]["optim"]["warmup_epochs"]
  saved.write_text(json.dumps(results))
  section = _reported_section(root, tmp_path, "semeval_paper")
  summary = section.split("runs (same config, other seeds)")[1]
  # 80, 82: mean 81, sample std 1.41; AGGCN 81, 82: 81.50 ± 0.71; last-10 means 79.5, 81.5.
  assert ("| current_seed1, current_seed2 | yes | 1, 2 | 2 | 81.00 ± 1.41 | 81.50 ± 0.71 | "
          "80.50 ± 1.41 | 0.30 | 0.20 |") in summary
  assert "| lowdrop_seed1, lowdrop_seed2 | no | 1, 2 | 2 | 79.25 ± 0.35 | 79.00 ± 0.00 |" in summary
  assert "once" not in summary


def test_tail_windows_section_tables_each_window_with_its_command(tmp_path):
  root = tmp_path / "results"
  folder = root / "tail_windows"
  folder.mkdir(parents=True)
  rows = [{"epochs": "46-150", "checkpoints": 105, "key": "params", "split": "test",
           "macro_f1": 82.123, "aggcn_macro_f1": 82.5, "accuracy": 80.0},
          {"epochs": "111-150", "checkpoints": 40, "key": "params", "split": "test",
           "macro_f1": 81.0}]
  (folder / "seed2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  (folder / "seed2.command.txt").write_text("python tools/average_checkpoints.py --workdir=w\n")
  section = _reported_section(root, tmp_path, "tail_windows")
  assert "| seed2 | 46-150 | 105 | `params` | test | 82.12 | 82.50 |" in section
  assert "| seed2 | 111-150 | 40 | `params` | test | 81.00 | — |" in section
  assert "- `seed2`: `python tools/average_checkpoints.py --workdir=w`" in section
  (folder / "seed2.command.txt").unlink()
  with pytest.raises(ValueError, match="seed2.command.txt is missing"):
    _reported_section(root, tmp_path, "tail_windows")


def test_probe_and_branch_death_sections(tmp_path):
  root = tmp_path / "results"
  add_run(root, "semeval_probe", "aggcn_fixed", suites.PROBE.config,
          {**suites.PROBE.overrides, **suites.PROBES["aggcn_fixed"]},
          {"macro_f1": 77.5, "aggcn_macro_f1": 78.25}, dead=[(0.04, 0.84), (0.9, 0.93)])
  add_run(root, "semeval_probe", "paper50_token_ln", suites.PAPER_PROBE.config,
          {**suites.PAPER_PROBE.overrides, **suites.PAPER_PROBES["paper50_token_ln"]},
          {"macro_f1": 80.0})
  add_run(root, *suites.PAPER_PROBE_BASELINES[42].split("/"), suites.PAPER_PROBE.config,
          suites.PAPER_PROBE.overrides, {"macro_f1": 79.0})   # what the probe is judged against
  metrics = root / "semeval_probe" / "aggcn_fixed" / "metrics.jsonl"
  with metrics.open("a") as f:
    for epoch, f1 in ((1, 41.0), (2, 77.5)):
      f.write(json.dumps({"step": epoch, "epoch": epoch, "split": "test",
                          "metrics": {"macro_f1": f1}}) + "\n")
  death = root / "branch_death"
  death.mkdir()
  layers = {"msgcn/combine": {"zero_frac": 0.95, "pre_mean": -0.057, "pre_std": 0.045,
                              "bias_mean": -0.029, "dead_units": 0.12},
            "msgcn/original_1": {"zero_frac": 0.8, "dead_units": 0.0},
            "mscnn/combine": {"zero_frac": 0.49, "dead_units": 0.0}}
  (death / "lr05.jsonl").write_text(
      json.dumps({"step": 10, "metrics": {"y_dead": 0.72, "x_dead": 0.04}, "layers": layers})
      + "\n")
  (death / "lr05.command.txt").write_text("python tools/diagnose_branches.py --config=x\n")
  doc = tmp_path / "results.md"
  doc.write_text(DOC)
  report.report(root, doc, tmp_path / "figures")
  text = doc.read_text()
  probe = _section(text, "semeval_probe")
  # Each probe names its base; its changes are only what it sets beyond that base.
  assert "| aggcn_fixed | configs/semeval_fast.py at 8 epochs | `optim.learning_rate=0.5`" in probe
  assert ("| paper50_token_ln | configs/semeval.py at 50 epochs | "
          "`model.branch_norm=token_layernorm` |") in probe
  assert "| 41.00 77.50 | 77.50 | 78.25 | 0.04 0.90 | 0.84 0.93 |" in probe
  death_table = _section(text, "branch_death")
  assert ("| lr05 | 10 | 0.72 | 0.04 | 0.95 | 0.12 | -0.057 | 0.045 | -0.029 | 0.80 | 0.49 |"
          in death_table)
  assert "`python tools/diagnose_branches.py --config=x`" in death_table
  (death / "lr05.command.txt").unlink()
  with pytest.raises(ValueError, match="command.txt is missing"):
    report.report(root, doc, tmp_path / "figures")


def _add_paper_run(root, suite, name, overrides, test_f1, raw_f1, dead, rate=0.3):
  """A 50-epoch configs/semeval.py run (a probe or the first epochs of its baseline) whose
  epoch e scores test_f1(e) and raw_f1(e), with `dead` (x, y) and `rate` at every epoch."""
  add_run(root, suite, name, suites.PAPER_PROBE.config,
          {**suites.PAPER_PROBE.overrides, **overrides}, {"macro_f1": test_f1(50)},
          dead=[dead] * 50, epoch_f1={"test": [test_f1(e) for e in range(1, 51)],
                                      "test_raw": [raw_f1(e) for e in range(1, 51)]},
          learning_rate=rate)


def _paper_probes(root: pathlib.Path, tmp_path: pathlib.Path) -> str:
  """The paper_probes section as written from `root` with this module's `suites`."""
  doc = tmp_path / "results.md"
  doc.write_text(DOC)
  report.report(root, doc, tmp_path / "figures", suites_module=suites)
  return _section(doc.read_text(), "paper_probes")


def test_paper_probe_section_judges_each_probe_against_its_seeds_baseline(tmp_path):
  root = tmp_path / "results"
  margin = suites.PAPER_PROBE_MARGIN
  # Baselines: seed 42 scores 80 at every epoch (raw 79), seed 1 scores 70 (raw 69).
  _add_paper_run(root, *suites.PAPER_PROBE_BASELINES[42].split("/"), {}, lambda e: 80.0,
                 lambda e: 79.0, (0.3, 0.4))
  _add_paper_run(root, *suites.PAPER_PROBE_BASELINES[1].split("/"), {"seed": 1},
                 lambda e: 70.0, lambda e: 69.0, (0.2, 0.45))
  # The token_ln probe on seed 42 gains the margin only over epochs 41-50 (one point there):
  # met. The GELU probe gains more but its y_dead reaches 0.5: not met.
  _add_paper_run(root, "semeval_probe", "paper50_token_ln",
                 suites.PAPER_PROBES["paper50_token_ln"],
                 lambda e: 81.0 if e > 40 else 79.0, lambda e: 78.5, (0.1, 0.2), rate=0.2)
  _add_paper_run(root, "semeval_probe", "paper50_gelu", suites.PAPER_PROBES["paper50_gelu"],
                 lambda e: 85.0, lambda e: 79.0, (0.1, 0.5), rate=0.4)
  section = _paper_probes(root, tmp_path)
  assert ("| paper50_token_ln | `model.branch_norm=token_layernorm` | 42 | "
          "semeval_paper/semeval_center_dropout_floor02_tail46 | 79.00 (80.00) | 79.00 (80.00) "
          "| 81.00 (80.00) | +1.00 | 78.50 (79.00) | 0.200 (0.300) | 0.10 (0.30) | 0.20 (0.40) "
          "| yes |") in section
  assert "| +5.00 | 79.00 (79.00) | 0.400 (0.300) | 0.10 (0.30) | 0.50 (0.40) | no |" in section
  # Two probes only: no correlation of the rate's difference with the F1 difference yet.
  assert "correlation" not in section
  assert f"at least {margin:.2f} above the baseline's" in section
  # A probe run with another seed is judged against that seed's run (a test-only name, as a
  # second-seed probe would be declared).
  suites.PAPER_PROBES["test_only_seed1"] = {"seed": 1}
  try:
    _add_paper_run(root, "semeval_probe", "test_only_seed1", {"seed": 1},
                   lambda e: 70.0 + margin, lambda e: 69.0, (0.2, 0.3))
    section = _paper_probes(root, tmp_path)
    assert (f"| test_only_seed1 | — | 1 | semeval_paper/semeval_center_dropout_floor02_tail46_seed1"
            f" | {70 + margin:.2f} (70.00) |") in section
    assert (f"| {margin:+.2f} | 69.00 (69.00) | 0.300 (0.300) | 0.20 (0.20) | 0.30 (0.45) "
            f"| yes |") in section
    # Three probes: rate differences -0.1, +0.1, 0 against F1 differences +1, +5, +margin.
    r = statistics.correlation([-0.1, 0.1, 0.0], [1.0, 5.0, margin])
    assert (f"Over the 3 probes, the correlation of the rate's difference from the baseline's "
            f"with the F1 difference, epochs 41-50: {r:+.2f}.") in section
    # Without its baseline in results/, the report names what is missing; a seed with no
    # baseline run is refused by name.
    shutil.rmtree(root / suites.PAPER_PROBE_BASELINES[1])
    with pytest.raises(ValueError, match="test_only_seed1 is measured against .*_seed1, which "
                                         "results/ lacks"):
      _paper_probes(root, tmp_path)
    with pytest.raises(ValueError, match=r"semeval_probe/x \(seed 7\): no configs/semeval.py"):
      suites.paper_probe_baseline("x", 7)
  finally:
    del suites.PAPER_PROBES["test_only_seed1"]


def test_paper_probe_section_judges_a_change_on_two_seeds_by_their_mean(tmp_path):
  root = tmp_path / "results"
  _add_paper_run(root, *suites.PAPER_PROBE_BASELINES[42].split("/"), {}, lambda e: 80.0,
                 lambda e: 79.0, (0.3, 0.4))
  _add_paper_run(root, *suites.PAPER_PROBE_BASELINES[1].split("/"), {"seed": 1},
                 lambda e: 70.0, lambda e: 69.0, (0.2, 0.45))
  # token_layernorm: +1.00 on seed 42 (met alone), -0.50 on seed 1: mean +0.25, not met.
  # refined=original: +0.40 and +0.30 (seed 1 short of the margin alone): mean +0.35, met.
  # GELU on one seed only: not in the over-seeds table.
  for name, f1 in (("paper50_token_ln", 81.0), ("paper50_token_ln_seed1", 69.5),
                   ("paper50_refined_original", 80.4),
                   ("paper50_refined_original_seed1", 70.3), ("paper50_gelu", 85.0)):
    _add_paper_run(root, "semeval_probe", name, suites.PAPER_PROBES[name],
                   lambda e, f1=f1: f1, lambda e: 69.0, (0.1, 0.2))
  section = _paper_probes(root, tmp_path)
  over_seeds = section.split("judged on the mean of its seeds' differences")[1]
  assert ("| `model.branch_norm=token_layernorm` | paper50_token_ln, paper50_token_ln_seed1 | "
          "42: +1.00, 1: -0.50 | +0.25 | no |") in over_seeds
  assert ("| `model.refined_adjacency=original` | paper50_refined_original, "
          "paper50_refined_original_seed1 | 42: +0.40, 1: +0.30 | +0.35 | yes |") in over_seeds
  assert "gelu" not in over_seeds
  assert "| +0.30 | 69.00 (69.00) | 0.300 (0.300) | 0.10 (0.20) | 0.20 (0.45) | no |" in section


def test_pubmed_probe_section_sets_each_probe_beside_its_baseline_fold(tmp_path):
  root = tmp_path / "results"
  probes = {r.name: r for r in suites.get_suite("pubmed_probe")}
  bases = {r.name: r for r in suites.get_suite("pubmed")}
  probe, base = probes["ternary_multi_fold0_center"], bases["ternary_multi_fold0"]
  for suite, run, acc, epochs in (
      ("pubmed_probe", probe, 88.0, [(70.0, 75.0, 0.01, 0.1), (80.0, 88.0, 0.02, 0.2)]),
      ("pubmed", base, 86.5, [(74.5, 76.5, 0.0, 0.2), (85.0, 86.5, 0.0, 0.6)]),
      ("pubmed_probe", probes["ternary_multi_fold1_center"], 80.0, [(70.0, 80.0, 0.0, 0.3)]),
      ("pubmed", bases["ternary_multi_fold1"], 81.0, [(70.0, 81.0, 0.0, 0.5)])):
    add_run(root, suite, run.name, run.config, run.all_overrides(), {"accuracy": acc},
            best_test={"accuracy": acc})
    lines = []
    for e, (dev, test, x, y) in enumerate(epochs, 1):
      lines += [{"step": e, "epoch": e, "split": "train_epoch",
                 "metrics": {"x_dead": x, "y_dead": y, "rep": 2.0 - x * 10}},
                {"step": e, "epoch": e, "split": "dev", "metrics": {"accuracy": dev}},
                {"step": e, "epoch": e, "split": "test", "metrics": {"accuracy": test}}]
    (root / suite / run.name / "metrics.jsonl").write_text(
        "".join(json.dumps(l) + "\n" for l in lines))
  section = _reported_section(root, tmp_path, "pubmed_probe")
  assert ("| ternary_multi_fold0_center | `loss.feature_centering=batch` | 88.00 | 70.00 80.00 | "
          "75.00 88.00 | 0.01 0.02 | 0.10 0.20 | 1.90 1.80 |") in section
  assert ("| baseline: pubmed/ternary_multi_fold0 | — | 86.50 | 74.50 85.00 | 76.50 86.50 | "
          "0.00 0.00 | 0.20 0.60 | 2.00 2.00 |") in section
  # Over the two folds: 88/80 against 86.5/81, paired differences +1.5 and -1.0.
  assert ("| ternary multi-class | `loss.feature_centering=batch` | 2 | 84.00 ± 5.66 | "
          "83.75 ± 3.89 | +0.25 ± 1.77 | 0.30 | 0.60 |") in section
  # Table 2 shows the centred folds as a row of their own, below the suite's.
  table2 = _reported_section(root, tmp_path, "pubmed")
  assert "| ternary, multi-class | none | 2 | 0, 1 | 83.75 ± 3.89 |" in table2
  assert "| ternary, multi-class | batch | 2 | 0, 1 | 84.00 ± 5.66 |" in table2
  (root / "pubmed" / base.name / "results.json").unlink()
  (root / "pubmed" / base.name / "command.txt").unlink()
  with pytest.raises(ValueError, match="pubmed/ternary_multi_fold0, which results/ lacks"):
    _reported_section(root, tmp_path, "pubmed_probe")


def test_fork_section_compares_the_forks_epochs_with_the_parents(tmp_path):
  root = tmp_path / "results"
  parent_path, step = suites.LATE_PARENT   # the end of epoch 92, 160 steps an epoch
  parent_run = {r.name: r for r in suites.get_suite("semeval_paper")}["semeval_center_dropout_ema"]
  fork_run = {r.name: r for r in suites.get_suite("semeval_late")}["wd5e4"]
  for suite, run in (("semeval_paper", parent_run), ("semeval_late", fork_run)):
    add_run(root, suite, run.name, run.config, run.all_overrides(), {"macro_f1": 80.0})

  def lines(test, raw, dead=()):
    rows = [{"step": 160 * e, "epoch": e, "split": split, "metrics": {"macro_f1": f1}}
            for split, values in (("test", test), ("test_raw", raw)) for e, f1 in values.items()]
    rows += [{"step": 160 * e, "epoch": e, "split": "train_epoch",
              "metrics": {"x_dead": x, "y_dead": y}} for e, (x, y) in dead.items()]
    return [r for e in sorted({r["epoch"] for r in rows}) for r in rows if r["epoch"] == e]

  parent = lines({91: 70.0, 92: 71.0, 93: 80.0, 94: 82.0}, {91: 60.0, 92: 61.0, 93: 78.0, 94: 78.0},
                 {91: (0.9, 0.9), 92: (0.9, 0.9), 93: (0.9, 0.9), 94: (0.9, 0.9)})
  fork = [r for r in parent if r["step"] <= step] + lines(
      {93: 82.0, 94: 83.0}, {93: 79.0, 94: 80.0}, {93: (0.1, 0.4), 94: (0.2, 0.3)})
  for suite, name, rows in (("semeval_paper", parent_run.name, parent),
                            ("semeval_late", fork_run.name, fork)):
    (root / suite / name / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  doc = tmp_path / "results.md"
  doc.write_text(DOC)
  report.report(root, doc, tmp_path / "figures")
  late = _section(doc.read_text(), "semeval_late")
  # Own epochs 93-94: 82.5 against the parent's 81.0 there (its last 10 epochs are the same
  # two); trained parameters 79.5 vs 78.0; the dead fractions of the fork's epochs only.
  assert (f"| wd5e4 | `optim.weight_decay=0.0005` | {parent_path}, epoch 92 | 93-94 | 82.50 | "
          f"81.00 | +1.50 | 93-94 | 82.50 | 81.00 | 79.50 | 78.00 | 0.20 | 0.40 | "
          f"`python -m msfml_jax.main" in late)


def test_speed_section_tables_benchmark_reports(tmp_path):
  root = tmp_path / "results"
  speed = root / "speed"
  speed.mkdir(parents=True)
  (speed / "semeval_loop_after.json").write_text(json.dumps(
      {"mode": "loop", "loop_samples_per_s": 566.3, "step_samples_per_s": 618.0,
       "loop_to_step_ratio": 0.916, "h2d_mb_per_step": 0.239, "compile_count": 13,
       "compile_seconds": 19.98, "pipeline_batches_per_s": 516.08,
       "end_of_epoch_seconds": 2.15, "peak_rss_mb": 2114.4}))
  (speed / "semeval_loop_after.command.txt").write_text("python tools/benchmark.py --mode=loop\n")
  (speed / "semeval_step_after.json").write_text(json.dumps(
      {"train_samples_per_s": 582.1, "eval_samples_per_s": 1502.8, "compile_seconds": 1.03,
       "peak_rss_mb": 1500.2}))
  (speed / "semeval_step_after.command.txt").write_text("python tools/benchmark.py\n")
  section = _reported_section(root, tmp_path, "speed")
  assert ("| semeval_loop_after | 566.3 | 618.0 | 0.916 | 0.239 | 13 | 20.0 | 516.1 | 2.1 | "
          "2114.4 |") in section
  assert "| semeval_step_after | 582.1 | 1502.8 | 1.0 | 1500.2 |" in section
  assert "- `semeval_loop_after`: `python tools/benchmark.py --mode=loop`" in section
