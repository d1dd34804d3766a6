"""The shared core: activities, participations with a state ladder and history, seats, waitlist, attendance."""
