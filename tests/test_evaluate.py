"""Scorers: hand-computed SemEval/TACRED/PubMed cases and a check against the official scorer."""

import numpy as np
import pytest

from msfml_jax import config_base, evaluate, paths, tasks

CE, CW, MT, O = "Cause-Effect", "Component-Whole", "Message-Topic", "Other"
UNDIRECTED = [O, CE, CW, MT]


def test_semeval_undirected_macro_f1_by_hand():
  gold = [CE, CE, CE, CW, CW, MT, O, O]
  pred = [CE, CE, CW, CW, O, CE, CE, O]
  s = evaluate.semeval_scores(pred, gold, UNDIRECTED, directed=False)
  # CE: 2 correct of 4 predicted, 3 gold -> P 50, R 66.7, F1 4/7. CW: 1/2, 1/2 -> 50. MT: 0.
  assert s[f"p/{CE}"] == pytest.approx(50.0)
  assert s[f"r/{CE}"] == pytest.approx(200 / 3)
  assert s[f"f1/{CE}"] == pytest.approx(400 / 7)
  assert s[f"f1/{CW}"] == pytest.approx(50.0)
  assert s[f"f1/{MT}"] == 0.0
  assert s["macro_f1"] == pytest.approx((400 / 7 + 50.0) / 3)
  assert s["macro_p"] == pytest.approx(100 / 3)
  assert s["macro_r"] == pytest.approx((200 / 3 + 50.0) / 3)
  # Micro over the relations only: 3 correct, 6 predicted, 6 gold.
  assert s["micro_f1"] == pytest.approx(50.0)
  assert s["accuracy"] == pytest.approx(50.0)  # 4 of 8, Other-Other included


def test_semeval_other_is_never_a_relation():
  gold = [CE, CE, CE, CW, CW, MT, O, O]
  pred = [CE, CE, CW, CW, O, CE, CE, O]
  s = evaluate.semeval_scores(pred, gold, UNDIRECTED, directed=False)
  assert not any(k.endswith("/Other") for k in s)
  # Other's own F1 here is 50; averaging it in would give 39.3, not 35.7.
  assert s["macro_f1"] == pytest.approx((400 / 7 + 50.0 + 0.0) / 3)
  # Only Other in the gold labels: no relation to average over, however right Other is.
  all_other = evaluate.semeval_scores([O] * 3, [O] * 3, UNDIRECTED, directed=False)
  assert all_other["macro_f1"] == 0.0 and all_other["accuracy"] == 100.0


def test_semeval_accepts_label_ids_and_returns_confusion():
  gold = [CE, CE, CE, CW, CW, MT, O, O]
  pred = [CE, CE, CW, CW, O, CE, CE, O]
  by_name = evaluate.semeval_scores(pred, gold, UNDIRECTED, directed=False)
  ids = {n: i for i, n in enumerate(UNDIRECTED)}
  by_id = evaluate.semeval_scores(np.array([ids[x] for x in pred]),
                                  np.array([ids[x] for x in gold]), UNDIRECTED, directed=False)
  assert by_id["macro_f1"] == by_name["macro_f1"]
  matrix = by_id["confusion"]
  assert matrix.shape == (4, 4) and matrix.sum() == 8
  assert matrix[ids[CE], ids[CW]] == 1 and matrix[ids[O], ids[CE]] == 1  # [gold, predicted]
  assert "C-E" in by_id["confusion_table"] and "_O_" in by_id["confusion_table"]


