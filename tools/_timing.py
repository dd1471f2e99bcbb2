"""Side-by-side timing shared by the micro-benchmarks in this folder."""

import timeit
from collections.abc import Callable, Sequence

Case = tuple[str, Callable[[], object], Callable[[], object]]


def best_per_call_us(func: Callable[[], object], number: int, repeat: int = 7) -> float:
    """Return the best of *repeat* runs of *number* calls, in microseconds per call."""
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def print_ratio_table(title: str, cases: Sequence[Case], number: int) -> list[float]:
    """Time each (name, ours, stdlib) case side by side; print a table; return ratios."""
    print(f"{title}\n{'case':<34}{'ours µs':>10}{'stdlib µs':>11}{'ratio':>8}")
    ratios = []
    for name, ours, stdlib in cases:
        ours_us = best_per_call_us(ours, number)
        stdlib_us = best_per_call_us(stdlib, number)
        ratios.append(ours_us / stdlib_us)
        print(f"{name:<34}{ours_us:>10.3f}{stdlib_us:>11.3f}{ratios[-1]:>8.2f}")
    total = 1.0
    for ratio in ratios:
        total *= ratio
    print(f"{'geometric mean of ratios':<34}{'':>21}{total ** (1 / len(ratios)):>8.2f}\n")
    return ratios
