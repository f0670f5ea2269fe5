"""Number formatting for reports (one place: the evaluation report, the zoo report and the benchmarks use it)."""


def fmt(value, digits=3):
    """A number with ``digits`` decimals; "–" for None (a value that does not exist, e.g. no head generator)."""
    return "–" if value is None else f"{value:.{digits}f}"


def signed(value, digits=3):
    """A difference with its sign: +0.012, -0.004."""
    return f"{value:+.{digits}f}"
