"""Raw text -> Record: markers, offset mapping, pre-parsed input and a real stanza Pipeline.

stanza cannot download models here, so the stanza tests train tiny tokenize/pos/depparse
models from tests/fixtures/stanza/tiny_en.conllu once per session (conftest.py).
"""

import pytest

from msfml_jax import parse

SENTENCE = "The company fabricates plastic chairs."
# [start, end) of each token of SENTENCE.
OFFSETS = [(0, 3), (4, 11), (12, 22), (23, 30), (31, 37), (37, 38)]


def test_parse_marked_text_returns_clean_text_and_char_spans():
  text, spans = parse.parse_marked_text(
      "The <e1>company</e1> fabricates <e2>plastic chairs</e2>.")
  assert text == SENTENCE
  assert [text[s:e] for s, e in spans] == ["company", "plastic chairs"]
  text, spans = parse.parse_marked_text("<e2>A</e2> b <e1>c</e1> <e3>d e</e3>")
  assert text == "A b c d e"
  assert [text[s:e] for s, e in spans] == ["c", "A", "d e"]  # slot order, not text order


@pytest.mark.parametrize("bad, message", [
    ("<e1>a</e1> <e2>b", "never closed"),
    ("<e1>a <e2>b</e2></e1>", "nested"),
    ("<e1>a</e2> b", "closes"),
    ("<e1>a</e1> <e1>b</e1>", "twice"),
    ("<e1> </e1> <e2>b</e2>", "empty"),
    ("<e2>a</e2> b", "without gaps"),
    ("no markers", "without gaps"),
])
def test_parse_marked_text_rejects_bad_markers(bad, message):
  with pytest.raises(parse.ParseError, match=message):
    parse.parse_marked_text(bad)


def test_char_to_token_spans():
  assert parse.char_to_token_spans(OFFSETS, [(4, 11), (23, 37)], SENTENCE) == [(1, 1), (3, 4)]
  # Whitespace at the edges of an entity is ignored.
  assert parse.char_to_token_spans(OFFSETS, [(3, 12)], SENTENCE) == [(1, 1)]
  with pytest.raises(parse.ParseError, match=r"entity 1 'pany' .*does not align.*company"):
    parse.char_to_token_spans(OFFSETS, [(7, 11)], SENTENCE)
  assert parse.char_to_token_spans(OFFSETS, [(7, 14)], SENTENCE, expand=True) == [(1, 2)]
  with pytest.raises(parse.ParseError, match="entity 2 .*covers no token"):
    parse.char_to_token_spans(OFFSETS, [(0, 3), (38, 40)], SENTENCE + "  ")


def test_link_sentences_follows_the_pubmed_convention():
  first = [("A", "DT", 2, "det"), ("dog", "NN", 3, "nsubj"), ("ran", "VBD", 0, "root")]
  second = [("It", "PRP", 2, "nsubj"), ("fell", "VBD", 0, "root")]
  third = [("Ok", "UH", 0, "root")]
  tokens, pos, heads, deprels = parse.link_sentences([first, second, third])
  assert tokens == ["A", "dog", "ran", "It", "fell", "Ok"]
  assert heads == [2, 3, 0, 5, 3, 5]  # root of sentence k -> root of sentence k-1
  assert deprels == ["det", "nsubj", "root", "nsubj", "next", "next"]
  assert pos[-1] == "UH"


def test_records_from_preparsed():
  records = parse.records_from_preparsed([
      {"tokens": ["Bees", "make", "honey"], "pos": ["NNS", "VBP", "NN"], "head": [2, 0, 2],
       "deprel": ["nsubj", "root", "obj"], "spans": [[0, 0], [2, 2]], "label": "Other"},
      {"token": ["a", "b", "c"], "stanford_pos": ["X"] * 3, "stanford_head": ["0", "1", "-1"],
       "stanford_deprel": ["root", "next", "self"], "spans": [(0, 0), (1, 2)], "id": "r7"}])
  bees, other = records
  assert bees.heads == [2, 0, 2] and bees.spans == [(0, 0), (2, 2)] and bees.label == "Other"
  assert not bees.cross_sentence and bees.id == "0"
  assert other.heads == [0, 1, -1] and other.cross_sentence and other.id == "r7"


