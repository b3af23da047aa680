"""The paper's published GloVe numbers that our reports compare with, each with its table.

Copied from the paper (Zhang & Qian, "Multi-Scale Feature and Metric Learning for Relation
Extraction"; ../shared/paper/msfml-paper.md), rows "Our model (GloVe)" and M1-M6. This is the
only place these numbers are written; `tools/report.py` puts them beside our measured ones.
"""

from __future__ import annotations

# Table 4: macro-F1 on SemEval, "Our model (GloVe)" (150 epochs, last epoch, α 0.5, β 0.03).
SEMEVAL_MACRO_F1 = 86.4
SEMEVAL_MACRO_F1_SOURCE = "Table 4"

# Table 6, SemEval column (macro-F1), GloVe rows: model id -> (the paper's name, macro-F1).
ABLATION_SEMEVAL = {
    "M1": ("w/o MSCNN", 85.5),
    "M2": ("w/o MSGCN", 85.3),
    "M3": ("w/o MSML", 86.2),
    "M4": ("r/p MSCNN (plain CNN)", 86.1),
    "M5": ("r/p MSGCN (plain GCN)", 85.9),
    "M6": ("full model", 86.4),
}
ABLATION_SEMEVAL_SOURCE = "Table 6"

# Table 2, "Our model (GloVe)": accuracy on PubMed per (arity, label set). "Cross" is the
# accuracy on all test records, "Single" on single-sentence ones; the multi-class columns
# give Cross only. T = ternary (drug-gene-mutation), B = binary (drug-mutation).
PUBMED_ACCURACY = {
    ("ternary", "multi"): {"cross": 84.6},
    ("binary", "multi"): {"cross": 81.6},
    ("ternary", "binary"): {"single": 89.1, "cross": 89.3},
    ("binary", "binary"): {"single": 87.7, "cross": 87.5},
}
PUBMED_ACCURACY_SOURCE = "Table 2"

# Fig. 7 (SemEval panel) plots macro-F1 against α and β without printing values.
SWEEP_SOURCE = "Fig. 7"
