"""Issue 38: the CLI's text layout (hwnas.cli.fit) breaks lines at spaces, and inside a word
only after its punctuation where the word is wider than the line; never mid-word."""

from __future__ import annotations

import random

from hwnas.cli.fit import pieces, table_lines, wrap

NAMES = ("evolution", "nb201-evolution-s0-20261207-023030", "latency:pixel3",
         "latency_tables/amd-epyc-2c/proxyless-ort-cpu-b1-fp32-i3-n10-r32-w1.json",
         "mbconv|cin=16|cout=24|hw=32|k=3|s=1|e=3", "0.7715 ± 0.0234", "accuracy,", "x")


def test_wrapping_keeps_every_word_and_breaks_only_at_boundaries():
    rng = random.Random(0)
    for _ in range(300):
        text = " ".join(rng.choice(NAMES) for _ in range(rng.randint(1, 8)))
        room = rng.randint(8, 60)
        lines = wrap(text, room)
        # nothing lost or added: the lines are the text, cut at spaces or after a piece
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
        joined = " ".join(lines)
        for line in lines:  # only a piece wider than the room, alone, runs past it
            assert len(line) <= room or len(pieces(line)) == 1, (line, room)
        # each plain word survives whole where it fits on a line
        for word in text.split():
            if len(word) <= room and not set(word) & set("/|,;:-"):
                assert word in joined.split(), (word, lines)


def test_a_word_is_broken_only_where_it_does_not_fit():
    assert wrap("proxyless-evolution fits", 20) == ["proxyless-evolution", "fits"]
    assert wrap("runs/final-training/search", 16) == ["runs/final-", "training/search"]
    assert wrap("0.7715 ± 0.0234", 10) == ["0.7715", "± 0.0234"]  # a sign stays with its number


def test_a_table_that_cannot_fit_becomes_one_block_per_row():
    headers = ["#", "method", *(f"measure {i}" for i in range(9))]
    rows = [["1", "evolution", *("0.7715 ± 0.0234" for _ in range(9))]]
    lines = [line for line, _ in table_lines(headers, rows, room=80, heading=2)]
    assert lines[0] == "1  evolution" and all(len(line) <= 80 for line in lines)
    assert lines[1].split() == ["measure", "0", "0.7715", "±", "0.0234"]
    wide = [line for line, _ in table_lines(headers, rows, room=300, heading=2)]
    assert len(wide) == 3  # header, rule, the row
