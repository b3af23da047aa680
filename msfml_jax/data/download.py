"""Downloads the public datasets into a data directory (see tools/download_data.py).

Every file is streamed to a temporary name next to its destination, checked against its
sha256 when the manifest knows it, and renamed into place, so an interrupted or corrupted
download never leaves a file the loaders would read.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import pathlib
import shutil
import tempfile
import urllib.parse
import urllib.request
import zipfile

from absl import logging
import tqdm

_GITHUB = "https://raw.githubusercontent.com"
_AGGCN = f"{_GITHUB}/Cartus/AGGCN/395c63ca0cb4952c711fbf9cf5e05376df2c3743"
_MTB = f"{_GITHUB}/chen-yuxuan/MTB/93cc9d0bb739875460aad66f4c9204a6a95edca0"
_SEMEVAL_RAW = (f"{_GITHUB}/roomylee/rcnn-text-classification/"
                "e8c56295581a4150f77c6a589548d7bc66c52f99/SemEval2010_task8_all_data")
_GLOVE = "https://nlp.stanford.edu/data"


@dataclasses.dataclass(frozen=True)
class Entry:
  """One file to fetch. With `member`, `url` is a zip and `member` is extracted from it."""
  dataset: str
  url: str
  dest: str                 # relative to the data directory
  sha256: str | None = None  # of the downloaded file (the zip for members); None = unchecked
  member: str | None = None
  gzip_member: bool = False  # write the extracted member gzip-compressed


# Digests from /work/shared/data/README.md where the file there is the unchanged download.
_PUBMED_SHA = {
    ("binary", 0): "04deb98e28d83e80d2923ada95d5709ed583e450866488d05b1e947ae977cd70",
    ("binary", 1): "cfcbf520def1fdea9ec544f0a507ec4a31e827797e65bb195df0f9152f48da57",
    ("binary", 2): "be7445d63822f79f9ff268de8e57f7318427bf6f7dfde9449f28263772bc3432",
    ("binary", 3): "e4b1a7382ee8b67049006d13bdb45bc58c180cde656edcf59c2aebcb8e35b798",
    ("binary", 4): "3f1cc9976a9707830f46e383384e00c206a56c53333778be8b844f3c9f2bf715",
    ("ternary", 0): "88e956b022dc60e2cbb41c4cead991331492c7d0a354381716a7c44714511c82",
    ("ternary", 1): "1a9dd1b97ea5d155ecf47e23689a5ecd09eae0c3a4444a8f6c11fe8f5e9167e2",
    ("ternary", 2): "28c51adf691fbd629787dadb16fc3e537a489d3e4e1bc68a781a29ff32943bf1",
    ("ternary", 3): "517a05315c644bdc591d4913698d8965490b78bf40c8ac7c04063128dc56a66b",
    ("ternary", 4): "671df3cb290e45f47e7db24a90ccc335e16ce4576eeb242652edfd2ad9c5f5fc",
}
_PUBMED_DIRS = {"binary": "PubMed/Binary/dataset/bin_mul",
                "ternary": "PubMed/Tenary/dataset/ter_mul"}  # sic: AGGCN's "Tenary"

MANIFEST: tuple[Entry, ...] = (
    # AGGCN's CoreNLP-parsed SemEval (string heads); use with
    # --config.data.train_file=semeval/train_corenlp_aggcn.json (and test_file likewise).
    Entry("semeval", f"{_AGGCN}/semeval/dataset/semeval/test.json",
          "semeval/test_corenlp_aggcn.json",
          "e3f3a1d2076ee184ffea4ce4f5d48a6ee4dd5af4e1d6599d09f2bf41c9ff9a41"),
    Entry("semeval", f"{_AGGCN}/semeval/dataset/semeval/train.json",
          "semeval/train_corenlp_aggcn.json"),
    # Tokens, spans and directed labels in the official order (JSON lines, no parse): the
    # input of the shared data's make_semeval.py, which adds the spaCy parse of train/test.json.
    Entry("semeval", f"{_MTB}/data/semeval/train.json", "semeval/mtb/train.jsonl"),
    Entry("semeval", f"{_MTB}/data/semeval/test.json", "semeval/mtb/test.jsonl"),
    Entry("semeval", f"{_SEMEVAL_RAW}/SemEval2010_task8_training/TRAIN_FILE.TXT",
          "semeval/raw/TRAIN_FILE.TXT",
          "73cd76bf45c17257d9dba882655917109a863ccd42ad69ee6a34083a61202b51"),
    Entry("semeval", f"{_SEMEVAL_RAW}/SemEval2010_task8_testing_keys/TEST_FILE_FULL.TXT",
          "semeval/raw/TEST_FILE_FULL.TXT",
          "066b269d0bebbefaba2f347671b373d45fdecad9191513417572a07bc61b9566"),
    *(Entry("pubmed", f"{_AGGCN}/{_PUBMED_DIRS[arity]}/{k}/test.json",
            f"pubmed/{arity}/fold{k}.json", sha)
      for (arity, k), sha in _PUBMED_SHA.items()),
    Entry("glove", f"{_GLOVE}/glove.6B.zip", "glove/glove.6B.50d.txt.gz",
          member="glove.6B.50d.txt", gzip_member=True),
    Entry("glove840b", f"{_GLOVE}/glove.840B.300d.zip", "glove/glove.840B.300d.txt",
          member="glove.840B.300d.txt"),
)
DATASETS = tuple(dict.fromkeys(e.dataset for e in MANIFEST))


class ChecksumError(RuntimeError):
  """A downloaded file does not match its manifest digest."""


def mirror_url(url: str, base_url: str) -> str:
  """Replaces scheme and host of `url` by `base_url` (mirrors keep the URL path)."""
  if not base_url:
    return url
  return base_url.rstrip("/") + urllib.parse.urlsplit(url).path


def sha256_of(path: pathlib.Path) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    while chunk := f.read(1 << 22):
      h.update(chunk)
  return h.hexdigest()


def fetch(url: str, dest: pathlib.Path, sha256: str | None, progress: bool = True) -> None:
  """Streams `url` to `dest` atomically, checking `sha256` when given."""
  dest.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}-", dir=dest.parent)
  tmp = pathlib.Path(tmp_name)
  h = hashlib.sha256()
  try:
    with urllib.request.urlopen(url, timeout=60) as response, os.fdopen(fd, "wb") as out:
      total = int(response.headers.get("Content-Length") or 0) or None
      with tqdm.tqdm(total=total, unit="B", unit_scale=True, desc=dest.name,
                     disable=not progress) as bar:
        while chunk := response.read(1 << 20):
          out.write(chunk)
          h.update(chunk)
          bar.update(len(chunk))
    if sha256 and h.hexdigest() != sha256:
      raise ChecksumError(f"{url}: sha256 {h.hexdigest()} != expected {sha256}")
    os.replace(tmp, dest)
  finally:
    tmp.unlink(missing_ok=True)


def _extract(zip_path: pathlib.Path, member: str, dest: pathlib.Path, compress: bool) -> None:
  """Writes one zip member to `dest` atomically (gzip level 1 with `compress`)."""
  fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}-", dir=dest.parent)
  os.close(fd)
  tmp = pathlib.Path(tmp_name)
  try:
    with zipfile.ZipFile(zip_path) as zf, zf.open(member) as src:
      opener = (lambda p: gzip.open(p, "wb", compresslevel=1)) if compress else (
          lambda p: open(p, "wb"))
      with opener(tmp) as out:
        shutil.copyfileobj(src, out, 1 << 22)
    os.replace(tmp, dest)
  finally:
    tmp.unlink(missing_ok=True)


def download_entry(entry: Entry, data_dir: pathlib.Path, base_url: str = "",
                   force: bool = False, progress: bool = True) -> pathlib.Path:
  """Fetches one manifest entry unless its destination is already there."""
  dest = data_dir / entry.dest
  if dest.exists() and not force:
    if entry.member or not entry.sha256 or sha256_of(dest) == entry.sha256:
      logging.info("present: %s", dest)
      return dest
  url = mirror_url(entry.url, base_url)
  if not entry.sha256:
    logging.warning("no known sha256 for %s: not verified", url)
  if entry.member is None:
    fetch(url, dest, entry.sha256, progress)
    return dest
  archive = data_dir / ".downloads" / pathlib.PurePosixPath(entry.url).name
  if force or not archive.exists() or (entry.sha256 and sha256_of(archive) != entry.sha256):
    fetch(url, archive, entry.sha256, progress)
  dest.parent.mkdir(parents=True, exist_ok=True)
  _extract(archive, entry.member, dest, entry.gzip_member)
  return dest


def download(datasets: list[str], data_dir: pathlib.Path, base_url: str = "",
             force: bool = False, progress: bool = True) -> list[pathlib.Path]:
  """Fetches every manifest entry of `datasets`; returns the destination paths."""
  unknown = set(datasets) - set(DATASETS)
  if unknown:
    raise ValueError(f"unknown datasets {sorted(unknown)}; known: {DATASETS}")
  return [download_entry(e, data_dir, base_url, force, progress)
          for e in MANIFEST if e.dataset in datasets]
