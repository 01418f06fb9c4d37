"""Tests of targets.py: the issue-4 table from results files (stdlib only).

    python -m pytest bench/planted/test_targets.py
"""

import io
import json
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
import targets  # noqa: E402


def write(d: Path, name: str, summary: dict) -> Path:
    p = d / name
    p.write_text(json.dumps({"summary": summary}))
    return p


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", ["targets.py", *argv]), redirect_stdout(out), \
            redirect_stderr(err):
        code = targets.main()
    return code, out.getvalue(), err.getvalue()


class Targets(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        d = Path(self.tmp.name)
        self.files = {
            "naming": write(d, "naming.json", {"planted_slices": 10, "exact": 7}),
            "phrases": write(d, "phrases.json", {"planted_slices": 10, "named": 6}),
            "m1": write(d, "m1.json", {"planted_slices": 5, "named": 2}),
            "m2": write(d, "m2.json", {"planted_slices": 5, "named": 4}),
            "null": write(d, "null.json", {"runs": 20, "runs_without_slices": 19}),
        }
        self.flags(noisy=8, clean=1)

    def tearDown(self):
        self.tmp.cleanup()

    def flags(self, noisy: int, clean: int) -> None:
        self.files["flags"] = write(Path(self.tmp.name), "flags.json", {
            "rare": {"planted_slices": 5, "label_noise_flagged": clean},
            "correlation": {"planted_slices": 5, "label_noise_flagged": 0},
            "noisy_eval_labels_flagged": {"runs": 10, "flagged": noisy,
                                          "by_dataset": {"a": f"{noisy}/10"}}})

    def args(self) -> list[str]:
        f = self.files
        return ["--naming", str(f["naming"]), "--phrases", str(f["phrases"]),
                "--held-out", str(f["m1"]), str(f["m2"]), "--flags", str(f["flags"]),
                "--null", str(f["null"])]

    def test_every_target_at_its_limit_is_met(self):
        code, out, _ = run(*self.args())
        self.assertEqual(code, 0, out)
        self.assertIn("7 of 10", out)
        self.assertIn("6 of 10", out)                     # held-out 2 + 4 of 5 + 5
        self.assertIn("held-out settings, together", out)
        self.assertNotIn("NO", out)

    def test_held_out_files_count_together(self):
        # 2 of 5 alone is under 60%, but the target is on the held-out settings together.
        code, out, _ = run(*self.args())
        self.assertEqual(code, 0, out)
        line = next(ln for ln in out.splitlines() if "file 1" in ln)
        self.assertIn("2 of 5", line)
        self.assertIn(" -  ", line)
        self.files["m2"] = write(Path(self.tmp.name), "m2.json", {"planted_slices": 5, "named": 3})
        code, out, _ = run(*self.args())
        self.assertEqual(code, 1, out)
        self.assertIn(" NO ", next(ln for ln in out.splitlines() if "together" in ln))

    def test_a_missed_target_says_no_and_exits_1(self):
        self.flags(noisy=7, clean=2)                      # 70% < 80%, 20% > 10%
        code, out, _ = run(*self.args())
        self.assertEqual(code, 1)
        lines = [ln for ln in out.splitlines() if ln.endswith("flags.json")]
        self.assertEqual(len(lines), 2, out)
        self.assertTrue(all(" NO " in ln for ln in lines), out)
        self.assertIn("(a 7/10)", out)

    def test_missing_or_foreign_files_are_named(self):
        self.files["null"] = Path(self.tmp.name) / "absent.json"
        code, _, err = run(*self.args())
        self.assertEqual(code, 2)
        self.assertIn("absent.json: not found", err)
        self.files["null"] = self.files["naming"]
        code, _, err = run(*self.args())
        self.assertEqual(code, 2)
        self.assertIn("no 'runs'", err)

    def test_the_committed_results_read(self):
        # The files the benchmark wrote for schema 2.5 are all there and readable.
        code, out, err = run()
        self.assertIn(code, (0, 1), err)
        self.assertIn("no slice listed on errors at random", out)


if __name__ == "__main__":
    unittest.main()