def test_semeval_wrong_direction_is_wrong_only_in_directed_mode():
  names = [O, f"{CE}(e1,e2)", f"{CE}(e2,e1)"]
  gold = [f"{CE}(e1,e2)", f"{CE}(e2,e1)", O]
  pred = [f"{CE}(e2,e1)", f"{CE}(e2,e1)", O]
  s = evaluate.semeval_scores(pred, gold, names, directed=True)
  # Official: 1 correct; the wrong-direction one still counts as predicted CE -> P = R = 50.
  assert s[f"p/{CE}"] == pytest.approx(50.0) and s[f"r/{CE}"] == pytest.approx(50.0)
  assert s["macro_f1"] == pytest.approx(50.0)
  assert s["wrong_direction"] == 1.0
  assert s["accuracy"] == pytest.approx(200 / 3)
  assert s["undirected/macro_f1"] == pytest.approx(100.0)
  assert s["undirected/accuracy"] == pytest.approx(100.0)
  # 18+1 way: CE(e1,e2) F1 0; CE(e2,e1) P 50, R 100 -> F1 66.7; macro over the two.
  assert s["19way/macro_f1"] == pytest.approx((0 + 200 / 3) / 2)
  assert s["confusion"].shape == (3, 3)


def test_semeval_perfect_predictions_score_100():
  gold = [CE, CW, MT, O, CE]
  s = evaluate.semeval_scores(gold, gold, UNDIRECTED, directed=False)
  for key in ("accuracy", "macro_p", "macro_r", "macro_f1", "micro_f1"):
    assert s[key] == pytest.approx(100.0)
  directed = [f"{CE}(e2,e1)", f"{MT}(e1,e2)", O]
  d = evaluate.semeval_scores(directed, directed, [O, f"{CE}(e2,e1)", f"{MT}(e1,e2)"], True)
  for key in ("macro_f1", "19way/macro_f1", "undirected/macro_f1", "accuracy"):
    assert d[key] == pytest.approx(100.0)


def _official_key_file():
  path = paths.resolve_data_dir() / "semeval" / "raw" / "test_key_directed.txt"
  if not path.exists():
    pytest.skip(f"{path} not found")
  return path


def test_semeval_matches_official_perl_scorer_on_the_test_key():
  """Expected numbers printed by semeval2010_task8_scorer-v1.2.pl on this perturbation."""
  key = evaluate.read_semeval_answer_file(str(_official_key_file()))
  gold = [key[i] for i in sorted(key)]
  names = [O] + sorted(set(gold) - {O})
  flip = {"(e1,e2)": "(e2,e1)", "(e2,e1)": "(e1,e2)"}

  def perturb(i, label):
    if i % 7 == 0 and label != O:
      return label[:-7] + flip[label[-7:]]
    if i % 5 == 0:
      return O
    if i % 11 == 0:
      return names[(names.index(label) + 3) % len(names)]
    return label

  s = evaluate.semeval_scores([perturb(i, g) for i, g in enumerate(gold)], gold, names, True)
  expected = {"macro_f1": 67.8388618635, "macro_p": 74.0948155443, "micro_f1": 68.2155688623,
              "accuracy": 68.1266102319, "19way/macro_f1": 61.0976758790,
              "undirected/macro_f1": 83.1492451642, "undirected/micro_f1": 83.2574850299}
  for k, v in expected.items():
    assert s[k] == pytest.approx(v, abs=1e-8), k


def test_answer_file_round_trip(tmp_path):
  path = tmp_path / "answers.txt"
  evaluate.write_semeval_answer_file(str(path), [8001, 8002], [f"{MT}(e1,e2)", O])
  assert path.read_text() == f"8001\t{MT}(e1,e2)\n8002\tOther\n"
  assert evaluate.read_semeval_answer_file(str(path)) == {8001: f"{MT}(e1,e2)", 8002: O}
  with pytest.raises(ValueError, match="not a directed SemEval label"):
    evaluate.write_semeval_answer_file(str(path), [8001], [MT])


def test_tacred_micro_by_hand():
  names = ["no_relation", "per:title", "org:founded"]
  gold = ["per:title", "per:title", "org:founded", "no_relation", "no_relation"]
  pred = ["per:title", "org:founded", "org:founded", "per:title", "no_relation"]
  s = evaluate.tacred_scores(pred, gold, names, "no_relation")
  assert s["micro_p"] == pytest.approx(50.0)       # 2 correct / 4 predicted relations
  assert s["micro_r"] == pytest.approx(200 / 3)    # 2 / 3 gold relations
  assert s["micro_f1"] == pytest.approx(400 / 7)


