"""The public surface of growth_standards is exactly its sorted ``__all__``."""

import growth_standards


def test_all_is_sorted_and_complete() -> None:
    exported = growth_standards.__all__
    assert exported == sorted(exported)
    public = {
        name
        for name, value in vars(growth_standards).items()
        if not name.startswith("_")
        and not getattr(value, "__name__", "").startswith("growth_standards.")
    }
    assert public == set(exported)


def test_every_exported_name_is_documented() -> None:
    for name in growth_standards.__all__:
        assert getattr(growth_standards, name).__doc__, name
