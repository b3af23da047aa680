"""Rebuilds the generated tables of docs/results.md, and its figures, from results/.

  python tools/report.py           # rewrites the marked sections and docs/figures/*.png
  python tools/report.py --check   # exit 1 if docs/results.md differs from what it would write

results/<suite>/<run>/ holds what `tools/reproduce.py` copies there: results.json,
metrics.jsonl and command.txt. Each generated section of docs/results.md lies between

  <!-- report:NAME begin -->
  <!-- report:NAME end -->

and everything between those lines is replaced; the rest of the file is left as written.
The sections (`report_tables.SECTIONS`: ablation, pubmed, pubmed_probe, semeval_paper, semeval_late, semeval_sweep with
docs/figures/semeval_sweep.png, semeval_probe, branch_death, speed, runs) are built in
tools/report_tables.py (the PubMed ones in report_pubmed.py, on report_common.py's reading
and formatting); this file renders the document and the figures.
"""

from __future__ import annotations

import difflib
import os
import pathlib
import re
import statistics
import sys
from typing import Mapping, Sequence

from absl import app, flags

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import reproduce  # pylint: disable=wrong-import-position
from report_tables import (SECTIONS, Entry, in_suite, metric_values,  # pylint: disable=wrong-import-position
                           read_results, sweep_points)

_MARKER = re.compile(r"<!-- report:(?P<name>[a-z_]+) (?P<end>begin|end) -->")


# --- Figures -----------------------------------------------------------------------------------

def sweep_plot_rows(entries: Sequence[Entry]) -> list[dict[str, float]]:
  """One row per sweep point with a macro-F1: alpha, beta and the mean over its runs."""
  points = sweep_points(in_suite(entries, "semeval_sweep"))
  return [{"alpha": a, "beta": b, "value": statistics.fmean(values)}
          for (a, b), runs in sorted(points.items())
          if (values := metric_values(runs, "macro_f1"))]


def write_sweep_figure(rows: Sequence[Mapping[str, float]], path: pathlib.Path) -> None:
  """macro-F1 against alpha and against beta (plotting.plot_sweep), as PNG."""
  from msfml_jax import plotting  # pylint: disable=import-outside-toplevel (matplotlib, jax)
  fig = plotting.plot_sweep(rows, "value", label="macro-F1 (official, last epoch)")
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=110, metadata={"Software": None})


# section name -> (file name under the figures folder, its data from the entries, its writer)
FIGURES = {"semeval_sweep": ("semeval_sweep.png", sweep_plot_rows, write_sweep_figure)}


# --- The document ------------------------------------------------------------------------------

def split_sections(text: str, doc: str = "docs/results.md") -> list[str]:
  """The names of the marked sections, in order; malformed markers are an error."""
  names, open_name = [], None
  for n, line in enumerate(text.splitlines(), 1):
    m = _MARKER.fullmatch(line.strip())
    if not m:
      if line.strip().startswith("<!-- report:"):
        raise ValueError(f"{doc}:{n}: malformed marker {line.strip()!r} "
                         "(expected '<!-- report:NAME begin -->' or '... end -->')")
      continue
    name, is_end = m["name"], m["end"] == "end"
    if not is_end and open_name is None:
      open_name = name
    elif is_end and open_name == name:
      names.append(name)
      open_name = None
    else:
      raise ValueError(f"{doc}:{n}: {line.strip()!r} does not close "
                       f"{'section ' + open_name if open_name else 'an open section'}")
  if open_name is not None:
    raise ValueError(f"{doc}: section {open_name!r} is never closed")
  return names


def render(text: str, sections: Mapping[str, str], doc: str = "docs/results.md") -> str:
  """`text` with the body of every marked section replaced by `sections[name]`."""
  names = split_sections(text, doc)
  unknown = [n for n in names if n not in sections]
  if unknown:
    raise ValueError(f"{doc}: unknown report sections {unknown} (known: {', '.join(sections)})")
  missing = [n for n in sections if n not in names]
  if missing:
    raise ValueError(f"{doc} lacks the sections {missing}: add "
                     + ", ".join(f"'<!-- report:{n} begin -->' ... '<!-- report:{n} end -->'"
                                 for n in missing))
  for name in names:
    pattern = re.compile(rf"(<!-- report:{name} begin -->\n).*?(<!-- report:{name} end -->)",
                         re.DOTALL)
    text = pattern.sub(lambda m: m[1] + sections[name].rstrip("\n") + "\n" + m[2], text)
  return text


def build(results_dir: pathlib.Path, doc: pathlib.Path, figures_dir: pathlib.Path,
          write_figures: bool = True, suites_module=None) -> tuple[str, list[pathlib.Path]]:
  """The new text of `doc` and the figures it references (written when `write_figures`)."""
  entries = read_results(results_dir)
  figures, paths = {}, []
  for name, (filename, data, write) in FIGURES.items():
    rows = data(entries)
    if rows:
      path = figures_dir / filename
      if write_figures:
        write(rows, path)
      figures[name] = pathlib.Path(os.path.relpath(path, doc.parent)).as_posix()
      paths.append(path)
  context = {"suites": suites_module or reproduce.load_suites(), "figures": figures,
             "results_dir": results_dir}
  sections = {name: make(entries, context) for name, make in SECTIONS.items()}
  return render(doc.read_text(encoding="utf-8"), sections, str(doc)), paths


def report(results_dir: pathlib.Path, doc: pathlib.Path, figures_dir: pathlib.Path,
           check: bool = False, suites_module=None) -> int:
  """Writes (or, with `check`, compares) the document; returns the CLI's exit status."""
  new, figures = build(results_dir, doc, figures_dir, write_figures=not check,
                       suites_module=suites_module)
  old = doc.read_text(encoding="utf-8")
  if check:
    missing = [p for p in figures if not p.is_file()]
    if new != old or missing:
      diff = "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                          str(doc), "generated", n=1))
      print(diff[:4000] + ("\n[diff truncated]" if len(diff) > 4000 else ""))
      for p in missing:
        print(f"missing figure: {p}")
      print(f"{doc} is out of date with {results_dir}: run python tools/report.py")
      return 1
    print(f"{doc} is up to date with {results_dir}")
    return 0
  if new != old:
    doc.write_text(new, encoding="utf-8")
  print(f"wrote {doc}" + "".join(f" and {p}" for p in figures))
  return 0


def main(argv: Sequence[str]) -> None:
  del argv
  f = flags.FLAGS
  try:
    status = report(pathlib.Path(f.results_dir), pathlib.Path(f.doc),
                    pathlib.Path(f.figures_dir), f.check)
  except (ValueError, FileNotFoundError) as e:
    sys.exit(f"report: {e}")
  sys.exit(status)


def define_flags() -> None:
  """Flags, defined on demand so that importing this file (tests) defines none."""
  flags.DEFINE_string("results_dir", str(REPO / "results"), "Run summaries: DIR/<suite>/<run>.")
  flags.DEFINE_string("doc", str(REPO / "docs" / "results.md"), "The document to rebuild.")
  flags.DEFINE_string("figures_dir", str(REPO / "docs" / "figures"), "Where plots go.")
  flags.DEFINE_bool("check", False, "Exit 1 if the document differs from what would be written.")


if __name__ == "__main__":
  define_flags()
  app.run(main)
