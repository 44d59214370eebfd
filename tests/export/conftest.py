"""The C++ example's build and input fixtures, shared with tests/test_cpp.py."""

from test_cpp import input_wav, neuralfx_process  # noqa: F401