def test_tacred_all_no_relation_gives_zero_f1():
  names = ["no_relation", "per:title"]
  s = evaluate.tacred_scores(np.zeros(4, int), np.array([1, 0, 1, 0]), names, "no_relation")
  assert s["micro_f1"] == 0.0 and s["micro_r"] == 0.0
  assert s["micro_p"] == 100.0  # scorer.py's convention when nothing is predicted
  nothing = evaluate.tacred_scores(np.zeros(2, int), np.zeros(2, int), names, "no_relation")
  assert nothing["micro_f1"] == 0.0


def test_pubmed_split_accuracies():
  s = evaluate.pubmed_scores([0, 1, 1, 2, 0], [0, 1, 2, 2, 1], [False, False, True, True, True])
  assert s["accuracy"] == pytest.approx(60.0)
  assert s["accuracy_single"] == pytest.approx(100.0)
  assert s["accuracy_cross"] == pytest.approx(100 / 3)
  assert (s["n"], s["n_single"], s["n_cross"]) == (5.0, 2.0, 3.0)
  single_only = evaluate.pubmed_scores([1, 0], [1, 1], [False, False])
  assert "accuracy_cross" not in single_only and single_only["accuracy_single"] == 50.0


def test_average_folds():
  folds = [{"accuracy": 50.0, "accuracy_cross": 20.0, "confusion": np.eye(2), "note": "x"},
           {"accuracy": 70.0, "accuracy_cross": np.float64(40.0)},
           {"accuracy": 60.0}]
  avg = evaluate.average_folds(folds)
  assert avg["accuracy"] == pytest.approx(60.0)
  assert avg["accuracy_std"] == pytest.approx(np.std([50, 70, 60]))
  assert avg["accuracy_cross"] == pytest.approx(30.0)  # over the two folds that have it
  assert avg["num_folds"] == 3.0
  assert "confusion" not in avg and "note" not in avg


def _config(task: str, **data):
  c = config_base.base_config()
  c.data.task = task
  c.data.update(data)
  return c


@pytest.mark.parametrize("task,data,labels,metric,negative", [
    ("semeval", {}, [O, CE], "macro_f1", O),
    ("semeval", {"directed": True}, [O, f"{CE}(e1,e2)"], "macro_f1", O),
    ("tacred", {}, ["no_relation", "per:title"], "micro_f1", "no_relation"),
    ("pubmed", {"label_set": "multi"}, ["None", "resistance"], "accuracy", "None"),
    ("pubmed", {"label_set": "binary"}, ["No", "Yes"], "accuracy", "No"),
    ("custom", {"negative_label": "Other"}, [O, CE], "micro_f1", O),
    ("custom", {}, ["a", "b"], "micro_f1", None),
])
def test_every_task_scores_through_the_registry(task, data, labels, metric, negative):
  config = _config(task, **data)
  t = tasks.get(config)
  assert t.name == task and t.main_metric(config) == metric
  assert t.negative_label(config) == negative
  s = t.score(config, [1, 0], [1, 0], labels, cross_sentence=[False, True])
  assert s[metric] == 100.0 and s["accuracy"] == 100.0
  if negative is not None:  # only the negative class predicted, one real relation missed
    wrong = t.score(config, [0, 0], [0, 1], labels, cross_sentence=[False, False])
    assert wrong[metric] == (50.0 if metric == "accuracy" else 0.0)


def test_registry_refuses_unknown_tasks_and_pubmed_needs_cross_sentence():
  with pytest.raises(ValueError, match="unknown data.task 'conll'"):
    tasks.get(_config("conll"))
  config = _config("pubmed")
  with pytest.raises(ValueError, match="cross_sentence"):
    tasks.get(config).score(config, [1], [1], ["None", "Yes"])
  assert tasks.get({"data": {"task": "tacred"}}).name == "tacred"  # a plain dict (results.json)


