"""Reference chat stores that pass every clause of the pytest-chatstore spec."""
