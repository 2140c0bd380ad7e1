"""pytest-chatstore: a conformance kit for chat-store backends.

Run ``pytest --chatstore=mypkg.stores:MyStore`` to check a store against the
spec. Importing this package is light: it loads the message type and the
contract only (no pytest, no Hypothesis).
"""

from pytest_chatstore.spec.clauses import SPEC_VERSION
from pytest_chatstore.spec.contract import AsyncChatStore, ChatMessage, ChatStore

__version__ = "0.1.0"

__all__ = ["SPEC_VERSION", "AsyncChatStore", "ChatMessage", "ChatStore", "__version__"]