def test_custom_negative_label_is_not_scored_as_a_relation():
  # The case: all-Other predictions on [Other, Other, Other, Cause-Effect]. Scored
  # with no_relation as the negative by name this was micro-F1 75.0; it must be 0.
  gold, pred = [O, O, O, CE], [O, O, O, O]
  config = _config("custom", negative_label=O)
  s = tasks.get(config).score(config, pred, gold, [O, CE])
  assert s["micro_f1"] == 0.0 and s["macro_f1"] == 0.0 and s["accuracy"] == 75.0
  with pytest.raises(ValueError, match="negative label 'no_relation' is not among"):
    evaluate.tacred_scores(pred, gold, [O, CE], "no_relation")
  # "" = every label is a relation: micro-F1 is then the accuracy.
  every = evaluate.relation_scores(pred, gold, [O, CE], "")
  assert every["micro_f1"] == pytest.approx(75.0) and every["macro_f1"] == pytest.approx(
      (2 * 75 * 100 / 175 + 0) / 2)


def test_custom_macro_f1_equals_semeval_macro_f1():
  gold = [CE, CE, CE, CW, CW, MT, O, O]
  pred = [CE, CE, CW, CW, O, CE, CE, O]
  custom = evaluate.relation_scores(pred, gold, UNDIRECTED, O)
  semeval = evaluate.semeval_scores(pred, gold, UNDIRECTED, directed=False)
  for key in ("macro_p", "macro_r", "macro_f1", "micro_p", "micro_r", "micro_f1", "accuracy"):
    assert custom[key] == pytest.approx(semeval[key]), key
  assert custom[f"f1/{CE}"] == pytest.approx(400 / 7)


def _harmonic(p, r):
  return 2 * p * r / (p + r)


def test_aggcn_macro_f1_by_hand_undirected():
  """AGGCN's scorer: harmonic mean of macro-P (over predicted relations) and macro-R (over
  gold relations), Other excluded, 1e-4 added to each denominator (Cartus/AGGCN scorer.py)."""
  gold = [CE, CE, CE, CW, CW, MT, O, O]
  pred = [CE, CE, CW, CW, O, CE, CE, O]
  s = evaluate.semeval_scores(pred, gold, UNDIRECTED, directed=False)
  # Predicted: CE 4 (2 right), CW 2 (1 right); MT never predicted, so not in macro-P.
  p = (2 / 4.0001 + 1 / 2.0001) / 2
  r = (2 / 3.0001 + 1 / 2.0001 + 0 / 1.0001) / 3
  assert s["aggcn_macro_p"] == pytest.approx(100 * p)
  assert s["aggcn_macro_r"] == pytest.approx(100 * r)
  assert s["aggcn_macro_f1"] == pytest.approx(100 * _harmonic(p, r))
  # Not the official mean of per-relation F1 (which is (4/7 + 1/2 + 0) / 3 here).
  assert abs(s["aggcn_macro_f1"] - s["macro_f1"]) > 1.0


def test_aggcn_macro_f1_by_hand_directed():
  names = [O, f"{CE}(e1,e2)", f"{CE}(e2,e1)"]
  gold = [f"{CE}(e1,e2)", f"{CE}(e2,e1)", O]
  pred = [f"{CE}(e2,e1)", f"{CE}(e2,e1)", O]
  s = evaluate.semeval_scores(pred, gold, names, directed=True)
  p, r = 1 / 2.0001, (0 + 1 / 1.0001) / 2      # over the directed labels
  assert s["aggcn_macro_f1"] == pytest.approx(100 * _harmonic(p, r))
  assert s["undirected/aggcn_macro_f1"] == pytest.approx(100 * 2 / 2.0001)


def test_aggcn_macro_f1_nothing_predicted_is_zero():
  s = evaluate.semeval_scores([O, O], [CE, O], UNDIRECTED, directed=False)
  assert s["aggcn_macro_f1"] == 0.0 and s["aggcn_macro_p"] == 0.0
