"""tools/download_data.py against a loopback HTTP mirror (never the network)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import pathlib
import subprocess
import sys
import threading
import urllib.parse
import zipfile

import pytest

from msfml_jax.data import download

_REPO = pathlib.Path(__file__).resolve().parent.parent


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
  requests: list[str] = []

  def log_message(self, *args):  # keep pytest output clean
    pass

  def do_GET(self):
    _QuietHandler.requests.append(self.path)
    super().do_GET()


@pytest.fixture()
def mirror(tmp_path):
  """Serves tmp_path/mirror on 127.0.0.1; yields (root dir, base URL)."""
  root = tmp_path / "mirror"
  root.mkdir()
  handler = functools.partial(_QuietHandler, directory=str(root))
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  _QuietHandler.requests = []
  yield root, f"http://127.0.0.1:{server.server_address[1]}"
  server.shutdown()
  server.server_close()


def _serve(root: pathlib.Path, url: str, data: bytes) -> str:
  """Puts `data` where the mirror serves `url`'s path; returns its sha256."""
  path = root / urllib.parse.urlsplit(url).path.lstrip("/")
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_bytes(data)
  return hashlib.sha256(data).hexdigest()


def test_mirror_url():
  url = "https://raw.githubusercontent.com/Cartus/AGGCN/abc/x/test.json"
  mirrored = download.mirror_url(url, "http://m:1/base/")
  assert mirrored == "http://m:1/base/Cartus/AGGCN/abc/x/test.json"
  assert download.mirror_url(url, "") == url


def test_download_files_and_zip_member(mirror, tmp_path, monkeypatch):
  root, base = mirror
  sha = _serve(root, "https://example.org/a/fold0.json", b"[]")
  _serve(root, "https://example.org/a/nosha.json", b"[1]")
  archive = tmp_path / "g.zip"
  with zipfile.ZipFile(archive, "w") as zf:
    zf.writestr("glove.tiny.txt", "the 1 2\n")
    zf.writestr("other.txt", "x")
  zip_sha = _serve(root, "https://example.org/data/glove.zip", archive.read_bytes())
  monkeypatch.setattr(download, "MANIFEST", (
      download.Entry("pubmed", "https://example.org/a/fold0.json", "pubmed/fold0.json", sha),
      download.Entry("pubmed", "https://example.org/a/nosha.json", "pubmed/nosha.json"),
      download.Entry("glove", "https://example.org/data/glove.zip", "glove/tiny.txt.gz", zip_sha,
                     member="glove.tiny.txt", gzip_member=True)))
  monkeypatch.setattr(download, "DATASETS", ("pubmed", "glove"))
  data_dir = tmp_path / "data"
  paths = download.download(["pubmed", "glove"], data_dir, base, progress=False)
  assert [p.relative_to(data_dir).as_posix() for p in paths] == [
      "pubmed/fold0.json", "pubmed/nosha.json", "glove/tiny.txt.gz"]
  assert (data_dir / "pubmed" / "fold0.json").read_bytes() == b"[]"
  assert gzip.decompress((data_dir / "glove" / "tiny.txt.gz").read_bytes()) == b"the 1 2\n"
  served = len(_QuietHandler.requests)
  download.download(["pubmed", "glove"], data_dir, base, progress=False)
  assert len(_QuietHandler.requests) == served  # everything present: nothing fetched again
  with pytest.raises(ValueError, match="unknown datasets"):
    download.download(["tacred"], data_dir, base)


def test_checksum_mismatch_leaves_nothing(mirror, tmp_path):
  root, base = mirror
  entry = next(e for e in download.MANIFEST if e.dest == "pubmed/ternary/fold0.json")
  _serve(root, entry.url, b"[] not the real fold")
  data_dir = tmp_path / "data"
  with pytest.raises(download.ChecksumError, match="sha256"):
    download.download_entry(entry, data_dir, base, progress=False)
  assert list((data_dir / "pubmed" / "ternary").iterdir()) == []  # no file, no temp file


def test_cli_reports_checksum_mismatch(mirror, tmp_path):
  root, base = mirror
  for entry in download.MANIFEST:
    if entry.dataset == "pubmed":
      _serve(root, entry.url, b"[]")
  result = subprocess.run(
      [sys.executable, str(_REPO / "tools" / "download_data.py"), "--datasets=pubmed",
       f"--base_url={base}", f"--data_dir={tmp_path / 'data'}"],
      capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode != 0 and "ChecksumError" in result.stderr