@pytest.mark.parametrize("change, message", [
    ({"pos": ["NN"]}, "pos has 1 entries for 2 tokens"),
    ({"heads": [1, 1]}, "at least one root"),
    ({"heads": [0, "x"]}, "integers"),
    ({"spans": [[0, 2]]}, "within 2 tokens"),
    ({"spans": []}, "non-empty"),
])
def test_records_from_preparsed_rejects_bad_input(change, message):
  item = {"tokens": ["a", "b"], "pos": ["X", "X"], "heads": [0, 1], "deprels": ["root", "dep"],
          "spans": [[0, 0], [1, 1]]}
  item.update(change)
  with pytest.raises(parse.ParseError, match=message):
    parse.records_from_preparsed([item])


def test_missing_models_error_says_how_to_download(tmp_path):
  pytest.importorskip("stanza")
  command = (f"python -c \"import stanza; stanza.download('en', model_dir='{tmp_path}', "
             "processors='tokenize,pos,lemma,depparse')\"")
  with pytest.raises(parse.StanzaModelsMissing, match="resources.json") as err:
    parse.Parser(model_dir=str(tmp_path))
  assert command in str(err.value)
  (tmp_path / "resources.json").write_text("{}")
  with pytest.raises(parse.StanzaModelsMissing, match="no tokenize, pos, lemma, depparse"):
    parse.Parser(model_dir=str(tmp_path))
  with pytest.raises(parse.StanzaModelsMissing, match="pos=.*nowhere.pt"):
    parse.Parser(pretokenized=True, model_paths={"pos": str(tmp_path / "nowhere.pt"),
                                                 "depparse": str(tmp_path / "nowhere.pt")})


def _check_shapes(record):
  n = len(record.tokens)
  assert len(record.pos) == len(record.heads) == len(record.deprels) == n
  assert record.heads.count(0) == 1 and all(0 <= h <= n for h in record.heads)
  assert record.cross_sentence == ("next" in record.deprels)
  assert record.entity_types is None and record.label_directed is None


def test_stanza_pipeline_from_local_models(stanza_tiny_models):
  parser = parse.Parser(model_paths=stanza_tiny_models)
  record = parser.parse_marked(
      "The <e1>company</e1> fabricates plastic <e2>chairs</e2>. Bees make <e3>honey</e3> in "
      "the hive.", id="7", label="Product-Producer", source="test:0")
  assert record.tokens == ["The", "company", "fabricates", "plastic", "chairs", ".",
                           "Bees", "make", "honey", "in", "the", "hive", "."]
  assert record.spans == [(1, 1), (4, 4), (8, 8)]
  assert (record.id, record.label, record.source) == ("7", "Product-Producer", "test:0")
  _check_shapes(record)
  assert record.cross_sentence and record.deprels.count("next") == 1
  second_root = record.deprels.index("next")
  assert second_root >= 6 and record.heads[second_root] == record.heads.index(0) + 1
  assert record.pos[5] == record.pos[12] == "."  # the tagger learned at least the period
  with pytest.raises(parse.ParseError, match="does not align"):
    parser.parse_marked("The comp<e1>any</e1> fabricates plastic <e2>chairs</e2>.")
  with pytest.raises(parse.ParseError, match="pretokenized=True"):
    parser.parse([["a"]], [(0, 0)])


def test_stanza_pipeline_pretokenized(stanza_tiny_models):
  parser = parse.Parser(pretokenized=True, model_paths={k: stanza_tiny_models[k]
                                                        for k in ("pos", "depparse")})
  record = parser.parse([["The", "company", "makes", "chairs", "."], ["It", "works", "."]],
                        [(1, 1), (3, 3)])
  assert record.tokens == ["The", "company", "makes", "chairs", ".", "It", "works", "."]
  assert record.spans == [(1, 1), (3, 3)]
  _check_shapes(record)
  assert record.cross_sentence
  # Text input splits at whitespace and newlines; character spans refer to the text as given.
  single = parser.parse_marked("The  <e1>company</e1>   makes <e2>plastic chairs</e2> .")
  assert single.tokens == ["The", "company", "makes", "plastic", "chairs", "."]
  assert single.spans == [(1, 1), (3, 4)] and not single.cross_sentence
  _check_shapes(single)
