"""Leader shadow days: a sales leader and a marketing leader each spend a day in the other's world."""
