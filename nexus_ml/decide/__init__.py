"""The decision policy: pure functions from inputs to a Decision. No I/O here."""
