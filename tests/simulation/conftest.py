import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "simulation: the day-by-day simulation of cohorts over two years"
    )


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/simulation/" in str(item.fspath):
            item.add_marker(pytest.mark.simulation)
