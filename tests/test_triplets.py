"""Anchor-triplet sampling: classes of S+ and S-, hard negatives, determinism, padding."""

import numpy as np

from msfml_jax.data import triplets


def _sampler(n=103, classes=4, seed=0):
  rng = np.random.default_rng(1)
  labels = rng.integers(0, classes, n)
  lengths = rng.integers(3, 60, n)
  return triplets.TripletSampler(labels, lengths, classes, seed), labels


def test_positive_same_class_negative_other_class():
  sampler, labels = _sampler()
  plan = sampler.plan(epoch=0, batch_size=10, hard_negatives=None)
  a, p, n = plan.anchors.ravel(), plan.positives.ravel(), plan.negatives.ravel()
  real = a >= 0
  assert real.sum() == len(labels)
  assert sorted(a[real]) == list(range(len(labels)))  # every record is an anchor once
  assert (labels[p[real]] == labels[a[real]]).all()
  assert (labels[n[real]] != labels[a[real]]).all()
  assert ((p < 0) == ~real).all() and ((n < 0) == ~real).all()


def test_positive_is_never_the_anchor_itself():
  sampler, labels = _sampler(n=60, classes=5)
  for epoch in range(5):
    plan = sampler.plan(epoch=epoch, batch_size=7, hard_negatives=None)
    a, p = plan.anchors.ravel(), plan.positives.ravel()
    real = a >= 0
    assert (a[real] != p[real]).all()
    assert (labels[p[real]] == labels[a[real]]).all()


def test_singleton_class_positive_falls_back_to_the_anchor():
  labels = np.array([0, 0, 0, 1])   # class 1 has one member, like Entity-Destination(e2,e1)
  sampler = triplets.TripletSampler(labels, np.full(4, 5), 2, seed=0)
  plan = sampler.plan(epoch=0, batch_size=4, hard_negatives=None)
  a, p = plan.anchors.ravel(), plan.positives.ravel()
  assert p[a == 3].tolist() == [3]
  assert (p[a != 3] != a[a != 3]).all()


def test_hard_negatives_are_used():
  sampler, labels = _sampler()
  hard = (labels + 1) % 4
  plan = sampler.plan(epoch=3, batch_size=10, hard_negatives=hard)
  a, n = plan.anchors.ravel(), plan.negatives.ravel()
  real = a >= 0
  assert (labels[n[real]] == hard[a[real]]).all()


def test_hard_negative_equal_to_gold_falls_back_to_random_other():
  sampler, labels = _sampler()
  plan = sampler.plan(epoch=1, batch_size=10, hard_negatives=labels.copy())
  a, n = plan.anchors.ravel(), plan.negatives.ravel()
  real = a >= 0
  assert (labels[n[real]] != labels[a[real]]).all()


def test_plan_is_a_pure_function_of_seed_and_epoch():
  sampler, _ = _sampler()
  p1 = sampler.plan(epoch=2, batch_size=8, hard_negatives=None)
  p2 = _sampler()[0].plan(epoch=2, batch_size=8, hard_negatives=None)
  p3 = sampler.plan(epoch=3, batch_size=8, hard_negatives=None)
  np.testing.assert_array_equal(p1.anchors, p2.anchors)
  np.testing.assert_array_equal(p1.negatives, p2.negatives)
  assert not np.array_equal(p1.anchors, p3.anchors)


def test_hard_negative_classes_is_second_choice_or_wrong_prediction():
  logits = np.array([[5.0, 3.0, 1.0], [1.0, 2.0, 9.0], [0.0, 4.0, 2.0]])
  labels = np.array([0, 1, 1])
  # right -> second choice (1); wrong -> the wrongly predicted class (2); right -> 2.
  np.testing.assert_array_equal(triplets.hard_negative_classes(logits, labels), [1, 2, 2])


def test_batches_are_length_bucketed():
  sampler, _ = _sampler(n=1000)
  plan = sampler.plan(epoch=0, batch_size=20, hard_negatives=None)
  # A batch is padded to its longest triplet member, so that is what the sort groups.
  longest = np.maximum.reduce([np.where(r >= 0, sampler.lengths[r], 0)
                               for r in (plan.anchors, plan.positives, plan.negatives)])
  spread = [np.ptp(row[row > 0]) for row in longest]
  assert np.mean(spread) < 0.25 * np.ptp(longest[longest > 0])
