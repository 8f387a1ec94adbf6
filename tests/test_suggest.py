"""Did-you-mean: typos people make in card and model names."""

from rigshift.suggest import did_you_mean, edit_distance

CARDS = ["RTX 3060 12GB", "RTX 3060 Ti", "RTX 3070", "RTX 3090", "RX 580 8GB", "RX 570 4GB", "GTX 1070 Ti"]


def test_a_transposition_is_one_typo() -> None:
    assert edit_distance("3600", "3060") == 1
    assert edit_distance("rtx 3060", "rtx 3060") == 0
    assert edit_distance("", "abc") == 3


def test_transposed_digits_find_the_card() -> None:
    assert "RTX 3060 12GB" in did_you_mean("RTX 3600", CARDS)[:3]
    assert did_you_mean("RX 508", CARDS)[0] == "RX 580 8GB"


def test_unrelated_names_suggest_nothing() -> None:
    assert did_you_mean("toaster", CARDS) == ()
    assert did_you_mean("", CARDS) == ()
