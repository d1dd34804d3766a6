"""The funnel reality check and the win/loss playback of a review meeting: numbers, mini-teams, ideas, deals."""
