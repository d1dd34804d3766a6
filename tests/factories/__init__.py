"""Test data builders, one module per domain (``tests/factories/<domain>.py``).

Test modules import their helpers from here, never from another test module. tests/conftest.py registers
these modules as pytest plugins (so they get pytest's assertion rewriting and may define fixtures) and
composes the ``make`` fixture from the builder mixins of accounts, rides and debriefs.
"""
