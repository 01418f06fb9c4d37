"""Unit tests of the benchmark's metrics and scoring on fake membership matrices.

    python -m unittest bench/planted/test_metrics.py      (bench venv; no slicescope, no torch)
"""

import sys
import unittest
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import metrics  # noqa: E402
import run_benchmark  # noqa: E402


class PrecisionAtK(unittest.TestCase):
    def test_ties_broken_by_row_order(self):
        scores = np.array([1.0, 1.0, 1.0, 0.0])
        mask = np.array([False, True, True, True])
        # stable sort: rows 0, 1 first
        self.assertEqual(metrics.precision_at_k(scores, mask, 2), 0.5)
        self.assertAlmostEqual(metrics.precision_at_k(scores, mask, 3), 2 / 3)

    def test_k_larger_than_n(self):
        self.assertEqual(metrics.precision_at_k(np.arange(4.0), np.array([1, 1, 0, 0], bool), 10), 0.5)


class BestMatch(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(0)
        self.n = 1000
        self.mask = np.zeros(self.n, bool)
        self.mask[100:150] = True
        noise = rng.random((self.n, 3))
        noise[:, 1] += self.mask * 2.0              # column 1 is the planted slice
        noise[:, 2] = -noise[:, 1]                  # column 2 is its reversal
        self.m = noise

    def test_perfect_slice(self):
        r = metrics.best_match(self.m[:, :2], self.mask)
        self.assertEqual(r["slice"], 1)
        self.assertFalse(r["complement"])
        self.assertEqual((r["p10"], r["p25"]), (1.0, 1.0))
        self.assertAlmostEqual(r["ap"], 1.0)
        self.assertTrue(r["recovered"])

    def test_complement_counts(self):
        r = metrics.best_match(self.m[:, [0, 2]], self.mask)
        self.assertEqual(r["slice"], 1)
        self.assertTrue(r["complement"])
        self.assertEqual(r["p10"], 1.0)

    def test_random_slice_not_recovered(self):
        r = metrics.best_match(self.m[:, :1], self.mask)
        self.assertLess(r["ap"], 0.2)
        self.assertFalse(r["recovered"])

    def test_ap_matches_sklearn(self):
        from sklearn.metrics import average_precision_score
        r = metrics.best_match(self.m[:, :1], self.mask)
        ap0 = average_precision_score(self.mask, self.m[:, 0])
        ap1 = average_precision_score(self.mask, -self.m[:, 0])
        self.assertAlmostEqual(r["ap"], max(ap0, ap1))

    def test_no_slices(self):
        r = metrics.best_match(np.zeros((self.n, 0)), self.mask)
        self.assertEqual((r["ap"], r["p10"], r["slice"]), (0.0, 0.0, None))

    def test_shape_mismatch(self):
        with self.assertRaises(ValueError):
            metrics.best_match(np.zeros((10, 2)), self.mask)


class SlicescopeColumns(unittest.TestCase):
    """The scoring of a slicescope result: which membership columns are used for a view / budget."""

    def test_columns_for_view_and_budget(self):
        result = {"slices": [
            {"slicer": "mixture", "view": "act", "found_by": [{"slicer": "mixture", "view": "act"}]},
            {"slicer": "spotlight", "view": "fm", "found_by": [{"slicer": "spotlight", "view": "fm"},
                                                              {"slicer": "mixture", "view": "act"}]},
            {"slicer": "direction", "view": "fm", "found_by": [{"slicer": "direction", "view": "fm"}]},
        ]}
        self.assertEqual(run_benchmark.slicescope_columns(result, None, None), [0, 1, 2])
        self.assertEqual(run_benchmark.slicescope_columns(result, None, 2), [0, 1])
        self.assertEqual(run_benchmark.slicescope_columns(result, "act", None), [0, 1])
        self.assertEqual(run_benchmark.slicescope_columns(result, "fm", 1), [1])

    def test_fake_membership_end_to_end(self):
        n = 200
        mask = np.zeros(n, bool)
        mask[:20] = True
        memb = np.zeros((n, 2), np.float32)
        memb[:, 0] = np.random.default_rng(1).random(n)  # unrelated
        memb[:20, 1] = 1.0                  # the planted slice
        result = {"slices": [{"slicer": "mixture", "view": "act", "found_by": []},
                             {"slicer": "spotlight", "view": "fm", "found_by": []}]}
        r = run_benchmark.score_slicescope(result, memb, [mask], view=None, budget=None)
        self.assertEqual(r[0]["p10"], 1.0)
        self.assertEqual(r[0]["slice"], 1)
        r = run_benchmark.score_slicescope(result, memb, [mask], view=None, budget=1)
        self.assertFalse(r[0]["recovered"])


class Aggregates(unittest.TestCase):
    def test_ratio_and_targets(self):
        t = run_benchmark.targets({"p10": 0.9}, {"p10": 0.5}, 0.85)
        self.assertTrue(all(x["met"] for x in t))
        t = run_benchmark.targets({"p10": 0.6}, {"p10": 0.5}, 0.5)
        self.assertEqual([x["met"] for x in t], [False, False, False])
        self.assertAlmostEqual(t[0]["missed_by"], 0.2)


if __name__ == "__main__":
    unittest.main()
