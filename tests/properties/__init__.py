"""Property-based tests (hypothesis) for the date logic that decides what users see: due dates, periods,
pro-rating, offer holds, proposal expiry and reminder windows."""
