"""pytest-chatstore's own tests."""
